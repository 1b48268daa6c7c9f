"""Operators see the quarantine, register the unknown meter, replay or discard: over the API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tanhui.domain.reading import MeterReading
from tanhui.meters import envelope
from tanhui.settings import Settings
from tanhui.web.app import create_app

from .conftest import World

NOW = datetime(2026, 11, 25, 2, tzinfo=UTC)


@pytest.fixture
def client(engine: Engine, world: World, store_url: str) -> Iterator[TestClient]:
    app = create_app(
        Settings(environment="test", database_url=store_url, secret_key="q" * 40),
        engine=engine,
        clock=lambda: NOW,
    )
    with TestClient(app, base_url="https://testserver") as test_client:
        yield test_client


def _auth(client: TestClient, username: str) -> dict[str, str]:
    token = client.post("/api/v1/auth/token", data={"username": username, "password": f"{username}-password"})
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def _send(client: TestClient, world: World, readings: list[MeterReading]) -> None:
    payload = envelope.encode("gw-1", 1, NOW, readings)
    response = client.post(
        "/api/v1/ingest", content=payload, headers={"Authorization": f"Bearer {world.gateway_token}"}
    )
    assert response.status_code == 200


def test_fix_an_unknown_meter_and_replay(client: TestClient, world: World) -> None:
    olga = _auth(client, "olga")
    _send(
        client,
        world,
        [MeterReading("118888888888", "energy_import", Decimal("7.50"), "kWh", NOW - timedelta(hours=1))],
    )
    (entry,) = client.get("/api/v1/quarantine", params={"reason": "unknown_meter"}, headers=olga).json()
    assert entry["meter"] == "118888888888" and entry["raw_encoding"] == "utf-8"
    first = client.post(f"/api/v1/quarantine/{entry['id']}/replay", headers=olga).json()
    assert first["accepted"] is False and first["reasons"] == ["unknown_meter"]
    meter = {
        "serial": "118888888888",
        "kind": "electricity",
        "household": "H2",
        "protocol": "dlt645",
        "resolution": "0.01",
        "capacity": 100_000_000,
        "installed_on": "2026-01-01",
        "gateway": "gw-1",
    }
    assert client.post("/api/v1/meters", json=meter, headers=olga).status_code == 201
    assert client.post("/api/v1/meters", json=meter, headers=olga).status_code == 409
    done = client.post(f"/api/v1/quarantine/{entry['id']}/replay", headers=olga).json()
    assert (done["accepted"], done["stored"]) == (True, 1)
    assert client.post(f"/api/v1/quarantine/{entry['id']}/replay", headers=olga).status_code == 409
    assert client.get("/api/v1/quarantine", headers=olga).json() == []
    replayed = client.get("/api/v1/quarantine", params={"status": "replayed"}, headers=olga).json()
    assert [e["id"] for e in replayed] == [entry["id"]]


def test_discard_needs_a_note_and_happens_once(client: TestClient, world: World) -> None:
    olga = _auth(client, "olga")
    _send(client, world, [MeterReading("110000000001", "energy_import", Decimal("1.00"), "m3", NOW)])
    (entry,) = client.get("/api/v1/quarantine", headers=olga).json()
    assert entry["reason"] == "unit_mismatch"
    assert (
        client.post(f"/api/v1/quarantine/{entry['id']}/discard", json={"note": ""}, headers=olga).status_code
        == 422
    )
    ok = client.post(f"/api/v1/quarantine/{entry['id']}/discard", json={"note": "test meter"}, headers=olga)
    assert ok.status_code == 204
    again = client.post(f"/api/v1/quarantine/{entry['id']}/discard", json={"note": "again"}, headers=olga)
    assert again.status_code == 409
    assert (
        client.post("/api/v1/quarantine/999999/discard", json={"note": "x"}, headers=olga).status_code == 404
    )


def test_residents_cannot_touch_the_quarantine(client: TestClient, world: World) -> None:
    alice = _auth(client, "alice")
    assert client.get("/api/v1/quarantine", headers=alice).status_code == 403
    assert client.post("/api/v1/quarantine/1/replay", headers=alice).status_code == 403
    assert client.get("/api/v1/quarantine").status_code == 401


def test_the_api_ignores_session_cookies(client: TestClient, world: World) -> None:
    page = client.get("/login")
    csrf = page.cookies.get("tanhui_csrf") or client.cookies.get("tanhui_csrf")
    client.post(
        "/login", data={"username": "olga", "password": "olga-password", "csrf": csrf}, follow_redirects=False
    )
    assert client.get("/community").status_code == 200  # the page accepts the session
    assert client.get("/api/v1/quarantine").status_code == 401  # the API wants a bearer token
