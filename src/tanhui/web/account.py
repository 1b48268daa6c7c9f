"""The carbon account as pages and API show it, with the household-access rule in one place."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import Connection, select

from tanhui.domain.ids import CommunityId, HouseholdId
from tanhui.domain.quantity import Quantity
from tanhui.domain.roles import Role
from tanhui.store import footprints, quarantine, readings, settings
from tanhui.store.footprints import DayLine
from tanhui.store.schema import households
from tanhui.store.users import User
from tanhui.web.access import NotFound

MICRO = Decimal(1_000_000)


@dataclass(slots=True)
class AccountDay:
    """One local day of a household or a community."""

    day: date
    amounts: dict[Quantity, Decimal] = field(default_factory=dict)
    kg_by_kind: dict[Quantity, Decimal] = field(default_factory=dict)

    @property
    def kg_co2e(self) -> Decimal:
        return sum(self.kg_by_kind.values(), Decimal(0))


@dataclass(frozen=True, slots=True)
class Account:
    household_id: HouseholdId
    code: str
    persons: int
    factor_set_id: str
    days: list[AccountDay]

    @property
    def total_kg(self) -> Decimal:
        return sum((d.kg_co2e for d in self.days), Decimal(0))

    def total(self, quantity: Quantity) -> Decimal:
        return sum((d.amounts.get(quantity, Decimal(0)) for d in self.days), Decimal(0))

    def kg(self, quantity: Quantity) -> Decimal:
        return sum((d.kg_by_kind.get(quantity, Decimal(0)) for d in self.days), Decimal(0))


@dataclass(frozen=True, slots=True)
class CommunityOverview:
    community_id: CommunityId
    factor_set_id: str
    households: int
    readings: int
    quarantined: dict[str, int]
    days: list[AccountDay]

    @property
    def total_kg(self) -> Decimal:
        return sum((d.kg_co2e for d in self.days), Decimal(0))


# No figure about fewer households than this is shown, so that a median never narrows to a neighbour
# (Tanhui privacy rule; k-anonymity in the sense of Sweeney, 2002, with k = 5).
MIN_PEERS = 5


@dataclass(frozen=True, slots=True)
class PeerComparison:
    """The household's month beside the median of similar households (same size, same community)."""

    month: date
    persons: int
    peers: int
    median_kg: Decimal
    yours_kg: Decimal


def peer_comparison(
    conn: Connection, view: Account, community_id: CommunityId, factor_set_id: str
) -> PeerComparison | None:
    """The comparison for the month of the account's latest day, or None when too few peers take part.

    Peers are the other households of the same size whose residents have not opted out
    (store.settings); the household itself is compared whatever its own choice.
    """
    if not view.days:
        return None
    month = view.days[-1].day.replace(day=1)
    totals = footprints.month_totals_by_household(
        conn, community_id, factor_set_id, month, persons=view.persons
    )
    yours = totals.pop(view.household_id, None)
    opted_out = settings.excluded_from_peer_comparison(conn, list(totals))
    peers = sorted(mg for household, mg in totals.items() if household not in opted_out)
    if yours is None or len(peers) < MIN_PEERS:
        return None
    middle = len(peers) // 2
    median_mg = Decimal(peers[middle]) if len(peers) % 2 else Decimal(peers[middle - 1] + peers[middle]) / 2
    return PeerComparison(month, view.persons, len(peers), median_mg / MICRO, Decimal(yours) / MICRO)


def _days(lines: list[DayLine]) -> list[AccountDay]:
    by_day: dict[date, AccountDay] = {}
    for line in lines:
        day = by_day.setdefault(line.day, AccountDay(line.day))
        kind = Quantity(line.kind)
        day.amounts[kind] = Decimal(line.amount_micro) / MICRO
        day.kg_by_kind[kind] = Decimal(line.co2e_mg) / MICRO
    return [by_day[d] for d in sorted(by_day)]


def visible_household(conn: Connection, user: User, household_id: int) -> HouseholdId:
    """``household_id`` if ``user`` may see it, else :class:`NotFound`.

    A resident sees only their own household; an operator sees the households of their community.
    Both failures are a 404, so a resident cannot even learn which household ids exist.
    """
    if user.role is Role.RESIDENT:
        if user.household_id != household_id:
            raise NotFound()
        return HouseholdId(household_id)
    if user.role is Role.OPERATOR and footprints.household_community(conn, household_id) == user.community_id:
        return HouseholdId(household_id)
    raise NotFound()


def household_account(conn: Connection, user: User, household_id: int, factor_set_id: str) -> Account:
    visible = visible_household(conn, user, household_id)
    row = conn.execute(
        select(households.c.code, households.c.persons).where(households.c.id == visible)
    ).one()
    lines = footprints.household_days(conn, visible, factor_set_id)
    return Account(visible, row.code, int(row.persons), factor_set_id, _days(lines))


def community_overview(conn: Connection, community_id: CommunityId, factor_set_id: str) -> CommunityOverview:
    return CommunityOverview(
        community_id=community_id,
        factor_set_id=factor_set_id,
        households=footprints.household_count(conn, community_id),
        readings=readings.count(conn, community_id),
        quarantined=quarantine.count_by_reason(conn, community_id),
        days=_days(footprints.community_days(conn, community_id, factor_set_id)),
    )
