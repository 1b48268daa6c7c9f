"""Whether a date is a day off in mainland China: weekends, public holidays and the State Council's swaps.

China moves working days around its public holidays (调休): a weekday between a holiday and a weekend
becomes a day off, and a Saturday or Sunday nearby becomes a working day to make up for it. Households are
at home more on days off, so the simulator's consumption follows this calendar, and a baseline model that
only knows Monday–Friday would misread those weeks.

The dates come from the ``holidays`` package (``holidays.China``), whose ``is_working_day`` treats a
weekend date listed among the make-up workdays as a working day and any listed holiday, including a
substituted day off, as a day off. The package knows the swaps only for years the State Council has
already announced; for later years it falls back to the statutory holidays and plain weekends.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import holidays

__all__ = ["is_day_off", "is_make_up_workday"]


@lru_cache(maxsize=64)
def _china(year: int) -> holidays.HolidayBase:
    # One calendar object per year: building it is the slow part, and the result never changes. The
    # registry lookup ("CN") returns holidays.China, and is typed where the lazily loaded class is not.
    return holidays.country_holidays("CN", years=year)


def is_day_off(day: date) -> bool:
    """True for a weekend that is not a make-up workday, a public holiday, or a substituted day off."""
    return not bool(_china(day.year).is_working_day(day))


def is_make_up_workday(day: date) -> bool:
    """True for a Saturday or Sunday that is a working day because a holiday was moved (调休上班)."""
    return day.weekday() >= 5 and not is_day_off(day)
