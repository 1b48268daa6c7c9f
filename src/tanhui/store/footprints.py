"""Read side of the daily footprint: a household's account and a community's totals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, func, select

from tanhui.domain.ids import CommunityId, HouseholdId
from tanhui.store.schema import footprint_daily, households


@dataclass(frozen=True, slots=True)
class DayLine:
    """One day and one quantity: consumption in millionths of its unit, emissions in mg."""

    day: date
    kind: str
    amount_micro: int
    co2e_mg: int


def household_days(
    conn: Connection, household_id: HouseholdId, factor_set_id: str, *, since: date | None = None
) -> list[DayLine]:
    query = (
        select(
            footprint_daily.c.day,
            footprint_daily.c.kind,
            func.sum(footprint_daily.c.amount_micro),
            func.sum(footprint_daily.c.co2e_mg),
        )
        .where(footprint_daily.c.household_id == household_id)
        .where(footprint_daily.c.factor_set_id == factor_set_id)
        .group_by(footprint_daily.c.day, footprint_daily.c.kind)
        .order_by(footprint_daily.c.day, footprint_daily.c.kind)
    )
    if since is not None:
        query = query.where(footprint_daily.c.day >= since)
    return [DayLine(d, k, int(a), int(c)) for d, k, a, c in conn.execute(query)]


def community_days(conn: Connection, community_id: CommunityId, factor_set_id: str) -> list[DayLine]:
    query = (
        select(
            footprint_daily.c.day,
            footprint_daily.c.kind,
            func.sum(footprint_daily.c.amount_micro),
            func.sum(footprint_daily.c.co2e_mg),
        )
        .join(households, households.c.id == footprint_daily.c.household_id)
        .where(households.c.community_id == community_id)
        .where(footprint_daily.c.factor_set_id == factor_set_id)
        .group_by(footprint_daily.c.day, footprint_daily.c.kind)
        .order_by(footprint_daily.c.day, footprint_daily.c.kind)
    )
    return [DayLine(d, k, int(a), int(c)) for d, k, a, c in conn.execute(query)]


def household_community(conn: Connection, household_id: int) -> CommunityId | None:
    row = conn.execute(select(households.c.community_id).where(households.c.id == household_id)).first()
    return None if row is None else CommunityId(row.community_id)


def household_count(conn: Connection, community_id: CommunityId) -> int:
    query = select(func.count()).select_from(households).where(households.c.community_id == community_id)
    return int(conn.execute(query).scalar_one())
