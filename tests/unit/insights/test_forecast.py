"""Year-end forecasts: hand-worked levels, seasonal ratio, bands measured by backtest."""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tanhui.insights.forecast import backtest, backtest_summary, forecast_year_end


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def test_weekday_level_hand_worked() -> None:
    # 28 days of 10 on weekdays and 4 at weekends, ending on a Sunday; 7 days remain in the year.
    origin = date(2026, 12, 24)  # a Thursday: 25–31 December remain
    series = {d: (4.0 if d.weekday() >= 5 else 10.0) for d in _days(origin - timedelta(days=27), origin)}
    result = forecast_year_end(series, 2026, origin)
    # 25 Dec Fri 10, Sat 4, Sun 4, Mon 10, Tue 10, Wed 10, Thu 10 = 58.
    assert result.method == "weekday level"
    assert result.point == result.to_date + Decimal(58)
    assert result.to_date == Decimal(sum(series.values()))
    assert result.low <= result.point <= result.high
    assert "too short" in result.band


def test_seasonal_ratio_carries_this_years_level() -> None:
    # Two years of a seasonal series; this year runs 10 % above last year's.
    first = date(2024, 1, 1)
    origin = date(2025, 6, 30)
    series: dict[date, float] = {}
    for d in _days(first, origin):
        season = 100 + 40 * math.sin(2 * math.pi * d.timetuple().tm_yday / 365)
        series[d] = season * (1.1 if d.year == 2025 else 1.0)
    result = forecast_year_end(series, 2025, origin)
    assert result.method == "seasonal ratio"
    truth = sum(
        (100 + 40 * math.sin(2 * math.pi * d.timetuple().tm_yday / 365)) * 1.1
        for d in _days(date(2025, 1, 1), date(2025, 12, 31))
    )
    assert abs(float(result.point) - truth) / truth < 0.01


def test_a_short_or_broken_series_falls_back_to_the_mean_of_its_days() -> None:
    # Four days since enrolment at 10, 12, 8, 10 kg: mean 10, 361 days left, to date 40.
    origin = date(2026, 1, 4)
    series = {date(2026, 1, 1): 10.0, date(2026, 1, 2): 12.0, date(2026, 1, 3): 8.0, origin: 10.0}
    result = forecast_year_end(series, 2026, origin)
    assert result.method == "mean of the known days"
    assert (result.to_date, result.point, result.remaining_days) == (Decimal(40), Decimal(3650), 361)
    assert result.low < result.point < result.high
    assert result.reaches(Decimal(3000)) in {"likely", "uncertain"}
    one = forecast_year_end({origin: 5.0}, 2026, origin)
    assert one.low == one.point == one.high == Decimal(5 * 362)
    with pytest.raises(ValueError, match="nothing to forecast"):
        forecast_year_end({date(2025, 12, 31): 1.0}, 2026, origin)


def test_the_band_comes_from_backtests_when_history_allows() -> None:
    first = date(2023, 1, 1)
    origin = date(2025, 9, 30)
    noise = [((i * 7919) % 23 - 11) / 11 for i in range(2000)]
    series = {d: 50 + 10 * noise[i] for i, d in enumerate(_days(first, origin))}
    result = forecast_year_end(series, 2025, origin)
    assert "backtests" in result.band
    assert result.low < result.point < result.high
    summary = backtest_summary(series, 92)
    assert summary.origins >= 8
    assert 0 <= summary.coverage80 <= 1
    assert summary.mape < 0.2


@settings(max_examples=40, deadline=None)
@given(
    level=st.floats(min_value=0.1, max_value=1e4),
    days_left=st.integers(min_value=0, max_value=200),
)
def test_a_constant_series_is_forecast_exactly(level: float, days_left: int) -> None:
    origin = date(2026, 12, 31) - timedelta(days=days_left)
    series = {d: level for d in _days(origin - timedelta(days=60), origin)}
    result = forecast_year_end(series, 2026, origin)
    expected = level * len(
        [d for d in _days(date(2026, 1, 1), date(2026, 12, 31)) if d in series or d > origin]
    )
    assert math.isclose(float(result.point), expected, rel_tol=1e-6)
    assert result.low <= result.point <= result.high
    assert result.remaining_days == days_left


def test_backtest_errors_are_zero_for_a_repeating_week() -> None:
    series = {d: float(d.weekday() + 1) for d in _days(date(2025, 1, 1), date(2025, 12, 31))}
    errors, actuals = backtest(series, 30)
    assert errors and all(abs(e) < 1e-12 for e in errors)
    assert all(a > 0 for a in actuals)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.floats(min_value=0, max_value=1e4), min_size=2, max_size=27),
    scale=st.integers(min_value=1, max_value=1000),
)
def test_scaling_a_short_series_scales_its_forecast(values: list[float], scale: int) -> None:
    origin = date(2026, 3, 1) + timedelta(days=len(values) - 1)
    series = {date(2026, 3, 1) + timedelta(days=i): v for i, v in enumerate(values)}
    one = forecast_year_end(series, 2026, origin)
    many = forecast_year_end({d: v * scale for d, v in series.items()}, 2026, origin)
    assert one.method == many.method == "mean of the known days"
    for a, b in ((one.point, many.point), (one.low, many.low), (one.high, many.high)):
        assert math.isclose(float(a) * scale, float(b), rel_tol=1e-6, abs_tol=1e-3)


def test_a_complete_year_forecasts_what_was_observed() -> None:
    series = {d: float(d.day) for d in _days(date(2026, 1, 1), date(2026, 12, 31))}
    result = forecast_year_end(series, 2026, date(2026, 12, 31))
    assert result.point == result.low == result.high == result.to_date == Decimal(sum(series.values()))
    assert result.remaining_days == 0


def test_backtests_that_forecast_nothing_do_not_break_the_band() -> None:
    # Avoided use is zero until households enrol, then grows: early backtests forecast 0 (error -100 %).
    first = date(2024, 1, 1)
    series = {
        d: (0.0 if d < date(2024, 9, 1) else 5.0 + (d - first).days / 100)
        for d in _days(first, date(2025, 6, 30))
    }
    result = forecast_year_end(series, 2025, date(2025, 6, 30))
    assert math.isfinite(float(result.high)) and result.low <= result.point <= result.high
