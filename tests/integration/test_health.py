"""Data health per meter: last seen, completeness, gaps and quarantine, in the store and over the API.

One day of hourly readings is ingested through the real pipeline with holes of every kind: a silence in
the middle, one at the start, one at the end, a meter that never reported, a meter installed that day,
readings of a register that does not count, and quarantined readings (one open, one discarded).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from tanhui.domain.quantity import Quantity
from tanhui.domain.reading import MeterReading
from tanhui.ingest.pipeline import Ingestor
from tanhui.ingest.rules import IngestRules
from tanhui.meters import envelope
from tanhui.meters.gaps import Gap
from tanhui.settings import Settings
from tanhui.store import quarantine, readings, registry
from tanhui.store.health import MeterHealth, meter_health
from tanhui.store.schema import meters
from tanhui.web import health_api
from tanhui.web.app import create_app

from .conftest import World

NOW = datetime(2026, 11, 25, 2, tzinfo=UTC)
END = int(NOW.timestamp())
START = END - 86_400  # a one-day window: 24 hourly readings expected
HOUR = 3600
RULES = IngestRules.load()  # hourly, a gap is a silence of more than two hours

# Meters of the world fixture, and one more installed on the window's last local day.
E1, W1, G1 = "110000000001", "210000000001", "310000000001"
E2, W2, G2 = "110000000002", "210000000002", "310000000002"
E3 = "110000000003"


def _at(hours: float) -> datetime:
    return datetime.fromtimestamp(START, UTC) + timedelta(hours=hours)


def _series(serial: str, register: str, unit: str, hours: Sequence[float]) -> list[MeterReading]:
    # Rising register values, a whole number of counts at either resolution.
    return [MeterReading(serial, register, Decimal(10 + i), unit, _at(h)) for i, h in enumerate(hours)]


def _ingest(ingestor: Ingestor, world: World, seq: int, batch: list[MeterReading]) -> dict[str, int]:
    result = ingestor.ingest(
        envelope.encode("gw-1", seq, NOW, batch), gateway=world.gateway, transport="http"
    )
    return result.reasons


@pytest.fixture
def fleet(engine: Engine, world: World) -> World:
    """The world's meters with a day of readings with holes, and the quarantined entries."""
    with engine.begin() as conn:
        registry.create_meter(
            conn,
            community_id=world.community_id,
            household_id=world.households[1],
            gateway_id=world.gateway.id,
            serial=E3,
            kind=Quantity.ELECTRICITY,
            protocol="json",
            resolution=Decimal("0.01"),
            capacity=100_000_000,
            # Local midnight in Baoting (UTC+8) is 16:00 UTC the day before: 14 h into the window.
            installed_on=date(2026, 11, 25),
        )
    ingestor = Ingestor(engine, lambda: NOW)
    day = list(range(24))
    good = [
        # A reading before the window, then a silence from 04:00 to 08:00 into the window.
        *_series(E1, "energy_import", "kWh", [-30, *(h for h in day if h not in (5, 6, 7))]),
        # Reports for the first ten hours, then falls silent.
        *_series(W1, "volume", "m3", day[:10]),
        # Only the second half of the primary register; the export register all day and later still.
        *_series(E2, "energy_import", "kWh", day[12:]),
        *_series(E2, "energy_export", "kWh", [*day, 23.5]),
        *_series(W2, "volume", "m3", day),
        *_series(G2, "volume", "m3", day),
        # Installed at hour 14 (local midnight), reporting from hour 20.
        *_series(E3, "energy_import", "kWh", day[20:]),
    ]
    assert _ingest(ingestor, world, 1, good) == {}
    bad = [
        MeterReading(E1, "energy_import", Decimal("1.00"), "m3", _at(5)),  # the wrong unit
        MeterReading(E1, "energy_import", Decimal("2.00"), "m3", _at(6)),
        MeterReading("119999999999", "energy_import", Decimal("1.00"), "kWh", _at(6)),  # not ours
    ]
    assert _ingest(ingestor, world, 2, bad) == {"unit_mismatch": 2, "unknown_meter": 1}
    with engine.begin() as conn:
        first = min(e.id for e in quarantine.entries(conn, world.community_id, meter_serial=E1))
        assert quarantine.resolve(conn, first, "discarded")
    return world


def _health(engine: Engine, world: World, *, start: int = START, end: int = END) -> list[MeterHealth]:
    with engine.connect() as conn:
        return meter_health(conn, world.community_id, start=start, end=end, rules=RULES)


def test_every_field_of_every_meter_worst_first(engine: Engine, fleet: World) -> None:
    ordered = _health(engine, fleet)
    assert [h.serial for h in ordered] == [G1, E3, W1, E2, E1, W2, G2]
    found = {h.serial: h for h in ordered}
    summary = {
        serial: (h.kind.value, h.household, h.last_seen, h.readings, h.expected, round(h.completeness, 3))
        for serial, h in found.items()
    }
    assert summary == {
        E1: ("electricity", "H1", START + 23 * HOUR, 21, 24, 0.875),
        W1: ("water", "H1", START + 9 * HOUR, 10, 24, 0.417),
        G1: ("gas", "H1", None, 0, 24, 0.0),
        E2: ("electricity", "H2", START + 23 * HOUR + 1800, 12, 24, 0.5),  # last seen on the export register
        W2: ("water", "H2", START + 23 * HOUR, 24, 24, 1.0),
        G2: ("gas", "H2", START + 23 * HOUR, 24, 24, 1.0),
        E3: ("electricity", "H2", START + 23 * HOUR, 4, 10, 0.4),  # expected only since installation
    }
    assert {serial: h.gaps for serial, h in found.items()} == {
        E1: (Gap(START + 4 * HOUR, START + 8 * HOUR),),
        W1: (Gap(START + 9 * HOUR, END),),  # silent since, up to the window's end
        G1: (Gap(START, END),),
        E2: (Gap(START, START + 12 * HOUR),),  # silent from the window's start
        W2: (),
        G2: (),
        E3: (Gap(START + 14 * HOUR, START + 20 * HOUR),),  # from installation, not from the window's start
    }
    assert {
        serial: (h.quarantined_open, h.quarantined_total)
        for serial, h in found.items()
        if h.quarantined_total
    } == {E1: (1, 2)}


