"""Consumption from successive register values: normal steps, rollover and decreasing registers.

A cumulative register counts in steps of the meter's resolution (0.01 kWh, 0.001 m³, ...) and wraps to
zero at its capacity (a six-integer-digit register with two decimals wraps at 1,000,000.00, i.e. at
100,000,000 counts). Values here are integers in counts, so no rounding can occur.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tanhui.meters.errors import MeterError


class ContinuityError(MeterError):
    """A register went backwards in a way that rollover cannot explain."""

    code = "decreasing_register"


class StepKind(StrEnum):
    NORMAL = "normal"
    ROLLOVER = "rollover"


@dataclass(frozen=True, slots=True)
class Step:
    """The consumption between two readings of one register, in counts."""

    counts: int
    kind: StepKind


def step(previous: int, current: int, *, capacity: int, max_rollover_counts: int) -> Step:
    """The consumption from ``previous`` to ``current`` (counts, both in ``[0, capacity)``).

    A smaller ``current`` is read as a rollover only when the implied consumption
    (``capacity - previous + current``) is at most ``max_rollover_counts``; otherwise the register
    decreased, which real meters do after a reset, a replacement or a fault, and
    :class:`ContinuityError` is raised so the caller can quarantine the reading instead of paying for
    invented consumption.
    """
    for name, value in (("previous", previous), ("current", current)):
        if not 0 <= value < capacity:
            raise ContinuityError(
                f"{name} register value {value} is outside [0, {capacity}) counts",
                code="register_out_of_range",
            )
    if current >= previous:
        return Step(current - previous, StepKind.NORMAL)
    wrapped = capacity - previous + current
    if wrapped <= max_rollover_counts:
        return Step(wrapped, StepKind.ROLLOVER)
    raise ContinuityError(
        f"register fell from {previous} to {current} counts; a rollover at {capacity} would mean "
        f"{wrapped} counts, above the plausible {max_rollover_counts}"
    )
