from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tanhui.baseline.metrics import (
    Metrics,
    cv_rmse,
    fit_metrics,
    nmbe,
    portfolio_fsu,
    r_squared,
    savings_uncertainty,
)

usage = arrays(np.float64, st.integers(3, 60), elements=st.floats(0.1, 100.0))


@given(usage)
def test_a_perfect_prediction_has_no_error(y: np.ndarray) -> None:
    assert cv_rmse(y, y) == 0.0
    assert nmbe(y, y) == 0.0
    if np.ptp(y) > 0:
        assert math.isclose(r_squared(y, y), 1.0)


@given(usage, st.floats(0.01, 5.0))
def test_nmbe_is_positive_when_the_model_under_predicts(y: np.ndarray, shift: float) -> None:
    assert nmbe(y, y - shift) > 0
    assert nmbe(y, y + shift) < 0
    # A constant offset of s gives NMBE = s / mean and CV(RMSE) = s / mean.
    assert math.isclose(nmbe(y, y - shift), shift / float(np.mean(y)), rel_tol=1e-9)
    assert math.isclose(cv_rmse(y, y - shift), shift / float(np.mean(y)), rel_tol=1e-9)


@given(usage)
def test_parameters_raise_cv_rmse_by_the_degrees_of_freedom(y: np.ndarray) -> None:
    predicted = np.full_like(y, float(np.mean(y)))
    n = y.size
    # Near-constant series leave only rounding noise as residuals; the identity is about real spread.
    if np.ptp(y) > 1e-6 * max(1.0, float(np.max(np.abs(y)))):
        assert math.isclose(
            cv_rmse(y, predicted, p=1), cv_rmse(y, predicted) * math.sqrt(n / (n - 1)), rel_tol=1e-6
        )


def test_missing_pairs_are_ignored() -> None:
    y = np.array([1.0, 2.0, np.nan, 4.0])
    f = np.array([1.0, 2.0, 3.0, np.nan])
    assert cv_rmse(y, f) == 0.0
    assert fit_metrics(y, f, 0).n == 2


def _metrics(cv: float, rho: float = 0.0) -> Metrics:
    return Metrics(n=365, p=3, cv_rmse=cv, nmbe=0.0, r2=0.8, rho=rho, mean=10.0)


def test_savings_uncertainty_grows_with_cv_and_autocorrelation_and_shrinks_with_more_days() -> None:
    coefficients = (-0.00024, 0.03535, 1.00286)

    def band(cv: float, rho: float, q: int) -> float:
        total = 10.0 * q
        return (
            savings_uncertainty(
                _metrics(cv, rho),
                reporting_periods=q,
                counterfactual_total=total,
                confidence=0.9,
                coefficients=coefficients,
            )
            / total
        )

    assert band(0.2, 0.0, 365) < band(0.4, 0.0, 365)
    assert band(0.2, 0.0, 365) < band(0.2, 0.5, 365)
    assert band(0.2, 0.0, 365) < band(0.2, 0.0, 30)


def test_savings_uncertainty_matches_the_formula_by_hand() -> None:
    # CalTRACK 2.0 §4.3 with ρ = 0: t(0.95, 362) · (aM² + bM + d) · CV · sqrt((1 + 2/P)/Q) · Σ counterfactual.
    q, months = 365, 365 / (365.25 / 12)
    k = -0.00024 * months**2 + 0.03535 * months + 1.00286
    expected = 1.6490 * k * 0.25 * math.sqrt((1 + 2 / 365) / q) * 3650.0
    got = savings_uncertainty(
        _metrics(0.25),
        reporting_periods=q,
        counterfactual_total=3650.0,
        confidence=0.9,
        coefficients=(-0.00024, 0.03535, 1.00286),
    )
    assert math.isclose(got, expected, rel_tol=1e-3)


def test_portfolio_fsu_shrinks_with_more_households() -> None:
    one = portfolio_fsu([10.0], [20.0])
    hundred = portfolio_fsu([10.0] * 100, [20.0] * 100)
    assert math.isclose(one / hundred, 10.0)
    assert math.isnan(portfolio_fsu([1.0], [-1.0]))
