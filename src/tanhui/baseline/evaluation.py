"""Fit on data before a baseline end, predict after it, and report metrics and avoided use.

This is the engine of ``tanhui baseline evaluate`` and of the benchmark: usage points (daily or hourly,
local wall time) and temperature points in, one :class:`Evaluation` out, with a prediction for every
period of both windows so anyone can score the model independently.

- Daily input: the CalTRACK daily model or gradient boosting; hourly input: TOWT as well, and the daily
  models on daily totals. ``auto`` chooses among them by blocked cross-validation (:mod:`.selection`).
- The baseline window is the last ``baseline_days`` days before the end (CalTRACK 2.0 §2.1) or fewer
  when fewer exist; eligibility then says so.
- Metrics are in-sample on the baseline window at the model's granularity (ASHRAE G14 reports them
  so); ``reporting_*`` are the same metrics out of sample on the reporting window, meaningful when the
  reporting period had no intervention. Savings uncertainty is computed from daily totals.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import pairwise

import numpy as np
from numpy.typing import NDArray

from tanhui.baseline import towt
from tanhui.baseline.avoided import Avoided, Sufficiency, avoided_use, clean_usage, sufficiency
from tanhui.baseline.calendar import day_types
from tanhui.baseline.errors import BaselineError
from tanhui.baseline.metrics import Metrics, fit_metrics
from tanhui.baseline.record import ModelRecord
from tanhui.baseline.rules import BaselineRules
from tanhui.baseline.selection import DAILY_MODELS, DailyModel, fit_daily_model, select
from tanhui.baseline.series import (
    DailySeries,
    HourlySeries,
    daily_temperature,
    hourly_from_points,
    hourly_temperatures,
)

__all__ = ["AUTO", "Evaluation", "evaluate", "is_hourly"]

AUTO = "auto"
Float = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The outcome of one evaluation; ``predictions`` are (period start, observed, predicted)."""

    record: ModelRecord
    granularity: str
    baseline_metrics: Metrics
    reporting_metrics: Metrics
    avoided: Avoided
    sufficiency: Sufficiency
    fit_seconds: float
    scores: dict[str, float]
    baseline_first: date
    baseline_last: date
    reporting_first: date | None
    reporting_last: date | None
    predictions: list[tuple[datetime, float, float]]

    def as_dict(self) -> dict[str, object]:
        """The JSON object ``tanhui baseline evaluate`` prints (NaN as null)."""

        def num(v: float) -> float | None:
            return None if math.isnan(v) else v

        m, rm, a = self.baseline_metrics, self.reporting_metrics, self.avoided
        return {
            "model": self.record.name,
            "version": self.record.version,
            "granularity": self.granularity,
            "cv_rmse": num(m.cv_rmse),
            "nmbe": num(m.nmbe),
            "r2": num(m.r2),
            "fsu": num(a.fsu),
            "fit_seconds": self.fit_seconds,
            "avoided": a.avoided,
            "counterfactual": a.counterfactual,
            "actual": a.actual,
            "uncertainty": num(a.uncertainty),
            "counted": a.counted,
            "eligible": self.sufficiency.eligible,
            "reasons": list(self.sufficiency.reasons),
            "baseline": {
                "first": self.baseline_first.isoformat(),
                "last": self.baseline_last.isoformat(),
                "days": self.sufficiency.days,
            },
            "reporting": {
                "first": None if self.reporting_first is None else self.reporting_first.isoformat(),
                "last": None if self.reporting_last is None else self.reporting_last.isoformat(),
                "days": a.days,
                "cv_rmse": num(rm.cv_rmse),
                "nmbe": num(rm.nmbe),
                "r2": num(rm.r2),
            },
            "selection": {k: num(v) for k, v in self.scores.items()},
            "params": dict(self.record.params),
        }


