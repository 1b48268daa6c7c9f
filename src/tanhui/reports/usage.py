"""Accounted consumption read back from the store, as the accounting core's ``Usage``.

The accounting job (:mod:`tanhui.jobs.accounting`) stores each meter's consumption per local day,
packed per month (``consumption_months``, millionths of the accounting unit), independent of any factor
set. A report reads it back and prices it under whichever sets it shows with the pure core, so a
statement can put a Chinese and a European set side by side whatever set the daily job ran.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import Connection, select

from tanhui.accounting import months
from tanhui.accounting.account import Usage
from tanhui.domain.ids import CommunityId, HouseholdId, MeterId
from tanhui.domain.quantity import Quantity
from tanhui.reports.errors import ReportError
from tanhui.store import registry
from tanhui.store.registry import Community
from tanhui.store.schema import consumption_months, households, meters

MICRO = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class Consumption:
    """Consumption of some households over a period, with each meter's serial."""

    community: Community
    usage: tuple[Usage, ...]
    serials: dict[MeterId, str]
    household_codes: dict[HouseholdId, str]


def community_by_slug(conn: Connection, slug: str) -> Community:
    """The community ``slug``, or :class:`ReportError` naming it."""
    found = registry.find_community(conn, slug)
    if found is None:
        raise ReportError(f"no community {slug!r}", code="unknown_community")
    return found


def consumption(
    conn: Connection,
    community: Community,
    *,
    first: date,
    last: date,
    household_code: str | None = None,
) -> Consumption:
    """The accounted consumption of the community (or one household of it) from ``first`` to ``last``.

    An unknown household code raises :class:`ReportError`; a period without accounted data gives an
    empty ``usage`` (the caller decides whether that is an error).
    """
    household_id: HouseholdId | None = None
    if household_code is not None:
        household_id = registry.household_by_code(conn, CommunityId(community.id), household_code)
        if household_id is None:
            raise ReportError(
                f"no household {household_code!r} in community {community.slug}", code="unknown_household"
            )
    codes = {
        HouseholdId(int(row.id)): str(row.code)
        for row in conn.execute(
            select(households.c.id, households.c.code).where(households.c.community_id == community.id)
        )
    }
    c = consumption_months.c
    query = (
        select(c.meter_id, c.household_id, c.kind, c.month, c.days, meters.c.serial)
        .join(meters, meters.c.id == c.meter_id)
        .join(households, households.c.id == c.household_id)
        .where(households.c.community_id == community.id)
        .where(c.month >= months.month_start(first), c.month <= last)
        .order_by(c.meter_id, c.month)
    )
    if household_id is not None:
        query = query.where(c.household_id == household_id)
    usage: list[Usage] = []
    serials: dict[MeterId, str] = {}
    for row in conn.execute(query):
        meter_id = MeterId(int(row.meter_id))
        serials[meter_id] = str(row.serial)
        for day, micro in months.daily(row.month, months.unpack(row.month, bytes(row.days))):
            if first <= day <= last:
                usage.append(
                    Usage(
                        meter_id=meter_id,
                        household_id=HouseholdId(int(row.household_id)),
                        quantity=Quantity(row.kind),
                        day=day,
                        amount=Decimal(micro) / MICRO,
                    )
                )
    usage.sort(key=lambda u: (u.day, u.meter_id))
    return Consumption(community, tuple(usage), serials, codes)
