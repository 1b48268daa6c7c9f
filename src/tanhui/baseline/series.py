"""Validated input series: daily usage with daily mean temperature, and hourly usage with temperature.

Models accept only these types. Missing values are NaN; days are consecutive, so a model can use lags.
A daily series may also carry each day's 24 hourly temperatures (local hours 0-23, NaN where missing),
from which the daily model computes degree-hours instead of degree days of the daily mean.
Building daily totals from intervals follows CalTRACK 2.0 §2.2 (a day needs a minimum share of its
intervals; the total is the present mean times the day's interval count).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from tanhui.baseline.errors import BaselineError

__all__ = [
    "HOURS",
    "DailySeries",
    "HourlySeries",
    "daily_from_intervals",
    "daily_temperature",
    "hourly_from_points",
    "hourly_temperatures",
]

HOURS = 24

Float = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class DailySeries:
    """Consecutive local days from ``first``: usage (kWh or m3, NaN missing) and mean temperature (°C).

    ``hourly_temperature``, when given, is an array of shape (days, 24): each day's local hourly
    temperatures (°C, NaN where the station sent nothing).
    """

    first: date
    usage: Float
    temperature: Float
    hourly_temperature: Float | None = None

    def __post_init__(self) -> None:
        if self.usage.shape != self.temperature.shape or self.usage.ndim != 1:
            raise BaselineError(
                f"usage and temperature must be 1-D of equal length, got {self.usage.shape} and "
                f"{self.temperature.shape}",
                code="series_shape",
            )
        if self.hourly_temperature is not None and self.hourly_temperature.shape != (len(self), HOURS):
            raise BaselineError(
                f"hourly temperatures must have shape ({len(self)}, {HOURS}), got "
                f"{self.hourly_temperature.shape}",
                code="series_shape",
            )

    def __len__(self) -> int:
        return int(self.usage.shape[0])

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range(len(self))]

    @property
    def last(self) -> date:
        return self.first + timedelta(days=len(self) - 1)

    def index_of(self, day: date) -> int:
        return (day - self.first).days

    def window(self, first: date, last: date) -> DailySeries:
        """The days from ``first`` to ``last`` inclusive, clipped to the series."""
        i = max(0, self.index_of(first))
        j = min(len(self), self.index_of(last) + 1)
        if j <= i:
            raise BaselineError(f"no days between {first} and {last} in the series", code="empty_window")
        hourly = None if self.hourly_temperature is None else self.hourly_temperature[i:j].copy()
        return DailySeries(
            self.first + timedelta(days=i), self.usage[i:j].copy(), self.temperature[i:j].copy(), hourly
        )

    def with_usage(self, usage: Float) -> DailySeries:
        return DailySeries(self.first, usage, self.temperature, self.hourly_temperature)

    @classmethod
    def from_mappings(
        cls,
        usage: dict[date, float],
        temperature: dict[date, float],
        hourly: Mapping[date, Sequence[float]] | None = None,
    ) -> DailySeries:
        """Series over every day from the first to the last day of ``usage``; gaps become NaN.

        ``hourly`` maps a day to its 24 hourly temperatures (see :func:`hourly_temperatures`).
        """
        if not usage:
            raise BaselineError("no usage days given", code="empty_series")
        first, last = min(usage), max(usage)
        n = (last - first).days + 1
        u = np.full(n, np.nan)
        t = np.full(n, np.nan)
        for d, v in usage.items():
            u[(d - first).days] = v
        for d, v in temperature.items():
            k = (d - first).days
            if 0 <= k < n:
                t[k] = v
        if hourly is None:
            return cls(first, u, t)
        th = np.full((n, HOURS), np.nan)
        for d, hours in hourly.items():
            k = (d - first).days
            if 0 <= k < n:
                th[k] = hours
        return cls(first, u, t, th)


@dataclass(frozen=True, slots=True)
class HourlySeries:
    """Consecutive local hours from ``start`` (naive local time): usage and temperature, NaN missing."""

    start: datetime
    usage: Float
    temperature: Float

    def __len__(self) -> int:
        return int(self.usage.shape[0])

    @property
    def hours(self) -> list[datetime]:
        return [self.start + timedelta(hours=i) for i in range(len(self))]

    def slice(self, i: int, j: int) -> HourlySeries:
        return HourlySeries(
            self.start + timedelta(hours=i), self.usage[i:j].copy(), self.temperature[i:j].copy()
        )

    def daily(self, min_coverage: float) -> DailySeries:
        """Daily totals and mean temperatures (starting at the first whole local day)."""
        skip = (24 - self.start.hour) % 24
        first = (self.start + timedelta(hours=skip)).date()
        n = (len(self) - skip) // 24
        if n < 1:
            raise BaselineError("hourly series shorter than one whole day", code="empty_series")
        u = self.usage[skip : skip + 24 * n].reshape(n, 24)
        t = self.temperature[skip : skip + 24 * n].reshape(n, 24)
        return DailySeries(first, _daily_total(u, min_coverage), _daily_mean(t, min_coverage), t.copy())


def _daily_total(block: Float, min_coverage: float) -> Float:
    present = np.sum(~np.isnan(block), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        total = np.nanmean(np.where(present[:, None] > 0, block, 0.0), axis=1) * block.shape[1]
    total[present < min_coverage * block.shape[1]] = np.nan
    return np.asarray(total, dtype=np.float64)


def _daily_mean(block: Float, min_coverage: float) -> Float:
    present = np.sum(~np.isnan(block), axis=1)
    sums = np.nansum(block, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums / present
    mean[present < min_coverage * block.shape[1]] = np.nan
    return np.asarray(mean, dtype=np.float64)


def hourly_from_points(
    usage: Iterable[tuple[datetime, float]], temperature: Iterable[tuple[datetime, float]]
) -> HourlySeries:
    """An hourly series from aware or naive local ``(start, value)`` points; hours are local wall time."""
    u = {_local_hour(t): v for t, v in usage}
    if not u:
        raise BaselineError("no usage intervals given", code="empty_series")
    temps: dict[datetime, list[float]] = {}
    for t, v in temperature:
        temps.setdefault(_local_hour(t), []).append(v)
    start, end = min(u), max(u)
    n = int((end - start) / timedelta(hours=1)) + 1
    us = np.full(n, np.nan)
    ts = np.full(n, np.nan)
    for t, v in u.items():
        us[int((t - start) / timedelta(hours=1))] = v
    for t, vs in temps.items():
        k = int((t - start) / timedelta(hours=1))
        if 0 <= k < n:
            ts[k] = sum(vs) / len(vs)
    # Fill single missing temperature hours by the neighbours' mean: stations drop readings, and TOWT
    # needs a temperature every hour. Longer gaps stay missing.
    for gap in np.flatnonzero(np.isnan(ts)).tolist():
        if 0 < gap < n - 1 and not np.isnan(ts[gap - 1]) and not np.isnan(ts[gap + 1]):
            ts[gap] = (ts[gap - 1] + ts[gap + 1]) / 2
    return HourlySeries(start, us, ts)


def _local_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0, tzinfo=None)


def daily_from_intervals(
    points: Sequence[tuple[datetime, float]], interval: timedelta, min_coverage: float
) -> dict[date, float]:
    """Daily totals from interval usage points (local wall time), CalTRACK's coverage rule applied."""
    per_day = round(timedelta(days=1) / interval)
    sums: dict[date, list[float]] = {}
    for moment, value in points:
        if not np.isnan(value):
            sums.setdefault(moment.date(), []).append(value)
    return {d: sum(vs) / len(vs) * per_day for d, vs in sums.items() if len(vs) >= min_coverage * per_day}


