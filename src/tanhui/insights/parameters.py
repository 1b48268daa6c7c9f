"""Detector parameters, read from ``data/insights/detectors.toml`` (each value carries its source there)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from typing import Any

from tanhui.domain.quantity import Quantity

__all__ = [
    "ClockParameters",
    "DetectorParameters",
    "DropParameters",
    "FlatZeroParameters",
    "LeakParameters",
    "ReverseParameters",
    "StuckParameters",
    "UnusualParameters",
    "parameters_from_toml",
]


@dataclass(frozen=True, slots=True)
class LeakParameters:
    window_start_hour: int
    window_end_hour: int
    consecutive_nights: int
    reference_nights: int
    min_reference_nights: int
    min_rise_l_per_h: float
    absolute_l_per_h: float
    large_leak_l_per_h: float
    critical_l_per_h: float


@dataclass(frozen=True, slots=True)
class StuckParameters:
    min_hours: dict[Quantity, float]
    history_factor: float
    history_days: int
    min_history_days: int


@dataclass(frozen=True, slots=True)
class FlatZeroParameters:
    min_zero_hours: float
    min_peers: int
    min_peer_share_consuming: float


@dataclass(frozen=True, slots=True)
class DropParameters:
    ratio: float
    consecutive_days: int
    reference_days: int
    min_reference_days: int


@dataclass(frozen=True, slots=True)
class ReverseParameters:
    min_decreasing_steps: int
    within_hours: float


@dataclass(frozen=True, slots=True)
class ClockParameters:
    tolerance_s: int


@dataclass(frozen=True, slots=True)
class UnusualParameters:
    quantities: tuple[Quantity, ...]
    reference_days: int
    min_reference_days: int
    robust_z: float
    consecutive_hours: int
    mad_floor_share: float


@dataclass(frozen=True, slots=True)
class DetectorParameters:
    leak: LeakParameters
    stuck: StuckParameters
    flat_zero: FlatZeroParameters
    sudden_drop: DropParameters
    reverse_flow: ReverseParameters
    clock_jump: ClockParameters
    unusual_use: UnusualParameters


def _pick(table: dict[str, Any], cls: type[Any]) -> dict[str, Any]:
    # Keys ending in _source document the value beside them; the dataclass takes the rest.
    names = set(cls.__dataclass_fields__)
    unknown = {k for k in table if k not in names and not k.endswith("source")}
    if unknown:
        raise ValueError(f"detectors.toml [{cls.__name__}]: unknown keys {sorted(unknown)}")
    return {k: v for k, v in table.items() if k in names}


def parameters_from_toml(text: str) -> DetectorParameters:
    """Parse ``data/insights/detectors.toml``; raises ValueError naming a missing or unknown key."""
    raw = tomllib.loads(text)
    try:
        stuck = dict(_pick(raw["stuck"], StuckParameters))
        stuck["min_hours"] = {Quantity(k): float(v) for k, v in stuck["min_hours"].items()}
        unusual = dict(_pick(raw["unusual_use"], UnusualParameters))
        unusual["quantities"] = tuple(Quantity(q) for q in unusual["quantities"])
        return DetectorParameters(
            leak=LeakParameters(**_pick(raw["leak"], LeakParameters)),
            stuck=StuckParameters(**stuck),
            flat_zero=FlatZeroParameters(**_pick(raw["flat_zero"], FlatZeroParameters)),
            sudden_drop=DropParameters(**_pick(raw["sudden_drop"], DropParameters)),
            reverse_flow=ReverseParameters(**_pick(raw["reverse_flow"], ReverseParameters)),
            clock_jump=ClockParameters(**_pick(raw["clock_jump"], ClockParameters)),
            unusual_use=UnusualParameters(**unusual),
        )
    except (KeyError, TypeError) as error:
        raise ValueError(f"detectors.toml: missing or malformed setting: {error}") from error
