from __future__ import annotations

import random
import statistics
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tanhui.domain.quantity import Quantity
from tanhui.sim.household import (
    MIN_HISTORY_DAYS,
    Conditions,
    SimHousehold,
    apply_saving,
    draw_households,
    hourly_consumption,
)
from tanhui.sim.weather import hourly_temperatures

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = date(2026, 3, 2)  # a Monday


def _conditions(days: int = 28, *, offset: float = 0.0, seed: int = 1, start: date = START) -> Conditions:
    series = hourly_temperatures(start, days, SHANGHAI, random.Random(seed))
    return Conditions.from_temperatures([(moment, value + offset) for moment, value in series])


def _flat_conditions(days: int, temperature: float, start: date = START) -> Conditions:
    begin = datetime.combine(start, datetime.min.time(), SHANGHAI)
    return Conditions.from_temperatures([(begin + timedelta(hours=h), temperature) for h in range(24 * days)])


def _home(**overrides: object) -> SimHousehold:
    fields: dict[str, object] = {
        "code": "BT-00001",
        "persons": 3,
        "enrolled_on": None,
        "saves_from": None,
        "saving_fraction": 0.0,
    }
    fields.update(overrides)
    return SimHousehold(**fields)  # type: ignore[arg-type]


def _daily(values: list[float], conditions: Conditions) -> list[float]:
    totals = [0.0] * len(conditions.days)
    for value, d in zip(values, conditions.day_of_hour, strict=True):
        totals[d] += value
    return totals


def test_household_sizes_average_hainans_3_06_persons() -> None:
    homes = draw_households(random.Random(1), 5000, start=START, days=60, enrol_share=0.0, saver_share=0.0)
    sizes = [home.persons for home in homes]
    assert set(sizes) == {1, 2, 3, 4, 5, 6}
    assert statistics.fmean(sizes) == pytest.approx(3.06, abs=0.08)


def test_codes_are_numbered_from_one() -> None:
    homes = draw_households(random.Random(1), 3, start=START, days=60, enrol_share=0.0, saver_share=0.0)
    assert [home.code for home in homes] == ["BT-00001", "BT-00002", "BT-00003"]


def test_enrolment_leaves_a_month_of_history_and_savers_start_soon_after() -> None:
    days = 90
    homes = draw_households(random.Random(2), 400, start=START, days=days, enrol_share=0.5, saver_share=0.6)
    enrolled = [home for home in homes if home.enrolled_on is not None]
    savers = [home for home in homes if home.saves]
    assert len(enrolled) == 200
    assert len(savers) == 120
    for home in enrolled:
        assert home.enrolled_on is not None
        assert START + timedelta(days=MIN_HISTORY_DAYS) <= home.enrolled_on < START + timedelta(days=days)
    for home in savers:
        assert home.enrolled_on is not None and home.saves_from is not None
        assert 2 <= (home.saves_from - home.enrolled_on).days <= 7
        assert home.saves_from < START + timedelta(days=days)
        assert 0.05 <= home.saving_fraction <= 0.15
    assert all(home.saving_fraction == 0.0 for home in homes if not home.saves)


def test_a_short_period_still_enrols_inside_it() -> None:
    homes = draw_households(random.Random(3), 50, start=START, days=5, enrol_share=1.0, saver_share=0.0)
    assert all(
        home.enrolled_on is not None and START <= home.enrolled_on < START + timedelta(days=5)
        for home in homes
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"persons": 0}, "persons"),
        ({"persons": 7}, "persons"),
        ({"saving_fraction": 1.0, "enrolled_on": START, "saves_from": START}, "saving_fraction"),
        ({"saves_from": START}, "enrolment"),
        ({"saving_fraction": 0.1}, "saves_from"),
        ({"gas_scale": -1.0}, "negative"),
    ],
)
def test_rejects_impossible_households(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _home(**overrides)


def test_same_seed_same_consumption_and_streams_are_per_household() -> None:
    conditions = _conditions(7)
    a = hourly_consumption(_home(), Quantity.WATER, conditions, seed=4)
    assert a == hourly_consumption(_home(), Quantity.WATER, conditions, seed=4)
    assert a != hourly_consumption(_home(), Quantity.WATER, conditions, seed=5)
    assert a != hourly_consumption(_home(code="BT-00002"), Quantity.WATER, conditions, seed=4)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**31),
    persons=st.integers(min_value=1, max_value=6),
    quantity=st.sampled_from(list(Quantity)),
    scale=st.floats(min_value=0.0, max_value=3.0),
)
def test_consumption_is_never_negative(seed: int, persons: int, quantity: Quantity, scale: float) -> None:
    home = _home(
        persons=persons,
        appliance_scale=scale,
        water_scale=scale,
        gas_scale=scale,
        cooling_kwh_per_degree_hour=scale,
    )
    values = hourly_consumption(home, quantity, _conditions(3, seed=seed % 7), seed=seed)
    assert len(values) == 72
    assert min(values) >= 0.0


