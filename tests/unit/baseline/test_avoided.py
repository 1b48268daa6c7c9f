from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tanhui.baseline.assessment import assess
from tanhui.baseline.avoided import apportion, avoided_use, clean_usage, sufficiency
from tanhui.baseline.gaming import (
    baseline_window,
    comparison_factors,
    comparison_groups,
    occupancy_change,
)
from tanhui.baseline.metrics import Metrics
from tanhui.baseline.rules import BaselineRules
from tanhui.baseline.series import DailySeries

from .conftest import cooling_series

METRICS = Metrics(n=365, p=3, cv_rmse=0.2, nmbe=0.0, r2=0.8, rho=0.1, mean=10.0)
days = arrays(np.float64, st.integers(1, 120), elements=st.floats(0.0, 50.0))


@given(days, st.floats(0.0, 0.5))
def test_avoided_is_counterfactual_minus_actual_and_counted_never_exceeds_it(
    rules: BaselineRules, cf: np.ndarray, saving: float
) -> None:
    actual = cf * (1 - saving)
    result = avoided_use(METRICS, cf, actual, rules)
    assert math.isclose(result.avoided, float(cf.sum() - actual.sum()), abs_tol=1e-9)
    assert 0.0 <= result.counted <= max(result.avoided, 0.0) + 1e-12
    assert result.counted <= rules.cap_share * result.counterfactual + 1e-9
    if result.counted > 0:
        assert math.isclose(
            result.counted, min(result.avoided - result.uncertainty, rules.cap_share * result.counterfactual)
        )


def test_savings_inside_the_uncertainty_band_count_nothing(rules: BaselineRules) -> None:
    cf = np.full(30, 10.0)
    result = avoided_use(METRICS, cf, cf * 0.99, rules)
    assert result.avoided > 0
    assert result.uncertainty > result.avoided
    assert result.counted == 0.0


def test_the_cap_limits_credit(rules: BaselineRules) -> None:
    cf = np.full(365, 10.0)
    result = avoided_use(METRICS, cf, cf * 0.2, rules)
    assert result.counted == rules.cap_share * 3650.0


@given(st.integers(-(10**9), 10**9), st.lists(st.integers(-(10**6), 10**6), min_size=1, max_size=50))
def test_apportion_keeps_the_total_exactly(total: int, weights: list[int]) -> None:
    parts = apportion(total, weights)
    assert sum(parts) == total
    assert len(parts) == len(weights)


def test_apportion_is_proportional() -> None:
    assert apportion(100, [1, 1, 2]) == [25, 25, 50]


def test_sufficiency_follows_caltrack(rules: BaselineRules) -> None:
    full = cooling_series()
    assert sufficiency(full, rules).eligible
    short = cooling_series(days=200)
    assert sufficiency(short, rules).reasons == ("baseline_too_short",)
    gappy = full.with_usage(np.where(np.arange(365) % 9 == 0, np.nan, full.usage))  # 41 of 365 missing
    assert "too_many_missing_days" in sufficiency(gappy, rules).reasons
    ok = full.with_usage(np.where(np.arange(365) % 11 == 0, np.nan, full.usage))  # 34 missing: allowed
    assert sufficiency(ok, rules).eligible


def test_electricity_zeros_are_missing_but_gas_zeros_are_data(rules: BaselineRules) -> None:
    u = np.array([0.0, 1.0, -2.0])
    assert np.isnan(clean_usage(u, electricity=True, rules=rules)[0])
    assert clean_usage(u, electricity=False, rules=rules)[0] == 0.0
    assert np.isnan(clean_usage(u, electricity=False, rules=rules)[2])


def test_the_baseline_ends_the_day_before_enrolment(rules: BaselineRules) -> None:
    first, last = baseline_window(date(2026, 3, 1), rules)
    assert last == date(2026, 2, 28)
    assert (last - first).days + 1 == rules.baseline_days


def test_a_long_absence_is_an_occupancy_change(rules: BaselineRules) -> None:
    cf = np.full(60, 10.0)
    actual = cf.copy()
    actual[20:40] = 1.0  # away for 20 days
    change = occupancy_change(cf, actual, rules)
    assert change is not None
    assert (change.kind, change.start) == ("absence", 20)
    short = cf.copy()
    short[20:25] = 1.0  # five days away is a holiday, not a move
    assert occupancy_change(cf, short, rules) is None


def test_new_occupants_are_an_occupancy_change(rules: BaselineRules) -> None:
    cf = np.full(90, 10.0)
    actual = cf.copy()
    actual[30:] = 18.0
    change = occupancy_change(cf, actual, rules)
    assert change is not None
    assert change.kind == "arrival"


def test_comparison_factors_remove_a_community_wide_change() -> None:
    cf = np.full((12, 5), 10.0)
    actual = cf * 0.9  # everyone used 10 % less: weather or a holiday, not effort
    factors = comparison_factors(cf, actual, 10)
    assert np.allclose(factors, 0.9)
    assert np.allclose(comparison_factors(cf[:3], actual[:3], 10), 1.0)  # too few households


def test_comparison_groups_are_quantiles_of_baseline_use() -> None:
    groups = comparison_groups({i: float(i) for i in range(10)}, 5)
    assert groups[0] == groups[1] == 0
    assert groups[9] == 4


def _household(rules: BaselineRules, saving: float, *, absent_from: int | None = None) -> DailySeries:
    series = cooling_series(days=365 + 120, noise=0.2, seed=4)
    usage = series.usage.copy()
    usage[365:] *= 1 - saving
    if absent_from is not None:
        usage[365 + absent_from :] = 0.3
    return series.with_usage(usage)


def test_assessment_counts_a_real_saving(rules: BaselineRules) -> None:
    series = _household(rules, 0.15)
    enrolled = series.first + timedelta(days=365)
    result = assess(
        series, enrolled, rules, factor_kg_per_unit=Decimal("0.5"), models=("caltrack-daily",), country="CN"
    )
    assert result.eligible
    assert result.avoided is not None
    assert 0.10 < result.avoided.avoided / result.avoided.counterfactual < 0.20
    counted = sum(d.counted_co2e_mg for d in result.days)
    avoided = sum(d.avoided_co2e_mg for d in result.days)
    assert 0 < counted <= avoided
    assert all(d.avoided_micro == d.counterfactual_micro - d.actual_micro for d in result.days)


def test_assessment_withholds_credit_after_an_occupancy_change(rules: BaselineRules) -> None:
    series = _household(rules, 0.0, absent_from=30)
    enrolled = series.first + timedelta(days=365)
    result = assess(
        series, enrolled, rules, factor_kg_per_unit=Decimal("0.5"), models=("caltrack-daily",), country="CN"
    )
    assert "occupancy_change_absence" in result.reasons
    assert all(d.counted_co2e_mg == 0 for d in result.days[30:])
    assert not any(d.eligible for d in result.days[30:])


def test_assessment_of_a_short_history_counts_nothing(rules: BaselineRules) -> None:
    series = cooling_series(days=120)
    result = assess(
        series,
        series.first + timedelta(days=60),
        rules,
        factor_kg_per_unit=Decimal("0.5"),
        models=("caltrack-daily",),
        country="CN",
    )
    assert not result.eligible
    assert "baseline_too_short" in result.reasons
    assert all(d.counted_co2e_mg == 0 for d in result.days)
