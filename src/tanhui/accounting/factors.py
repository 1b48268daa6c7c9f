"""Emission-factor sets: versioned, sourced, immutable.

A factor set is data (``data/factors/*.toml``); this module validates its parsed form. Every factor
names its publisher, document, year and table, so each footprint line can cite where its number came
from. A published set is never edited: a correction is a new set with a new ``id``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from tanhui.accounting.errors import AccountingError
from tanhui.domain.quantity import Quantity


@dataclass(frozen=True, slots=True)
class Source:
    """Where a number comes from."""

    publisher: str
    document: str
    year: int
    table: str = ""
    confidence: str = ""
    notes: str = ""


@dataclass(frozen=True, slots=True)
class Factor:
    """kg of CO2 (or CO2e) per accounting unit of one quantity."""

    quantity: Quantity
    value: Decimal
    unit: str
    basis: str
    method: str
    source: Source


@dataclass(frozen=True, slots=True)
class FactorSet:
    """A named, versioned group of factors, one per quantity."""

    id: str
    regime: str
    name: str
    year: int
    valid_from: date
    valid_to: date
    factors: Mapping[Quantity, Factor]

    def factor(self, quantity: Quantity) -> Factor:
        try:
            return self.factors[quantity]
        except KeyError:
            raise AccountingError(
                f"factor set {self.id} has no factor for {quantity.value}", code="missing_factor"
            ) from None


def _required(data: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in data or data[key] in ("", None):
        raise AccountingError(f"{where}: '{key}' is required", code="invalid_factor_set")
    return data[key]


def _decimal(text: Any, where: str) -> Decimal:
    try:
        value = Decimal(str(text))
    except InvalidOperation:
        raise AccountingError(f"{where}: {text!r} is not a decimal", code="invalid_factor_set") from None
    if not value.is_finite() or value < 0:
        raise AccountingError(
            f"{where}: {text!r} must be a finite non-negative number", code="invalid_factor_set"
        )
    return value


def _date(value: Any, where: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise AccountingError(f"{where}: {value!r} is not an ISO date", code="invalid_factor_set") from None


def parse_factor_set(data: Mapping[str, Any]) -> FactorSet:
    """Validate a parsed factor-set document; every factor must carry a complete source."""
    set_id = str(_required(data, "id", "factor set"))
    where = f"factor set {set_id}"
    factors: dict[Quantity, Factor] = {}
    for index, raw in enumerate(_required(data, "factors", where)):
        here = f"{where}, factor {index}"
        try:
            quantity = Quantity(_required(raw, "quantity", here))
        except ValueError:
            raise AccountingError(
                f"{here}: unknown quantity {raw['quantity']!r}", code="invalid_factor_set"
            ) from None
        if quantity in factors:
            raise AccountingError(f"{here}: a second factor for {quantity.value}", code="invalid_factor_set")
        source = Source(
            publisher=str(_required(raw, "publisher", here)),
            document=str(_required(raw, "document", here)),
            year=int(_required(raw, "year", here)),
            table=str(raw.get("table", "")),
            confidence=str(raw.get("confidence", "")),
            notes=str(raw.get("notes", "")),
        )
        factors[quantity] = Factor(
            quantity=quantity,
            value=_decimal(_required(raw, "value", here), here),
            unit=str(_required(raw, "unit", here)),
            basis=str(_required(raw, "basis", here)),
            method=str(raw.get("method", "")),
            source=source,
        )
    valid_from = _date(_required(data, "valid_from", where), where)
    valid_to = _date(_required(data, "valid_to", where), where)
    if valid_to < valid_from:
        raise AccountingError(
            f"{where}: valid_to {valid_to} is before valid_from {valid_from}", code="invalid_factor_set"
        )
    return FactorSet(
        id=set_id,
        regime=str(_required(data, "regime", where)),
        name=str(_required(data, "name", where)),
        year=int(_required(data, "year", where)),
        valid_from=valid_from,
        valid_to=valid_to,
        factors=factors,
    )
