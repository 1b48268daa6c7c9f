"""The footprint per meter and month (``footprint_months``): bulk writes, and the account's read side.

Reads join each month's footprint with the consumption it priced (``consumption_months``) and unpack both
into per-day lines; a household or community view sums its meters day by day.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, Select, and_, delete, func, select

from tanhui.accounting import months
from tanhui.domain.ids import CommunityId, HouseholdId, MeterId
from tanhui.store.intervals import copy_rows
from tanhui.store.schema import consumption_months, footprint_months, households


@dataclass(frozen=True, slots=True)
class DayLine:
    """One day and one quantity: consumption in millionths of its unit, emissions in mg."""

    day: date
    kind: str
    amount_micro: int
    co2e_mg: int


@dataclass(frozen=True, slots=True)
class FootprintMonth:
    """One meter's month under one factor set: mg per day, packed (accounting/months.py)."""

    meter_id: MeterId
    month: date
    household_id: HouseholdId
    kind: str
    co2e_mg: bytes
    total_mg: int


_COLUMNS = [
    "meter_id",
    "month",
    "factor_set_id",
    "factor_set_hash",
    "household_id",
    "kind",
    "co2e_mg",
    "total_mg",
    "computed_at",
]
_TYPES = ["int4", "date", "text", "text", "int4", "text", "bytea", "int8", "int8"]


def replace_community(
    conn: Connection,
    community_id: CommunityId,
    factor_set_id: str,
    factor_set_hash: str,
    rows: Sequence[FootprintMonth],
    *,
    now: int,
) -> None:
    """Replace the community's footprint under ``factor_set_id`` by ``rows`` (in the caller's transaction)."""
    members = select(households.c.id).where(households.c.community_id == community_id)
    conn.execute(
        delete(footprint_months)
        .where(footprint_months.c.factor_set_id == factor_set_id)
        .where(footprint_months.c.household_id.in_(members))
    )
    values = [
        (
            r.meter_id,
            r.month,
            factor_set_id,
            factor_set_hash,
            r.household_id,
            r.kind,
            r.co2e_mg,
            r.total_mg,
            now,
        )
        for r in rows
    ]
    copy_rows(conn, "footprint_months", _COLUMNS, _TYPES, values)


def _joined(factor_set_id: str) -> Select[date, str, bytes, bytes]:
    f, c = footprint_months.c, consumption_months.c
    return (
        select(f.month, f.kind, c.days, f.co2e_mg)
        .join(consumption_months, and_(c.meter_id == f.meter_id, c.month == f.month))
        .where(f.factor_set_id == factor_set_id)
    )


def _day_lines(conn: Connection, query: Select[date, str, bytes, bytes], since: date | None) -> list[DayLine]:
    amounts: defaultdict[tuple[date, str], int] = defaultdict(int)
    co2e: defaultdict[tuple[date, str], int] = defaultdict(int)
    for month, kind, days, mg in conn.execute(query):
        for day, value in months.daily(month, months.unpack(month, bytes(days))):
            amounts[day, kind] += value
        for day, value in months.daily(month, months.unpack(month, bytes(mg))):
            co2e[day, kind] += value
    return [
        DayLine(day, kind, amounts[day, kind], co2e[day, kind])
        for day, kind in sorted(co2e)
        if since is None or day >= since
    ]


def household_days(
    conn: Connection, household_id: HouseholdId, factor_set_id: str, *, since: date | None = None
) -> list[DayLine]:
    """The household's footprint per day and quantity, summed over its meters, in day order."""
    query = _joined(factor_set_id).where(footprint_months.c.household_id == household_id)
    if since is not None:
        query = query.where(footprint_months.c.month >= months.month_start(since))
    return _day_lines(conn, query, since)


def community_days(conn: Connection, community_id: CommunityId, factor_set_id: str) -> list[DayLine]:
    """The community's footprint per day and quantity, summed over every household's meters."""
    members = select(households.c.id).where(households.c.community_id == community_id)
    query = _joined(factor_set_id).where(footprint_months.c.household_id.in_(members))
    return _day_lines(conn, query, None)


def community_total_mg(conn: Connection, community_id: CommunityId, factor_set_id: str) -> int:
    """The community's whole footprint under ``factor_set_id``, in mg (from the stored month totals)."""
    members = select(households.c.id).where(households.c.community_id == community_id)
    query = (
        select(func.coalesce(func.sum(footprint_months.c.total_mg), 0))
        .where(footprint_months.c.factor_set_id == factor_set_id)
        .where(footprint_months.c.household_id.in_(members))
    )
    return int(conn.execute(query).scalar_one())


def household_community(conn: Connection, household_id: int) -> CommunityId | None:
    row = conn.execute(select(households.c.community_id).where(households.c.id == household_id)).first()
    return None if row is None else CommunityId(row.community_id)


def household_count(conn: Connection, community_id: CommunityId) -> int:
    query = select(func.count()).select_from(households).where(households.c.community_id == community_id)
    return int(conn.execute(query).scalar_one())
