"""The same consumption under two factor regimes, side by side, each line's difference explained.

A household's meters do not change when the factor set does: the amounts are the same, so every
difference between a Chinese and a European account lies in the factor terms. For each meter the
comparison shows both sides (factor, basis, method, data year, geography, source, kg under both
Scope 2 methods) and lists what differs, each as a machine-readable code and a sentence for a
person. Because the amounts are equal, ``delta_kg = amount x (factor_right - factor_left)`` exactly:
the comparison checks that identity on every line instead of trusting it.

Transparency and consistency principles: GHG Protocol Corporate Standard (2004) Chapter 1; ISO
14064-1:2018 Clause 4 (principles) and Clause 8 (documenting the factors used).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from tanhui.accounting.account import Account, AccountLine, Usage
from tanhui.accounting.errors import AccountingError
from tanhui.accounting.factors import Factor
from tanhui.accounting.footprint import decimal_text, factor_text
from tanhui.domain.ids import HouseholdId, MeterId
from tanhui.domain.quantity import Quantity

ZERO = Decimal(0)


class DifferenceKind(StrEnum):
    """What can differ between two sides of a line."""

    FACTOR_VALUE = "factor_value"
    BASIS = "basis"  # CO2 only vs CO2e
    GWP = "gwp"  # both CO2e, converted with different GWP sets
    METHOD = "method"
    DATA_YEAR = "data_year"
    GEOGRAPHY = "geography"
    CONFIDENCE = "confidence"
    MARKET_AVAILABILITY = "market_availability"
    RESIDUAL_FACTOR = "residual_factor"
    INSTRUMENTS = "instruments"  # certificate coverage differs (a GEC counts only in China, a GO in Europe)


@dataclass(frozen=True, slots=True)
class Difference:
    """One way the two sides differ: a code, both values, and a sentence for a person."""

    kind: DifferenceKind
    left: str
    right: str
    explanation: str


@dataclass(frozen=True, slots=True)
class Side:
    """One regime's view of one meter over the period."""

    factor_set_id: str
    factor_set_hash: str
    regime: str
    factor: Factor
    kg_location: Decimal
    residual: Factor | None
    covered_kwh: Decimal
    kg_market: Decimal | None
    market_unavailable: str


@dataclass(frozen=True, slots=True)
class ComparedLine:
    """One meter's consumption over the period under both regimes."""

    meter_id: MeterId
    household_id: HouseholdId
    quantity: Quantity
    amount: Decimal
    left: Side
    right: Side
    differences: tuple[Difference, ...]

    @property
    def delta_location_kg(self) -> Decimal:
        """Right minus left, location-based (or combustion / allocation) kg."""
        return self.right.kg_location - self.left.kg_location

    @property
    def factor_term_kg(self) -> Decimal:
        """``amount x (right factor - left factor)``: the whole of :attr:`delta_location_kg`."""
        return self.amount * (self.right.factor.value - self.left.factor.value)

    @property
    def delta_market_kg(self) -> Decimal | None:
        """Right minus left, market-based kg; None when either side has no market-based figure."""
        if self.left.kg_market is None or self.right.kg_market is None:
            return None
        return self.right.kg_market - self.left.kg_market

    def explanation(self) -> str:
        """All differences of the line, one sentence each."""
        if not self.differences:
            return "Both regimes apply the same factor: no difference."
        return " ".join(d.explanation for d in self.differences)