def test_daily_averages_follow_the_sourced_figures() -> None:
    # A year of 60 average households: water near 125 L/person/day (MWR bulletin 2023), gas near the
    # planning value, electricity inside 2,000–3,250 kWh per household per year (emission-factors.md §6).
    conditions = _conditions(365, start=date(2026, 1, 1))
    homes = draw_households(
        random.Random(9), 60, start=date(2026, 1, 1), days=365, enrol_share=0.0, saver_share=0.0
    )
    water = [sum(hourly_consumption(h, Quantity.WATER, conditions, seed=1)) / h.persons / 365 for h in homes]
    gas = [sum(hourly_consumption(h, Quantity.GAS, conditions, seed=1)) / h.persons / 365 for h in homes]
    power = [sum(hourly_consumption(h, Quantity.ELECTRICITY, conditions, seed=1)) for h in homes]
    assert statistics.fmean(water) == pytest.approx(0.125, rel=0.1)
    assert 0.25 <= statistics.fmean(gas) <= 0.35
    assert 2000 <= statistics.fmean(power) <= 3250


def test_hotter_weather_means_more_electricity_for_the_same_household() -> None:
    home = _home()
    normal = hourly_consumption(home, Quantity.ELECTRICITY, _conditions(offset=0.0), seed=3)
    hotter = hourly_consumption(home, Quantity.ELECTRICITY, _conditions(offset=3.0), seed=3)
    # The noise is the same draw in both, so the difference is the weather's alone.
    assert all(h >= n for h, n in zip(hotter, normal, strict=True))
    assert sum(hotter) > 1.2 * sum(normal)


def test_electricity_rises_with_daily_temperature_across_a_year() -> None:
    conditions = _conditions(365, start=date(2026, 1, 1))
    daily = _daily(hourly_consumption(_home(), Quantity.ELECTRICITY, conditions, seed=2), conditions)
    assert statistics.correlation(list(conditions.day_temperature), daily) > 0.6
    # Below the balance point there is no cooling, so cool days sit near the base load.
    cool = [kwh for kwh, t in zip(daily, conditions.day_temperature, strict=True) if t < 21]
    hot = [kwh for kwh, t in zip(daily, conditions.day_temperature, strict=True) if t > 27]
    assert statistics.fmean(hot) > 2 * statistics.fmean(cool)


def test_days_off_differ_from_workdays() -> None:
    # Flat weather isolates the calendar: people are at home in the daytime on days off.
    conditions = _flat_conditions(56, 24.0)
    home = _home()
    hourly = {q: hourly_consumption(home, q, conditions, seed=8) for q in Quantity}
    off = conditions.day_off
    for quantity in Quantity:
        daily = _daily(hourly[quantity], conditions)
        on_days_off = statistics.fmean(v for v, o in zip(daily, off, strict=True) if o)
        on_workdays = statistics.fmean(v for v, o in zip(daily, off, strict=True) if not o)
        assert on_days_off > 1.04 * on_workdays, quantity
    # Workday mornings at 10–15 h are quiet: the household is out.
    daytime = [
        (value, off[d])
        for value, d, hour in zip(
            hourly[Quantity.ELECTRICITY], conditions.day_of_hour, conditions.hour_of_day, strict=True
        )
        if 10 <= hour < 16
    ]
    at_home = statistics.fmean(v for v, o in daytime if o)
    away = statistics.fmean(v for v, o in daytime if not o)
    assert at_home > 1.25 * away


def test_water_and_gas_peak_at_wash_and_meal_times() -> None:
    conditions = _flat_conditions(28, 24.0)
    home = _home()
    for quantity, peak_hours in (
        (Quantity.WATER, {6, 7, 19, 20, 21}),
        (Quantity.GAS, {7, 11, 12, 17, 18, 19}),
    ):
        values = hourly_consumption(home, quantity, conditions, seed=5)
        by_hour = [0.0] * 24
        for value, hour in zip(values, conditions.hour_of_day, strict=True):
            by_hour[hour] += value
        top = sorted(range(24), key=by_hour.__getitem__)[-3:]
        assert set(top) <= peak_hours, quantity
        assert by_hour[3] < 0.1 * max(by_hour)


def test_saving_cuts_consumption_from_saves_from_and_not_before() -> None:
    conditions = _conditions(20)
    saves_from = START + timedelta(days=10)
    home = _home(enrolled_on=START + timedelta(days=7), saves_from=saves_from, saving_fraction=0.1)
    base = hourly_consumption(home, Quantity.ELECTRICITY, conditions, seed=1)
    saved = apply_saving(home, conditions, base)
    for value, original, d in zip(saved, base, conditions.day_of_hour, strict=True):
        expected = original * 0.9 if conditions.days[d] >= saves_from else original
        assert value == pytest.approx(expected)
    assert apply_saving(_home(), conditions, base) == base
