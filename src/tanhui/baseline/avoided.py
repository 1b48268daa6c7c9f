"""Avoided consumption = counterfactual − actual, its uncertainty, and the conservative counted part.

- Eligibility (CalTRACK 2.0 §2.2): a baseline window of ``baseline_days`` with at most 10 % of days
  without usage (for electricity a 0 counts as missing) and at most 10 % without temperature.
- Avoided use per period: Σ counterfactual − Σ actual over the days where both exist (CalTRACK 2.0 §4.1:
  no counterfactual on days with missing data).
- Uncertainty ΔU at the rules' confidence (ASHRAE G14-2014 Annex B / CalTRACK §4.3, see ``metrics``).
- Counted (ISO 14064-2:2019 §6.2 principle of conservativeness): only avoided use beyond the uncertainty
  band, never below zero, and never more than the per-household cap share of the counterfactual.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tanhui.baseline.metrics import Metrics, savings_uncertainty
from tanhui.baseline.rules import BaselineRules
from tanhui.baseline.series import DailySeries

__all__ = ["Avoided", "Sufficiency", "apportion", "avoided_use", "clean_usage", "sufficiency"]

Float = NDArray[np.float64]


def clean_usage(usage: Float, *, electricity: bool, rules: BaselineRules) -> Float:
    """Usage with CalTRACK's missing-data conventions: electricity zeros and negative values become NaN."""
    out = usage.astype(np.float64, copy=True)
    if electricity and rules.electricity_zero_is_missing:
        out[out == 0] = np.nan
    out[out < 0] = np.nan
    return out


@dataclass(frozen=True, slots=True)
class Sufficiency:
    """Whether a baseline window qualifies, and why not (rule codes)."""

    eligible: bool
    reasons: tuple[str, ...]
    days: int
    missing_share: float
    missing_temperature_share: float


def sufficiency(baseline: DailySeries, rules: BaselineRules) -> Sufficiency:
    """CalTRACK 2.0 §2.2 data sufficiency of the baseline window (``baseline`` already cleaned)."""
    n = len(baseline)
    missing = float(np.mean(np.isnan(baseline.usage))) if n else 1.0
    missing_t = float(np.mean(np.isnan(baseline.temperature))) if n else 1.0
    reasons = []
    if n < rules.baseline_days:
        reasons.append("baseline_too_short")
    if missing > rules.max_missing_share:
        reasons.append("too_many_missing_days")
    if missing_t > rules.max_missing_temperature_share:
        reasons.append("too_many_missing_temperatures")
    return Sufficiency(not reasons, tuple(reasons), n, missing, missing_t)


@dataclass(frozen=True, slots=True)
class Avoided:
    """Avoided use over a reporting period (unit of the usage), with uncertainty and the counted part."""

    days: int
    counterfactual: float
    actual: float
    avoided: float
    uncertainty: float
    fsu: float
    counted: float


def avoided_use(
    baseline_metrics: Metrics,
    counterfactual: Float,
    actual: Float,
    rules: BaselineRules,
    *,
    cap: bool = True,
) -> Avoided:
    """Avoided use from daily counterfactual and actual values (same length; NaN = missing)."""
    keep = ~(np.isnan(counterfactual) | np.isnan(actual))
    days = int(keep.sum())
    cf = float(np.sum(counterfactual[keep]))
    act = float(np.sum(actual[keep]))
    saved = cf - act
    band = savings_uncertainty(
        baseline_metrics,
        reporting_periods=days,
        counterfactual_total=cf,
        confidence=rules.confidence,
        coefficients=(rules.fsu_a, rules.fsu_b, rules.fsu_d),
    )
    # Without a usable uncertainty (no reporting days, a degenerate fit) nothing is counted.
    counted = 0.0 if math.isnan(band) else max(0.0, saved - band)
    if cap:
        counted = min(counted, max(0.0, rules.cap_share * cf))
    fsu = band / saved if saved > 0 and not math.isnan(band) else math.nan
    return Avoided(days, cf, act, saved, band, fsu, counted)


def apportion(total: int, weights: Sequence[int]) -> list[int]:
    """Split integer ``total`` over days in proportion to integer ``weights`` so the parts sum to it.

    Cumulative rounding (each prefix is rounded, parts are the differences) keeps every part within one
    unit of its exact share. Zero total weight puts nothing anywhere but the last part.
    """
    if not weights:
        return []
    whole = sum(weights)
    if whole == 0:
        return [0] * (len(weights) - 1) + [total]
    parts, done, prefix = [], 0, 0
    for w in weights:
        prefix += w
        upto = (total * prefix * 2 + whole) // (2 * whole)  # round half up, in integers
        parts.append(upto - done)
        done = upto
    return parts