def daily_temperature(points: Iterable[tuple[datetime, float]], min_coverage: float) -> dict[date, float]:
    """Mean temperature per local day; a day needs ``min_coverage`` of 24 hours (or one daily value)."""
    sums: dict[date, list[float]] = {}
    for moment, value in points:
        if not np.isnan(value):
            sums.setdefault(moment.date(), []).append(value)
    longest = max((len(v) for v in sums.values()), default=1)
    need = 1 if longest == 1 else min_coverage * 24
    return {d: sum(vs) / len(vs) for d, vs in sums.items() if len(vs) >= need}


def hourly_temperatures(points: Iterable[tuple[datetime, float]]) -> dict[date, list[float]]:
    """Each local day's 24 hourly temperatures (mean of the observations in each hour, NaN if none).

    Only sub-daily observations count: a day given as one daily value gets no hourly row, and the
    daily model then uses the daily mean for it.
    """
    sums: dict[date, list[float]] = {}
    counts: dict[date, list[int]] = {}
    for moment, value in points:
        if np.isnan(value) or not isinstance(moment, datetime):
            continue
        d = moment.date()
        if d not in sums:
            sums[d] = [0.0] * HOURS
            counts[d] = [0] * HOURS
        sums[d][moment.hour] += value
        counts[d][moment.hour] += 1
    return {
        d: [s / c if c else math.nan for s, c in zip(sums[d], counts[d], strict=True)]
        for d in sums
        if sum(1 for c in counts[d] if c) > 1
    }
