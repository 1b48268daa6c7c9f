"""Consumption intervals apportioned to local calendar days.

A meter reports cumulative registers at its own times; the interval between two readings can span
midnight. Its consumption is shared among the local days it touches in proportion to the time spent in
each (linear interpolation, as utilities do for billing periods). Amounts stay integers and the parts
always add up to the whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tanhui.accounting.errors import AccountingError


@dataclass(frozen=True, slots=True)
class Interval:
    """Consumption of ``amount`` integer units between two instants (timezone-aware)."""

    start: datetime
    end: datetime
    amount: int


def split_by_day(interval: Interval, tz: ZoneInfo) -> list[tuple[date, int]]:
    """Share ``interval.amount`` among the local days of ``tz`` the interval covers.

    Rounding uses the largest-remainder rule, so the shares sum exactly to the amount.
    """
    start, end = interval.start, interval.end
    if start.tzinfo is None or end.tzinfo is None:
        raise AccountingError("interval times must be timezone-aware", code="naive_time")
    if end <= start:
        raise AccountingError(
            f"interval ends ({end}) at or before it starts ({start})", code="empty_interval"
        )
    local_start = start.astimezone(tz)
    day = local_start.date()
    pieces: list[tuple[date, int]] = []  # (local day, microseconds of the interval in it)
    cursor = start
    while cursor < end:
        next_midnight = datetime.combine(day + timedelta(days=1), time(0), tz)
        piece_end = min(next_midnight, end)
        pieces.append((day, _micros(piece_end - cursor)))
        cursor, day = piece_end, day + timedelta(days=1)
    if len(pieces) == 1:
        return [(pieces[0][0], interval.amount)]
    total = sum(us for _, us in pieces)
    floors = [interval.amount * us // total for _, us in pieces]
    remainders = [interval.amount * us % total for _, us in pieces]
    for i in sorted(range(len(pieces)), key=lambda i: remainders[i], reverse=True)[
        : interval.amount - sum(floors)
    ]:
        floors[i] += 1
    return [(pieces[i][0], floors[i]) for i in range(len(pieces)) if floors[i]]


def _micros(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
