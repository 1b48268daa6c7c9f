"""Checkpoints anchored on an in-process EVM chain (eth-tester, py-evm) through the web3.py adapter."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from tanhui.jobs import checkpoints, sequencer
from tanhui.jobs.anchoring import AnchorRefusedError, Web3Anchor, anchor_latest
from tanhui.store import audit_log

from .conftest import World
from .test_audit_log import SETS, _signer, _store


def test_a_checkpoint_is_anchored_read_back_and_a_smaller_size_refused(engine: Engine, world: World) -> None:
    chain = Web3Anchor.in_process()
    _store(engine, world)
    with engine.begin() as conn:
        sequencer.sequence(conn, world.community_id, SETS, now=1)
        published = checkpoints.publish(conn, world.community_id, _signer(), now=2)
        receipt = anchor_latest(conn, world.community_id, chain, now=3)
        assert receipt is not None and receipt.tx_hash.startswith("0x") and receipt.gas_used > 0
        assert anchor_latest(conn, world.community_id, chain, now=4) is None  # already anchored
        log = audit_log.log_of(conn, world.community_id)
        assert log is not None and audit_log.anchored_sizes(conn, log) == [published.size]
    assert chain.latest(log.origin) == (published.size, published.root)
    assert chain.events(log.origin) == [(published.size, published.root)]
    # The same head again is a harmless retry; a smaller size or another root at the size is a fork.
    chain.anchor(log.origin, published.size, published.root)
    with pytest.raises(AnchorRefusedError, match="SizeBackwards"):
        chain.anchor(log.origin, published.size - 1, published.root)
    with pytest.raises(AnchorRefusedError, match="RootConflict"):
        chain.anchor(log.origin, published.size, bytes(32))
    assert chain.latest(log.origin) == (published.size, published.root)
    # Another origin has its own record.
    chain.anchor("tanhui.local/other/audit", 1, bytes([9]) * 32)
    assert chain.latest("tanhui.local/other/audit") == (1, bytes([9]) * 32)
