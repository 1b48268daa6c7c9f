"""Hand-made register series for the detector tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from tanhui.domain.quantity import Quantity
from tanhui.insights.parameters import DetectorParameters, parameters_from_toml
from tanhui.insights.series import RegisterSeries

DATA = Path(__file__).resolve().parents[3] / "data" / "insights"
# 2026-06-01 00:00 Asia/Shanghai: the series start at a local midnight.
T0 = 1_780_243_200
OFFSET = 8 * 3600


@pytest.fixture(scope="session")
def params() -> DetectorParameters:
    return parameters_from_toml((DATA / "detectors.toml").read_text(encoding="utf-8"))


def from_hourly(
    hourly_units: Sequence[float],
    quantity: Quantity,
    *,
    meter: str = "m1",
    counts_per_unit: int = 1000,
    start_counts: int = 1_000_000,
) -> RegisterSeries:
    """A register read on every hour, counting ``hourly_units`` (kWh or m³ per hour) floored to counts."""
    running = np.concatenate([[0.0], np.cumsum(np.asarray(hourly_units, dtype=float) * counts_per_unit)])
    counts = start_counts + np.floor(running + 1e-9).astype(np.int64)
    times = T0 + 3600 * np.arange(counts.size, dtype=np.int64)
    return RegisterSeries(meter, quantity, times, counts, counts_per_unit, 100_000_000, OFFSET)


def daily_pattern(days: int, day_hours: Callable[[int, int], float]) -> list[float]:
    """``day_hours(day, local_hour)`` for every hour of ``days`` local days."""
    return [day_hours(d, h) for d in range(days) for h in range(24)]
