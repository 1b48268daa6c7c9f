"""Daily accounting in two steps: readings → daily consumption intervals → footprint under a factor set.

1. :func:`derive_intervals` turns each meter's register readings into consumption per local day and stores
   them per meter and month (``consumption_months``). It depends on readings only, not on any factor set;
   days the readings say nothing about keep what was stored (imported history, ``intervals.add_history``).
2. :func:`price_community` prices every stored interval of a community under one factor set and replaces
   that set's result (``footprint_months``), a whole community in a few array operations.

:func:`account_community` runs both. Each replaces its previous output in the caller's transaction;
derived data is a pure function of readings and the factor set.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import Connection

from tanhui.accounting import months
from tanhui.accounting.consumption import daily_counts
from tanhui.accounting.errors import AccountingError
from tanhui.accounting.factors import FactorSet
from tanhui.accounting.months import KINDS, MonthTable
from tanhui.accounting.pricing import NO_DATA, price_days, total
from tanhui.domain.ids import CommunityId
from tanhui.ingest.rules import IngestRules
from tanhui.store import footprints, intervals, readings, registry
from tanhui.store.intervals import MonthRow

MICRO = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class IntervalSummary:
    meters: int
    months: int
    rollovers: int
    rejected_steps: int


@dataclass(slots=True)
class PricingSummary:
    """What pricing did, and where its time went (seconds per stage), for operators and the benchmark."""

    months: int = 0
    meter_days: int = 0
    total_mg: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def kg_co2e(self) -> Decimal:
        return Decimal(self.total_mg) / MICRO


@dataclass(frozen=True, slots=True)
class AccountingSummary:
    meters: int
    rows: int
    kg_co2e: Decimal
    rollovers: int
    rejected_steps: int


def _micro_per_count(resolution: Decimal) -> int:
    micro = resolution * MICRO
    if micro != micro.to_integral_value():
        raise AccountingError(f"a meter resolution of {resolution} is finer than a millionth of its unit")
    return int(micro)


def derive_intervals(
    conn: Connection, community_id: CommunityId, *, now: int, rules: IngestRules | None = None
) -> IntervalSummary:
    """Recompute the daily consumption of every installed meter of ``community_id`` from its readings.

    Register falls are judged with the ingest rules (``data/ingest/checks.toml``), so accounting never
    pays a step that ingest would have refused.
    """
    rules = rules if rules is not None else IngestRules.load()
    tz = ZoneInfo(registry.get_community(conn, community_id).timezone)
    meters = registry.meters_of_community(conn, community_id)
    # Months stored before (imported history among them) keep the days readings say nothing about.
    stored = {(r.meter_id, r.month): r for r in intervals.of_meters(conn, [m.id for m in meters])}
    rows: list[MonthRow] = []
    rollovers = rejected = 0
    for meter in meters:
        if meter.household_id is None:
            continue
        series = readings.of_meter(conn, meter.id, meter.kind.register)
        result = daily_counts(
            series,
            capacity=meter.capacity,
            max_rollover_counts=rules.max_rollover_counts(meter.capacity),
            tz=tz,
        )
        rollovers += result.rollovers
        rejected += len(result.rejected_steps)
        per_count = _micro_per_count(meter.resolution)
        by_day = {day: counts * per_count for day, counts in result.by_day.items()}
        for month, metered in sorted(months.group(by_day).items()):
            old = stored.pop((meter.id, month), None)
            days = metered if old is None else months.fill(metered, months.unpack(month, old.days))
            rows.append(
                MonthRow(
                    meter.id, month, meter.household_id, meter.kind.value, months.pack(days), total(days)
                )
            )
    assigned = {m.id for m in meters if m.household_id is not None}
    rows += [r for (meter_id, _), r in stored.items() if meter_id in assigned]
    intervals.replace(conn, [m.id for m in meters], rows, now=now)
    installed = sum(1 for m in meters if m.household_id is not None)
    return IntervalSummary(installed, len(rows), rollovers, rejected)


def price_community(
    conn: Connection, community_id: CommunityId, factor_set: FactorSet, *, now: int
) -> PricingSummary:
    """Price every stored interval of ``community_id`` under ``factor_set``; replace that set's result."""
    summary = PricingSummary()
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        summary.seconds[stage] = summary.seconds.get(stage, 0.0) + time.perf_counter() - clock
        clock = time.perf_counter()

    parts: list[MonthTable] = []
    for table in intervals.tables_of_community(conn, community_id):
        lap("read")
        mg = np.full_like(table.values, NO_DATA)
        for code, quantity in enumerate(KINDS):
            rows = table.kind == code
            if rows.any():
                mg[rows] = price_days(table.values[rows], factor_set.factor(quantity).value)
        priced = table.with_values(mg)
        summary.months += len(priced)
        summary.meter_days += int((table.values != NO_DATA).sum())
        summary.total_mg += int(priced.totals().sum())
        parts.append(priced)
        lap("price")
    footprints.replace_community(conn, community_id, factor_set.id, factor_set.content_hash, parts, now=now)
    lap("write")
    return summary


def account_community(
    conn: Connection,
    community_id: CommunityId,
    factor_set: FactorSet,
    *,
    now: int,
    rules: IngestRules | None = None,
) -> AccountingSummary:
    """Derive ``community_id``'s daily consumption from its readings and price it under ``factor_set``."""
    derived = derive_intervals(conn, community_id, now=now, rules=rules)
    priced = price_community(conn, community_id, factor_set, now=now)
    return AccountingSummary(
        derived.meters, priced.meter_days, priced.kg_co2e, derived.rollovers, derived.rejected_steps
    )
