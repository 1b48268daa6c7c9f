"""Recompute a meter-day footprint from its readings, as tanhui.jobs.accounting computes it.

A day's consumption depends only on the register steps whose interval touches the day, so the slice
of the series from the last reading at or before the day's local start to the first reading at or
after its end is enough to recompute it exactly (tanhui.accounting.consumption.daily_counts works step
by step). The verifier holds nothing else: readings, resolution, capacity, rollover bound, time zone
and the published factor.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from tanhui.accounting.consumption import daily_counts
from tanhui.accounting.footprint import to_milligrams

MICRO = Decimal(1_000_000)


def day_bounds(day: date, tz: ZoneInfo) -> tuple[int, int]:
    """UTC epoch seconds of the local day's start and of the next day's start."""
    start = datetime.combine(day, time(0), tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tz)
    return int(start.timestamp()), int(end.timestamp())


def day_slice(times: Sequence[int], day: date, tz: ZoneInfo) -> slice:
    """Indices of ``times`` (sorted) that the local ``day``'s consumption depends on."""
    start, end = day_bounds(day, tz)
    first = max(bisect_right(times, start) - 1, 0)
    last = min(bisect_left(times, end), len(times) - 1)
    return slice(first, last + 1)


def footprint(
    readings: Sequence[tuple[int, int]],
    *,
    day: date,
    tz: ZoneInfo,
    resolution: Decimal,
    capacity: int,
    max_rollover_counts: int,
    factor: Decimal,
) -> tuple[int, int]:
    """``(amount_micro, co2e_mg)`` of ``day`` from ``readings``, with the job's rounding."""
    counts = daily_counts(readings, capacity=capacity, max_rollover_counts=max_rollover_counts, tz=tz)
    amount = counts.by_day.get(day, 0) * resolution
    return int(amount * MICRO), to_milligrams(amount * factor)
