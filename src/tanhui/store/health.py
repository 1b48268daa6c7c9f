"""Data health per meter: when each meter was last seen, how complete its series is, where it went silent.

What operators need to find a dead meter, a flaky concentrator or a meter whose readings keep landing in
quarantine. A gap is reported, never filled: a cumulative register still gives the total over the gap,
and spreading it over the missing intervals would invent data (meter-protocols.md §7, Gaps). The
thresholds are the ingest rules' ``[gaps]`` (``data/ingest/checks.toml``).

Definitions, for a window ``[start, end)``:

- a meter is *in service* from the start of its installation day (in the community's time zone) until
  the start of its removal day, if any; completeness and gaps look only at the part of the window in
  service, so that a meter installed on Tuesday is not blamed for Monday;
- only the meter's primary register (:attr:`tanhui.domain.quantity.Quantity.register`) counts for
  ``readings``, ``expected``, ``completeness`` and ``gaps``; ``last_seen`` is the latest meter time of any
  register over all time, since any reading shows that the meter and its gateway are alive;
- quarantine counts are over all time, matched on the quarantined reading's meter serial: a serial
  reused by a replacement meter shares its count with the meter it replaced.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, select

from tanhui.domain.ids import CommunityId, MeterId
from tanhui.domain.quantity import Quantity
from tanhui.meters import gaps as gap_rules
from tanhui.meters.gaps import Gap
from tanhui.store import readings, registry
from tanhui.store.schema import households, meters, quarantine


class GapRules(Protocol):
    """The ``[gaps]`` thresholds, as :class:`tanhui.ingest.rules.IngestRules` carries them.

    A protocol rather than an import: the store sits below ingest (docs/architecture.md, Packages).
    """

    @property
    def expected_interval_seconds(self) -> int: ...

    @property
    def gap_factor(self) -> int: ...


@dataclass(frozen=True, slots=True)
class MeterHealth:
    """How one meter's data looks over a window (see the module docstring for each definition)."""

    meter_id: MeterId
    serial: str
    kind: Quantity
    household: str | None
    last_seen: int | None
    readings: int
    expected: int
    completeness: float
    gaps: tuple[Gap, ...]
    quarantined_open: int
    quarantined_total: int


@dataclass(frozen=True, slots=True)
class _Meter:
    id: MeterId
    serial: str
    kind: Quantity
    household: str | None
    in_service_from: int
    in_service_until: int | None


@dataclass(slots=True)
class _Seen:
    """What the single pass over a meter's readings collects."""

    last: int | None = None
    window: list[int] = field(default_factory=list)


def meter_health(
    conn: Connection, community_id: CommunityId, *, start: int, end: int, rules: GapRules
) -> list[MeterHealth]:
    """The data health of every meter of a community over ``[start, end)`` (epoch seconds), worst first.

    Worst first means lowest completeness, then most gap time, then serial. One pass over the stored
    readings of the community's meters and one grouped query on quarantine, whatever the meter count.
    """
    if end < start:
        raise ValueError(f"the window ends ({end}) before it starts ({start}); give start <= end")
    zone = ZoneInfo(registry.get_community(conn, community_id).timezone)
    fleet = _meters(conn, community_id, zone)
    seen: defaultdict[MeterId, _Seen] = defaultdict(_Seen)
    primary = {m.id: m.kind.register for m in fleet}
    for record in readings.scan(conn, list(primary)):
        entry = seen[record.meter_id]
        if entry.last is None or record.meter_time > entry.last:
            entry.last = record.meter_time
        if record.register == primary[record.meter_id] and start <= record.meter_time < end:
            entry.window.append(record.meter_time)
    held = _quarantined(conn, community_id)
    found = [
        _health(m, seen[m.id], held.get(m.serial, (0, 0)), start=start, end=end, rules=rules) for m in fleet
    ]
    found.sort(key=lambda h: (h.completeness, -sum(g.seconds for g in h.gaps), h.serial, h.meter_id))
    return found


def _health(
    meter: _Meter, seen: _Seen, held: tuple[int, int], *, start: int, end: int, rules: GapRules
) -> MeterHealth:
    interval = rules.expected_interval_seconds
    limit = interval * rules.gap_factor
    lo = max(start, meter.in_service_from)
    hi = end if meter.in_service_until is None else min(end, meter.in_service_until)
    hi = max(lo, hi)
    times = sorted(t for t in seen.window if lo <= t < hi)
    # The same rule as gap_rules.completeness: a window shorter than one interval still expects one
    # reading, and a meter not in service at all in the window is expected to report nothing.
    expected = 0 if hi == lo else max(1, (hi - lo) // interval)
    found: list[Gap] = []
    # The silences at the window's edges: before the first reading (or the whole window, when there is
    # none) and since the last one, when they exceed the same limit as a silence between two readings.
    if hi > lo and (times[0] if times else hi) - lo > limit:
        found.append(Gap(lo, times[0] if times else hi))
    found.extend(gap_rules.gaps(times, expected_interval=interval, factor=rules.gap_factor))
    if times and hi - times[-1] > limit:
        found.append(Gap(times[-1], hi))
    return MeterHealth(
        meter_id=meter.id,
        serial=meter.serial,
        kind=meter.kind,
        household=meter.household,
        last_seen=seen.last,
        readings=len(seen.window),
        expected=expected,
        completeness=gap_rules.completeness(times, start=lo, end=hi, expected_interval=interval),
        gaps=tuple(found),
        quarantined_open=held[0],
        quarantined_total=held[1],
    )


def _meters(conn: Connection, community_id: CommunityId, zone: ZoneInfo) -> list[_Meter]:
    query = (
        select(
            meters.c.id,
            meters.c.serial,
            meters.c.kind,
            households.c.code,
            meters.c.installed_on,
            meters.c.removed_on,
        )
        .join_from(meters, households, households.c.id == meters.c.household_id, isouter=True)
        .where(meters.c.community_id == community_id)
        .order_by(meters.c.id)
    )
    return [
        _Meter(
            id=MeterId(int(row.id)),
            serial=row.serial,
            kind=Quantity(row.kind),
            household=row.code,
            in_service_from=_day_start(row.installed_on, zone),
            in_service_until=None if row.removed_on is None else _day_start(row.removed_on, zone),
        )
        for row in conn.execute(query)
    ]


def _day_start(day: date, zone: ZoneInfo) -> int:
    # Installation and removal dates are the community's calendar days, not UTC ones: in Baoting (UTC+8)
    # a meter installed on the 25th may report from 16:00 UTC on the 24th.
    return int(datetime.combine(day, time(), zone).timestamp())


def _quarantined(conn: Connection, community_id: CommunityId) -> dict[str, tuple[int, int]]:
    """``serial -> (open, total)`` quarantine entries of the community that name a meter."""
    query = (
        select(quarantine.c.meter_serial, quarantine.c.status, func.count())
        .where(quarantine.c.community_id == community_id, quarantine.c.meter_serial.is_not(None))
        .group_by(quarantine.c.meter_serial, quarantine.c.status)
    )
    counts: dict[str, tuple[int, int]] = {}
    for serial, status, n in conn.execute(query):
        open_, total = counts.get(serial, (0, 0))
        counts[serial] = (open_ + (int(n) if status == "open" else 0), total + int(n))
    return counts