def test_a_silence_within_the_limit_is_no_gap(engine: Engine, fleet: World) -> None:
    # W1's last reading is at hour 9: a window ending two hours later (exactly the limit) shows no gap,
    # one ending a second after that does.
    last = START + 9 * HOUR
    (w1,) = [h for h in _health(engine, fleet, end=last + 2 * HOUR) if h.serial == W1]
    assert w1.gaps == ()
    (w1,) = [h for h in _health(engine, fleet, end=last + 2 * HOUR + 1) if h.serial == W1]
    assert w1.gaps == (Gap(last, last + 2 * HOUR + 1),)


def test_a_removed_meter_is_expected_only_until_its_removal(engine: Engine, fleet: World) -> None:
    with engine.begin() as conn:
        # No action removes meters yet; the column is what a replacement will set.
        conn.execute(update(meters).where(meters.c.serial == W1).values(removed_on=date(2026, 11, 25)))
    (w1,) = [h for h in _health(engine, fleet) if h.serial == W1]
    # Removed at local midnight, 14 h into the window: 10 of 14 expected, silent for the last 5 of them.
    assert (w1.readings, w1.expected, round(w1.completeness, 3)) == (10, 14, 0.714)
    assert w1.gaps == (Gap(START + 9 * HOUR, START + 14 * HOUR),)


def test_packed_days_count_as_hot_rows_do(engine: Engine, fleet: World) -> None:
    before = _health(engine, fleet)
    with engine.begin() as conn:
        ids = sorted(m.id for m in registry.meters_of_community(conn, fleet.community_id))
        # Pack every closed UTC day: the readings before 00:00 on the 25th move out of the hot rows.
        moved = readings.pack(conn, first_meter=ids[0], last_meter=ids[-1], before=END - 2 * HOUR)
    assert moved.readings > 0
    assert _health(engine, fleet) == before


# --- the API -------------------------------------------------------------------------------------------


@pytest.fixture
def client(engine: Engine, fleet: World, store_url: str) -> Iterator[TestClient]:
    app = create_app(
        Settings(environment="test", database_url=store_url, secret_key="h" * 40),
        engine=engine,
        clock=lambda: NOW,
    )
    app.include_router(health_api.router)  # until app.py includes it
    with TestClient(app, base_url="https://testserver") as test_client:
        yield test_client


def _auth(client: TestClient, username: str) -> dict[str, str]:
    token = client.post("/api/v1/auth/token", data={"username": username, "password": f"{username}-password"})
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def test_the_api_reports_every_field(client: TestClient) -> None:
    response = client.get("/api/v1/meters/health", params={"days": 1}, headers=_auth(client, "olga"))
    assert response.status_code == 200
    body: list[dict[str, Any]] = response.json()
    assert [m["serial"] for m in body] == [G1, E3, W1, E2, E1, W2, G2]
    by_serial = {m["serial"]: m for m in body}
    assert by_serial[E1] == {
        "serial": E1,
        "kind": "electricity",
        "household": "H1",
        "last_seen": _iso(START + 23 * HOUR),
        "readings": 21,
        "expected": 24,
        "completeness": 0.875,
        "gaps": [{"after": _iso(START + 4 * HOUR), "before": _iso(START + 8 * HOUR), "hours": 4.0}],
        "quarantined_open": 1,
        "quarantined_total": 2,
    }
    assert by_serial[G1] == {
        "serial": G1,
        "kind": "gas",
        "household": "H1",
        "last_seen": None,
        "readings": 0,
        "expected": 24,
        "completeness": 0.0,
        "gaps": [{"after": _iso(START), "before": _iso(END), "hours": 24.0}],
        "quarantined_open": 0,
        "quarantined_total": 0,
    }
    assert by_serial[W1]["completeness"] == 0.417  # 10 of 24, rounded to three places
    assert by_serial[W1]["gaps"] == [{"after": _iso(START + 9 * HOUR), "before": _iso(END), "hours": 15.0}]
    assert by_serial[E3]["expected"] == 10 and by_serial[E3]["gaps"][0]["hours"] == 6.0


def test_the_default_window_is_the_last_seven_days(client: TestClient) -> None:
    body = client.get("/api/v1/meters/health", headers=_auth(client, "olga")).json()
    by_serial = {m["serial"]: m for m in body}
    # E1's reading 30 hours before the one-day window falls inside a seven-day one.
    assert (by_serial[E1]["readings"], by_serial[E1]["expected"]) == (22, 7 * 24)
    assert by_serial[W2]["gaps"] == [{"after": _iso(END - 7 * 86_400), "before": _iso(START), "hours": 144.0}]


def test_the_window_is_one_to_366_days(client: TestClient) -> None:
    olga = _auth(client, "olga")
    status = {
        days: client.get("/api/v1/meters/health", params={"days": days}, headers=olga).status_code
        for days in (-1, 0, 1, 366, 367)
    }
    assert status == {-1: 422, 0: 422, 1: 200, 366: 200, 367: 422}


def test_operators_only(client: TestClient) -> None:
    assert client.get("/api/v1/meters/health", headers=_auth(client, "alice")).status_code == 403
    assert client.get("/api/v1/meters/health").status_code == 401
