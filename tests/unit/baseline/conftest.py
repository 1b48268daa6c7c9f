"""Shared inputs for the baseline unit tests: the rules file and small simulated series."""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from tanhui.baseline.rules import BaselineRules
from tanhui.baseline.series import DailySeries

RULES = Path(__file__).resolve().parents[3] / "data" / "baseline" / "rules.toml"


@pytest.fixture(scope="session")
def rules() -> BaselineRules:
    # The unit tests read the shipped rules file directly: the core package itself reads no files.
    with RULES.open("rb") as handle:
        return BaselineRules.from_mapping(tomllib.load(handle))


def cooling_series(
    *,
    days: int = 365,
    base: float = 5.0,
    slope: float = 0.8,
    balance: float = 24.0,
    noise: float = 0.3,
    seed: int = 1,
) -> DailySeries:
    """A Baoting-like year: seasonal temperature, usage = base + slope · max(T − balance, 0) + noise."""
    rng = np.random.default_rng(seed)
    t = 24 + 5 * np.sin(2 * np.pi * (np.arange(days) - 100) / 365) + rng.normal(0, 1.5, days)
    u = base + slope * np.maximum(t - balance, 0) + rng.normal(0, noise, days)
    return DailySeries(date(2025, 1, 1), u, t)
