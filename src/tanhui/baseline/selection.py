"""Choosing a household's baseline model by out-of-sample error inside the baseline window.

Blocked cross-validation: the baseline days are cut into blocks of ``block_days`` (28) that are dealt
to ``folds`` (3) folds in turn, so every fold spans the seasons and no block is split (Roberts et al.,
Ecography 40:913-929, 2017). Each candidate is fitted on the other folds and predicts the held-out one;
the score is the CV(RMSE) of daily totals over all held-out days (hourly models are scored on their
daily sums, so daily and hourly models compete on the same footing). Lowest score wins; ties go to the
simpler model, in the order given.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from tanhui.baseline import daily, gbm, towt
from tanhui.baseline.errors import BaselineError
from tanhui.baseline.metrics import cv_rmse
from tanhui.baseline.record import ModelRecord
from tanhui.baseline.rules import BaselineRules
from tanhui.baseline.series import DailySeries, HourlySeries

__all__ = ["DAILY_MODELS", "MODELS", "DailyModel", "Selection", "fit_daily_model", "fold_of_day", "select"]

Float = NDArray[np.float64]


class DailyModel(Protocol):
    """A fitted model that predicts daily totals."""

    @property
    def record(self) -> ModelRecord: ...

    def predict(self, series: DailySeries) -> Float: ...


DAILY_MODELS: dict[str, Callable[..., DailyModel]] = {
    daily.NAME: daily.fit_daily,
    gbm.NAME: gbm.fit_gbm,
}
MODELS = (daily.NAME, towt.NAME, gbm.NAME)


def fit_daily_model(
    name: str, series: DailySeries, rules: BaselineRules, country: str, *, cooling: bool = True
) -> DailyModel:
    """Fit the daily model called ``name`` (``caltrack-daily`` or ``gbm-daily``).

    ``cooling=False`` (gas) leaves the cooling term out of the CalTRACK model (CalTRACK 2.0 §3); gradient
    boosting learns the temperature response it finds and ignores the flag.
    """
    fitter = DAILY_MODELS.get(name)
    if fitter is None:
        raise BaselineError(
            f"unknown daily model {name!r}; choose one of {', '.join(DAILY_MODELS)}", code="unknown_model"
        )
    if name == daily.NAME:
        return daily.fit_daily(series, rules, country=country, cooling=cooling)
    return fitter(series, rules, country=country)


def fold_of_day(n_days: int, block_days: int, folds: int) -> NDArray[np.int64]:
    """The fold (0..folds-1) of each day: consecutive blocks of ``block_days`` dealt out in turn."""
    return (np.arange(n_days) // block_days) % folds


@dataclass(frozen=True, slots=True)
class Selection:
    """The chosen model's name and each candidate's out-of-sample CV(RMSE) (NaN if it could not fit)."""

    chosen: str
    scores: dict[str, float]


def _score_daily(
    name: str, series: DailySeries, rules: BaselineRules, country: str, *, cooling: bool
) -> float:
    fold = fold_of_day(len(series), rules.block_days, rules.folds)
    predicted = np.full(len(series), np.nan)
    for f in range(rules.folds):
        train = series.with_usage(np.where(fold == f, np.nan, series.usage))
        model = fit_daily_model(name, train, rules, country, cooling=cooling)
        predicted[fold == f] = model.predict(series)[fold == f]
    return cv_rmse(series.usage, predicted)


def _score_towt(hourly: HourlySeries, rules: BaselineRules, country: str) -> float:
    day_series = hourly.daily(rules.min_interval_coverage)
    skip = (24 - hourly.start.hour) % 24
    n = len(day_series)
    fold = fold_of_day(n, rules.block_days, rules.folds)
    hour_fold = np.full(len(hourly), -1)
    hour_fold[skip : skip + 24 * n] = np.repeat(fold, 24)
    predicted = np.full(len(hourly), np.nan)
    for f in range(rules.folds):
        train = HourlySeries(hourly.start, np.where(hour_fold == f, np.nan, hourly.usage), hourly.temperature)
        model = towt.fit_towt(train, rules, country=country)
        predicted[hour_fold == f] = model.predict(hourly)[hour_fold == f]
    daily_pred = predicted[skip : skip + 24 * n].reshape(n, 24).sum(axis=1)
    return cv_rmse(day_series.usage, daily_pred)


def select(
    series: DailySeries,
    rules: BaselineRules,
    candidates: Sequence[str],
    *,
    country: str,
    hourly: HourlySeries | None = None,
    cooling: bool = True,
) -> Selection:
    """Score ``candidates`` by blocked cross-validation and return the best (TOWT needs ``hourly``)."""
    scores: dict[str, float] = {}
    for name in candidates:
        try:
            if name == towt.NAME:
                scores[name] = math.nan if hourly is None else _score_towt(hourly, rules, country)
            else:
                scores[name] = _score_daily(name, series, rules, country, cooling=cooling)
        except BaselineError:
            scores[name] = math.nan
    usable = [n for n in candidates if not math.isnan(scores[n])]
    if not usable:
        raise BaselineError(f"no candidate model could be fitted: {', '.join(candidates)}", code="no_model")
    return Selection(min(usable, key=lambda n: scores[n]), scores)
