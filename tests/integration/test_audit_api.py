"""The log over HTTP: public checkpoint and tiles a tlog client can prove from; evidence only for its own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tanhui.audit import evidence, merkle, tiles
from tanhui.audit.checkpoint import open_checkpoint
from tanhui.jobs import checkpoints, sequencer
from tanhui.settings import Settings
from tanhui.store import audit_log
from tanhui.web.app import create_app

from .conftest import World
from .test_audit_log import SETS, _published, _signer, _store

NOW = datetime(2026, 11, 25, 2, tzinfo=UTC)


@pytest.fixture
def client(engine: Engine, world: World, store_url: str) -> Iterator[TestClient]:
    _store(engine, world)
    with engine.begin() as conn:
        sequencer.sequence(conn, world.community_id, SETS, now=1)
        checkpoints.publish(conn, world.community_id, _signer(), now=2)
    settings = Settings(environment="test", database_url=store_url, secret_key="a" * 40)
    with TestClient(
        create_app(settings, engine=engine, clock=lambda: NOW), base_url="https://testserver"
    ) as c:
        yield c


def _auth(client: TestClient, user: str) -> dict[str, str]:
    token = client.post("/api/v1/auth/token", data={"username": user, "password": f"{user}-password"})
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def test_tiles_let_a_client_prove_inclusion_without_the_server(
    client: TestClient, engine: Engine, world: World
) -> None:
    response = client.get("/api/v1/audit/baoting/checkpoint")
    assert response.status_code == 200 and "max-age" in response.headers["cache-control"]
    cp, _ = open_checkpoint(response.text, [_signer().verifier])

    def fetch(level: int, index: int, width: int) -> bytes:
        got = client.get(f"/api/v1/audit/baoting/{tiles.tile_path(level, index, width)}")
        assert got.status_code == 200 and "immutable" in got.headers["cache-control"]
        return got.content

    nodes = tiles.TileNodes(cp.size, fetch)
    assert merkle.root_from(nodes, cp.size) == cp.root
    entries = tiles.unbundle(client.get(f"/api/v1/audit/baoting/{tiles.entries_path(0, cp.size)}").content)
    assert len(entries) == cp.size
    for i in range(cp.size):
        merkle.verify_inclusion(
            i, cp.size, merkle.leaf_hash(entries[i]), merkle.inclusion_proof(nodes, i, cp.size), cp.root
        )
    # Nothing beyond the signed size, nothing malformed, no unknown community.
    assert client.get(f"/api/v1/audit/baoting/{tiles.tile_path(0, 0, cp.size + 1)}").status_code == 404
    assert client.get("/api/v1/audit/baoting/tile/0/01").status_code == 404
    assert client.get("/api/v1/audit/nowhere/checkpoint").status_code == 404
    with engine.connect() as conn:
        log = audit_log.log_of(conn, world.community_id)
        assert log is not None and log.size == cp.size


def test_evidence_is_for_the_household_and_the_county_only(client: TestClient, world: World) -> None:
    h1, h2 = world.households
    alice = _auth(client, "alice")
    own = client.get(f"/api/v1/audit/households/{h1}/evidence", headers=alice)
    assert own.status_code == 200
    report = evidence.verify(
        evidence.from_json(own.json()),
        log_key=_signer().verifier,
        witnesses=[],
        quorum=0,
        factor_sets=_published(),  # type: ignore[arg-type]
    )
    assert report.results > 0
    assert client.get(f"/api/v1/audit/households/{h2}/evidence", headers=alice).status_code == 404
    assert client.get(f"/api/v1/audit/households/{h2}/evidence").status_code == 401
    olga = _auth(client, "olga")
    period = client.get(
        f"/api/v1/audit/households/{h2}/evidence",
        params={"from": "2026-11-21", "to": "2026-11-21"},
        headers=olga,
    )
    assert period.status_code == 200
    assert {r["opening"]["day"] for r in period.json()["results"]} == {"2026-11-21"}
