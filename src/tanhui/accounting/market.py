"""Energy attribute certificates and their allocation to metered electricity (market-based Scope 2).

GHG Protocol Scope 2 Guidance (WRI/WBCSD 2015), Chapter 6 (the market-based factor hierarchy) and
Chapter 7 (the Scope 2 Quality Criteria): kWh covered by a retired certificate take a factor of 0; the
rest take the residual mix. The instruments Tanhui knows:

- China's green electricity certificate (绿证, GEC): the sole proof of the environmental attribute of
  renewable electricity, 1 GEC = 1,000 kWh (发改能源〔2023〕1044号);
- the EU Guarantee of Origin (GO): Renewable Energy Directive (EU) 2018/2001, Art. 19, 1 GO = 1 MWh.

The rules this module enforces (emission-factors.md §1.3, "Rules for the product"):

- a certificate counts only in its own market (a GEC under a Chinese factor set, a GO under a
  European one: the quality criterion "sourced from the same market") and only for consumption close
  to its vintage ("issued and redeemed as close as possible to the period of consumption"), as the
  :class:`AllocationRule` in force says;
- a certificate counts only for the beneficiary it was retired for (a household, or a community on its
  households' behalf: the criteria on unique claims and retirement on the holder's behalf);
- no kWh of a certificate is ever claimed twice, across households or across reports: the
  :class:`CertificateRegister` holds every claim and refuses one that would exceed a certificate
  (:class:`CertificateError`, code ``certificate_double_use``);
- a covered kWh is an attribute claim, not a saving: nothing here produces "avoided emissions".

Errors: every rejection raises :class:`CertificateError` (an ``AccountingError``) naming the rule.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from tanhui.accounting.errors import AccountingError
from tanhui.domain.ids import CommunityId, HouseholdId, MeterId

KWH_PER_MWH = Decimal(1000)
# Shares of a community's certificates are cut at watt-hours: finer than any meter's resolution
# (0.01 kWh), coarse enough that the split is exact and reproducible.
SHARE_QUANTUM_KWH = Decimal("0.001")


class CertificateError(AccountingError):
    """A certificate or a claim on it broke a market-based accounting rule."""

    code = "certificate_error"


class Scheme(StrEnum):
    """Certificate schemes, each tied to one market (regime)."""

    GEC = "cn-gec"  # 绿证, green electricity certificate
    GO = "eu-go"  # Guarantee of Origin

    @property
    def regime(self) -> str:
        """The factor-set regime whose market the scheme belongs to."""
        return "cn" if self is Scheme.GEC else "eu"

    @property
    def kwh_per_certificate(self) -> Decimal:
        """1 GEC = 1,000 kWh (发改能源〔2023〕1044号); 1 GO = 1 MWh ((EU) 2018/2001 Art. 19(2))."""
        return KWH_PER_MWH


class BeneficiaryKind(StrEnum):
    """Whom a certificate was retired for."""

    HOUSEHOLD = "household"
    COMMUNITY = "community"  # the county (or a community) on behalf of its households


@dataclass(frozen=True, slots=True)
class Beneficiary:
    """The holder a certificate was retired (cancelled) for."""

    kind: BeneficiaryKind
    id: int

    @classmethod
    def household(cls, household_id: HouseholdId) -> Beneficiary:
        return cls(BeneficiaryKind.HOUSEHOLD, int(household_id))

    @classmethod
    def community(cls, community_id: CommunityId) -> Beneficiary:
        return cls(BeneficiaryKind.COMMUNITY, int(community_id))

    def __str__(self) -> str:
        return f"{self.kind.value} {self.id}"


@dataclass(frozen=True, slots=True)
class Certificate:
    """A retired certificate (or a block of them under one serial range) and its retirement record."""

    serial: str
    scheme: Scheme
    vintage: int  # the calendar year the electricity was generated
    mwh: Decimal
    retired_for: Beneficiary
    retired_on: date

    def __post_init__(self) -> None:
        if not self.serial.strip():
            raise CertificateError("a certificate needs a serial number", code="certificate_invalid")
        if not self.mwh.is_finite() or self.mwh <= 0 or self.mwh != self.mwh.to_integral_value():
            # Both schemes issue whole certificates of 1 MWh; a fraction is a transcription error.
            raise CertificateError(
                f"certificate {self.serial}: {self.mwh} MWh is not a positive whole number of "
                f"certificates ({self.scheme.value}: 1 certificate = 1 MWh)",
                code="certificate_invalid",
            )
        if self.retired_on.year < self.vintage:
            raise CertificateError(
                f"certificate {self.serial}: retired on {self.retired_on}, before its vintage {self.vintage}",
                code="certificate_invalid",
            )

    @property
    def kwh(self) -> Decimal:
        """The electricity the certificate covers."""
        return self.mwh * self.scheme.kwh_per_certificate


@dataclass(frozen=True, slots=True)
class AllocationRule:
    """The product's eligibility rule for certificates, recorded with every result.

    The Scope 2 Quality Criteria ask for a vintage "as close as possible" to the consumption period
    without fixing a number; the default admits only certificates of the consumption's own calendar
    year, the conservative reading. A programme may widen it, and the rule used is stored on the result.
    """

    max_vintage_lag_years: int = 0

    def refusal(self, certificate: Certificate, day: date, regime: str) -> tuple[str, str] | None:
        """Why ``certificate`` may not cover consumption on ``day`` under ``regime``, or None."""
        if certificate.scheme.regime != regime:
            return (
                "certificate_other_market",
                f"{certificate.scheme.value} certificates belong to the {certificate.scheme.regime} "
                f"market, not the {regime} one (Scope 2 Quality Criteria: same market)",
            )
        if not day.year - self.max_vintage_lag_years <= certificate.vintage <= day.year:
            return (
                "certificate_vintage",
                f"vintage {certificate.vintage} is outside {day.year - self.max_vintage_lag_years}"
                f"..{day.year} for consumption on {day} "
                "(Scope 2 Quality Criteria: vintage close to consumption)",
            )
        return None


@dataclass(frozen=True, slots=True)
class Claim:
    """kWh of one certificate claimed for one meter-day of one household, in one report."""

    serial: str
    report: str
    household_id: HouseholdId
    meter_id: MeterId
    day: date
    kwh: Decimal


@dataclass(frozen=True, slots=True)
class Rejection:
    """A certificate that was offered but not used, with the rule that kept it out."""

    serial: str
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class CertificateRegister:
    """Every claim ever made on certificates: the memory that stops double counting.

    Pure and immutable: the edge loads it from storage, passes it in, and stores the register an
    allocation returns in the same transaction as the result.
    """

    claims: tuple[Claim, ...] = ()

    def claimed_kwh(self, serial: str) -> Decimal:
        """kWh of ``serial`` already claimed, by any report."""
        return sum((c.kwh for c in self.claims if c.serial == serial), Decimal(0))

    def of_report(self, report: str) -> tuple[Claim, ...]:
        """The claims made by ``report``."""
        return tuple(c for c in self.claims if c.report == report)

    def without_report(self, report: str) -> CertificateRegister:
        """The register before ``report`` claimed anything: recomputing a report replaces its claims."""
        return CertificateRegister(tuple(c for c in self.claims if c.report != report))

    def record(self, claims: Iterable[Claim], certificates: Mapping[str, Certificate]) -> CertificateRegister:
        """The register with ``claims`` added; refuses any claim that would count a kWh twice."""
        added = tuple(claims)
        register = CertificateRegister(self.claims + added)
        for serial in {c.serial for c in added}:
            certificate = certificates.get(serial)
            if certificate is None:
                raise CertificateError(f"claim on unknown certificate {serial}", code="certificate_unknown")
            total = register.claimed_kwh(serial)
            if total > certificate.kwh:
                reports = sorted({c.report for c in register.claims if c.serial == serial})
                raise CertificateError(
                    f"certificate {serial} covers {certificate.kwh} kWh but {total} kWh would be claimed "
                    f"(reports: {', '.join(reports)}): a certificate is never counted twice",
                    code="certificate_double_use",
                )
        return register


@dataclass(frozen=True, slots=True)
class Demand:
    """Electricity of one meter on one day that a certificate could cover."""

    household_id: HouseholdId
    meter_id: MeterId
    day: date
    kwh: Decimal


@dataclass(frozen=True, slots=True)
class Allocation:
    """The outcome of allocating certificates to demand."""

    claims: tuple[Claim, ...]
    register: CertificateRegister
    rejected: tuple[Rejection, ...]
    rule: AllocationRule
    covered: Mapping[tuple[MeterId, date], Decimal] = field(default_factory=dict)

    def covered_kwh(self, meter_id: MeterId, day: date) -> Decimal:
        """kWh of ``meter_id`` on ``day`` covered by certificates."""
        return self.covered.get((meter_id, day), Decimal(0))


def _check_offered(
    certificates: Sequence[Certificate],
    *,
    community_id: CommunityId | None,
    households: frozenset[HouseholdId] | None,
) -> dict[str, Certificate]:
    by_serial: dict[str, Certificate] = {}
    for certificate in certificates:
        if certificate.serial in by_serial:
            raise CertificateError(
                f"certificate {certificate.serial} is listed twice: a certificate is never counted twice",
                code="certificate_double_use",
            )
        by_serial[certificate.serial] = certificate
        beneficiary = certificate.retired_for
        if beneficiary.kind is BeneficiaryKind.COMMUNITY and (
            community_id is None or beneficiary.id != community_id
        ):
            whose = "a household account" if community_id is None else f"community {community_id}"
            raise CertificateError(
                f"certificate {certificate.serial} was retired for {beneficiary}, not for {whose}",
                code="certificate_beneficiary",
            )
        if (
            beneficiary.kind is BeneficiaryKind.HOUSEHOLD
            and households is not None
            and HouseholdId(beneficiary.id) not in households
        ):
            raise CertificateError(
                f"certificate {certificate.serial} was retired for {beneficiary}, who is not in this account",
                code="certificate_beneficiary",
            )
    return by_serial


def _pro_rata(capacity: Decimal, needs: Sequence[Decimal]) -> list[Decimal]:
    """Share ``capacity`` among ``needs`` in proportion, in whole quanta, each share at most its need.

    Largest-remainder rounding, ties to the earlier need, so the result is exact and reproducible.
    """
    total = sum(needs, Decimal(0))
    if capacity >= total:
        return list(needs)
    units = int(capacity // SHARE_QUANTUM_KWH)
    exact = [Fraction(units) * Fraction(n) / Fraction(total) for n in needs]
    floors = [math.floor(e) for e in exact]
    order = sorted(range(len(needs)), key=lambda i: exact[i] - floors[i], reverse=True)
    for i in order[: units - sum(floors)]:
        floors[i] += 1
    return [min(Decimal(f) * SHARE_QUANTUM_KWH, n) for f, n in zip(floors, needs, strict=True)]


class _Pool:
    """Remaining kWh of the offered certificates while one allocation runs."""

    def __init__(self, certificates: Mapping[str, Certificate], register: CertificateRegister) -> None:
        self.certificates = certificates
        self.remaining = {s: c.kwh - register.claimed_kwh(s) for s, c in certificates.items()}
        self.refusals: dict[str, tuple[str, str]] = {}
        self.used: set[str] = set()
        for serial, left in self.remaining.items():
            if left < 0:
                raise CertificateError(
                    f"certificate {serial} is already over-claimed by {-left} kWh in the register",
                    code="certificate_double_use",
                )

    def eligible(self, serials: Sequence[str], day: date, regime: str, rule: AllocationRule) -> list[str]:
        found = []
        for serial in serials:
            refusal = rule.refusal(self.certificates[serial], day, regime)
            if refusal is None:
                found.append(serial)
            else:
                self.refusals[serial] = refusal
        return [s for s in found if self.remaining[s] > 0]

    def draw(self, serials: Sequence[str], kwh: Decimal, demand: Demand, report: str) -> list[Claim]:
        claims = []
        for serial in serials:
            if kwh <= 0:
                break
            take = min(kwh, self.remaining[serial])
            if take <= 0:
                continue
            self.remaining[serial] -= take
            self.used.add(serial)
            kwh -= take
            claims.append(Claim(serial, report, demand.household_id, demand.meter_id, demand.day, take))
        return claims


def _check_demands(demands: Sequence[Demand]) -> None:
    seen: set[tuple[MeterId, date]] = set()
    for demand in demands:
        if demand.kwh < 0:
            raise CertificateError(
                f"negative demand {demand.kwh} kWh for meter {demand.meter_id}", code="negative_amount"
            )
        if (demand.meter_id, demand.day) in seen:
            raise CertificateError(
                f"meter {demand.meter_id} has two demands on {demand.day}", code="duplicate_usage"
            )
        seen.add((demand.meter_id, demand.day))


def _priority(certificate: Certificate) -> tuple[int, date, str]:
    # Oldest vintage first, so the certificates closest to expiry of their usefulness go first.
    return (certificate.vintage, certificate.retired_on, certificate.serial)


def allocate(
    demands: Sequence[Demand],
    certificates: Sequence[Certificate],
    *,
    regime: str,
    report: str,
    register: CertificateRegister | None = None,
    rule: AllocationRule | None = None,
    community_id: CommunityId | None = None,
    households: frozenset[HouseholdId] | None = None,
) -> Allocation:
    """Cover ``demands`` with ``certificates`` for ``report`` (Scope 2 Guidance Chapters 6 and 7).

    A household's own certificates cover its own demand first, in day order; then the community's
    certificates cover what is left, day by day, shared among households in proportion to their
    uncovered kWh when they do not suffice. Allocation in day order makes the result additive over
    time: allocating a period, or its parts one after the other with the register carried over, claims
    the same kWh. Claims already made by ``report`` in ``register`` are replaced, so a recomputation
    is idempotent; any claim that would exceed a certificate raises ``certificate_double_use``.
    """
    rule = rule or AllocationRule()
    base = (register or CertificateRegister()).without_report(report)
    offered = _check_offered(certificates, community_id=community_id, households=households)
    pool = _Pool(offered, base)
    ordered = sorted(offered.values(), key=_priority)
    own: dict[int, list[str]] = {}
    shared: list[str] = []
    for certificate in ordered:
        if certificate.retired_for.kind is BeneficiaryKind.HOUSEHOLD:
            own.setdefault(certificate.retired_for.id, []).append(certificate.serial)
        else:
            shared.append(certificate.serial)

    _check_demands(demands)
    ordered_demands = sorted(demands, key=lambda d: (d.day, d.household_id, d.meter_id))
    uncovered = {(d.meter_id, d.day): d.kwh for d in ordered_demands}
    claims: list[Claim] = []

    for demand in ordered_demands:
        serials = own.get(int(demand.household_id), [])
        if not serials:
            continue
        usable = pool.eligible(serials, demand.day, regime, rule)
        drawn = pool.draw(usable, uncovered[(demand.meter_id, demand.day)], demand, report)
        uncovered[(demand.meter_id, demand.day)] -= sum((c.kwh for c in drawn), Decimal(0))
        claims.extend(drawn)

    if shared:
        by_day: dict[date, list[Demand]] = {}
        for demand in ordered_demands:
            by_day.setdefault(demand.day, []).append(demand)
        for day, demands_of_day in by_day.items():
            todays = [d for d in demands_of_day if uncovered[(d.meter_id, d.day)] > 0]
            usable = pool.eligible(shared, day, regime, rule)
            if not todays or not usable:
                continue
            capacity = sum((pool.remaining[s] for s in usable), Decimal(0))
            shares = _pro_rata(capacity, [uncovered[(d.meter_id, d.day)] for d in todays])
            for demand, share in zip(todays, shares, strict=True):
                drawn = pool.draw(usable, share, demand, report)
                uncovered[(demand.meter_id, demand.day)] -= sum((c.kwh for c in drawn), Decimal(0))
                claims.extend(drawn)

    covered: dict[tuple[MeterId, date], Decimal] = {}
    for claim in claims:
        covered[(claim.meter_id, claim.day)] = (
            covered.get((claim.meter_id, claim.day), Decimal(0)) + claim.kwh
        )
    rejected = tuple(
        Rejection(serial, *pool.refusals[serial])
        for serial in sorted(pool.refusals)
        if serial not in pool.used
    )
    return Allocation(
        claims=tuple(claims),
        register=base.record(claims, offered),
        rejected=rejected,
        rule=rule,
        covered=covered,
    )
