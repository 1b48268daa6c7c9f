"""Emission-factor sets: versioned, sourced, immutable.

A factor set is data (``data/factors/*.toml``); this module validates its parsed form. Every factor
names its publisher, document, year and table, its gas basis (CO2 only, or CO2e with the GWP set that
converted CH4 and N2O) and its method, so each footprint line can cite where its number came from and
a verifier can tell why two regimes give different numbers.

A published set is never edited: a correction or a newer publication is a new set with a new ``id``.
The set's :attr:`FactorSet.content_hash` (SHA-256 over the parsed document) is recorded with every
result, so a verifier can check that a re-run used the very same numbers (ISO 14064-1:2018 Clauses 6
and 8 ask for the methods and factors of an inventory to be documented and reproducible).

One set may hold several factors for one metered quantity, each under its own ``key``:

- the **primary** factor of a quantity has ``key == quantity`` (``"electricity"``, ``"gas"``,
  ``"water"``): location-based grid electricity, natural gas burned at home, water supply and
  treatment. :meth:`FactorSet.factor` and :attr:`FactorSet.factors` give these;
- the **market-based residual** factor of grid electricity (GHG Protocol Scope 2 Guidance 2015,
  Chapter 6, market-based hierarchy: the residual mix prices the kWh no contractual instrument
  covers) has method ``market-residual``; :meth:`FactorSet.residual` gives it. A set without one says why in
  ``market_based_unavailable``;
- further factors (LPG by mass, the parts of a water factor, T&D losses) under their own keys.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from tanhui.accounting.errors import AccountingError
from tanhui.domain.quantity import Quantity


class Method(StrEnum):
    """How a factor turns an amount into emissions (GHG Protocol Scope 2 Guidance Ch. 4 and 6; GPC)."""

    LOCATION = "location"  # average intensity of the grid where the energy is used (Scope 2 Guidance Ch. 4)
    MARKET_RESIDUAL = "market-residual"  # what is left once contractual instruments are removed (Ch. 6)
    COMBUSTION = "combustion"  # fuel burned at home: Scope 1 stationary combustion
    ALLOCATION = "allocation"  # a share of a utility's emissions (water supply and treatment)


class Basis(StrEnum):
    """Which gases a factor counts."""

    CO2 = "CO2"  # carbon dioxide only (MEE/NBS grid factors; GB/T 32151 combustion defaults)
    CO2E = "CO2e"  # CO2, CH4 and N2O converted with a named GWP set (DESNZ, EEA)


class Confidence(StrEnum):
    """How far a number has been checked (emission-factors.md, "Confidence marks")."""

    VERIFIED = "V"  # checked cell by cell against the publisher's own data file
    REPORTED = "R"  # read in public secondary reporting, consistent across sources where possible
    STANDARD = "K"  # standard reference value as usually quoted, not re-read from the primary text
    DERIVED = "D"  # derived by arithmetic from the values above; the arithmetic is in the notes


# The GWP sets a CO2e factor may name. "unstated" is honest when the publisher does not say which set
# converted its CH4 and N2O; a CO2-only factor needs none.
GWP_SETS = frozenset({"SAR", "AR4", "AR5", "AR6", "unstated"})
NO_GWP = "none"

REGIMES = frozenset({"cn", "eu"})


@dataclass(frozen=True, slots=True)
class Source:
    """Where a number comes from."""

    publisher: str
    document: str
    year: int
    table: str = ""
    confidence: str = ""
    notes: str = ""
    published: str = ""  # publication date of the document, as precise as it is known


@dataclass(frozen=True, slots=True)
class Factor:
    """kg of CO2 (or CO2e) per unit of one activity, with its provenance."""

    quantity: Quantity
    value: Decimal
    unit: str
    basis: str
    method: str
    source: Source
    key: str = ""
    gwp: str = NO_GWP
    geography: str = ""
    derivation: str = ""
    components: tuple[str, ...] = ()
    valid_from: date | None = None
    valid_to: date | None = None

    @property
    def per_unit(self) -> str:
        """The activity unit the factor is stated per (``kWh``, ``m3``, ``kg``)."""
        return self.unit.rsplit("/", 1)[1]

    @property
    def emission_unit(self) -> str:
        """The emission side of the unit (``kg CO2`` or ``kg CO2e``)."""
        return self.unit.rsplit("/", 1)[0]

    @property
    def basis_label(self) -> str:
        """Basis and GWP set in one phrase, e.g. ``CO2e (AR5)`` or ``CO2``."""
        return self.basis if self.basis == Basis.CO2 else f"{self.basis} ({self.gwp})"


@dataclass(frozen=True, slots=True)
class FactorSet:
    """A named, versioned group of factors."""

    id: str
    regime: str
    name: str
    year: int
    valid_from: date
    valid_to: date
    factors: Mapping[Quantity, Factor]
    name_zh: str = ""
    entries: Mapping[str, Factor] = field(default_factory=dict)
    market_based_unavailable: str = ""
    notes: str = ""
    content_hash: str = ""

    def factor(self, quantity: Quantity) -> Factor:
        """The primary factor of ``quantity`` (location-based for grid electricity)."""
        try:
            return self.factors[quantity]
        except KeyError:
            raise AccountingError(
                f"factor set {self.id} has no factor for {quantity.value}", code="missing_factor"
            ) from None

    def entry(self, key: str) -> Factor:
        """The factor filed under ``key``."""
        try:
            return self.entries[key]
        except KeyError:
            known = ", ".join(sorted(self.entries))
            raise AccountingError(
                f"factor set {self.id} has no factor {key!r} (it has: {known})", code="missing_factor"
            ) from None

    def residual(self, quantity: Quantity = Quantity.ELECTRICITY) -> Factor | None:
        """The market-based residual factor of ``quantity``, or None when the set has none.

        GHG Protocol Scope 2 Guidance Chapter 6 (market-based hierarchy): consumption not covered by a
        contractual instrument takes the residual mix; :attr:`market_based_unavailable` says why a set
        has none.
        """
        for factor in self.entries.values():
            if factor.quantity is quantity and factor.method == Method.MARKET_RESIDUAL:
                return factor
        return None

    def covers(self, day: date) -> bool:
        """Whether the set may be applied to consumption on ``day`` (its validity period)."""
        return self.valid_from <= day <= self.valid_to


def _required(data: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in data or data[key] in ("", None):
        raise AccountingError(f"{where}: '{key}' is required", code="invalid_factor_set")
    return data[key]


def _decimal(text: Any, where: str) -> Decimal:
    if isinstance(text, float):
        # A TOML float has already passed through binary floating point; the files write decimals as
        # strings so that the number a verifier reads is the number the product multiplies by.
        raise AccountingError(
            f'{where}: value {text!r} must be written as a string, e.g. "{text}"',
            code="invalid_factor_set",
        )
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


def _choice(value: Any, allowed: type[StrEnum] | frozenset[str], where: str, what: str) -> str:
    names = sorted(str(a) for a in allowed)
    if str(value) not in names:
        raise AccountingError(
            f"{where}: {what} {value!r} is not one of {', '.join(names)}", code="invalid_factor_set"
        )
    return str(value)


def _content_hash(data: Mapping[str, Any]) -> str:
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _parse_factor(raw: Mapping[str, Any], here: str) -> Factor:
    try:
        quantity = Quantity(_required(raw, "quantity", here))
    except ValueError:
        raise AccountingError(
            f"{here}: unknown quantity {raw['quantity']!r}", code="invalid_factor_set"
        ) from None
    key = str(raw.get("key", quantity.value))
    here = f"{here} ({key})"
    basis = _choice(_required(raw, "basis", here), Basis, here, "basis")
    gwp = str(raw.get("gwp", NO_GWP))
    if basis == Basis.CO2 and gwp != NO_GWP:
        raise AccountingError(
            f"{here}: a CO2-only factor needs no GWP set, got {gwp!r}", code="invalid_factor_set"
        )
    if basis == Basis.CO2E:
        _choice(gwp, GWP_SETS, here, "GWP set of a CO2e factor")
    unit = str(_required(raw, "unit", here))
    if not unit.startswith(f"kg {basis}/") or unit.count("/") != 1:
        raise AccountingError(
            f"{here}: unit {unit!r} must read 'kg {basis}/<activity unit>' for basis {basis}",
            code="invalid_factor_set",
        )
    method = _choice(_required(raw, "method", here), Method, here, "method")
    if key == quantity.value and unit.rsplit("/", 1)[1] != quantity.unit:
        raise AccountingError(
            f"{here}: the primary {quantity.value} factor must be per {quantity.unit}, not {unit!r}",
            code="invalid_factor_set",
        )
    if method == Method.MARKET_RESIDUAL and key == quantity.value:
        raise AccountingError(
            f"{here}: a market-residual factor needs its own key; '{key}' is the location-based one",
            code="invalid_factor_set",
        )
    source = Source(
        publisher=str(_required(raw, "publisher", here)),
        document=str(_required(raw, "document", here)),
        year=int(_required(raw, "year", here)),
        table=str(raw.get("table", "")),
        confidence=_choice(_required(raw, "confidence", here), Confidence, here, "confidence mark"),
        notes=str(raw.get("notes", "")),
        published=str(raw.get("published", "")),
    )
    return Factor(
        quantity=quantity,
        value=_decimal(_required(raw, "value", here), here),
        unit=unit,
        basis=basis,
        method=method,
        source=source,
        key=key,
        gwp=gwp,
        geography=str(raw.get("geography", "")),
        derivation=str(raw.get("derivation", "")),
        components=tuple(str(c) for c in raw.get("components", ())),
        valid_from=_date(raw["valid_from"], here) if "valid_from" in raw else None,
        valid_to=_date(raw["valid_to"], here) if "valid_to" in raw else None,
    )


def _check_components(entries: Mapping[str, Factor], where: str) -> None:
    # A factor made of parts (water = supply + treatment) must equal their sum exactly, so the parts a
    # verifier reads are the parts the product multiplies by.
    for factor in entries.values():
        if not factor.components:
            continue
        here = f"{where}, factor {factor.key}"
        parts = []
        for key in factor.components:
            part = entries.get(key)
            if part is None:
                raise AccountingError(
                    f"{here}: component {key!r} is not in the set", code="invalid_factor_set"
                )
            if part.unit != factor.unit:
                raise AccountingError(
                    f"{here}: component {key} is in {part.unit}, not {factor.unit}", code="invalid_factor_set"
                )
            parts.append(part.value)
        if sum(parts, Decimal(0)) != factor.value:
            raise AccountingError(
                f"{here}: value {factor.value} is not the sum of its components "
                f"{' + '.join(str(p) for p in parts)}",
                code="invalid_factor_set",
            )


def parse_factor_set(data: Mapping[str, Any]) -> FactorSet:
    """Validate a parsed factor-set document; every factor must carry a complete source."""
    set_id = str(_required(data, "id", "factor set"))
    where = f"factor set {set_id}"
    entries: dict[str, Factor] = {}
    for index, raw in enumerate(_required(data, "factors", where)):
        factor = _parse_factor(raw, f"{where}, factor {index}")
        if factor.key in entries:
            what = factor.quantity.value if factor.key == factor.quantity.value else factor.key
            raise AccountingError(f"{where}: a second factor for {what}", code="invalid_factor_set")
        entries[factor.key] = factor
    _check_components(entries, where)
    residuals = [f.key for f in entries.values() if f.method == Method.MARKET_RESIDUAL]
    if len({entries[k].quantity for k in residuals}) != len(residuals):
        raise AccountingError(
            f"{where}: more than one residual factor for a quantity", code="invalid_factor_set"
        )
    unavailable = str(data.get("market_based_unavailable", ""))
    if residuals and unavailable:
        raise AccountingError(
            f"{where}: has a residual factor and also says market-based is unavailable",
            code="invalid_factor_set",
        )
    if not residuals and not unavailable:
        unavailable = f"factor set {set_id} has no market-based residual factor"
    valid_from = _date(_required(data, "valid_from", where), where)
    valid_to = _date(_required(data, "valid_to", where), where)
    if valid_to < valid_from:
        raise AccountingError(
            f"{where}: valid_to {valid_to} is before valid_from {valid_from}", code="invalid_factor_set"
        )
    return FactorSet(
        id=set_id,
        regime=_choice(_required(data, "regime", where), REGIMES, where, "regime"),
        name=str(_required(data, "name", where)),
        year=int(_required(data, "year", where)),
        valid_from=valid_from,
        valid_to=valid_to,
        # Read-only views: a parsed set is as immutable as the published file it came from.
        factors=MappingProxyType({f.quantity: f for f in entries.values() if f.key == f.quantity.value}),
        name_zh=str(data.get("name_zh", "")),
        entries=MappingProxyType(entries),
        market_based_unavailable=unavailable,
        notes=str(data.get("notes", "")),
        content_hash=_content_hash(data),
    )
