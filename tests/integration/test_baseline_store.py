"""The baseline job on the real store (SQLite and PostgreSQL): fits, avoided rows and the reads on top."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy import Engine, select, update

from tanhui.accounting import months
from tanhui.accounting.pricing import total
from tanhui.domain.ids import HouseholdId, MeterId
from tanhui.jobs.baselines import fit_community
from tanhui.settings import Settings
from tanhui.store import baselines, intervals, weather
from tanhui.store.factor_files import load_factor_sets
from tanhui.store.intervals import MonthRow
from tanhui.store.schema import avoided_daily, households

from .conftest import NOW, World

TZ = ZoneInfo("Asia/Shanghai")
FIRST = date(2025, 1, 1)
DAYS = 430
ENROLLED = FIRST + timedelta(days=365)
SAVING = 0.12


def _fill(engine: Engine, world: World) -> None:
    rng = np.random.default_rng(11)
    temps = 24 + 5 * np.sin(2 * np.pi * (np.arange(DAYS) - 100) / 365) + rng.normal(0, 1.5, DAYS)
    h1, h2 = world.households
    by_meter: dict[tuple[int, int], dict[date, int]] = {}
    for i in range(DAYS):
        day = FIRST + timedelta(days=i)
        for household, serial in ((h1, "110000000001"), (h2, "110000000002")):
            kwh = 5 + 0.8 * max(temps[i] - 24, 0) + rng.normal(0, 0.25)
            if household == h1 and day >= ENROLLED:
                kwh *= 1 - SAVING
            by_meter.setdefault((world.meters[serial], household), {})[day] = round(kwh * 1_000_000)
    observations = [
        weather.Observation(
            datetime(day.year, day.month, day.day, h, tzinfo=TZ).astimezone(UTC),
            float(temps[i] + 3 * math.sin(2 * math.pi * (h - 9) / 24)),
        )
        for i in range(DAYS)
        for day in [FIRST + timedelta(days=i)]
        for h in range(24)
    ]
    with engine.begin() as conn:
        rows = [
            MonthRow(
                MeterId(meter), month, HouseholdId(household), "electricity", months.pack(days), total(days)
            )
            for (meter, household), by_day in by_meter.items()
            for month, days in months.group(by_day).items()
        ]
        intervals.replace(conn, [MeterId(m) for m, _ in by_meter], rows, now=NOW)
        conn.execute(update(households).where(households.c.id == h1).values(enrolled_on=ENROLLED))
        weather.ensure_station(conn, "bt-met-1", community_id=world.community_id, name="Baoting", now=NOW)
        assert weather.add_observations(conn, "bt-met-1", observations, source="csv", now=NOW) == len(
            observations
        )


def test_the_job_stores_fits_and_conservative_avoided_emissions(engine: Engine, world: World) -> None:
    _fill(engine, world)
    factor_set = load_factor_sets(Settings().data_dir / "factors")["cn-mee-2023@v1"]
    rules = baselines.load_rules()
    with engine.begin() as conn:
        summary = fit_community(conn, world.community_id, factor_set, rules=rules, now=NOW)
    assert (summary.assessed, summary.eligible) == (1, 1)
    assert summary.rows == DAYS - 365
    assert 0 < summary.counted_kg < summary.avoided_kg

    h1, h2 = world.households
    last = FIRST + timedelta(days=DAYS - 1)
    with engine.connect() as conn:
        found = baselines.household_avoided(conn, h1, factor_set.id, ENROLLED, last)
        assert baselines.household_avoided(conn, h2, factor_set.id, ENROLLED, last) is None
        per_day = baselines.community_daily_avoided_kg(
            conn, world.community_id, factor_set.id, ENROLLED, last
        )
        fits = baselines.fits_of_household(conn, h1)
        stored = conn.execute(
            select(
                avoided_daily.c.counterfactual_micro,
                avoided_daily.c.actual_micro,
                avoided_daily.c.avoided_micro,
            )
        ).all()
    assert found is not None
    assert found.baseline_eligible and found.data_quality_ok
    cf, actual = found.counterfactual_micro["electricity"], found.actual_micro["electricity"]
    assert 0.08 < (cf - actual) / cf < 0.16
    assert 0 < found.counted_co2e_mg <= found.avoided_co2e_mg
    assert found.avoided_g_co2e == found.counted_co2e_mg // 1000
    assert all(a == c - b for c, b, a in stored)
    assert sum(per_day.values()) == Decimal(found.counted_co2e_mg) / Decimal(1_000_000)
    assert len(per_day) == DAYS - 365
    assert fits[0].model == "caltrack-daily"
    assert fits[0].train_last == ENROLLED - timedelta(days=1)
    assert fits[0].params["cooling_balance_c"] == pytest.approx(24, abs=1.5)

    # A second run replaces the first run's rows instead of adding to them.
    with engine.begin() as conn:
        again = fit_community(conn, world.community_id, factor_set, rules=rules, now=NOW + 1)
    with engine.connect() as conn:
        count = len(conn.execute(select(avoided_daily.c.day)).all())
    assert again.rows == count == DAYS - 365


def test_weather_observations_are_stored_once(engine: Engine, world: World) -> None:
    at = datetime(2026, 7, 1, 4, tzinfo=UTC)
    items = [weather.Observation(at + timedelta(hours=h), 28.5 + h / 10) for h in range(5)]
    with engine.begin() as conn:
        weather.ensure_station(conn, "bt-met-2", community_id=None, now=NOW)
        assert weather.add_observations(conn, "bt-met-2", items, source="mqtt", now=NOW) == 5
        assert weather.add_observations(conn, "bt-met-2", items, source="mqtt", now=NOW) == 0
        weather.ensure_station(conn, "bt-met-2", community_id=world.community_id, now=NOW)
    with engine.connect() as conn:
        back = weather.observations(conn, "bt-met-2", int(at.timestamp()), int(at.timestamp()) + 3 * 3600)
        assert weather.station_of_community(conn, world.community_id) == "bt-met-2"
    assert [o.temperature_c for o in back] == [28.5, 28.6, 28.7, 28.8]
    assert back[0].at == at
