"""The daily model 1.1: degree-hours from hourly temperatures, 0.5 °C balance points, no cooling for gas."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tanhui.baseline.daily import ADJUSTED_R2, CROSS_VALIDATION, degree_days, fit_daily
from tanhui.baseline.errors import BaselineError
from tanhui.baseline.metrics import cv_rmse, nmbe
from tanhui.baseline.rules import BaselineRules
from tanhui.baseline.series import DailySeries, hourly_temperatures

from .conftest import cooling_series

HOURS = np.arange(24)


def _diurnal_year(
    days: int, *, balance: float, slope: float, base: float = 5.0, seed: int = 3
) -> tuple[DailySeries, np.ndarray]:
    """Hourly temperatures with a wide day-night swing; usage driven by the hours above ``balance``."""
    rng = np.random.default_rng(seed)
    # The year peaks around day 390, so a test window after the first 365 days is summer.
    day_mean = 22 + 6 * np.sin(2 * np.pi * (np.arange(days) - 300) / 365) + rng.normal(0, 1.5, days)
    swing = rng.uniform(3, 9, days)
    hourly = day_mean[:, None] + swing[:, None] * np.sin(2 * np.pi * (HOURS[None, :] - 9) / 24)
    usage = base + slope * np.maximum(hourly - balance, 0).mean(axis=1) + rng.normal(0, 0.2, days)
    return DailySeries(date(2025, 1, 1), usage, hourly.mean(axis=1), hourly), hourly


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        (5, 24),
        elements=st.one_of(st.floats(-20, 45, allow_nan=False), st.just(np.nan)),
    ),
    st.lists(st.floats(-5, 35, allow_nan=False), min_size=1, max_size=8, unique=True),
)
def test_degree_hours_match_the_definition(hourly: np.ndarray, points: list[float]) -> None:
    grid = np.array(sorted(points))
    counts = np.sum(~np.isnan(hourly), axis=1)
    sums = np.nansum(hourly, axis=1)
    mean = np.where(counts > 0, sums / np.maximum(counts, 1), 20.0)
    h, c = degree_days(mean, hourly, grid, min_hours=12)
    for d in range(hourly.shape[0]):
        present = hourly[d][~np.isnan(hourly[d])]
        if present.size >= 12:
            expect_h = np.maximum(grid[None, :] - present[:, None], 0).mean(axis=0)
            expect_c = np.maximum(present[:, None] - grid[None, :], 0).mean(axis=0)
        else:  # too few hours: the daily mean's degree days
            expect_h = np.maximum(grid - mean[d], 0)
            expect_c = np.maximum(mean[d] - grid, 0)
        np.testing.assert_allclose(h[d], expect_h, atol=1e-9)
        np.testing.assert_allclose(c[d], expect_c, atol=1e-9)


def test_degree_hours_are_chosen_when_use_follows_the_hours(rules: BaselineRules) -> None:
    series, _ = _diurnal_year(450, balance=26.0, slope=1.2)
    train = series.window(series.first, series.first + timedelta(days=364))
    test = series.window(series.first + timedelta(days=365), series.last)
    fit = fit_daily(train, rules)
    assert fit.record.params["temperature_aggregation"] == "degree_hours"
    assert fit.cooling_balance_c == pytest.approx(26.0, abs=0.5)
    # Without the hours the same data fall back to daily-mean degree days, and predict worse.
    mean_only = fit_daily(DailySeries(train.first, train.usage, train.temperature), rules)
    assert mean_only.record.params["temperature_aggregation"] == "daily_mean"
    no_hours = DailySeries(test.first, test.usage, test.temperature)
    assert cv_rmse(test.usage, fit.predict(test)) < 0.8 * cv_rmse(test.usage, mean_only.predict(no_hours))
    assert abs(nmbe(test.usage, fit.predict(test))) < 0.01


def test_daily_mean_use_keeps_the_daily_mean(rules: BaselineRules) -> None:
    # Usage driven by the daily mean: degree-hours fit no better, and a tie keeps CalTRACK's aggregation.
    series, hourly = _diurnal_year(365, balance=24.0, slope=0.8)
    mean = hourly.mean(axis=1)
    rng = np.random.default_rng(8)
    usage = 5 + 0.8 * np.maximum(mean - 24.0, 0) + rng.normal(0, 0.2, mean.size)
    fit = fit_daily(DailySeries(series.first, usage, mean, hourly), rules)
    assert fit.record.params["temperature_aggregation"] == "daily_mean"


def test_balance_points_are_found_to_half_a_degree(rules: BaselineRules) -> None:
    fit = fit_daily(cooling_series(balance=23.5, slope=1.5, noise=0.1), rules)
    assert fit.cooling_balance_c == pytest.approx(23.5, abs=0.25)


def test_gas_gets_no_cooling_term(rules: BaselineRules) -> None:
    series = cooling_series(slope=1.5)
    assert fit_daily(series, rules).record.params["model_type"] == "cdd_only"
    fit = fit_daily(series, rules, cooling=False)
    assert fit.record.params["model_type"] == "intercept_only"
    assert fit.cooling_balance_c is None
    assert fit.record.params["cooling_allowed"] is False


def test_hourly_temperatures_must_match_the_days() -> None:
    with pytest.raises(BaselineError) as raised:
        DailySeries(date(2025, 1, 1), np.ones(3), np.ones(3), np.ones((2, 24)))
    assert raised.value.code == "series_shape"


def test_windows_keep_the_hourly_temperatures() -> None:
    series, hourly = _diurnal_year(40, balance=24.0, slope=1.0)
    window = series.window(date(2025, 1, 11), date(2025, 1, 20))
    assert window.hourly_temperature is not None
    np.testing.assert_array_equal(window.hourly_temperature, hourly[10:20])
    assert series.with_usage(series.usage * 2).hourly_temperature is series.hourly_temperature


def test_hourly_temperatures_fill_each_days_hours() -> None:
    start = datetime(2025, 7, 1)
    points = [(start + timedelta(minutes=30 * i), 20.0 + i % 2) for i in range(48)]
    points.append((datetime(2025, 7, 3), 25.0))  # a daily value alone: no hourly row
    rows = hourly_temperatures(points)
    assert list(rows) == [date(2025, 7, 1)]
    assert rows[date(2025, 7, 1)] == [20.5] * 24
    series = DailySeries.from_mappings(
        {date(2025, 7, 1): 1.0, date(2025, 7, 2): 2.0}, {date(2025, 7, 1): 20.5}, rows
    )
    assert series.hourly_temperature is not None
    assert np.isnan(series.hourly_temperature[1]).all()


def _heating_year(seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """A heating climate with a wide day-night swing: daily means and each day's hours."""
    rng = np.random.default_rng(seed)
    day_mean = 10 + 9 * np.sin(2 * np.pi * (np.arange(365) - 100) / 365) + rng.normal(0, 2.0, 365)
    swing = rng.uniform(3, 9, 365)
    hourly = day_mean[:, None] + swing[:, None] * np.sin(2 * np.pi * (HOURS[None, :] - 9) / 24)
    return hourly.mean(axis=1), hourly


