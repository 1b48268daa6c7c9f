"""The household monthly statement: one household's footprint for one month, Chinese and European sets
side by side.

The figures come from the accounting core: each meter-day of consumption is priced under both factor
sets (:func:`tanhui.accounting.account.household_account`) and the two accounts are compared meter by
meter (:func:`tanhui.accounting.regimes.compare_regimes`), which also says why each line differs. The
statement adds nothing to those numbers; it groups them per meter, per day and quantity, and for the
month, and lists every factor used with its source, set id and content hash (ISO 14064-1:2018 Clause 8,
documenting the factors used).

Footprint and avoided emissions are separate figures and are never netted (GHG Protocol Corporate
Standard, 2004, Chapter 8): avoided emissions and points have their own optional fields, empty until
the baseline and points packages provide them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import Connection

from tanhui.accounting.account import Usage, household_account
from tanhui.accounting.factors import Factor, FactorSet, Source
from tanhui.accounting.regimes import Difference, compare_regimes
from tanhui.domain.ids import MeterId
from tanhui.domain.quantity import Quantity
from tanhui.reports.errors import ReportError
from tanhui.reports.rendering import html_to_pdf, render_html
from tanhui.reports.usage import community_by_slug, consumption

ZERO = Decimal(0)
# The European side of a statement when none is chosen: the EU-27 set (EEA 2023 electricity intensity,
# DESNZ 2025 fuels and water), data/factors/eu-eea-2023.toml.
DEFAULT_EU_SET = "eu-eea-2023@v1"
QUANTITY_ORDER = (Quantity.ELECTRICITY, Quantity.WATER, Quantity.GAS)


@dataclass(frozen=True, slots=True)
class FactorSetRef:
    """Which factor set priced a figure: id and content hash let a verifier re-run it."""

    id: str
    content_hash: str
    regime: str
    name: str
    name_zh: str

    @classmethod
    def of(cls, factor_set: FactorSet) -> FactorSetRef:
        return cls(
            factor_set.id, factor_set.content_hash, factor_set.regime, factor_set.name, factor_set.name_zh
        )


@dataclass(frozen=True, slots=True)
class FactorUsed:
    """One factor applied in the statement, with its provenance."""

    factor_set_id: str
    regime: str
    quantity: Quantity
    key: str
    value: Decimal
    unit: str
    basis: str
    method: str
    geography: str
    source: Source

    @classmethod
    def of(cls, factor_set: FactorSet, factor: Factor) -> FactorUsed:
        return cls(
            factor_set.id,
            factor_set.regime,
            factor.quantity,
            factor.key,
            factor.value,
            factor.unit,
            factor.basis_label,
            factor.method,
            factor.geography,
            factor.source,
        )


@dataclass(frozen=True, slots=True)
class MeterMonth:
    """One meter over the month: its consumption and its footprint under both sets, and why they differ."""

    meter_id: MeterId
    serial: str
    quantity: Quantity
    unit: str
    amount: Decimal
    cn_factor: Decimal
    cn_unit: str
    cn_kg: Decimal
    eu_factor: Decimal
    eu_unit: str
    eu_kg: Decimal
    differences: tuple[Difference, ...]

    @property
    def delta_kg(self) -> Decimal:
        """European minus Chinese kg: exactly ``amount x (eu_factor - cn_factor)``."""
        return self.eu_kg - self.cn_kg


@dataclass(frozen=True, slots=True)
class DayRow:
    """One local day: consumption and footprint per quantity under both sets."""

    day: date
    amounts: Mapping[Quantity, Decimal]
    cn_kg: Mapping[Quantity, Decimal]
    eu_kg: Mapping[Quantity, Decimal]

    @property
    def cn_total(self) -> Decimal:
        return sum(self.cn_kg.values(), ZERO)

    @property
    def eu_total(self) -> Decimal:
        return sum(self.eu_kg.values(), ZERO)


@dataclass(frozen=True, slots=True)
class AvoidedEmissions:
    """Avoided emissions of the month against the household's baseline (filled by ``tanhui.baseline``).

    ISO 14064-2:2019 §6.8-6.10: baseline minus project emissions, with its uncertainty and the model
    and factor set that produced it.
    """

    kg: Decimal
    uncertainty_kg: Decimal | None
    baseline_model: str
    factor_set_id: str


@dataclass(frozen=True, slots=True)
class PointsSummary:
    """Carbon points of the month (filled by ``tanhui.points``): integers, never floats."""

    earned: int
    balance: int
    rule_version: str


@dataclass(frozen=True, slots=True)
class Statement:
    """Everything a household monthly statement shows."""

    community: str
    community_zh: str
    household: str
    month: date  # the first day of the month
    first_day: date
    last_day: date
    cn: FactorSetRef
    eu: FactorSetRef
    meters: tuple[MeterMonth, ...]
    days: tuple[DayRow, ...]
    factors: tuple[FactorUsed, ...]
    generated_on: date
    avoided: AvoidedEmissions | None = None
    points: PointsSummary | None = None

    @property
    def quantities(self) -> tuple[Quantity, ...]:
        """The quantities the household has meters for, in a fixed order."""
        present = {m.quantity for m in self.meters}
        return tuple(q for q in QUANTITY_ORDER if q in present)

    @property
    def cn_total_kg(self) -> Decimal:
        return sum((m.cn_kg for m in self.meters), ZERO)

    @property
    def eu_total_kg(self) -> Decimal:
        return sum((m.eu_kg for m in self.meters), ZERO)

    @property
    def delta_kg(self) -> Decimal:
        return self.eu_total_kg - self.cn_total_kg

    def amount(self, quantity: Quantity) -> Decimal:
        """The month's consumption of ``quantity`` over all the household's meters."""
        return sum((m.amount for m in self.meters if m.quantity is quantity), ZERO)

    def cn_kg(self, quantity: Quantity) -> Decimal:
        return sum((m.cn_kg for m in self.meters if m.quantity is quantity), ZERO)

    def eu_kg(self, quantity: Quantity) -> Decimal:
        return sum((m.eu_kg for m in self.meters if m.quantity is quantity), ZERO)


def month_bounds(month: str) -> tuple[date, date]:
    """First and last day of ``month`` written ``YYYY-MM``."""
    try:
        year_text, month_text = month.split("-")
        first = date(int(year_text), int(month_text), 1)
    except ValueError:
        raise ReportError(f"month {month!r} is not written YYYY-MM, e.g. 2026-11", code="bad_month") from None
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, date.fromordinal(following.toordinal() - 1)


def build_statement(
    usage: Sequence[Usage],
    serials: Mapping[MeterId, str],
    cn: FactorSet,
    eu: FactorSet,
    *,
    community: str,
    community_zh: str,
    household: str,
    month: str,
    generated_on: date,
    avoided: AvoidedEmissions | None = None,
    points: PointsSummary | None = None,
) -> Statement:
    """The statement of one household's ``usage`` in ``month`` under the ``cn`` and ``eu`` sets.

    ``usage`` must lie within the month; an empty month is refused, since a statement of nothing would
    read as a household with no footprint.
    """
    first, last = month_bounds(month)
    if not usage:
        raise ReportError(
            f"household {household} has no accounted consumption in {month}: run `tanhui account` first",
            code="no_data",
        )
    outside = sorted({u.day for u in usage if not first <= u.day <= last})
    if outside:
        raise ReportError(f"usage on {outside[0]} is outside {month}", code="bad_month")
    report = f"statement:{household}:{month}"
    cn_account = household_account(usage, cn, report=report)
    eu_account = household_account(usage, eu, report=report)
    comparison = compare_regimes(cn_account, eu_account)
    meters = tuple(
        MeterMonth(
            meter_id=line.meter_id,
            serial=serials.get(line.meter_id, str(line.meter_id)),
            quantity=line.quantity,
            unit=line.left.factor.per_unit,
            amount=line.amount,
            cn_factor=line.left.factor.value,
            cn_unit=line.left.factor.unit,
            cn_kg=line.left.kg_location,
            eu_factor=line.right.factor.value,
            eu_unit=line.right.factor.unit,
            eu_kg=line.right.kg_location,
            differences=line.differences,
        )
        for line in sorted(comparison.lines, key=lambda x: (QUANTITY_ORDER.index(x.quantity), x.meter_id))
    )
    amounts: dict[date, dict[Quantity, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    cn_kg: dict[date, dict[Quantity, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    eu_kg: dict[date, dict[Quantity, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for item in cn_account.lines:
        amounts[item.day][item.quantity] += item.amount
        cn_kg[item.day][item.quantity] += item.kg_location
    for item in eu_account.lines:
        eu_kg[item.day][item.quantity] += item.kg_location
    days = tuple(
        DayRow(day, dict(amounts[day]), dict(cn_kg[day]), dict(eu_kg[day])) for day in sorted(amounts)
    )
    used: dict[tuple[str, str], FactorUsed] = {}
    for factor_set, account in ((cn, cn_account), (eu, eu_account)):
        for item in account.lines:
            used.setdefault((factor_set.id, item.factor.key), FactorUsed.of(factor_set, item.factor))
    factors = tuple(
        sorted(used.values(), key=lambda f: (f.regime != "cn", QUANTITY_ORDER.index(f.quantity), f.key))
    )
    return Statement(
        community=community,
        community_zh=community_zh,
        household=household,
        month=first,
        first_day=first,
        last_day=last,
        cn=FactorSetRef.of(cn),
        eu=FactorSetRef.of(eu),
        meters=meters,
        days=days,
        factors=factors,
        generated_on=generated_on,
        avoided=avoided,
        points=points,
    )


def load_statement(
    conn: Connection,
    *,
    community: str,
    household: str,
    month: str,
    cn: FactorSet,
    eu: FactorSet,
    generated_on: date,
    avoided: AvoidedEmissions | None = None,
    points: PointsSummary | None = None,
) -> Statement:
    """The statement of ``household`` of community ``community`` (slug) from the stored daily footprint."""
    first, last = month_bounds(month)
    found = community_by_slug(conn, community)
    data = consumption(conn, found, first=first, last=last, household_code=household)
    return build_statement(
        data.usage,
        data.serials,
        cn,
        eu,
        community=found.name,
        community_zh=found.name_zh,
        household=household,
        month=month,
        generated_on=generated_on,
        avoided=avoided,
        points=points,
    )


def statement_html(statement: Statement, locale: str) -> str:
    """The statement as one self-contained HTML page (phone and desktop)."""
    return render_html("statement.html", locale, statement=statement)


def statement_pdf(statement: Statement, locale: str) -> bytes:
    """The statement on A4 pages."""
    return html_to_pdf(statement_html(statement, locale))
