"""Labelled anomalies injected into a simulated county's meter registers, to measure the detectors.

Unlike :mod:`tanhui.sim.faults` (transport faults that ingest must quarantine), these are faults of the
meter or the household that arrive as well-formed readings: a leak, a stuck register, a dead meter, a
tampered (dropping or reversed) register, a meter clock that jumps, and an unusual load. Each meter gets at
most one, at a seeded random start, and :class:`InjectedAnomaly` records it so ``tanhui insights evaluate``
can score the findings against it.

Registers are altered in unwrapped counts and wrapped again at the meter's capacity, as a real register
would show them. Faults start after ``warmup_days`` (the detectors compare a meter with its own past) and at
least ``tail_days`` before the end of the period (time to be seen); a dead meter (flat zero) is dead from
the first reading.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
from enum import StrEnum

from tanhui.domain.quantity import Quantity
from tanhui.sim.county import County, SimMeter, series

__all__ = ["AnomalousSeries", "AnomalyKind", "AnomalyRates", "InjectedAnomaly", "inject_anomalies"]

_HOUR = 3600


class AnomalyKind(StrEnum):
    """The injected kinds; their values match :class:`tanhui.insights.findings.FindingKind`."""

    LEAK = "leak"
    STUCK = "stuck"
    FLAT_ZERO = "flat_zero"
    SUDDEN_DROP = "sudden_drop"
    REVERSE_FLOW = "reverse_flow"
    CLOCK_JUMP = "clock_jump"
    UNUSUAL_USE = "unusual_use"


# Which meters a kind can affect: leaks are water; an unusual load is electricity or gas.
_ELIGIBLE = {
    AnomalyKind.LEAK: (Quantity.WATER,),
    AnomalyKind.UNUSUAL_USE: (Quantity.ELECTRICITY, Quantity.GAS),
}

# Magnitudes (assumptions stated beside each; docs/insights.md):
# Leak flow, L/h: from a slow cistern leak (4 L/h, about three dripping taps at 1.3 L/h each, US EPA
# WaterSense) to a running toilet (31.5 L/h ≈ 200 gallons a day, US EPA WaterSense Fix a Leak Week).
_LEAK_L_PER_H = (4.0, 31.5)
# Sudden drop: the register then counts 5-30 % of the true use (a partial bypass or magnet).
_DROP_FACTOR = (0.05, 0.3)
# Clock jump, seconds, either sign: off the hourly grid, smaller than one interval so readings stay in order.
_CLOCK_JUMP_S = (300, 3300)
# Unusual load per hour: electricity 1-2.5 kWh (a second air conditioner or a heater left on), gas
# 0.2-0.5 m³ (a burner left on); lasting 8-48 hours.
_UNUSUAL_PER_HOUR = {Quantity.ELECTRICITY: (1.0, 2.5), Quantity.GAS: (0.2, 0.5)}
_UNUSUAL_HOURS = (8, 48)


@dataclass(frozen=True, slots=True)
class AnomalyRates:
    """Share of eligible meters that get each kind (a meter gets at most one)."""

    leak: float = 0.10
    stuck: float = 0.05
    flat_zero: float = 0.02
    sudden_drop: float = 0.03
    reverse_flow: float = 0.02
    clock_jump: float = 0.02
    unusual_use: float = 0.03

    def __post_init__(self) -> None:
        for kind in AnomalyKind:
            share = getattr(self, kind.value)
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"anomaly rate {kind}: must be between 0 and 1, got {share}")


@dataclass(frozen=True, slots=True)
class InjectedAnomaly:
    """One labelled anomaly: on which meter, from when (epoch seconds, UTC), and how large."""

    kind: AnomalyKind
    meter: str
    household: str
    start: int
    magnitude: float


@dataclass(frozen=True, slots=True)
class AnomalousSeries:
    """A meter's readings after injection: meter times (epoch s, UTC, as the meter states them) and register
    counts (wrapped at capacity)."""

    meter: SimMeter
    times: list[int]
    counts: list[int]


def _unwrap(counts: list[int], capacity: int) -> list[int]:
    out = [counts[0]]
    for a, b in itertools.pairwise(counts):
        out.append(out[-1] + (b - a) % capacity)
    return out


def inject_anomalies(
    county: County,
    rates: AnomalyRates,
    *,
    seed: int,
    warmup_days: int = 7,
    tail_days: int = 4,
) -> tuple[list[AnomalousSeries], list[InjectedAnomaly]]:
    """Every meter's readings with anomalies injected at ``rates``, and the labels; the same seed gives the
    same result."""
    if county.days < warmup_days + tail_days + 1:
        raise ValueError(
            f"a {county.days}-day county is too short: anomalies start after {warmup_days} days of warm-up "
            f"and {tail_days} days before the end; simulate at least {warmup_days + tail_days + 1} days"
        )
    rng = random.Random(f"tanhui.sim/{seed}/anomalies")  # noqa: S311 - simulation noise
    all_series = series(county)
    times = [int(moment.timestamp()) for moment in county.reading_times()]
    per_day = round(86_400 / county.interval.total_seconds())
    first, last = warmup_days * per_day, len(times) - 1 - tail_days * per_day

    free = set(range(len(all_series)))
    plan: dict[int, AnomalyKind] = {}
    for kind in AnomalyKind:
        eligible = [
            i for i, s in enumerate(all_series) if s.meter.kind in _ELIGIBLE.get(kind, tuple(Quantity))
        ]
        chosen = rng.sample(
            sorted(i for i in eligible if i in free),
            min(round(getattr(rates, kind.value) * len(eligible)), len([i for i in eligible if i in free])),
        )
        for i in chosen:
            plan[i] = kind
            free.discard(i)

    out: list[AnomalousSeries] = []
    labels: list[InjectedAnomaly] = []
    for i, meter_series in enumerate(all_series):
        meter = meter_series.meter
        counts = list(meter_series.counts)
        meter_times = list(times)
        planned = plan.get(i)
        if planned is not None:
            s = 0 if planned is AnomalyKind.FLAT_ZERO else rng.randint(first, last)
            magnitude = _apply(planned, meter, meter_times, counts, s, rng)
            # A clock jump happens somewhere after the last reading stamped by the good clock.
            start = times[s - 1] if planned is AnomalyKind.CLOCK_JUMP else times[s]
            labels.append(InjectedAnomaly(planned, meter.serial, meter.household, start, magnitude))
        out.append(AnomalousSeries(meter, meter_times, counts))
    return out, labels


def _apply(
    kind: AnomalyKind, meter: SimMeter, times: list[int], counts: list[int], s: int, rng: random.Random
) -> float:
    """Alter ``times``/``counts`` in place from reading ``s``; returns the fault's magnitude."""
    capacity = meter.capacity
    u = _unwrap(counts, capacity)
    per_unit = meter.counts_per_unit
    magnitude = 0.0
    if kind is AnomalyKind.LEAK:
        magnitude = round(rng.uniform(*_LEAK_L_PER_H), 1)
        per_second = magnitude / 1000 * per_unit / _HOUR
        u = [v if k < s else v + math.floor(per_second * (times[k] - times[s])) for k, v in enumerate(u)]
    elif kind in (AnomalyKind.STUCK, AnomalyKind.FLAT_ZERO):
        u = [v if k < s else u[s] for k, v in enumerate(u)]
    elif kind is AnomalyKind.SUDDEN_DROP:
        magnitude = round(rng.uniform(*_DROP_FACTOR), 3)
        u = [v if k < s else u[s] + math.floor((v - u[s]) * magnitude) for k, v in enumerate(u)]
    elif kind is AnomalyKind.REVERSE_FLOW:
        u = [v if k < s else u[s] - (v - u[s]) for k, v in enumerate(u)]
    elif kind is AnomalyKind.CLOCK_JUMP:
        magnitude = float(rng.choice((-1, 1)) * rng.randint(*_CLOCK_JUMP_S))
        for k in range(s, len(times)):
            times[k] += int(magnitude)
    elif kind is AnomalyKind.UNUSUAL_USE:
        magnitude = round(rng.uniform(*_UNUSUAL_PER_HOUR[meter.kind]), 2)
        hours = rng.randint(*_UNUSUAL_HOURS)
        per_second = magnitude * per_unit / _HOUR
        u = [
            v if k < s else v + math.floor(per_second * min(times[k] - times[s], hours * _HOUR))
            for k, v in enumerate(u)
        ]
    counts[:] = [v % capacity for v in u]
    return magnitude
