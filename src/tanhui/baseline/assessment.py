"""One household's assessment for one quantity: baseline fit, counterfactual, avoided and counted use.

The steps, each with its rule (``docs/baseline.md``):

1. Baseline window: the ``baseline_days`` days before enrolment (gaming rule 1); CalTRACK sufficiency
   decides eligibility.
2. Model: the candidate with the lowest out-of-sample error (``selection``) among the rules' job models.
3. Counterfactual for every reporting day, scaled by the comparison group's daily ratio when one is
   given (gaming rule 2).
4. Occupancy change: from its first day on, nothing is counted and the household needs a new baseline
   (gaming rule 3).
5. Avoided use over the counted days with its uncertainty; counted = beyond the band, capped
   (``avoided``), turned into emissions with the factor and split over the days in exact integers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

import numpy as np
from numpy.typing import NDArray

from tanhui.baseline.avoided import Avoided, apportion, avoided_use, sufficiency
from tanhui.baseline.errors import BaselineError
from tanhui.baseline.gaming import OccupancyChange, baseline_window, occupancy_change
from tanhui.baseline.record import ModelRecord
from tanhui.baseline.rules import BaselineRules
from tanhui.baseline.selection import DailyModel, fit_daily_model, select
from tanhui.baseline.series import DailySeries

__all__ = ["Assessment", "DayResult", "assess", "fit_baseline", "to_milligrams"]

Float = NDArray[np.float64]
_MICRO = Decimal(1_000_000)


def to_milligrams(kg: Decimal) -> int:
    """kg as whole milligrams, half-even (the rounding the footprint uses)."""
    return int((kg * _MICRO).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


@dataclass(frozen=True, slots=True)
class DayResult:
    """One reporting day: integers in millionths of the unit and mg CO2e."""

    day: date
    counterfactual_micro: int
    actual_micro: int
    avoided_co2e_mg: int
    counted_co2e_mg: int
    eligible: bool

    @property
    def avoided_micro(self) -> int:
        return self.counterfactual_micro - self.actual_micro


@dataclass(frozen=True, slots=True)
class Assessment:
    """The fit and its reporting-period results; ``reasons`` name every rule that withheld credit."""

    record: ModelRecord
    eligible: bool
    reasons: tuple[str, ...]
    days: list[DayResult]
    avoided: Avoided | None
    occupancy: OccupancyChange | None
    scores: dict[str, float]


def fit_baseline(
    series: DailySeries,
    end: date,
    rules: BaselineRules,
    models: tuple[str, ...],
    country: str,
    *,
    cooling: bool = True,
) -> tuple[DailyModel, dict[str, float], DailySeries]:
    """Choose and fit a model on the ``baseline_days`` before ``end``; returns it, the scores, the window.

    ``cooling=False`` for gas (no cooling term, CalTRACK 2.0 §3).
    """
    first, last = baseline_window(end, rules)
    if last < series.first:
        raise BaselineError(f"no data before {end}", code="empty_baseline")
    window = series.window(max(first, series.first), last)
    scores: dict[str, float] = {}
    chosen = models[0]
    if len(models) > 1:
        selection = select(window, rules, models, country=country, cooling=cooling)
        chosen, scores = selection.chosen, selection.scores
    return fit_daily_model(chosen, window, rules, country, cooling=cooling), scores, window


def assess(
    series: DailySeries,
    enrolled_on: date,
    rules: BaselineRules,
    *,
    factor_kg_per_unit: Decimal,
    models: tuple[str, ...],
    country: str,
    adjustment: Float | None = None,
    cooling: bool = True,
) -> Assessment:
    """Assess one household (``series`` cleaned, covering its baseline and reporting days).

    ``adjustment`` (same length as ``series``) multiplies the counterfactual day by day (comparison
    group); ``factor_kg_per_unit`` turns use into kg CO2e; ``cooling=False`` for gas (no cooling term).
    """
    model, scores, window = fit_baseline(series, enrolled_on, rules, models, country, cooling=cooling)
    enough = sufficiency(window, rules)
    reasons = list(enough.reasons)
    start = series.index_of(enrolled_on)
    if start >= len(series):
        return Assessment(model.record, False, (*reasons, "no_reporting_days"), [], None, None, scores)
    reporting = series.window(enrolled_on, series.last)
    cf = model.predict(reporting)
    if adjustment is not None:
        cf = cf * adjustment[max(start, 0) :]
    actual = reporting.usage
    change = occupancy_change(cf, actual, rules)
    counted_days = np.ones(len(reporting), dtype=bool)
    if change is not None:
        counted_days[change.start :] = False
        reasons.append(f"occupancy_change_{change.kind}")
    present = ~(np.isnan(cf) | np.isnan(actual))
    use = present & counted_days
    result = avoided_use(
        model.record.metrics, np.where(use, cf, np.nan), np.where(use, actual, np.nan), rules
    )
    eligible = enough.eligible

    days: list[DayResult] = []
    index = [i for i in range(len(reporting)) if present[i]]
    cf_micro = [round(float(cf[i]) * 1_000_000) for i in index]
    act_micro = [round(float(actual[i]) * 1_000_000) for i in index]
    avoided_mg = [
        to_milligrams(Decimal(c - a) / _MICRO * factor_kg_per_unit)
        for c, a in zip(cf_micro, act_micro, strict=True)
    ]
    # Counted emissions: the counted share of the counted days' avoided emissions, split over those days.
    counted_mg_total = 0
    weights = [avoided_mg[k] if use[i] else 0 for k, i in enumerate(index)]
    if eligible and result.avoided > 0 and result.counted > 0:
        share = Decimal(repr(result.counted)) / Decimal(repr(result.avoided))
        counted_mg_total = int((Decimal(sum(weights)) * share).to_integral_value(rounding=ROUND_FLOOR))
    parts = apportion(counted_mg_total, weights) if sum(weights) else [0] * len(weights)
    for k, i in enumerate(index):
        days.append(
            DayResult(
                day=reporting.first.fromordinal(reporting.first.toordinal() + i),
                counterfactual_micro=cf_micro[k],
                actual_micro=act_micro[k],
                avoided_co2e_mg=avoided_mg[k],
                counted_co2e_mg=parts[k] if eligible and use[i] else 0,
                eligible=eligible and bool(use[i]),
            )
        )
    return Assessment(model.record, eligible, tuple(reasons), days, result, change, scores)
