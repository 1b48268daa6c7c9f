from __future__ import annotations

import itertools
import random
import statistics
from collections import defaultdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tanhui.sim.weather import daily_means, hourly_temperatures, normal_extremes

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _year(seed: int) -> list[tuple[datetime, float]]:
    return hourly_temperatures(date(2026, 1, 1), 365, SHANGHAI, random.Random(seed))


@pytest.fixture(scope="module")
def years() -> list[list[tuple[datetime, float]]]:
    return [_year(seed) for seed in range(3)]


def _by_day(series: list[tuple[datetime, float]]) -> dict[date, list[float]]:
    days: dict[date, list[float]] = defaultdict(list)
    for moment, value in series:
        days[moment.date()].append(value)
    return days


def test_same_generator_state_gives_the_same_series() -> None:
    a = hourly_temperatures(date(2026, 6, 1), 10, SHANGHAI, random.Random(5))
    b = hourly_temperatures(date(2026, 6, 1), 10, SHANGHAI, random.Random(5))
    c = hourly_temperatures(date(2026, 6, 1), 10, SHANGHAI, random.Random(6))
    assert a == b
    assert a != c


def test_one_aware_value_per_local_hour() -> None:
    series = hourly_temperatures(date(2026, 2, 27), 3, SHANGHAI, random.Random(1))
    assert len(series) == 72
    assert series[0][0] == datetime(2026, 2, 27, tzinfo=SHANGHAI)
    assert [moment.hour for moment, _ in series[:24]] == list(range(24))
    assert all(moment.tzinfo is SHANGHAI for moment, _ in series)


def test_normals_match_the_baoting_climate_figures() -> None:
    # baoting.md: mean daily maximum 26.6 °C in January, 33.2 °C in May–June.
    assert normal_extremes(date(2026, 1, 15))[1] == pytest.approx(26.6, abs=0.3)
    assert normal_extremes(date(2026, 5, 31))[1] == pytest.approx(33.2, abs=0.3)


def test_seasons_and_annual_mean_look_like_baoting(years: list[list[tuple[datetime, float]]]) -> None:
    january_max, may_june_max, means = [], [], []
    for series in years:
        means.append(statistics.fmean(value for _, value in series))
        for day, values in _by_day(series).items():
            if day.month == 1:
                january_max.append(max(values))
            elif day.month in (5, 6):
                may_june_max.append(max(values))
    assert statistics.fmean(january_max) == pytest.approx(26.6, abs=1.5)
    assert statistics.fmean(may_june_max) == pytest.approx(33.2, abs=1.5)
    # baoting.md: annual mean 20.7–24.5 °C.
    assert 22.5 < statistics.fmean(means) < 25.0


def test_days_are_coolest_at_dawn_and_warmest_in_the_early_afternoon(
    years: list[list[tuple[datetime, float]]],
) -> None:
    by_hour: dict[int, list[float]] = defaultdict(list)
    ranges = []
    for series in years:
        for moment, value in series:
            by_hour[moment.hour].append(value)
        ranges += [max(v) - min(v) for v in _by_day(series).values()]
    mean_by_hour = {hour: statistics.fmean(values) for hour, values in by_hour.items()}
    assert min(mean_by_hour, key=mean_by_hour.__getitem__) in (4, 5, 6, 7)
    assert max(mean_by_hour, key=mean_by_hour.__getitem__) in (13, 14, 15)
    assert 7.0 < statistics.fmean(ranges) < 12.0


def test_warm_and_cool_spells_persist_from_day_to_day(years: list[list[tuple[datetime, float]]]) -> None:
    # Anomaly of each daily mean against the smooth seasonal normal: day-to-day persistence (AR(1)) means
    # neighbouring anomalies are positively correlated.
    correlations = []
    for series in years:
        anomalies = []
        for day, mean in daily_means(series):
            low, high = normal_extremes(day)
            anomalies.append(mean - (low + high) / 2)
        correlations.append(statistics.correlation(anomalies[:-1], anomalies[1:]))
        assert 0.8 < statistics.stdev(anomalies) < 3.5
    assert statistics.fmean(correlations) > 0.4


def test_daily_means_average_each_local_day() -> None:
    series = [
        (datetime(2026, 1, 1, 23, tzinfo=SHANGHAI), 20.0),
        (datetime(2026, 1, 2, 0, tzinfo=SHANGHAI), 18.0),
        (datetime(2026, 1, 2, 1, tzinfo=SHANGHAI), 16.0),
    ]
    assert daily_means(series) == [(date(2026, 1, 1), 20.0), (date(2026, 1, 2), 17.0)]


@settings(max_examples=30, deadline=None)
@given(
    start=st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31)),
    days=st.integers(min_value=1, max_value=40),
    zone=st.sampled_from(["Asia/Shanghai", "Europe/Berlin", "America/New_York", "UTC"]),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_any_period_gives_consecutive_hours_with_plausible_values(
    start: date, days: int, zone: str, seed: int
) -> None:
    tz = ZoneInfo(zone)
    series = hourly_temperatures(start, days, tz, random.Random(seed))
    begin = datetime.combine(start, datetime.min.time(), tz)
    end = datetime.combine(start + timedelta(days=days), datetime.min.time(), tz)
    # Hours of real elapsed time: a daylight-saving day has 23 or 25 of them.
    assert len(series) == (end - begin.astimezone(ZoneInfo("UTC"))).total_seconds() // 3600
    assert series[0][0] == begin
    utc = [moment.astimezone(ZoneInfo("UTC")) for moment, _ in series]
    steps = {(b - a).total_seconds() for a, b in itertools.pairwise(utc)}
    assert steps <= {3600.0}
    assert {moment.date() for moment, _ in series} == {start + timedelta(days=d) for d in range(days)}
    assert all(3.0 < value < 45.0 for _, value in series)


def test_refuses_an_empty_period() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        hourly_temperatures(date(2026, 1, 1), 0, SHANGHAI, random.Random(1))
