"""A replaced meter: each installation keeps its own register series; nothing negative, nothing twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from tanhui.domain.reading import MeterReading
from tanhui.jobs.accounting import account_community
from tanhui.meters import envelope
from tanhui.settings import Settings
from tanhui.store import footprints, readings, registry
from tanhui.store.factor_files import load_factor_sets
from tanhui.store.schema import quarantine
from tanhui.web.app import create_app

from .conftest import World

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 25, 2, tzinfo=UTC)
SERIAL = "110000000001"


@pytest.fixture
def client(engine: Engine, world: World, store_url: str) -> Iterator[TestClient]:
    settings = Settings(environment="test", database_url=store_url, secret_key="r" * 40)
    with TestClient(
        create_app(settings, engine=engine, clock=lambda: NOW), base_url="https://testserver"
    ) as c:
        yield c


def _auth(client: TestClient) -> dict[str, str]:
    token = client.post("/api/v1/auth/token", data={"username": "olga", "password": "olga-password"})
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def _send(client: TestClient, world: World, seq: int, items: list[tuple[datetime, str]]) -> dict[str, object]:
    payload = envelope.encode(
        "gw-1", seq, NOW, [MeterReading(SERIAL, "energy_import", Decimal(v), "kWh", t) for t, v in items]
    )
    response = client.post(
        "/api/v1/ingest", content=payload, headers={"Authorization": f"Bearer {world.gateway_token}"}
    )
    assert response.status_code == 200
    return dict(response.json())


def test_a_meter_reprogrammed_with_the_old_address_starts_its_own_series(
    client: TestClient, engine: Engine, world: World
) -> None:
    day = datetime(2026, 11, 21, tzinfo=CST)
    _send(
        client,
        world,
        1,
        [(day, "480.00"), (day + timedelta(hours=12), "490.00"), (day + timedelta(days=1), "500.00")],
    )
    # The new meter, installed on the 23rd with the same address, counts from zero.
    before = _send(client, world, 2, [(day + timedelta(days=2, hours=1), "0.50")])
    assert before["reasons"] == {"decreasing_register": 1}
    olga = _auth(client)
    replaced = client.post(
        f"/api/v1/meters/{SERIAL}/replace", json={"replaced_on": "2026-11-23"}, headers=olga
    )
    assert replaced.status_code == 201
    assert (
        client.post(
            f"/api/v1/meters/{SERIAL}/replace", json={"replaced_on": "2026-11-20"}, headers=olga
        ).status_code
        == 422
    )
    (entry,) = client.get("/api/v1/quarantine", params={"reason": "decreasing_register"}, headers=olga).json()
    assert client.post(f"/api/v1/quarantine/{entry['id']}/replay", headers=olga).json()["accepted"] is True
    after = _send(client, world, 3, [(day + timedelta(days=3), "12.50")])
    assert after["stored"] == 1
    # Before the first installation: not this meter's reading.
    early = _send(client, world, 4, [(datetime(2025, 12, 30, tzinfo=CST), "1.00")])
    assert early["reasons"] == {"meter_not_installed": 1}

    with engine.connect() as conn:
        old, new = registry.installations(conn, world.community_id, SERIAL)
        assert (old.removed_on, new.installed_on, new.removed_on) == (
            date(2026, 11, 23),
            date(2026, 11, 23),
            None,
        )
        assert [v for _, v in readings.of_meter(conn, old.id, "energy_import")] == [48_000, 49_000, 50_000]
        assert [v for _, v in readings.of_meter(conn, new.id, "energy_import")] == [50, 1_250]
        assert (
            conn.execute(select(quarantine.c.status).where(quarantine.c.id == entry["id"])).scalar_one()
            == "replayed"
        )
    factor_set = load_factor_sets(Settings().data_dir / "factors")["cn-mee-2023@v1"]
    with engine.begin() as conn:
        summary = account_community(conn, world.community_id, factor_set, now=0)
        lines = footprints.household_days(conn, world.households[0], factor_set.id)
    assert summary.rejected_steps == 0
    electricity = sum(Decimal(line.amount_micro) / 1_000_000 for line in lines if line.kind == "electricity")
    # 20 kWh on the old meter and 12 kWh on the new one: never a step across the two.
    assert electricity == Decimal(32)
