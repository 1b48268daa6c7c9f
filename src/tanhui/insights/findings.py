"""What a detector reports: a typed finding about one meter."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["Finding", "FindingKind", "Severity"]


class FindingKind(StrEnum):
    """The anomalies Tanhui detects (docs/insights.md describes each rule and its source)."""

    LEAK = "leak"  # water keeps flowing through the night (continuous minimum night flow)
    STUCK = "stuck"  # a register that advanced stops advancing
    FLAT_ZERO = "flat_zero"  # a meter that shows no use at all while its peers consume
    SUDDEN_DROP = "sudden_drop"  # daily use falls to a fraction of the meter's own recent level
    REVERSE_FLOW = "reverse_flow"  # the register counts backwards
    CLOCK_JUMP = "clock_jump"  # the meter's clock steps back or off its reading grid
    UNUSUAL_USE = "unusual_use"  # hours far above the household's own use at that hour of day

    @property
    def is_meter_fault(self) -> bool:
        """Whether the finding questions the meter's readings (held back from points until resolved)."""
        return self not in (FindingKind.LEAK, FindingKind.UNUSUAL_USE)


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class Finding:
    """One anomaly on one meter.

    ``start`` is when the evidence says it began and ``detected_at`` the meter time of the last reading the
    rule needed (both epoch seconds, UTC): a detector never uses a reading after ``detected_at``, so the
    difference from a fault's true start is the time a live system would have taken to raise it.
    ``evidence`` holds the numbers the rule compared, for a person to check.
    """

    kind: FindingKind
    meter: str
    start: int
    detected_at: int
    severity: Severity
    evidence: dict[str, float | int | str] = field(default_factory=dict)
