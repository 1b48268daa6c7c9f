"""Validated input series: daily usage with daily mean temperature, and hourly usage with temperature.

Models accept only these types. Missing values are NaN; days are consecutive, so a model can use lags.
Building daily totals from intervals follows CalTRACK 2.0 §2.2 (a day needs a minimum share of its
intervals; the total is the present mean times the day's interval count).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from tanhui.baseline.errors import BaselineError

__all__ = ["DailySeries", "HourlySeries", "daily_from_intervals", "daily_temperature", "hourly_from_points"]

Float = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class DailySeries:
    """Consecutive local days from ``first``: usage (kWh or m3, NaN missing) and mean temperature (°C)."""

    first: date
    usage: Float
    temperature: Float

    def __post_init__(self) -> None:
        if self.usage.shape != self.temperature.shape or self.usage.ndim != 1:
            raise BaselineError(
                f"usage and temperature must be 1-D of equal length, got {self.usage.shape} and "
                f"{self.temperature.shape}",
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
        return DailySeries(
            self.first + timedelta(days=i), self.usage[i:j].copy(), self.temperature[i:j].copy()
        )

    def with_usage(self, usage: Float) -> DailySeries:
        return DailySeries(self.first, usage, self.temperature)

    @classmethod
    def from_mappings(cls, usage: dict[date, float], temperature: dict[date, float]) -> DailySeries:
        """Series over every day from the first to the last day of ``usage``; gaps become NaN."""
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
        return cls(first, u, t)


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
        return DailySeries(first, _daily_total(u, min_coverage), _daily_mean(t, min_coverage))


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
