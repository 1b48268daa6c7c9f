"""The hourly time-of-week-and-temperature (TOWT) model of CalTRACK 2.0 §3.7–3.12 (Mathieu et al. 2011).

usage(hour) = α[time of week] + Σ_segments β_occ(s)·T_s(hour), where T_s are piecewise-linear
temperature components between knots, with separate temperature slopes for occupied and unoccupied
hours of the week. Occupancy comes from a first fit usage ~ HDH + CDH: an hour of the week is occupied
when that fit under-predicts it in more than 65 % of the baseline's hours.

Differences from CalTRACK, stated for a verifier: one model over the whole baseline window instead of
twelve month-weighted models (CalTRACK allows a single model when the month-by-month NMBE test passes);
the time of week is calendar-adjusted (a public holiday is treated as a Sunday and a 调休 make-up workday as a
Monday) so Chinese holiday weeks do not break the weekly pattern.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from numpy.typing import NDArray

from tanhui.baseline.calendar import day_types
from tanhui.baseline.errors import BaselineError
from tanhui.baseline.metrics import fit_metrics
from tanhui.baseline.record import ModelRecord
from tanhui.baseline.rules import BaselineRules
from tanhui.baseline.series import HourlySeries

__all__ = ["NAME", "VERSION", "TowtFit", "fit_towt", "time_of_week"]

NAME = "towt-hourly"
VERSION = "1.0.0"
Float = NDArray[np.float64]
Int = NDArray[np.int64]


def time_of_week(series: HourlySeries, country: str) -> Int:
    """Calendar-adjusted hour of week 0..167 (Monday 00–01 = 0) for each hour of ``series``."""
    hours = series.hours
    days = sorted({h.date() for h in hours})
    dt = day_types(days, country)
    weekday: dict[date, int] = {}
    for d, wd, off, make_up in zip(days, dt.weekday, dt.day_off, dt.make_up, strict=True):
        if off and wd < 5:
            weekday[d] = 6
        elif make_up:
            weekday[d] = 0
        else:
            weekday[d] = int(wd)
    return np.array([weekday[h.date()] * 24 + h.hour for h in hours], dtype=np.int64)


def _segments(t: Float, knots: tuple[float, ...]) -> Float:
    """Piecewise-linear temperature components (Mathieu et al. 2011 eq. 3): one column per bin."""
    edges = list(knots)
    cols = []
    lower = -np.inf
    for k in range(len(edges) + 1):
        upper = edges[k] if k < len(edges) else np.inf
        if k == 0:
            cols.append(np.minimum(t, upper))
        elif k == len(edges):
            cols.append(np.maximum(t - lower, 0.0))
        else:
            cols.append(np.clip(t - lower, 0.0, upper - lower))
        lower = upper
    return np.column_stack(cols)


def _merge_knots(t: Float, knots: tuple[float, ...], min_hours: int) -> tuple[float, ...]:
    """Drop knots until every bin holds ``min_hours`` hours (CalTRACK 2.0 §3.9: merge sparse bins).

    A sparse bin merges with its neighbour (the emptier one when it has two), i.e. the knot between
    them is removed.
    """
    ks = list(knots)
    while ks:
        edges = [-np.inf, *ks, np.inf]
        counts = [int(np.sum((t >= edges[i]) & (t < edges[i + 1]))) for i in range(len(edges) - 1)]
        sparse = [i for i, c in enumerate(counts) if c < min_hours]
        if not sparse:
            break
        i = sparse[0]
        if i == 0:
            del ks[0]
        elif i == len(counts) - 1 or counts[i - 1] <= counts[i + 1]:
            del ks[i - 1]
        else:
            del ks[i]
    return tuple(ks)


@dataclass(frozen=True, slots=True)
class TowtFit:
    """A fitted TOWT model."""

    record: ModelRecord
    tow_coefficients: Float
    temp_occupied: Float
    temp_unoccupied: Float
    occupied: NDArray[np.bool_]
    knots: tuple[float, ...]
    country: str

    def predict(self, series: HourlySeries) -> Float:
        tow = time_of_week(series, self.country)
        seg = _segments(np.nan_to_num(series.temperature), self.knots)
        occ = self.occupied[tow]
        temp = np.where(occ, seg @ self.temp_occupied, seg @ self.temp_unoccupied)
        out = self.tow_coefficients[tow] + temp
        out[np.isnan(series.temperature)] = np.nan
        return np.asarray(out, dtype=np.float64)


def fit_towt(series: HourlySeries, rules: BaselineRules, *, country: str = "CN") -> TowtFit:
    """Fit TOWT on every hour of ``series`` with usage and temperature."""
    keep = ~(np.isnan(series.usage) | np.isnan(series.temperature))
    if keep.sum() < 24 * 14:
        raise BaselineError(
            f"only {int(keep.sum())} usable hours; TOWT needs two weeks", code="too_few_hours"
        )
    tow = time_of_week(series, country)[keep]
    t = series.temperature[keep]
    y = series.usage[keep]
    # Occupancy: a HDH/CDH regression; hours of week it under-predicts more than 65 % of the time.
    x0 = np.column_stack(
        [
            np.ones(t.size),
            np.maximum(rules.occupancy_heating_c - t, 0),
            np.maximum(t - rules.occupancy_cooling_c, 0),
        ]
    )
    beta0, *_ = np.linalg.lstsq(x0, y, rcond=None)
    under = (y > x0 @ beta0).astype(np.float64)
    share = np.bincount(tow, weights=under, minlength=168) / np.maximum(np.bincount(tow, minlength=168), 1)
    occupied = share > rules.occupancy_threshold
    knots = _merge_knots(t, rules.knots_c, rules.min_bin_hours)
    seg = _segments(t, knots)
    occ = occupied[tow][:, None]
    dummies = np.zeros((t.size, 168))
    dummies[np.arange(t.size), tow] = 1.0
    x = np.hstack([dummies, seg * occ, seg * ~occ])
    solution, *_ = np.linalg.lstsq(x, y, rcond=None)
    beta = np.asarray(solution, dtype=np.float64)
    nseg = seg.shape[1]
    fit = TowtFit(
        ModelRecord(
            NAME, VERSION, "hourly", series.start.date(), series.start.date(), {}, fit_metrics(y, y, 0)
        ),
        beta[:168],
        beta[168 : 168 + nseg],
        beta[168 + nseg :],
        occupied,
        knots,
        country,
    )
    predicted = fit.predict(series)
    used_tow = int(np.count_nonzero(np.bincount(tow, minlength=168)))
    metrics = fit_metrics(series.usage, predicted, used_tow + 2 * nseg)
    last = (series.start + timedelta(hours=len(series) - 1)).date()
    params = {
        "knots_c": list(knots),
        "occupied_hours_of_week": [int(i) for i in np.flatnonzero(occupied)],
        "tow_coefficients": [float(v) for v in beta[:168]],
        "temperature_occupied": [float(v) for v in fit.temp_occupied],
        "temperature_unoccupied": [float(v) for v in fit.temp_unoccupied],
        "calendar": country,
    }
    record = ModelRecord(NAME, VERSION, "hourly", series.start.date(), last, params, metrics)
    return TowtFit(
        record, fit.tow_coefficients, fit.temp_occupied, fit.temp_unoccupied, occupied, knots, country
    )
