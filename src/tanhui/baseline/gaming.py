"""Rules that keep the counterfactual from being gamed (sources in ``data/baseline/rules.toml``).

- The baseline ends the day before enrolment (CalTRACK 2.0 §2.1), so use raised after joining cannot
  inflate it; no in-day adjustment windows (removed from the UK DFS in 2023/24 after "power rinsing").
- A comparison group of similar, not-yet-enrolled households scales every enrolled household's
  counterfactual by the group's actual/counterfactual ratio of the day, removing community-wide effects
  (weather the model misses, holidays, tariff changes) — the control-group design of Allcott (2011).
- Occupancy change (long absence, moving out, new occupants): a household whose use stays far from its
  counterfactual is re-baselined, not paid.
- A per-household cap on counted savings (``avoided.avoided_use``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from numpy.typing import NDArray

from tanhui.baseline.rules import BaselineRules

__all__ = [
    "OccupancyChange",
    "baseline_window",
    "comparison_factors",
    "comparison_groups",
    "occupancy_change",
]

Float = NDArray[np.float64]


def baseline_window(enrolled_on: date, rules: BaselineRules) -> tuple[date, date]:
    """The baseline days: the ``baseline_days`` days ending the day before enrolment."""
    last = enrolled_on - timedelta(days=1)
    return last - timedelta(days=rules.baseline_days - 1), last


@dataclass(frozen=True, slots=True)
class OccupancyChange:
    """A detected change: ``kind`` is ``absence`` or ``arrival``; ``start`` the index of its first day."""

    kind: str
    start: int


def occupancy_change(counterfactual: Float, actual: Float, rules: BaselineRules) -> OccupancyChange | None:
    """The first occupancy change in a reporting period, or None.

    Absence: ``absence_days`` consecutive days with actual below ``absence_ratio`` × counterfactual
    (a missing or zero electricity day counts as low: an empty home reads zero). Arrival: the use over
    any ``arrival_days`` consecutive days exceeds ``arrival_ratio`` × their counterfactual.
    """
    n = counterfactual.size
    low = np.where(np.isnan(actual), True, actual < rules.absence_ratio * np.nan_to_num(counterfactual))
    low &= ~np.isnan(counterfactual)
    run = 0
    for i in range(n):
        run = run + 1 if low[i] else 0
        if run >= rules.absence_days:
            return OccupancyChange("absence", i - run + 1)
    w = rules.arrival_days
    if n >= w:
        cf = np.concatenate([[0.0], np.cumsum(np.nan_to_num(counterfactual))])
        act = np.concatenate([[0.0], np.cumsum(np.nan_to_num(actual))])
        window_cf = cf[w:] - cf[:-w]
        window_act = act[w:] - act[:-w]
        high = np.flatnonzero((window_cf > 0) & (window_act > rules.arrival_ratio * window_cf))
        if high.size:
            return OccupancyChange("arrival", int(high[0]))
    return None


def comparison_groups(baseline_means: Mapping[int, float], quantiles: int) -> dict[int, int]:
    """Group of each household: the quantile (0..quantiles-1) of its mean baseline daily use."""
    if not baseline_means:
        return {}
    ids = sorted(baseline_means, key=lambda h: (baseline_means[h], h))
    return {h: min(quantiles - 1, i * quantiles // len(ids)) for i, h in enumerate(ids)}


def comparison_factors(control_cf: Float, control_actual: Float, min_households: int) -> Float:
    """Per-day ratio Σ actual / Σ counterfactual over control households (rows), 1.0 where too few.

    An enrolled household's adjusted counterfactual is its model's counterfactual times this ratio: if
    the whole group used 4 % less than predicted on a day (a cool spell the model underrates, a holiday),
    the enrolled household's 4 % is not paid as a saving.
    """
    if control_cf.size == 0:
        return np.ones(control_cf.shape[1] if control_cf.ndim == 2 else 0)
    both = ~(np.isnan(control_cf) | np.isnan(control_actual))
    count = both.sum(axis=0)
    cf = np.where(both, control_cf, 0.0).sum(axis=0)
    act = np.where(both, control_actual, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = act / cf
    return np.where((count >= min_households) & (cf > 0), ratio, 1.0)
