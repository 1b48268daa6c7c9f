"""Anchor signed checkpoints on an EVM chain through web3.py (contracts/CheckpointAnchor.sol).

One small interface, :class:`Anchor` (``anchor(origin, size, root)`` and ``latest(origin)``), so other
chains can be adapters later (shared/reference/ledger.md §6.3). :class:`Web3Anchor` speaks to any
Ethereum JSON-RPC node with a key from the environment (:meth:`Web3Anchor.connect`), or, for the demo
and the tests, to an in-process chain (eth-tester with py-evm, :meth:`Web3Anchor.in_process`).
The contract refuses a smaller tree size, or another root at the same size, for an origin: a refusal
surfaces here as :class:`AnchorRefusedError`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any, Protocol

from eth_tester.exceptions import TransactionFailed
from eth_typing import ChecksumAddress
from sqlalchemy import Connection
from web3 import Web3
from web3.exceptions import ContractLogicError

from tanhui.audit.errors import AuditError
from tanhui.domain.ids import CommunityId
from tanhui.store import audit_log


class AnchorRefusedError(AuditError):
    """The chain refused the checkpoint (a smaller size or a conflicting root for the origin)."""

    code = "anchor_refused"


@dataclass(frozen=True, slots=True)
class Receipt:
    chain_id: int
    tx_hash: str
    block_number: int
    gas_used: int


class Anchor(Protocol):
    def anchor(self, origin: str, size: int, root: bytes) -> Receipt: ...

    def latest(self, origin: str) -> tuple[int, bytes]: ...


def compiled() -> dict[str, Any]:
    """ABI and bytecode built by scripts/build_contracts.sh (solc-js, pinned in contracts/package.json)."""
    path = resources.files("tanhui.audit") / "contracts" / "CheckpointAnchor.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


class Web3Anchor:
    """The CheckpointAnchor contract at ``address``, sending from ``account`` (signing with ``key``)."""

    def __init__(self, w3: Web3, address: str, account: str, key: str | None = None) -> None:
        self.w3 = w3
        self.contract = w3.eth.contract(address=Web3.to_checksum_address(address), abi=compiled()["abi"])
        self.account = Web3.to_checksum_address(account)
        self._key = key

    @classmethod
    def deploy(cls, w3: Web3, account: str, key: str | None = None) -> Web3Anchor:
        """Deploy a new contract owned by ``account``."""
        data = compiled()
        factory = w3.eth.contract(abi=data["abi"], bytecode=data["bytecode"])
        receipt = _send(w3, factory.constructor(), Web3.to_checksum_address(account), key)
        return cls(w3, str(receipt["contractAddress"]), account, key)

    @classmethod
    def in_process(cls) -> Web3Anchor:
        """A fresh in-process chain (eth-tester, py-evm) with the contract deployed: demo and tests."""
        w3 = Web3(Web3.EthereumTesterProvider())
        return cls.deploy(w3, w3.eth.accounts[0])

    @classmethod
    def connect(cls, url: str, address: str, key: str) -> Web3Anchor:
        """A contract on a JSON-RPC node (any EVM chain, FISCO BCOS 3.x web3_rpc included)."""
        w3 = Web3(Web3.HTTPProvider(url))
        account = w3.eth.account.from_key(key).address
        return cls(w3, address, account, key)

    def anchor(self, origin: str, size: int, root: bytes) -> Receipt:
        try:
            receipt = _send(
                self.w3, self.contract.functions.anchor(origin, size, root), self.account, self._key
            )
        except (TransactionFailed, ContractLogicError) as exc:
            raise AnchorRefusedError(f"the chain refused {origin} size {size}: {_reason(exc)}") from None
        return Receipt(
            int(self.w3.eth.chain_id),
            "0x" + bytes(receipt["transactionHash"]).hex(),
            int(receipt["blockNumber"]),
            int(receipt["gasUsed"]),
        )

    def latest(self, origin: str) -> tuple[int, bytes]:
        size, root = self.contract.functions.latest(origin).call()
        return int(size), bytes(root)

    def events(self, origin: str) -> list[tuple[int, bytes]]:
        """Every (size, root) anchored for ``origin``, in chain order (the public gossip record)."""
        key = Web3.keccak(text=origin)
        logs = self.contract.events.Anchored().get_logs(from_block=0, argument_filters={"originHash": key})
        return [(int(e["args"]["size"]), bytes(e["args"]["root"])) for e in logs]


_ERRORS = ("NotOwner()", "SizeBackwards(uint64,uint64)", "RootConflict(uint64)")


def _reason(exc: Exception) -> str:
    """The contract's custom error by name (eth-tester and JSON-RPC nodes both carry its selector)."""
    text = str(exc)
    for signature in _ERRORS:
        selector = bytes(Web3.keccak(text=signature)[:4])
        if selector.hex() in text or str(selector)[2:-1] in text:
            return signature.split("(")[0]
    return text


def _send(w3: Web3, call: Any, account: ChecksumAddress, key: str | None) -> Any:
    if key is None:  # an unlocked account: the in-process chain
        tx_hash = call.transact({"from": account})
    else:
        tx = call.build_transaction({"from": account, "nonce": w3.eth.get_transaction_count(account)})
        signed = w3.eth.account.sign_transaction(tx, key)
        tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    if receipt["status"] != 1:
        raise AnchorRefusedError(f"transaction {bytes(tx_hash).hex()} reverted")
    return receipt


def anchor_latest(conn: Connection, community_id: CommunityId, chain: Anchor, *, now: int) -> Receipt | None:
    """Anchor the community's latest signed checkpoint unless it is anchored already."""
    log = audit_log.log_of(conn, community_id)
    last = None if log is None else audit_log.latest_checkpoint(conn, log)
    if log is None or last is None or last.size in audit_log.anchored_sizes(conn, log):
        return None
    receipt = chain.anchor(log.origin, last.size, last.root)
    audit_log.add_anchor(
        conn,
        log,
        size=last.size,
        root=last.root,
        chain_id=receipt.chain_id,
        tx_hash=receipt.tx_hash,
        block_number=receipt.block_number,
        now=now,
    )
    return receipt
