"""A meter's daily values grouped by calendar month, as the packed arrays the store keeps.

One month is an int64 array of :data:`SLOTS` (31) elements, day 1 at index 0, little-endian on disk; a
day with no value, and every slot past the month's last day, is :data:`~tanhui.accounting.pricing.NO_DATA`.
Every month packs to the same 248 bytes, so a county's months read and write as one fixed-width array.
Amounts are millionths of the meter's unit, footprints milligrams: integers, so packing loses nothing.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt

from tanhui.accounting.errors import AccountingError
from tanhui.accounting.pricing import NO_DATA, Days
from tanhui.domain.quantity import Quantity

_LE = np.dtype("<i8")
SLOTS = 31
PACKED_BYTES = 8 * SLOTS


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
            array = months[first] = np.full(SLOTS, NO_DATA, dtype=np.int64)
        array[day.day - 1] = value
    return months


def fill(primary: Days, secondary: Days) -> Days:
    """``primary``'s days, with ``secondary``'s where ``primary`` has none (e.g. metered days over imported
    billing history: a measured day always wins, history fills only what the meters never covered)."""
    filled: Days = np.where(primary != NO_DATA, primary, secondary)
    return filled


def pack(days: Days) -> bytes:
    if days.shape != (SLOTS,):
        raise AccountingError(f"a packed month has {SLOTS} slots, not {days.shape}")
    return days.astype(_LE, copy=False).tobytes()


def unpack(month: date, data: bytes) -> Days:
    """The array stored for ``month``; raises :class:`AccountingError` if it is not a packed month."""
    if len(data) != PACKED_BYTES:
        raise AccountingError(f"{month:%Y-%m}: {len(data)} bytes is not a packed month of {PACKED_BYTES}")
    days = np.frombuffer(data, dtype=_LE).astype(np.int64)
    if (days[days_in(month) :] != NO_DATA).any():
        raise AccountingError(f"{month:%Y-%m}: a value lies past the month's last day")
    return days


def daily(month: date, days: Days) -> Iterator[tuple[date, int]]:
    """``(day, value)`` for the days of ``month`` that have data."""
    for index in np.flatnonzero(days != NO_DATA):
        yield month + timedelta(days=int(index)), int(days[index])


EPOCH = date(2000, 1, 1)
"""Months in a :class:`MonthTable` count days from here (PostgreSQL's own date epoch)."""

KINDS: tuple[Quantity, ...] = tuple(Quantity)
"""A :class:`MonthTable` codes each row's quantity as its index here."""


@dataclass(frozen=True, slots=True)
class MonthTable:
    """Many meters' months as columns, the shape a whole community is read, priced and written in.

    ``values`` has one row of :data:`SLOTS` days per month: amounts in millionths, or footprints in mg.
    """

    meter_id: npt.NDArray[np.int64]
    household_id: npt.NDArray[np.int64]
    month: npt.NDArray[np.int64]
    kind: npt.NDArray[np.int64]
    values: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.meter_id)

    def first_day(self, row: int) -> date:
        return EPOCH + timedelta(days=int(self.month[row]))

    def totals(self) -> npt.NDArray[np.int64]:
        """Each row's sum over the days that have data."""
        totals: npt.NDArray[np.int64] = np.where(self.values == NO_DATA, 0, self.values).sum(axis=1)
        return totals

    def with_values(self, values: npt.NDArray[np.int64]) -> MonthTable:
        return MonthTable(self.meter_id, self.household_id, self.month, self.kind, values)

    def take(self, rows: npt.NDArray[np.bool_]) -> MonthTable:
        return MonthTable(
            self.meter_id[rows], self.household_id[rows], self.month[rows], self.kind[rows], self.values[rows]
        )


def month_number(first: date) -> int:
    """``first`` (a month's first day) as a :class:`MonthTable` month: days since :data:`EPOCH`."""
    return (first - EPOCH).days
