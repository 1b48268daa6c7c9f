"""A register reading as a meter states it, after decoding and before any check."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class MeterReading:
    """One register value of one meter at the meter's own time.

    ``time`` is timezone-aware; ``value`` is exact. ``register`` names the register in Tanhui's
    vocabulary (``energy_import``, ``volume``, ...), independent of the protocol's identifiers.
    """

    meter: str
    register: str
    value: Decimal
    unit: str
    time: datetime
