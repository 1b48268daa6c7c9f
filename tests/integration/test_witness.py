"""A witness cosigns the log's checkpoints through the CLI and refuses a forked log."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from tanhui.audit import cosignature, note
from tanhui.audit.checkpoint import Checkpoint
from tanhui.audit.tree import MerkleTree
from tanhui.cli.main import app
from tanhui.jobs import checkpoints, sequencer
from tanhui.settings import get_settings
from tanhui.store import audit_log

from .conftest import World
from .test_audit_log import SETS, _signer, _store

runner = CliRunner()


@pytest.fixture
def cli_db(store_url: str, monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setenv("TANHUI_DATABASE_URL", store_url)
    get_settings.cache_clear()
    yield None
    get_settings.cache_clear()


def test_witness_cosigns_extensions_and_refuses_a_fork(
    engine: Engine, world: World, tmp_path: Path, cli_db: object
) -> None:
    key = tmp_path / "witness.key"
    made = runner.invoke(
        app, ["audit", "keygen", "--name", "audit.example.edu/w1", "--out", str(key), "--witness"]
    )
    assert made.exit_code == 0, made.output
    witness_vkey = made.output.strip()
    log_vkey = _signer().verifier.vkey
    state = tmp_path / "state.json"
    args = ["witness", "--log-vkey", log_vkey, "--key-file", str(key), "--state", str(state)]

    _store(engine, world)
    with engine.begin() as conn:
        sequencer.sequence(conn, world.community_id, SETS, now=1)
        first = checkpoints.publish(conn, world.community_id, _signer(), now=2)
    body = runner.invoke(app, ["audit", "witness-request", "--old", "0"]).output
    cosigned = runner.invoke(app, args, input=body)
    assert cosigned.exit_code == 0, cosigned.output
    kept = runner.invoke(
        app, ["audit", "add-cosignature", "--witness-vkey", witness_vkey], input=cosigned.output
    )
    assert kept.exit_code == 0, kept.output
    with engine.connect() as conn:
        log = audit_log.log_of(conn, world.community_id)
        assert log is not None
        latest = audit_log.latest_checkpoint(conn, log)
        assert latest is not None
        published = audit_log.published_note(conn, log, latest)
    parsed = note.verify(published, [_signer().verifier])
    assert [c.name for c in cosignature.verify_cosignatures(parsed, [note.parse_vkey(witness_vkey)])] == [
        "audit.example.edu/w1"
    ]
    assert json.loads(state.read_text())[log.origin]["size"] == first.size

    # The log grows: the witness checks the consistency proof from what it cosigned.
    with engine.begin() as conn:
        checkpoints.witness_request(conn, world.community_id, first.size)
        tree = audit_log.load_tree(conn, log)
    grown = MerkleTree.from_leaf_hashes(b"".join(tree.leaf_hash(i) for i in range(tree.size)))
    grown.append([b"a later entry", b"another"])
    new_cp = Checkpoint(log.origin, grown.size, grown.root())
    proof = "".join(base64.b64encode(p).decode() + "\n" for p in grown.consistency_proof(first.size))
    ok = runner.invoke(app, args, input=f"old {first.size}\n{proof}\n{new_cp.sign(_signer())}")
    assert ok.exit_code == 0, ok.output

    # A fork signed with the log's own key: same size, another root. Refused, state unchanged.
    forked = MerkleTree.from_leaf_hashes(b"".join(grown.leaf_hash(i) for i in range(grown.size - 1)))
    forked.append([b"a rewritten entry"])
    fork_cp = Checkpoint(log.origin, forked.size, forked.root())
    refused = runner.invoke(app, args, input=f"old {grown.size}\n\n{fork_cp.sign(_signer())}")
    assert refused.exit_code == 1 and "different roots" in refused.output
    # A larger tree that rewrote history: its consistency proof fails.
    forked.append([b"more"])
    bad_proof = "".join(base64.b64encode(p).decode() + "\n" for p in forked.consistency_proof(grown.size))
    bigger = Checkpoint(log.origin, forked.size, forked.root()).sign(_signer())
    refused = runner.invoke(app, args, input=f"old {grown.size}\n{bad_proof}\n{bigger}")
    assert (
        refused.exit_code == 1 and "refused to cosign" in refused.output and "consistency" in refused.output
    )
    # A stale old size and an unknown log key are refused too.
    assert runner.invoke(app, args, input=f"old 0\n\n{new_cp.sign(_signer())}").exit_code == 1
    stranger = note.Signer.from_seed(log.origin, bytes(32))
    assert runner.invoke(app, args, input=f"old {grown.size}\n\n{new_cp.sign(stranger)}").exit_code == 1
    assert json.loads(state.read_text())[log.origin]["size"] == grown.size
