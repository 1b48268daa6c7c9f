// Compile CheckpointAnchor.sol with solc-js (pinned in package.json) into the ABI + bytecode file the
// anchoring adapter loads. Run through scripts/build_contracts.sh.
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const source = fs.readFileSync(path.join(__dirname, "CheckpointAnchor.sol"), "utf8");
const input = {
  language: "Solidity",
  sources: { "CheckpointAnchor.sol": { content: source } },
  settings: {
    // Cancun: run by eth-tester's py-evm and by current public and consortium EVM chains.
    evmVersion: "cancun",
    optimizer: { enabled: true, runs: 200 },
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === "error");
if (errors.length) {
  for (const e of errors) console.error(e.formattedMessage);
  process.exit(1);
}
const compiled = output.contracts["CheckpointAnchor.sol"].CheckpointAnchor;
const out = process.argv[2];
fs.writeFileSync(
  out,
  JSON.stringify(
    { contract: "CheckpointAnchor", compiler: `solc-js ${solc.version()}`, abi: compiled.abi, bytecode: "0x" + compiled.evm.bytecode.object },
    null,
    1,
  ) + "\n",
);
console.log(`wrote ${out}`);
