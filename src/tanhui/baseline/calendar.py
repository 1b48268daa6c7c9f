"""Day types for baseline models: days off, public holidays and make-up workdays (调休).

The ``holidays`` package's China calendar lists the State Council's swaps for announced years:
``is_working_day`` is False on a holiday or substituted day off and True on a weekend make-up workday
(verified on 2025-01-26 and 2026-02-14, both Sunday/Saturday workdays). Other countries (the OpenEEmeter
samples are from Illinois) use the same interface.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import holidays
import numpy as np
from numpy.typing import NDArray

__all__ = ["DayTypes", "day_types"]


@lru_cache(maxsize=128)
def _calendar(country: str, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(country, years=year)


@dataclass(frozen=True, slots=True)
class DayTypes:
    """Per day: 1.0 for a day off (weekend not swapped, holiday), a public holiday, a make-up workday."""

    day_off: NDArray[np.float64]
    holiday: NDArray[np.float64]
    make_up: NDArray[np.float64]
    weekday: NDArray[np.int64]


@lru_cache(maxsize=32768)
def _one(country: str, d: date) -> tuple[float, float, float, int]:
    cal = _calendar(country, d.year)
    working = bool(cal.is_working_day(d))
    return (
        0.0 if working else 1.0,
        1.0 if d in cal and not working else 0.0,
        1.0 if working and d.weekday() >= 5 else 0.0,
        d.weekday(),
    )


def day_types(days: Sequence[date], country: str = "CN") -> DayTypes:
    """The day types of ``days`` under ``country``'s calendar (ISO 3166 code known to ``holidays``)."""
    rows = [_one(country, d) for d in days]
    if not rows:
        empty = np.empty(0)
        return DayTypes(empty, empty, empty, np.empty(0, dtype=np.int64))
    off, hol, make_up, weekday = zip(*rows, strict=True)
    return DayTypes(
        np.array(off, dtype=np.float64),
        np.array(hol, dtype=np.float64),
        np.array(make_up, dtype=np.float64),
        np.array(weekday, dtype=np.int64),
    )
