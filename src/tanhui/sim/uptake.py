"""Tip uptake: a seeded model of households that adopt their top saving tip, and how their load changes.

The simulator draws each household's hourly use (:mod:`tanhui.sim.household`), some households with a
leak (a constant extra water flow, as :mod:`tanhui.sim.anomalies` injects), lets a share of households
adopt the tip ranked first for them from ``adopt_from`` (an hour index), and changes their load as the tip's
mechanism says, scaled by each adopter's adherence (not everyone follows a tip fully). The caller ranks the
tips (``tanhui.insights.tips``); this module only applies them, so the measured saving can be compared
with the expected one.

Assumptions (docs/insights.md): uptake share 25 % (behavioural feedback programmes report that a minority
act on a given tip; Tanhui's planning value, to be measured in the pilot), adherence uniform in 50-100 %.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tanhui.domain.quantity import Quantity
from tanhui.sim.county import County
from tanhui.sim.household import Conditions, hourly_consumption

__all__ = ["UptakeModel", "apply_tip", "choose_adopters", "hourly_loads"]

_EVENING_NIGHT = frozenset([*range(19, 24), *range(0, 7)])
_SHOWER_HOURS = frozenset(range(18, 24))


@dataclass(frozen=True, slots=True)
class UptakeModel:
    uptake_share: float = 0.25
    adherence: tuple[float, float] = (0.5, 1.0)
    leak_share: float = 0.08
    leak_l_per_h: tuple[float, float] = (4.0, 31.5)  # as tanhui.sim.anomalies (US EPA WaterSense range)


def hourly_loads(
    county: County, model: UptakeModel, rng: random.Random
) -> tuple[list[int], dict[str, dict[Quantity, NDArray[np.float64]]], dict[str, float]]:
    """Local hour of day of each simulated hour, each household's hourly use per quantity (no saving), and
    the leaks drawn (household → L/h, already in its water use)."""
    conditions = Conditions.from_temperatures(county.temperatures)
    loads = {
        home.code: {
            kind: np.array(hourly_consumption(home, kind, conditions, seed=county.seed)) for kind in Quantity
        }
        for home in county.households
    }
    codes = [home.code for home in county.households]
    leaks = {
        code: round(rng.uniform(*model.leak_l_per_h), 1)
        for code in rng.sample(codes, round(model.leak_share * len(codes)))
    }
    for code, flow in leaks.items():
        loads[code][Quantity.WATER] = loads[code][Quantity.WATER] + flow / 1000
    return list(conditions.hour_of_day), loads, leaks


def choose_adopters(codes: Sequence[str], model: UptakeModel, rng: random.Random) -> dict[str, float]:
    """The households that adopt their top tip, each with its adherence (share of the mechanism it keeps)."""
    chosen = rng.sample(sorted(codes), round(model.uptake_share * len(codes)))
    return {code: rng.uniform(*model.adherence) for code in chosen}


def apply_tip(
    tip: str,
    load: Mapping[Quantity, NDArray[np.float64]],
    hours: Sequence[int],
    start: int,
    adherence: float,
    parameters: Mapping[str, float],
    leak_l_per_h: float = 0.0,
) -> dict[Quantity, NDArray[np.float64]]:
    """The household's load with tip ``tip`` followed from hour index ``start`` on.

    ``parameters`` are the tip's (tips.toml) plus, for ``standby``, ``excess_kw``: the base load above the
    peers' median. Unknown tips change nothing.
    """
    out = {kind: values.copy() for kind, values in load.items()}
    after = np.arange(len(hours)) >= start
    hour = np.array(hours)
    if tip == "standby":
        electricity = out[Quantity.ELECTRICITY]
        cut = np.minimum(electricity, adherence * parameters["reducible_share"] * parameters["excess_kw"])
        out[Quantity.ELECTRICITY] = np.where(after, electricity - cut, electricity)
    elif tip == "ac_setpoint":
        electricity = out[Quantity.ELECTRICITY]
        base = float(np.percentile(electricity[:start], 5)) if start else 0.0
        evening = np.isin(hour, list(_EVENING_NIGHT)) & after
        share = adherence * parameters["degrees"] * parameters["share_per_degree"]
        out[Quantity.ELECTRICITY] = np.where(
            evening, electricity - share * np.maximum(electricity - base, 0), electricity
        )
    elif tip == "leak_check":
        water = out[Quantity.WATER]
        # A leak is fixed or not: an adherent household (adherence above the middle) finds and fixes it.
        fixed = leak_l_per_h / 1000 if adherence >= 0.75 else 0.0
        out[Quantity.WATER] = np.where(after, water - fixed, water)
    elif tip == "shower":
        water = out[Quantity.WATER]
        evening = np.isin(hour, list(_SHOWER_HOURS)) & after
        out[Quantity.WATER] = np.where(evening, water * (1 - adherence * parameters["cut"]), water)
    elif tip == "cooking_lid":
        gas = out[Quantity.GAS]
        out[Quantity.GAS] = np.where(after, gas * (1 - adherence * parameters["cut"]), gas)
    return out
