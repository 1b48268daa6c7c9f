#!/usr/bin/env bash
# Compile contracts/CheckpointAnchor.sol with solc-js from the npm registry (version pinned in
# contracts/package.json and package-lock.json) into src/tanhui/audit/contracts/CheckpointAnchor.json.
set -euo pipefail
cd "$(dirname "$0")/../contracts"
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
else
  npm install --no-audit --no-fund --loglevel=error
fi
mkdir -p ../src/tanhui/audit/contracts
node compile.js ../src/tanhui/audit/contracts/CheckpointAnchor.json
