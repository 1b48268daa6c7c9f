"""Insight alerts on SQLite and PostgreSQL: the job records findings from stored readings, deduplicated;
acknowledgement, resolution, and the meters held back from points."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tanhui.domain.ids import MeterId, UserId
from tanhui.insights.findings import Finding, FindingKind, Severity
from tanhui.jobs.insights import load_parameters, run_community
from tanhui.store import alerts, readings

from .conftest import World

DATA = Path(__file__).resolve().parents[2] / "data"
T0 = 1_780_243_200  # 2026-06-01 00:00 Asia/Shanghai
DAYS = 21
END = T0 + DAYS * 86_400


def _water(hour: int) -> int:
    """Litres in one hour: dry nights, a leak of 9 L/h from day 12 on (counts of 0.001 m3 = 1 L)."""
    day_use = 0 if hour % 24 < 6 else 20 + hour % 3
    return day_use + (9 if hour >= 12 * 24 else 0)


def _electricity(hour: int, stuck_from: int | None) -> int:
    """Counts of 0.01 kWh; the register stops advancing from ``stuck_from``."""
    if stuck_from is not None and hour >= stuck_from:
        return 0
    return 6 + (80 if 18 <= hour % 24 < 22 else 10)


def store_readings(engine: Engine, world: World) -> None:
    """21 days of hourly readings: H1's water meter leaks; H2's electricity register sticks on day 15."""
    plans = {
        world.meters["210000000001"]: ("volume", _water),
        world.meters["110000000001"]: ("energy_import", lambda h: _electricity(h, None)),
        world.meters["110000000002"]: ("energy_import", lambda h: _electricity(h, 15 * 24 + 4)),
    }
    rows = []
    for meter_id, (register, per_hour) in plans.items():
        value = 500_000
        for hour in range(DAYS * 24 + 1):
            rows.append(readings.StoredReading(meter_id, register, T0 + hour * 3600, value))
            value += per_hour(hour)
    with engine.begin() as conn:
        batch = readings.add_batch(
            conn,
            gateway_id=world.gateway.id,
            seq=1,
            transport="http",
            received_at=END,
            sha256=hashlib.sha256(b"test").hexdigest(),
            payload=b"test",
        )
        readings.add(conn, rows, batch_id=batch, received_at=END)


def test_the_job_records_each_finding_once_and_resolution_releases_the_meter(
    engine: Engine, world: World
) -> None:
    store_readings(engine, world)
    params = load_parameters(DATA)
    with engine.begin() as conn:
        first = run_community(conn, world.community_id, now=END, params=params, days=DAYS)
    assert first.created >= 2 and first.already_resolved == 0
    with engine.begin() as conn:
        second = run_community(conn, world.community_id, now=END, params=params, days=DAYS)
        listed = alerts.list_alerts(conn, world.community_id)
    assert second.created == 0 and second.refreshed == first.findings
    by_kind = {(a.kind, a.meter_serial): a for a in listed}
    assert len(by_kind) == len(listed)  # one alert per meter and kind
    leak = by_kind[FindingKind.LEAK, "210000000001"]
    assert (leak.audience, leak.household_id, leak.status) == ("resident", world.households[0], "open")
    assert leak.occurrences == 2 and leak.detected_at > T0 + 12 * 86_400
    stuck = by_kind[FindingKind.STUCK, "110000000002"]
    assert stuck.audience == "operator"
    assert stuck.started_at == T0 + (15 * 24 + 4) * 3600

    stuck_meter = world.meters["110000000002"]
    with engine.begin() as conn:
        assert alerts.held_meters(conn, world.community_id) == {stuck_meter}
        acked = alerts.acknowledge(conn, stuck.id, user_id=UserId(1), now=END + 60)
        again = alerts.acknowledge(conn, stuck.id, user_id=UserId(2), now=END + 120)
        assert (acked.acknowledged_by, again.acknowledged_by, again.acknowledged_at) == (1, 1, END + 60)
        resolved = alerts.resolve(
            conn, stuck.id, user_id=UserId(3), now=END + 600, resolution="meter replaced"
        )
        assert (resolved.status, resolved.resolved_by, resolved.resolution) == (
            "resolved",
            3,
            "meter replaced",
        )
        assert alerts.held_meters(conn, world.community_id) == set()
        with pytest.raises(alerts.AlertStateError):
            alerts.resolve(conn, stuck.id, user_id=UserId(3), now=END + 700, resolution="again")
    # The same readings again: the resolved episode is not reopened.
    with engine.begin() as conn:
        third = run_community(conn, world.community_id, now=END + 700, params=params, days=DAYS)
        assert third.already_resolved >= 1
        assert alerts.held_meters(conn, world.community_id) == set()


def test_a_new_finding_after_resolution_opens_a_new_alert(engine: Engine, world: World) -> None:
    meter = MeterId(world.meters["310000000001"])
    finding = Finding(
        FindingKind.REVERSE_FLOW, "x", T0, T0 + 3600, Severity.CRITICAL, {"decreasing_steps": 2}
    )
    with engine.begin() as conn:
        created = alerts.record_finding(
            conn,
            community_id=world.community_id,
            household_id=world.households[0],
            meter_id=meter,
            finding=finding,
            now=T0 + 3600,
        )
        assert created is not None and created[1]
        alerts.resolve(conn, created[0], user_id=UserId(1), now=T0 + 7200, resolution="wiring fixed")
        later = Finding(FindingKind.REVERSE_FLOW, "x", T0 + 9000, T0 + 10_000, Severity.CRITICAL)
        reopened = alerts.record_finding(
            conn,
            community_id=world.community_id,
            household_id=world.households[0],
            meter_id=meter,
            finding=later,
            now=T0 + 10_000,
        )
        assert reopened is not None and reopened[1] and reopened[0] != created[0]
        assert alerts.held_meters(conn, world.community_id) == {meter}
