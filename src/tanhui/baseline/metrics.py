"""Measurement-and-verification metrics: CV(RMSE), NMBE, R², and fractional savings uncertainty.

Definitions as in ASHRAE Guideline 14-2014 (§4 and Annex B) and CalTRACK 2.0 §4.3:

- CV(RMSE) = sqrt(Σ(y − ŷ)² / (n − p)) / ȳ
- NMBE     = Σ(y − ŷ) / ((n − p) · ȳ): **positive when the model under-predicts** (observed above
  predicted), the sign OpenEEmeter uses too;
- R²       = 1 − SS_res / SS_tot;
- FSU      = t · (a·M² + b·M + d) · CV(RMSE) · sqrt((P/P′)(1 + 2/P′)/Q) / F, with P′ = P(1 − ρ)/(1 + ρ)
  for the lag-1 autocorrelation ρ of the baseline residuals (CalTRACK's form of G14 Annex B, with the
  Sun & Baltazar 2013 polynomial in the reporting months M in place of G14's constant 1.26).

``p`` is the number of fitted parameters for in-sample metrics and 0 for out-of-sample ones.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats

__all__ = [
    "Metrics",
    "autocorrelation",
    "cv_rmse",
    "fit_metrics",
    "nmbe",
    "portfolio_fsu",
    "r_squared",
    "savings_uncertainty",
]

Float = NDArray[np.float64]
_DAYS_PER_MONTH = 365.25 / 12


def _pairs(observed: Float, predicted: Float) -> tuple[Float, Float]:
    keep = ~(np.isnan(observed) | np.isnan(predicted))
    return observed[keep], predicted[keep]


def cv_rmse(observed: Float, predicted: Float, p: int = 0) -> float:
    """Coefficient of variation of the RMSE (a fraction, 0.25 = 25 %); NaN pairs are ignored."""
    y, f = _pairs(observed, predicted)
    n, mean = y.size, float(np.mean(y)) if y.size else 0.0
    if n - p <= 0 or mean == 0:
        return math.nan
    return math.sqrt(float(np.sum((y - f) ** 2)) / (n - p)) / mean


def nmbe(observed: Float, predicted: Float, p: int = 0) -> float:
    """Normalised mean bias error (fraction); positive when observed exceeds predicted."""
    y, f = _pairs(observed, predicted)
    n, mean = y.size, float(np.mean(y)) if y.size else 0.0
    if n - p <= 0 or mean == 0:
        return math.nan
    return float(np.sum(y - f)) / ((n - p) * mean)


def r_squared(observed: Float, predicted: Float) -> float:
    """Coefficient of determination; NaN when the observations do not vary."""
    y, f = _pairs(observed, predicted)
    ss_tot = float(np.sum((y - np.mean(y)) ** 2)) if y.size else 0.0
    if ss_tot == 0:
        return math.nan
    return 1.0 - float(np.sum((y - f) ** 2)) / ss_tot


def autocorrelation(residuals: Float) -> float:
    """Lag-1 autocorrelation of consecutive residuals (NaN gaps break pairs), clipped to [0, 0.99]."""
    a, b = residuals[:-1], residuals[1:]
    keep = ~(np.isnan(a) | np.isnan(b))
    if keep.sum() < 3:
        return 0.0
    a, b = a[keep] - np.mean(a[keep]), b[keep] - np.mean(b[keep])
    denominator = math.sqrt(float(np.sum(a * a) * np.sum(b * b)))
    rho = float(np.sum(a * b)) / denominator if denominator else 0.0
    # A negative ρ would make P′ > P and claim more information than there are days; G14 uses ρ ≥ 0.
    return min(max(rho, 0.0), 0.99)


@dataclass(frozen=True, slots=True)
class Metrics:
    """Fit quality of a baseline: n periods, p parameters, CV(RMSE), NMBE, R², residual autocorrelation."""

    n: int
    p: int
    cv_rmse: float
    nmbe: float
    r2: float
    rho: float
    mean: float

    def as_dict(self) -> dict[str, float | int | None]:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(self).items()}


def fit_metrics(observed: Float, predicted: Float, p: int) -> Metrics:
    """In-sample metrics of a fit with ``p`` parameters (out-of-sample: ``p = 0``)."""
    y, _ = _pairs(observed, predicted)
    return Metrics(
        n=int(y.size),
        p=p,
        cv_rmse=cv_rmse(observed, predicted, p),
        nmbe=nmbe(observed, predicted, p),
        r2=r_squared(observed, predicted),
        rho=autocorrelation(observed - predicted),
        mean=float(np.mean(y)) if y.size else math.nan,
    )


def savings_uncertainty(
    baseline: Metrics,
    *,
    reporting_periods: int,
    counterfactual_total: float,
    confidence: float,
    coefficients: tuple[float, float, float],
) -> float:
    """Absolute uncertainty ΔU of avoided use over a reporting period of daily data (same unit as use).

    ΔU = FSU · U_save = t · (a·M² + b·M + d) · CV · sqrt((P/P′)(1 + 2/P′)/Q) · Σ counterfactual
    (ASHRAE G14-2014 Annex B as modified by CalTRACK 2.0 §4.3; F = U_save/Σ counterfactual cancels).
    ``t`` is two-sided Student t at ``confidence`` with P − p degrees of freedom.
    """
    q = reporting_periods
    if q <= 0 or math.isnan(baseline.cv_rmse) or baseline.n - baseline.p <= 0:
        return math.nan
    p_big = baseline.n
    p_eff = p_big * (1 - baseline.rho) / (1 + baseline.rho)
    t = float(stats.t.ppf(0.5 + confidence / 2, baseline.n - baseline.p))
    months = q / _DAYS_PER_MONTH
    a, b, d = coefficients
    k = a * months**2 + b * months + d
    return t * k * baseline.cv_rmse * math.sqrt((p_big / p_eff) * (1 + 2 / p_eff) / q) * counterfactual_total


def portfolio_fsu(uncertainties: list[float], savings: list[float]) -> float:
    """Portfolio FSU = sqrt(Σ ΔU_i²) / Σ U_save,i (CalTRACK 2.0 §4.3); NaN when total savings ≤ 0."""
    total = sum(savings)
    if total <= 0:
        return math.nan
    return math.sqrt(sum(u * u for u in uncertainties if not math.isnan(u))) / total
