"""The alerts API: residents see and acknowledge only their own household's alerts; operators list,
filter, acknowledge and resolve."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tanhui.jobs.insights import load_parameters, run_community
from tanhui.settings import Settings
from tanhui.store import readings
from tanhui.web.app import create_app

from .conftest import World
from .test_alerts_store import DAYS, END, T0, store_readings

DATA = Path(__file__).resolve().parents[2] / "data"


def clock() -> datetime:
    return datetime.fromtimestamp(END + 3600, UTC)


@pytest.fixture
def client(engine: Engine, world: World, store_url: str) -> Iterator[TestClient]:
    store_readings(engine, world)
    with engine.begin() as conn:
        run_community(conn, world.community_id, now=END, params=load_parameters(DATA), days=DAYS)
    settings = Settings(environment="test", database_url=store_url, secret_key="k" * 40)
    with TestClient(create_app(settings, engine=engine, clock=clock), base_url="https://testserver") as c:
        yield c


def _token(client: TestClient, username: str) -> dict[str, str]:
    response = client.post(
        "/api/v1/auth/token", data={"username": username, "password": f"{username}-password"}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_a_resident_sees_and_acknowledges_only_their_own_alerts(client: TestClient, world: World) -> None:
    alice, bob, olga = (_token(client, name) for name in ("alice", "bob", "olga"))
    mine = client.get("/api/v1/alerts/mine", headers=alice)
    assert mine.status_code == 200
    [leak] = mine.json()
    assert (leak["kind"], leak["household_id"], leak["meter_serial"]) == (
        "leak",
        world.households[0],
        "210000000001",
    )
    assert leak["title"] == "疑似漏水"  # alice's locale is zh_CN
    # Bob's household has only an operator alert (its stuck meter), which residents do not see.
    assert client.get("/api/v1/alerts/mine", headers=bob).json() == []
    assert client.post(f"/api/v1/alerts/{leak['id']}/acknowledge", headers=bob).status_code == 404
    stuck = client.get("/api/v1/alerts", params={"kind": "stuck"}, headers=olga).json()
    assert [a["meter_serial"] for a in stuck] == ["110000000002"]
    assert client.post(f"/api/v1/alerts/{stuck[0]['id']}/acknowledge", headers=bob).status_code == 404
    acked = client.post(f"/api/v1/alerts/{leak['id']}/acknowledge", headers=alice)
    assert acked.status_code == 200 and acked.json()["acknowledged_at"] == END + 3600
    # Residents may neither list the community nor resolve.
    assert client.get("/api/v1/alerts", headers=alice).status_code == 403
    assert (
        client.post(
            f"/api/v1/alerts/{leak['id']}/resolve", json={"resolution": "x"}, headers=alice
        ).status_code
        == 403
    )
    assert client.get("/api/v1/alerts/mine").status_code == 401


def test_an_operator_filters_and_resolves(client: TestClient, world: World) -> None:
    olga = _token(client, "olga")
    everything = client.get("/api/v1/alerts", headers=olga).json()
    assert {"leak", "stuck"} <= {a["kind"] for a in everything}
    residents = client.get("/api/v1/alerts", params={"audience": "resident"}, headers=olga).json()
    assert residents and all(a["audience"] == "resident" for a in residents)
    stuck = next(a for a in everything if a["kind"] == "stuck")
    resolved = client.post(
        f"/api/v1/alerts/{stuck['id']}/resolve", json={"resolution": "meter replaced"}, headers=olga
    )
    assert resolved.status_code == 200
    assert (resolved.json()["status"], resolved.json()["resolution"]) == ("resolved", "meter replaced")
    again = client.post(f"/api/v1/alerts/{stuck['id']}/resolve", json={"resolution": "twice"}, headers=olga)
    assert again.status_code == 409
    assert client.get("/api/v1/alerts", params={"status": "open", "kind": "stuck"}, headers=olga).json() == []
    assert client.post("/api/v1/alerts/999999/acknowledge", headers=olga).status_code == 404


def _more_readings(engine: Engine, world: World) -> None:
    """Normal gas for both households and normal water for H2, so both have all three meters."""
    plans = {
        world.meters["310000000001"]: lambda h: 0 if h % 24 < 6 else 40,
        world.meters["310000000002"]: lambda h: 0 if h % 24 < 6 else 30,
        world.meters["210000000002"]: lambda h: 0 if h % 24 < 6 else 25,
    }
    rows = []
    for meter_id, per_hour in plans.items():
        value = 200_000
        for hour in range(DAYS * 24 + 1):
            rows.append(readings.StoredReading(meter_id, "volume", T0 + hour * 3600, value))
            value += per_hour(hour)
    with engine.begin() as conn:
        batch = readings.add_batch(
            conn,
            gateway_id=world.gateway.id,
            seq=2,
            transport="http",
            received_at=END,
            sha256=hashlib.sha256(b"more").hexdigest(),
            payload=b"more",
        )
        readings.add(conn, rows, batch_id=batch, received_at=END)


def test_a_resident_gets_tips_ranked_for_their_own_household(
    client: TestClient, engine: Engine, world: World
) -> None:
    _more_readings(engine, world)
    alice, olga = _token(client, "alice"), _token(client, "olga")
    tips = client.get("/api/v1/tips/mine", headers=alice)
    assert tips.status_code == 200, tips.text
    by_id = {tip["id"]: tip for tip in tips.json()}
    # Alice's household cooks with more gas per person than Bob's (0.72 against 0.54 m3 a day, 3 persons
    # each): the cooking tip, 10 % of its year's gas.
    assert by_id["cooking_lid"]["expected_per_year"] == pytest.approx(0.72 * 365 * 0.1, rel=0.01)
    assert by_id["cooking_lid"]["title"] == "做饭盖锅盖、火苗不超过锅底"
    bob = client.get("/api/v1/tips/mine", headers=_token(client, "bob")).json()
    assert "cooking_lid" not in {tip["id"] for tip in bob}
    savings = [tip["expected_kg_co2e_per_year"] for tip in tips.json()]
    assert savings == sorted(savings, reverse=True)
    assert client.get("/api/v1/tips/mine", headers=olga).status_code == 403
