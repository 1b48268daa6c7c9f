"""Daily consumption of one meter from its register readings."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from tanhui.accounting.daily import Interval, split_by_day
from tanhui.meters.continuity import ContinuityError, StepKind, step


@dataclass(slots=True)
class DailyConsumption:
    """Counts per local day, with the steps that could not be used and why."""

    by_day: dict[date, int] = field(default_factory=dict)
    rollovers: int = 0
    rejected_steps: list[str] = field(default_factory=list)


def daily_counts(
    readings: Sequence[tuple[int, int]], *, capacity: int, max_rollover_counts: int, tz: ZoneInfo
) -> DailyConsumption:
    """Consumption per local day in register counts, from ``(epoch s, counts)`` readings in time order.

    A fall of the register counts as a rollover only up to ``max_rollover_counts`` (the same bound ingest
    applies, from data/ingest/checks.toml); a larger fall is never paid as consumption.
    """
    result = DailyConsumption()
    by_day = result.by_day
    for (t0, v0), (t1, v1) in itertools.pairwise(readings):
        try:
            s = step(v0, v1, capacity=capacity, max_rollover_counts=max_rollover_counts)
        except ContinuityError as exc:
            result.rejected_steps.append(f"{t0}->{t1}: {exc.message}")
            continue
        if s.kind is StepKind.ROLLOVER:
            result.rollovers += 1
        if s.counts == 0:
            continue
        start = datetime.fromtimestamp(t0, tz)
        last = datetime.fromtimestamp(t1 - 1, tz)
        if start.date() == last.date():  # the common case: the interval lies inside one local day
            by_day[start.date()] = by_day.get(start.date(), 0) + s.counts
            continue
        interval = Interval(datetime.fromtimestamp(t0, UTC), datetime.fromtimestamp(t1, UTC), s.counts)
        for day, counts in split_by_day(interval, tz):
            by_day[day] = by_day.get(day, 0) + counts
    return result