@dataclass(frozen=True, slots=True)
class Comparison:
    """Two accounts of the same consumption, line by line."""

    left: Account
    right: Account
    lines: tuple[ComparedLine, ...]

    @property
    def delta_location_kg(self) -> Decimal:
        return self.right.total.location_kg - self.left.total.location_kg

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, decimals as strings."""
        return {
            "left": _account_head(self.left),
            "right": _account_head(self.right),
            "delta_location_kg": _text(self.delta_location_kg),
            "lines": [_line_dict(line) for line in self.lines],
        }


def _text(value: Decimal | None) -> str | None:
    return None if value is None else decimal_text(value)


def _account_head(account: Account) -> dict[str, Any]:
    total = account.total
    return {
        "factor_set": account.factor_set_id,
        "content_hash": account.factor_set_hash,
        "regime": account.regime,
        "total_location_kg": _text(total.location_kg),
        "total_market_kg": _text(total.market_kg),
        "market_unavailable": account.market_unavailable or None,
    }


def _side_dict(side: Side) -> dict[str, Any]:
    factor = side.factor
    return {
        "factor_set": side.factor_set_id,
        "factor_key": factor.key,
        "factor": factor_text(factor.value),
        "factor_unit": factor.unit,
        "basis": factor.basis,
        "gwp": factor.gwp,
        "method": factor.method,
        "year": factor.source.year,
        "geography": factor.geography,
        "confidence": factor.source.confidence,
        "source": {
            "publisher": factor.source.publisher,
            "document": factor.source.document,
            "year": factor.source.year,
            "table": factor.source.table,
        },
        "kg_location": _text(side.kg_location),
        "residual_factor": factor_text(side.residual.value) if side.residual else None,
        "covered_kwh": _text(side.covered_kwh),
        "kg_market": _text(side.kg_market),
    }


def _line_dict(line: ComparedLine) -> dict[str, Any]:
    return {
        "meter_id": int(line.meter_id),
        "household_id": int(line.household_id),
        "quantity": line.quantity.value,
        "amount": _text(line.amount),
        "unit": line.left.factor.per_unit,
        "left": _side_dict(line.left),
        "right": _side_dict(line.right),
        "delta_location_kg": _text(line.delta_location_kg),
        "delta_market_kg": _text(line.delta_market_kg),
        "differences": [
            {"kind": d.kind.value, "left": d.left, "right": d.right, "explanation": d.explanation}
            for d in line.differences
        ],
        "explanation": line.explanation(),
    }


def _usage_key(usage: Usage) -> tuple[MeterId, date, HouseholdId, Quantity, Decimal]:
    return (usage.meter_id, usage.day, usage.household_id, usage.quantity, usage.amount)


def _factor_differences(line_amount: Decimal, unit: str, left: Side, right: Side) -> list[Difference]:
    a, b = left.factor, right.factor
    found: list[Difference] = []
    if a.value != b.value or a.unit != b.unit:
        term = line_amount * (b.value - a.value)
        fa, fb = factor_text(a.value), factor_text(b.value)
        found.append(
            Difference(
                DifferenceKind.FACTOR_VALUE,
                f"{fa} {a.unit}",
                f"{fb} {b.unit}",
                f"Factor {fa} {a.unit} ({left.factor_set_id}) against {fb} {b.unit} ({right.factor_set_id}): "
                f"{_text(line_amount)} {unit} x ({fb} - {fa}) = {_text(term)} kg; the amounts are the same, "
                "so this factor term is the whole difference.",
            )
        )
    if a.basis != b.basis:
        found.append(
            Difference(
                DifferenceKind.BASIS,
                a.basis_label,
                b.basis_label,
                f"Gases: {left.factor_set_id} counts {a.basis_label}, {right.factor_set_id} counts "
                f"{b.basis_label}; a CO2-only factor leaves out CH4 and N2O, which add little for "
                "electricity and gas combustion but are part of a CO2e figure.",
            )
        )
    elif a.gwp != b.gwp:
        found.append(
            Difference(
                DifferenceKind.GWP,
                a.gwp,
                b.gwp,
                f"Both count CO2e, but CH4 and N2O are converted with {a.gwp} GWPs on one side and "
                f"{b.gwp} on the other.",
            )
        )
    if a.method != b.method:
        found.append(
            Difference(
                DifferenceKind.METHOD,
                a.method,
                b.method,
                f"Method: {a.method} ({left.factor_set_id}) against {b.method} ({right.factor_set_id}).",
            )
        )
    if a.source.year != b.source.year:
        found.append(
            Difference(
                DifferenceKind.DATA_YEAR,
                str(a.source.year),
                str(b.source.year),
                f"Data year: the factors describe {a.source.year} and {b.source.year}; grid intensities "
                "change from year to year.",
            )
        )
    if a.geography != b.geography:
        found.append(
            Difference(
                DifferenceKind.GEOGRAPHY,
                a.geography,
                b.geography,
                f"Geography: {a.geography or 'unstated'} against {b.geography or 'unstated'}.",
            )
        )
    if a.source.confidence != b.source.confidence:
        found.append(
            Difference(
                DifferenceKind.CONFIDENCE,
                a.source.confidence,
                b.source.confidence,
                f"Confidence: {a.source.confidence} against {b.source.confidence} (V checked against the "
                "publisher's file, R secondary reporting, K standard value, D derived).",
            )
        )
    return found


def _market_differences(quantity: Quantity, left: Side, right: Side) -> list[Difference]:
    if quantity is not Quantity.ELECTRICITY:
        return []
    found: list[Difference] = []
    if (left.kg_market is None) != (right.kg_market is None):
        missing = left if left.kg_market is None else right
        found.append(
            Difference(
                DifferenceKind.MARKET_AVAILABILITY,
                "unavailable" if left.kg_market is None else "available",
                "unavailable" if right.kg_market is None else "available",
                f"Market-based: {missing.factor_set_id} has no market-based figure "
                f"({missing.market_unavailable})",
            )
        )
    if left.residual and right.residual and left.residual.value != right.residual.value:
        ra = f"{factor_text(left.residual.value)} {left.residual.unit}"
        rb = f"{factor_text(right.residual.value)} {right.residual.unit}"
        found.append(
            Difference(
                DifferenceKind.RESIDUAL_FACTOR, ra, rb, f"Residual mix for uncovered kWh: {ra} against {rb}."
            )
        )
    if left.covered_kwh != right.covered_kwh:
        found.append(
            Difference(
                DifferenceKind.INSTRUMENTS,
                _text(left.covered_kwh) or "0",
                _text(right.covered_kwh) or "0",
                f"Certificates cover {_text(left.covered_kwh)} kWh under {left.factor_set_id} and "
                f"{_text(right.covered_kwh)} kWh under {right.factor_set_id}: a certificate counts only in "
                "its own market (a GEC in China, a GO in Europe) and only for its vintage window.",
            )
        )
    return found


def _side(account: Account, lines: Sequence[AccountLine]) -> Side:
    first = lines[0]
    market: Decimal | None = None
    if not account.market_unavailable:
        market = sum((x.kg_market or ZERO for x in lines), ZERO)
    return Side(
        factor_set_id=account.factor_set_id,
        factor_set_hash=account.factor_set_hash,
        regime=account.regime,
        factor=first.factor,
        kg_location=sum((x.kg_location for x in lines), ZERO),
        residual=first.residual,
        covered_kwh=sum((x.covered_kwh for x in lines), ZERO),
        kg_market=market,
        market_unavailable=account.market_unavailable,
    )


def compare(left: Account, right: Account) -> Comparison:
    """``left`` and ``right`` side by side, one line per meter over the period.

    Both accounts must hold exactly the same consumption (the same meter-days and amounts): a
    comparison of different data would explain nothing. Raises ``AccountingError``
    (``not_same_consumption``) otherwise, and ``comparison_identity`` if a line's difference were not
    its factor term (which would mean the accounts disagree on amounts).
    """
    if sorted(map(_usage_key, (x.usage for x in left.lines))) != sorted(
        map(_usage_key, (x.usage for x in right.lines))
    ):
        raise AccountingError(
            f"accounts under {left.factor_set_id} and {right.factor_set_id} hold different consumption: "
            "compare accounts of the same meter-days",
            code="not_same_consumption",
        )
    by_meter_left: dict[MeterId, list[AccountLine]] = {}
    by_meter_right: dict[MeterId, list[AccountLine]] = {}
    for item in left.lines:
        by_meter_left.setdefault(item.meter_id, []).append(item)
    for item in right.lines:
        by_meter_right.setdefault(item.meter_id, []).append(item)
    lines = []
    for meter_id in sorted(by_meter_left):
        left_lines, right_lines = by_meter_left[meter_id], by_meter_right[meter_id]
        first = left_lines[0]
        amount = sum((x.amount for x in left_lines), ZERO)
        a, b = _side(left, left_lines), _side(right, right_lines)
        differences = _factor_differences(amount, first.unit, a, b) + _market_differences(
            first.quantity, a, b
        )
        line = ComparedLine(meter_id, first.household_id, first.quantity, amount, a, b, tuple(differences))
        if line.delta_location_kg != line.factor_term_kg:
            raise AccountingError(
                f"meter {meter_id}: difference {line.delta_location_kg} kg is not the factor term "
                f"{line.factor_term_kg} kg",
                code="comparison_identity",
            )
        lines.append(line)
    return Comparison(left, right, tuple(lines))


def compare_regimes(cn: Account, eu: Account) -> Comparison:
    """The Chinese account on the left and the European one on the right (see :func:`compare`)."""
    if cn.regime != "cn" or eu.regime != "eu":
        raise AccountingError(
            f"expected a cn and an eu account, got {cn.regime} ({cn.factor_set_id}) and "
            f"{eu.regime} ({eu.factor_set_id})",
            code="wrong_regime",
        )
    return compare(cn, eu)
