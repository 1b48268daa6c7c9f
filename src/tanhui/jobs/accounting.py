"""Daily accounting: readings → consumption per meter and local day → footprint under a factor set.

The job recomputes a community's daily footprint from its readings and replaces the previous result
for that factor set in one transaction; derived data is a pure function of readings and the factor set.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, delete, insert

from tanhui.accounting.consumption import daily_counts
from tanhui.accounting.factors import FactorSet
from tanhui.accounting.footprint import to_milligrams
from tanhui.domain.ids import CommunityId
from tanhui.ingest.rules import IngestRules
from tanhui.store import readings, registry
from tanhui.store.schema import footprint_daily

MICRO = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class AccountingSummary:
    meters: int
    rows: int
    kg_co2e: Decimal
    rollovers: int
    rejected_steps: int


def account_community(
    conn: Connection,
    community_id: CommunityId,
    factor_set: FactorSet,
    *,
    now: int,
    rules: IngestRules | None = None,
) -> AccountingSummary:
    """Recompute ``community_id``'s daily footprint under ``factor_set``.

    Register falls are judged with the ingest rules (``data/ingest/checks.toml``), so accounting never
    pays a step that ingest would have refused.
    """
    rules = rules if rules is not None else IngestRules.load()
    community = registry.get_community(conn, community_id)
    tz = ZoneInfo(community.timezone)
    rows: list[dict[str, object]] = []
    total_mg = rollovers = rejected = 0
    meters = [m for m in registry.meters_of_community(conn, community_id) if m.household_id is not None]
    for meter in meters:
        factor = factor_set.factor(meter.kind).value
        series = readings.of_meter(conn, meter.id, meter.kind.register)
        result = daily_counts(
            series,
            capacity=meter.capacity,
            max_rollover_counts=rules.max_rollover_counts(meter.capacity),
            tz=tz,
        )
        rollovers += result.rollovers
        rejected += len(result.rejected_steps)
        for day, counts in sorted(result.by_day.items()):
            amount = counts * meter.resolution
            co2e_mg = to_milligrams(amount * factor)
            total_mg += co2e_mg
            rows.append(
                {
                    "meter_id": meter.id,
                    "day": day,
                    "factor_set_id": factor_set.id,
                    "household_id": meter.household_id,
                    "kind": meter.kind.value,
                    "amount_micro": int(amount * MICRO),
                    "co2e_mg": co2e_mg,
                    "computed_at": now,
                }
            )
    meter_ids = [m.id for m in meters]
    for start in range(0, len(meter_ids), 500):
        conn.execute(
            delete(footprint_daily)
            .where(footprint_daily.c.factor_set_id == factor_set.id)
            .where(footprint_daily.c.meter_id.in_(meter_ids[start : start + 500]))
        )
    for start in range(0, len(rows), 5000):
        conn.execute(insert(footprint_daily), rows[start : start + 5000])
    return AccountingSummary(len(meters), len(rows), Decimal(total_mg) / MICRO, rollovers, rejected)