def is_hourly(starts: Sequence[datetime]) -> bool:
    """Whether the usage points are hourly or finer (median spacing at most one hour)."""
    if len(starts) < 2:
        return False
    ordered = sorted(starts)
    gaps = sorted(b - a for a, b in pairwise(ordered))
    return gaps[len(gaps) // 2] <= timedelta(hours=1)


def _hourly_sums(points: Sequence[tuple[datetime, float]]) -> list[tuple[datetime, float]]:
    sums: dict[datetime, float] = {}
    for moment, value in points:
        hour = moment.replace(minute=0, second=0, microsecond=0)
        sums[hour] = sums.get(hour, 0.0) + value
    return sorted(sums.items())


@dataclass(frozen=True, slots=True)
class _Outcome:
    record: ModelRecord
    granularity: str
    daily_counterfactual: Float
    baseline_metrics: Metrics
    reporting_metrics: Metrics
    fsu_metrics: Metrics
    predictions: list[tuple[datetime, float, float]]


def _prepare(
    usage: Sequence[tuple[datetime, float]],
    temperature: Sequence[tuple[datetime, float]],
    rules: BaselineRules,
    electricity: bool,
) -> tuple[DailySeries, HourlySeries | None]:
    if is_hourly([t for t, _ in usage]):
        hourly = hourly_from_points(_hourly_sums(usage), temperature)
        hourly = HourlySeries(
            hourly.start, clean_usage(hourly.usage, electricity=electricity, rules=rules), hourly.temperature
        )
        return hourly.daily(rules.min_interval_coverage), hourly
    by_day = {t.replace(tzinfo=None).date(): v for t, v in usage}
    local = [(t.replace(tzinfo=None), v) for t, v in temperature]
    series = DailySeries.from_mappings(by_day, daily_temperature(local, 0.5), hourly_temperatures(local))
    return series.with_usage(clean_usage(series.usage, electricity=electricity, rules=rules)), None


def _towt_outcome(
    fitted: towt.TowtFit,
    hourly: HourlySeries,
    series: DailySeries,
    baseline: DailySeries,
    rules: BaselineRules,
) -> _Outcome:
    predicted = fitted.predict(hourly)
    cf_daily = HourlySeries(hourly.start, predicted, hourly.temperature).daily(rules.min_interval_coverage)
    days = np.array([h.date() for h in hourly.hours])
    in_base = (days >= baseline.first) & (days <= baseline.last)
    after = days > baseline.last
    base_metrics = fit_metrics(np.where(in_base, hourly.usage, np.nan), predicted, fitted.record.metrics.p)
    rep_metrics = fit_metrics(np.where(after, hourly.usage, np.nan), predicted, 0)
    tz_free = [
        (h, float(o), float(p))
        for h, o, p, k in zip(hourly.hours, hourly.usage, predicted, in_base | after, strict=True)
        if k
    ]
    base_days = np.array([baseline.first <= d <= baseline.last for d in series.days])
    # Savings uncertainty from daily totals, as for the daily models.
    fsu_metrics = fit_metrics(series.usage[base_days], cf_daily.usage[: len(series)][base_days], 0)
    return _Outcome(
        fitted.record,
        "hourly",
        cf_daily.usage[: len(series)],
        base_metrics,
        rep_metrics,
        fsu_metrics,
        tz_free,
    )


def _daily_outcome(fitted: DailyModel, series: DailySeries, baseline: DailySeries) -> _Outcome:
    cf_daily = fitted.predict(series)
    after = np.array([d > baseline.last for d in series.days])
    rep_metrics = fit_metrics(np.where(after, series.usage, np.nan), cf_daily, 0)
    rows = [
        (datetime.combine(d, time(0)), float(o), float(p))
        for d, o, p in zip(series.days, series.usage, cf_daily, strict=True)
        if d >= baseline.first
    ]
    m = fitted.record.metrics
    return _Outcome(fitted.record, "daily", cf_daily, m, rep_metrics, m, rows)


def evaluate(
    usage: Sequence[tuple[datetime, float]],
    temperature: Sequence[tuple[datetime, float]],
    baseline_end: date,
    rules: BaselineRules,
    *,
    model: str = AUTO,
    country: str = "CN",
    electricity: bool = True,
    timer: Callable[[], float],
) -> Evaluation:
    """Fit before ``baseline_end`` (exclusive, local date), predict from it; see the module docstring.

    ``timer`` (e.g. ``time.perf_counter``) measures the fit, model selection included.
    """
    if not usage:
        raise BaselineError("the usage series is empty", code="empty_series")
    tz = usage[0][0].tzinfo
    series, hourly = _prepare(usage, temperature, rules, electricity)
    end_index = series.index_of(baseline_end)
    if end_index <= 0:
        raise BaselineError(f"no usage before the baseline end {baseline_end}", code="empty_baseline")
    base_first = max(series.first, baseline_end - timedelta(days=rules.baseline_days))
    baseline = series.window(base_first, baseline_end - timedelta(days=1))
    reporting = series.window(baseline_end, series.last) if end_index < len(series) else None
    enough = sufficiency(baseline, rules)

    candidates = [*DAILY_MODELS] + ([towt.NAME] if hourly is not None else [])
    if model != AUTO and model not in candidates:
        raise BaselineError(
            f"unknown or unusable model {model!r} for this data; choose one of "
            f"{', '.join(candidates)} or auto",
            code="unknown_model",
        )
    # Load the holiday calendar before timing: it is set-up shared by every fit, not part of one.
    day_types(series.days, country)
    started = timer()
    hourly_base = None
    if hourly is not None:
        first_hour = (datetime.combine(baseline.first, time(0)) - hourly.start) // timedelta(hours=1)
        last_hour = (datetime.combine(baseline_end, time(0)) - hourly.start) // timedelta(hours=1)
        hourly_base = hourly.slice(max(0, first_hour), last_hour)
    chosen, scores = model, {}
    if model == AUTO:
        selection = select(baseline, rules, candidates, country=country, hourly=hourly_base)
        chosen, scores = selection.chosen, selection.scores
    if chosen == towt.NAME and hourly is not None and hourly_base is not None:
        fitted_towt = towt.fit_towt(hourly_base, rules, country=country)
        fit_seconds = timer() - started
        outcome = _towt_outcome(fitted_towt, hourly, series, baseline, rules)
    else:
        fitted = fit_daily_model(chosen, baseline, rules, country)
        fit_seconds = timer() - started
        outcome = _daily_outcome(fitted, series, baseline)
    rep_mask = np.array([d >= baseline_end for d in series.days])
    result = avoided_use(
        outcome.fsu_metrics, outcome.daily_counterfactual[rep_mask], series.usage[rep_mask], rules
    )
    if not enough.eligible:
        # CalTRACK sufficiency failed: the numbers are shown, nothing is counted.
        result = Avoided(
            result.days,
            result.counterfactual,
            result.actual,
            result.avoided,
            result.uncertainty,
            result.fsu,
            0.0,
        )
    return Evaluation(
        record=outcome.record,
        granularity=outcome.granularity,
        baseline_metrics=outcome.baseline_metrics,
        reporting_metrics=outcome.reporting_metrics,
        avoided=result,
        sufficiency=enough,
        fit_seconds=fit_seconds,
        scores=scores,
        baseline_first=baseline.first,
        baseline_last=baseline.last,
        reporting_first=None if reporting is None else reporting.first,
        reporting_last=None if reporting is None else reporting.last,
        predictions=[(t.replace(tzinfo=tz), o, p) for t, o, p in outcome.predictions],
    )
