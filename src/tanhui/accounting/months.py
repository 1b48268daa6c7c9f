"""A meter's daily values grouped by calendar month, as the packed arrays the store keeps.

One month is an int64 array with one element per day of the month (day 1 at index 0), little-endian
on disk; a day with no value is :data:`~tanhui.accounting.pricing.NO_DATA`. Amounts are millionths of
the meter's unit, footprints milligrams: integers, so packing loses nothing.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterator, Mapping
from datetime import date, timedelta

import numpy as np

from tanhui.accounting.errors import AccountingError
from tanhui.accounting.pricing import NO_DATA, Days

_LE = np.dtype("<i8")


def month_start(day: date) -> date:
    return day.replace(day=1)


def days_in(month: date) -> int:
    return calendar.monthrange(month.year, month.month)[1]


def group(by_day: Mapping[date, int]) -> dict[date, Days]:
    """``{first day of month: array}`` for the months ``by_day`` touches; absent days are gaps."""
    months: dict[date, Days] = {}
    for day, value in by_day.items():
        if value < 0:
            raise AccountingError(f"{day}: a daily amount is negative ({value})")
        first = month_start(day)
        array = months.get(first)
        if array is None:
            array = months[first] = np.full(days_in(first), NO_DATA, dtype=np.int64)
        array[day.day - 1] = value
    return months


def pack(days: Days) -> bytes:
    return days.astype(_LE, copy=False).tobytes()


def unpack(month: date, data: bytes) -> Days:
    """The array stored for ``month``; raises :class:`AccountingError` if its length does not fit."""
    if len(data) != 8 * days_in(month):
        raise AccountingError(f"{month:%Y-%m}: {len(data)} bytes is not {days_in(month)} packed days")
    return np.frombuffer(data, dtype=_LE).astype(np.int64)


def unpack_many(months: list[date], blobs: list[bytes]) -> Iterator[tuple[date, Days]]:
    """Unpack many months with one decode of their concatenation (what a county-scale read needs)."""
    if not blobs:
        return
    whole = np.frombuffer(b"".join(blobs), dtype=_LE).astype(np.int64)
    start = 0
    for month, blob in zip(months, blobs, strict=True):
        size = len(blob) // 8
        if size != days_in(month):
            raise AccountingError(f"{month:%Y-%m}: {len(blob)} bytes is not {days_in(month)} packed days")
        yield month, whole[start : start + size]
        start += size


def daily(month: date, days: Days) -> Iterator[tuple[date, int]]:
    """``(day, value)`` for the days of ``month`` that have data."""
    for index in np.flatnonzero(days != NO_DATA):
        yield month + timedelta(days=int(index)), int(days[index])


def sum_by_day(rows: list[tuple[date, Days]]) -> dict[date, int]:
    """Per-day totals over many meters' months (gaps add nothing; a day all meters miss is absent)."""
    totals: defaultdict[date, int] = defaultdict(int)
    for month, days in rows:
        for day, value in daily(month, days):
            totals[day] += value
    return dict(totals)
