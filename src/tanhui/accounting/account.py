"""The household carbon account: footprint per meter, day and month, location- and market-based.

Dual reporting as GHG Protocol Scope 2 Guidance (2015) §7.1 asks of grid electricity:

- **location-based** (Chapter 4 methods, Chapter 6 calculation): each kWh times the grid-average
  factor of the factor set;
- **market-based** (Chapter 6, market-based factor hierarchy): kWh covered by retired certificates
  take 0, the rest take the
  set's residual factor. A set without a residual factor reports market-based as unavailable, with its
  reason, rather than substituting a number nobody published.

Gas burned at home is Scope 1 stationary combustion and water an allocation of the utility's
emissions; neither depends on contractual instruments, so they enter both totals alike.

Every account records the factor set (id and content hash), the report it belongs to, the certificate
rule and each certificate claim, so a verifier can re-run it (ISO 14064-1:2018 Clause 6, quantification,
and Clause 8, document retention; ISO 14064-3:2019, evidence traced to source). Reported figures are
footprints only: a covered kWh is an attribute claim, never an avoided emission (emission-factors.md
§1.3, rule 3).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TypeVar

from tanhui.accounting.errors import AccountingError
from tanhui.accounting.factors import Factor, FactorSet, Method
from tanhui.accounting.market import (
    AllocationRule,
    Certificate,
    CertificateRegister,
    Claim,
    Demand,
    Rejection,
    allocate,
)
from tanhui.domain.ids import CommunityId, HouseholdId, MeterId
from tanhui.domain.quantity import Quantity

ZERO = Decimal(0)
K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Usage:
    """Consumption of one meter on one local day.

    ``unit`` defaults to the quantity's accounting unit (kWh, m3), which is what meters measure; a
    non-metered amount states its own (``kg`` of bottled LPG). It must be the unit the factor is per.
    """

    meter_id: MeterId
    household_id: HouseholdId
    quantity: Quantity
    day: date
    amount: Decimal
    unit: str = ""

    @property
    def accounting_unit(self) -> str:
        """The unit of :attr:`amount`."""
        return self.unit or self.quantity.unit


@dataclass(frozen=True, slots=True)
class Totals:
    """Summed footprint; ``market_kg`` is None when the factor set has no market-based figure."""

    location_kg: Decimal = ZERO
    market_kg: Decimal | None = ZERO
    covered_kwh: Decimal = ZERO

    def __add__(self, other: Totals) -> Totals:
        market = (
            None if self.market_kg is None or other.market_kg is None else self.market_kg + other.market_kg
        )
        return Totals(self.location_kg + other.location_kg, market, self.covered_kwh + other.covered_kwh)


@dataclass(frozen=True, slots=True)
class AccountLine:
    """One meter-day: its amount, the factors applied and the emissions under both methods."""

    usage: Usage
    factor: Factor
    kg_location: Decimal
    residual: Factor | None
    covered_kwh: Decimal
    kg_market: Decimal | None

    @property
    def meter_id(self) -> MeterId:
        return self.usage.meter_id

    @property
    def household_id(self) -> HouseholdId:
        return self.usage.household_id

    @property
    def quantity(self) -> Quantity:
        return self.usage.quantity

    @property
    def day(self) -> date:
        return self.usage.day

    @property
    def amount(self) -> Decimal:
        return self.usage.amount

    @property
    def unit(self) -> str:
        """The unit of :attr:`amount`: the unit the factor is stated per."""
        return self.factor.per_unit

    @property
    def totals(self) -> Totals:
        return Totals(self.kg_location, self.kg_market, self.covered_kwh)


def month_of(day: date) -> str:
    """The calendar month of ``day`` as ``YYYY-MM``: the key of monthly totals."""
    return f"{day.year:04d}-{day.month:02d}"


@dataclass(frozen=True, slots=True)
class Account:
    """A footprint under one factor set for one household or one community, over a period."""

    factor_set_id: str
    factor_set_hash: str
    regime: str
    report: str
    rule: AllocationRule
    lines: tuple[AccountLine, ...]
    claims: tuple[Claim, ...] = ()
    register: CertificateRegister = field(default_factory=CertificateRegister)
    rejected: tuple[Rejection, ...] = ()
    market_unavailable: str = ""
    community_id: CommunityId | None = None

    @property
    def total(self) -> Totals:
        """The whole account."""
        return self._sum(self.lines)

    def _sum(self, lines: Sequence[AccountLine]) -> Totals:
        empty = Totals(market_kg=None) if self.market_unavailable else Totals()
        result = empty
        for item in lines:
            result = result + item.totals
        return result

    def _group(self, key: Callable[[AccountLine], K]) -> dict[K, Totals]:
        groups: dict[K, list[AccountLine]] = defaultdict(list)
        for item in self.lines:
            groups[key(item)].append(item)
        return {k: self._sum(v) for k, v in sorted(groups.items(), key=lambda kv: str(kv[0]))}

    def by_day(self) -> dict[date, Totals]:
        """Totals per local day."""
        return self._group(lambda x: x.day)

    def by_month(self) -> dict[str, Totals]:
        """Totals per calendar month (``YYYY-MM``)."""
        return self._group(lambda x: month_of(x.day))

    def by_meter(self) -> dict[MeterId, Totals]:
        """Totals per meter."""
        return self._group(lambda x: x.meter_id)

    def by_meter_day(self) -> dict[tuple[MeterId, date], Totals]:
        """Totals per meter and day."""
        return self._group(lambda x: (x.meter_id, x.day))

    def by_meter_month(self) -> dict[tuple[MeterId, str], Totals]:
        """Totals per meter and month."""
        return self._group(lambda x: (x.meter_id, month_of(x.day)))

    def by_quantity(self) -> dict[Quantity, Totals]:
        """Totals per quantity (electricity, gas, water)."""
        return self._group(lambda x: x.quantity)

    def by_household(self) -> dict[HouseholdId, Totals]:
        """Totals per household: for a community account they sum to :attr:`total`."""
        return self._group(lambda x: x.household_id)

    def households(self) -> list[HouseholdId]:
        """The households with lines in the account."""
        return sorted({x.household_id for x in self.lines})

    def household(self, household_id: HouseholdId) -> Account:
        """The part of the account that belongs to ``household_id``, with its certificate claims."""
        return Account(
            factor_set_id=self.factor_set_id,
            factor_set_hash=self.factor_set_hash,
            regime=self.regime,
            report=self.report,
            rule=self.rule,
            lines=tuple(x for x in self.lines if x.household_id == household_id),
            claims=tuple(c for c in self.claims if c.household_id == household_id),
            register=self.register,
            rejected=self.rejected,
            market_unavailable=self.market_unavailable,
            community_id=self.community_id,
        )

    def holds_certificates(self) -> bool:
        """Whether any certificate covers this account's consumption.

        Product rule (emission-factors.md §1.3, rule 2): the market-based figure is shown to a household
        only where it, or its community on its behalf, holds retired certificates; the core computes it
        always so that a community's dual report (Scope 2 Guidance §7.1) is complete.
        """
        return bool(self.claims)


def _price(
    usage: Usage, factor_set: FactorSet, factor_keys: Mapping[MeterId, str]
) -> tuple[Factor, Factor | None]:
    key = factor_keys.get(usage.meter_id)
    factor = factor_set.entry(key) if key else factor_set.factor(usage.quantity)
    if factor.quantity is not usage.quantity:
        raise AccountingError(
            f"meter {usage.meter_id} measures {usage.quantity.value} but factor {factor.key} of "
            f"{factor_set.id} prices {factor.quantity.value}",
            code="factor_quantity_mismatch",
        )
    if factor.per_unit != usage.accounting_unit:
        raise AccountingError(
            f"meter {usage.meter_id} reports {usage.accounting_unit} but factor {factor.key} of "
            f"{factor_set.id} is per {factor.per_unit}: convert the amount with a sourced factor first",
            code="unit_mismatch",
        )
    if factor.method == Method.MARKET_RESIDUAL:
        raise AccountingError(
            f"factor {factor.key} of {factor_set.id} is a residual mix: it prices market-based kWh only",
            code="factor_method_mismatch",
        )
    valid_from = factor.valid_from or factor_set.valid_from
    valid_to = factor.valid_to or factor_set.valid_to
    if not valid_from <= usage.day <= valid_to:
        raise AccountingError(
            f"factor set {factor_set.id} applies to consumption from {valid_from} to {valid_to}, "
            f"not to {usage.day} (meter {usage.meter_id}): choose the set in force for that day",
            code="outside_validity",
        )
    residual = factor_set.residual(usage.quantity) if usage.quantity is Quantity.ELECTRICITY else None
    return factor, residual


def _check_usage(usage: Sequence[Usage]) -> None:
    seen: dict[MeterId, tuple[HouseholdId, Quantity]] = {}
    days: set[tuple[MeterId, date]] = set()
    for item in usage:
        if not item.amount.is_finite() or item.amount < 0:
            raise AccountingError(
                f"meter {item.meter_id} on {item.day}: amount {item.amount} must be finite and non-negative",
                code="negative_amount",
            )
        if (item.meter_id, item.day) in days:
            raise AccountingError(
                f"meter {item.meter_id} has two usage records on {item.day}: sum them first",
                code="duplicate_usage",
            )
        days.add((item.meter_id, item.day))
        owner = seen.setdefault(item.meter_id, (item.household_id, item.quantity))
        if owner != (item.household_id, item.quantity):
            raise AccountingError(
                f"meter {item.meter_id} appears as {owner[1].value} of household {owner[0]} and as "
                f"{item.quantity.value} of household {item.household_id}",
                code="inconsistent_meter",
            )


def _account(
    usage: Sequence[Usage],
    factor_set: FactorSet,
    *,
    report: str,
    certificates: Sequence[Certificate],
    register: CertificateRegister | None,
    rule: AllocationRule | None,
    factor_keys: Mapping[MeterId, str] | None,
    community_id: CommunityId | None,
    households: frozenset[HouseholdId] | None,
) -> Account:
    if not report:
        raise AccountingError(
            "an account needs a report id to record its claims under", code="missing_report"
        )
    _check_usage(usage)
    keys = factor_keys or {}
    priced = [(item, *_price(item, factor_set, keys)) for item in usage]
    rule = rule or AllocationRule()
    market_available = not factor_set.market_based_unavailable
    if certificates and not market_available:
        raise AccountingError(
            f"certificates were offered but factor set {factor_set.id} has no market-based figure: "
            f"{factor_set.market_based_unavailable}",
            code="market_unavailable",
        )
    demands = [
        Demand(item.household_id, item.meter_id, item.day, item.amount)
        for item, _, residual in priced
        if residual is not None
    ]
    allocation = allocate(
        demands,
        certificates,
        regime=factor_set.regime,
        report=report,
        register=register,
        rule=rule,
        community_id=community_id,
        households=households,
    )
    lines = []
    for item, factor, residual in sorted(priced, key=lambda p: (p[0].day, p[0].household_id, p[0].meter_id)):
        kg_location = item.amount * factor.value
        covered = allocation.covered_kwh(item.meter_id, item.day)
        if not market_available:
            kg_market = None
        elif residual is None:
            kg_market = kg_location  # Scope 1 gas, water allocation: no contractual instruments apply
        else:
            kg_market = (item.amount - covered) * residual.value
        lines.append(AccountLine(item, factor, kg_location, residual, covered, kg_market))
    return Account(
        factor_set_id=factor_set.id,
        factor_set_hash=factor_set.content_hash,
        regime=factor_set.regime,
        report=report,
        rule=rule,
        lines=tuple(lines),
        claims=allocation.claims,
        register=allocation.register,
        rejected=allocation.rejected,
        market_unavailable=factor_set.market_based_unavailable,
        community_id=community_id,
    )


def household_account(
    usage: Sequence[Usage],
    factor_set: FactorSet,
    *,
    report: str,
    certificates: Sequence[Certificate] = (),
    register: CertificateRegister | None = None,
    rule: AllocationRule | None = None,
    factor_keys: Mapping[MeterId, str] | None = None,
) -> Account:
    """One household's account under ``factor_set`` (Scope 2 Guidance §7.1 dual reporting).

    ``usage`` holds the household's meter-days; ``certificates`` those retired for the household
    (community certificates belong in :func:`community_account`). ``factor_keys`` picks, per meter,
    another factor of the set than the quantity's primary one (e.g. ``electricity-hainan``, or ``lpg``
    for bottled gas in kg); ``report`` names the claim in the certificate register.
    """
    households = frozenset(item.household_id for item in usage)
    if len(households) > 1:
        raise AccountingError(
            f"a household account holds one household, got {sorted(households)}: use community_account",
            code="several_households",
        )
    return _account(
        usage,
        factor_set,
        report=report,
        certificates=certificates,
        register=register,
        rule=rule,
        factor_keys=factor_keys,
        community_id=None,
        households=households,
    )


def community_account(
    usage: Sequence[Usage],
    factor_set: FactorSet,
    *,
    community_id: CommunityId,
    report: str,
    certificates: Sequence[Certificate] = (),
    register: CertificateRegister | None = None,
    rule: AllocationRule | None = None,
    factor_keys: Mapping[MeterId, str] | None = None,
) -> Account:
    """A community's account: its households' lines, so its total is the sum of theirs.

    Certificates retired for a household cover that household first; certificates the community
    retired on its households' behalf cover the rest, shared in proportion to uncovered kWh (see
    :func:`tanhui.accounting.market.allocate`). :meth:`Account.household` gives each household's part.
    """
    return _account(
        usage,
        factor_set,
        report=report,
        certificates=certificates,
        register=register,
        rule=rule,
        factor_keys=factor_keys,
        community_id=community_id,
        households=None,
    )
