"""What a meter measures and the units Tanhui accounts in."""

from __future__ import annotations

from enum import StrEnum


class Quantity(StrEnum):
    """The three utilities a household meter can measure."""

    ELECTRICITY = "electricity"
    WATER = "water"
    GAS = "gas"

    @property
    def unit(self) -> str:
        """The accounting unit of the quantity (the unit factors are stated per)."""
        return _UNITS[self]

    @property
    def register(self) -> str:
        """The cumulative register whose increase is this quantity's consumption."""
        return "energy_import" if self is Quantity.ELECTRICITY else "volume"


_UNITS = {Quantity.ELECTRICITY: "kWh", Quantity.WATER: "m3", Quantity.GAS: "m3"}

# Unit spellings that gateways and protocols use for the same accounting unit.
_UNIT_ALIASES = {
    "kwh": "kWh",
    "m3": "m3",
    "m³": "m3",
}


def canonical_unit(unit: str) -> str | None:
    """The accounting-unit spelling of ``unit``, or None when Tanhui does not know it."""
    return _UNIT_ALIASES.get(unit.strip().lower())