def test_cross_validation_keeps_the_daily_mean_when_use_follows_it(rules: BaselineRules) -> None:
    mean, hourly = _heating_year()
    rng = np.random.default_rng(9)
    usage = 2 + 0.4 * np.maximum(15.0 - mean, 0) + rng.normal(0, 0.3, mean.size)
    series = DailySeries(date(2025, 1, 1), usage, mean, hourly)
    fit = fit_daily(series, rules, cooling=False, aggregation_rule=CROSS_VALIDATION)
    params = fit.record.params
    assert params["aggregation_rule"] == CROSS_VALIDATION
    scores = params["aggregation_scores"]
    assert scores["daily_mean"] < scores["degree_hours"]
    assert params["temperature_aggregation"] == "daily_mean"
    assert fit.heating_balance_c == pytest.approx(15.0, abs=0.5)


def test_cross_validation_picks_degree_hours_when_use_follows_the_hours(rules: BaselineRules) -> None:
    series, _ = _diurnal_year(365, balance=26.0, slope=1.2)
    params = fit_daily(series, rules, aggregation_rule=CROSS_VALIDATION).record.params
    assert params["aggregation_rule"] == CROSS_VALIDATION
    assert params["aggregation_scores"]["degree_hours"] < params["aggregation_scores"]["daily_mean"]
    assert params["temperature_aggregation"] == "degree_hours"


def test_the_aggregation_rule_is_recorded(rules: BaselineRules) -> None:
    series, _ = _diurnal_year(365, balance=26.0, slope=1.2)
    params = fit_daily(series, rules).record.params
    assert params["aggregation_rule"] == ADJUSTED_R2
    assert params["aggregation_scores"]["degree_hours"] > params["aggregation_scores"]["daily_mean"]
    # Without hours there is nothing to choose.
    plain = DailySeries(series.first, series.usage, series.temperature)
    assert (
        fit_daily(plain, rules, aggregation_rule=CROSS_VALIDATION).record.params["aggregation_rule"] is None
    )


def test_a_window_too_short_for_three_training_sets_falls_back_to_adjusted_r2(rules: BaselineRules) -> None:
    # 30 days: the first fold holds 28 of them, leaving 2 to train on.
    series, _ = _diurnal_year(30, balance=26.0, slope=1.2)
    params = fit_daily(series, rules, aggregation_rule=CROSS_VALIDATION).record.params
    assert params["aggregation_rule"] == ADJUSTED_R2


def test_an_unknown_aggregation_rule_is_refused(rules: BaselineRules) -> None:
    with pytest.raises(BaselineError) as raised:
        fit_daily(cooling_series(), rules, aggregation_rule="bic")
    assert raised.value.code == "unknown_rule"
