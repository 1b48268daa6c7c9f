"""Footprint: consumption times an emission factor (GHG Protocol, Scope 2 location-based for grid
electricity; Scope 1 for gas burned at home; water as an allocation of the utility's emissions)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from tanhui.accounting.factors import Factor, FactorSet
from tanhui.domain.quantity import Quantity

MILLIGRAMS_PER_KG = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class FootprintLine:
    """One quantity's consumption, the factor applied and the resulting emissions."""

    quantity: Quantity
    amount: Decimal
    factor: Factor
    kg_co2e: Decimal


def line(factor_set: FactorSet, quantity: Quantity, amount: Decimal) -> FootprintLine:
    """Emissions of ``amount`` (in the quantity's accounting unit) under ``factor_set``."""
    factor = factor_set.factor(quantity)
    return FootprintLine(quantity, amount, factor, amount * factor.value)


def to_milligrams(kg: Decimal) -> int:
    """kg as whole milligrams (half-even), the integer unit in which the store sums emissions."""
    return int((kg * MILLIGRAMS_PER_KG).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def decimal_text(value: Decimal) -> str:
    """``value`` as a plain decimal string without exponent or trailing zeros (``530.6``, ``1000``).

    JSON carries accounting numbers as such strings, so no reader turns them into binary floats.
    """
    normal = value.normalize()
    return format(normal if normal != 0 else Decimal(0), "f")


def factor_text(value: Decimal) -> str:
    """A factor as published, trailing zeros kept (``0.17700``): its digits are part of its source."""
    return format(value, "f")
