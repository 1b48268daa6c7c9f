"""Consumption histories for baseline work: hourly temperature, and per household hourly use with and
without saving, for one quantity over a long period (two years and more).

:func:`tanhui.sim.county.truth` gives the same numbers through meters and registers; this module skips
meters and gateways, so a benchmark can simulate years of a few hundred households in seconds. The
weather and households come from the same generators (:mod:`~tanhui.sim.weather`,
:mod:`~tanhui.sim.household`), seeded by the caller.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from tanhui.domain.quantity import Quantity
from tanhui.sim.household import Conditions, SimHousehold, apply_saving, draw_households, hourly_consumption
from tanhui.sim.weather import hourly_temperatures

__all__ = ["UsageHistory", "daily_sums", "histories"]

SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True, slots=True)
class UsageHistory:
    """One household's hourly use (accounting unit) of one quantity: as metered, and without saving."""

    household: SimHousehold
    quantity: Quantity
    actual: tuple[float, ...]
    counterfactual: tuple[float, ...]


def histories(
    *,
    seed: int,
    households: int,
    start: date,
    days: int,
    quantity: Quantity = Quantity.ELECTRICITY,
    enrol_share: float = 0.5,
    saver_share: float = 0.6,
    tz: ZoneInfo = SHANGHAI,
) -> tuple[list[tuple[datetime, float]], list[UsageHistory]]:
    """Hourly temperatures (aware local datetimes, °C) and each household's hourly use over the period."""
    weather_rng = random.Random(f"tanhui.sim/{seed}/weather")  # noqa: S311 - simulation noise
    household_rng = random.Random(f"tanhui.sim/{seed}/households")  # noqa: S311
    temperatures = hourly_temperatures(start, days, tz, weather_rng)
    conditions = Conditions.from_temperatures(temperatures)
    homes = draw_households(
        household_rng, households, start=start, days=days, enrol_share=enrol_share, saver_share=saver_share
    )
    out = []
    for home in homes:
        base = hourly_consumption(home, quantity, conditions, seed=seed)
        out.append(UsageHistory(home, quantity, tuple(apply_saving(home, conditions, base)), tuple(base)))
    return temperatures, out


def daily_sums(hours: list[datetime], values: tuple[float, ...]) -> dict[date, float]:
    """Sum of ``values`` per local day of the matching hour."""
    out: dict[date, float] = {}
    for moment, value in zip(hours, values, strict=True):
        out[moment.date()] = out.get(moment.date(), 0.0) + value
    return out
