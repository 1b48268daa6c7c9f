"""The per-reading checks of ingest, in order; the first that fails names the quarantine reason.

Each check takes the registered meter, the reading and when it arrived, and returns a message for the
operator when the reading breaks its rule. Whether the meter exists at all, and duplicates, are decided
by the pipeline, which needs the store for both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache

from tanhui.domain.quantity import canonical_unit
from tanhui.domain.reading import MeterReading
from tanhui.ingest.reasons import Reason
from tanhui.ingest.rules import IngestRules
from tanhui.store.registry import Gateway, Meter


@dataclass(frozen=True, slots=True)
class Context:
    """One reading with what the checks need, each derived value computed once."""

    meter: Meter
    reading: MeterReading
    gateway: Gateway
    received_at: int
    rules: IngestRules
    meter_time: int
    counts: Decimal

    @classmethod
    def of(
        cls, meter: Meter, reading: MeterReading, gateway: Gateway, received_at: int, rules: IngestRules
    ) -> Context:
        return cls(
            meter,
            reading,
            gateway,
            received_at,
            rules,
            _epoch(reading.time),
            reading.value / meter.resolution,
        )


@lru_cache(maxsize=65_536)
def _epoch(moment: datetime) -> int:
    # The readings of one envelope share a handful of times; datetime.timestamp() costs several times a
    # cache lookup, once per reading, on the hot path.
    return int(moment.timestamp())


def _gateway(c: Context) -> str | None:
    if c.meter.gateway_id is not None and c.meter.gateway_id != c.gateway.id:
        return f"meter {c.meter.serial} is assigned to another gateway, not {c.gateway.name}"
    return None


def _unit(c: Context) -> str | None:
    if canonical_unit(c.reading.unit) != c.meter.unit:
        return f"meter {c.meter.serial} counts in {c.meter.unit}, the reading says {c.reading.unit!r}"
    return None


def _resolution(c: Context) -> str | None:
    if c.counts != c.counts.to_integral_value():
        return (
            f"meter {c.meter.serial}: {c.reading.value} is not a multiple of its resolution "
            f"{c.meter.resolution}"
        )
    return None


def _range(c: Context) -> str | None:
    if not Decimal(0) <= c.counts < c.meter.capacity:
        return (
            f"meter {c.meter.serial}: {c.reading.value} is outside the register's range "
            f"[0, {c.meter.capacity * c.meter.resolution})"
        )
    return None


def _clock_ahead(c: Context) -> str | None:
    ahead = c.meter_time - c.received_at
    if ahead > c.rules.max_ahead_seconds:
        return (
            f"meter {c.meter.serial}: time {c.reading.time.isoformat()} is {ahead} s after the reading "
            f"arrived (at most {c.rules.max_ahead_seconds} s); check the meter's or gateway's clock"
        )
    return None


def _clock_behind(c: Context) -> str | None:
    behind = c.received_at - c.meter_time
    if behind > c.rules.max_behind_seconds:
        return (
            f"meter {c.meter.serial}: time {c.reading.time.isoformat()} is {behind} s before the reading "
            f"arrived (at most {c.rules.max_behind_seconds} s); has the meter's clock been reset?"
        )
    return None


CHECKS: tuple[tuple[Reason, Callable[[Context], str | None]], ...] = (
    (Reason.GATEWAY_NOT_ALLOWED, _gateway),
    (Reason.UNIT_MISMATCH, _unit),
    (Reason.RESOLUTION_MISMATCH, _resolution),
    (Reason.REGISTER_OUT_OF_RANGE, _range),
    (Reason.METER_CLOCK_AHEAD, _clock_ahead),
    (Reason.METER_CLOCK_BEHIND, _clock_behind),
)


def first_violation(context: Context) -> tuple[Reason, str] | None:
    """The first rule ``context.reading`` breaks, with the message for the operator; None if none."""
    for reason, check in CHECKS:
        message = check(context)
        if message is not None:
            return reason, message
    return None


def passes_all(c: Context) -> bool:
    """True when ``c.reading`` breaks none of :data:`CHECKS`: their conjunction as one expression.

    The hot path of ingest asks this once per reading; :func:`first_violation` then names the rule for
    the few that fail. A property test holds the two to the same answer.
    """
    meter = c.meter
    return (
        (meter.gateway_id is None or meter.gateway_id == c.gateway.id)
        and (c.reading.unit == meter.unit or canonical_unit(c.reading.unit) == meter.unit)
        and c.counts == c.counts.to_integral_value()
        and 0 <= c.counts < meter.capacity
        and c.meter_time - c.received_at <= c.rules.max_ahead_seconds
        and c.received_at - c.meter_time <= c.rules.max_behind_seconds
    )
