"""Personal saving tips, ranked by the saving expected for this household from its own load shape and its
peers'.

A :class:`HouseholdProfile` summarises a household's hourly history (base load, evening and night use,
night water flow, water and gas per person); each tip of the catalogue (``data/insights/tips.toml``) has
a model that turns the household's excess over the peers' median into an expected annual saving in the
tip's unit and in kg CO₂. Tips with no expected saving are not shown.
"""

from __future__ import annotations

import statistics
import tomllib
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tanhui.domain.quantity import Quantity

__all__ = [
    "HouseholdProfile",
    "RankedTip",
    "Tip",
    "TipCatalogue",
    "catalogue_from_toml",
    "profile",
    "rank_tips",
]

_DAYS_PER_YEAR = 365
_HOURS_PER_YEAR = 8760
# Evening and night hours in which cooling dominates the load above the base (local 19:00-07:00).
_EVENING_NIGHT = [*range(19, 24), *range(0, 7)]
# Night window of the water rule, as the leak detector's (detectors.toml [leak]).
_NIGHT_WATER = slice(2, 5)
_BASE_PERCENTILE = 5
_RECENT_NIGHTS = 7


@dataclass(frozen=True, slots=True)
class HouseholdProfile:
    """What the tip models read from a household's history (per day or per hour, accounting units)."""

    household: str
    persons: int
    base_kw: float
    evening_night_kwh_per_day: float
    water_night_l_per_h: float
    water_m3_per_person_day: float
    gas_m3_per_person_day: float


def profile(
    household: str,
    persons: int,
    electricity: NDArray[np.float64],
    water: NDArray[np.float64],
    gas: NDArray[np.float64],
) -> HouseholdProfile:
    """A profile from days × 24 local-hour grids of use (kWh, m³, m³ per hour; NaN where unmeasured).

    A feature with no measured hour is 0 (no tip is built on it).
    """
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", RuntimeWarning
        )  # an unmeasured column or grid gives NaN, zeroed below
        base = float(np.nanpercentile(electricity, _BASE_PERCENTILE))
        evening = float(np.nansum(np.nanmean(electricity[:, _EVENING_NIGHT] - base, axis=0).clip(min=0)))
        # The last week's nights: a leak that began recently should show in the tips too.
        night = float(np.nanmedian(np.nanmin(water[-_RECENT_NIGHTS:, _NIGHT_WATER], axis=1))) * 1000
        water_day = float(np.nanmean(water)) * 24 / persons
        gas_day = float(np.nanmean(gas)) * 24 / persons

    def known(value: float) -> float:
        return 0.0 if np.isnan(value) else value

    return HouseholdProfile(
        household=household,
        persons=persons,
        base_kw=known(base),
        evening_night_kwh_per_day=known(evening),
        water_night_l_per_h=known(night),
        water_m3_per_person_day=known(water_day),
        gas_m3_per_person_day=known(gas_day),
    )


@dataclass(frozen=True, slots=True)
class Tip:
    id: str
    quantity: Quantity
    model: str
    parameters: Mapping[str, float]
    texts: Mapping[str, str]
    mechanism: str
    saving_source: str


@dataclass(frozen=True, slots=True)
class TipCatalogue:
    tips: tuple[Tip, ...]
    kg_co2_per_unit: Mapping[Quantity, float]


@dataclass(frozen=True, slots=True)
class RankedTip:
    """A tip with the saving expected for one household, per year."""

    tip: Tip
    expected_per_year: float
    expected_kg_co2e_per_year: float

    def as_json(self, locale: str) -> dict[str, object]:
        language = "en" if locale.lower().startswith("en") else "zh"
        saving = (
            f"{self.expected_per_year:.0f}"
            if self.expected_per_year >= 10
            else f"{self.expected_per_year:.1f}"
        )
        unit = self.tip.quantity.unit
        return {
            "id": self.tip.id,
            "quantity": self.tip.quantity.value,
            "title": self.tip.texts[f"title_{language}"],
            "body": self.tip.texts[f"body_{language}"].format(saving=saving, unit=unit),
            "expected_per_year": round(self.expected_per_year, 2),
            "unit": unit,
            "expected_kg_co2e_per_year": round(self.expected_kg_co2e_per_year, 1),
            "mechanism": self.tip.mechanism,
            "source": self.tip.saving_source,
        }


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def _base_load(home: HouseholdProfile, peers: Sequence[HouseholdProfile], p: Mapping[str, float]) -> float:
    excess = home.base_kw - _median([x.base_kw for x in peers])
    return max(0.0, excess) * _HOURS_PER_YEAR * p["reducible_share"]


def _evening_cooling(
    home: HouseholdProfile, peers: Sequence[HouseholdProfile], p: Mapping[str, float]
) -> float:
    # Every home that cools can raise its set point; the expected saving scales with its own cooling.
    return home.evening_night_kwh_per_day * _DAYS_PER_YEAR * p["degrees"] * p["share_per_degree"]


def _night_water(home: HouseholdProfile, peers: Sequence[HouseholdProfile], p: Mapping[str, float]) -> float:
    excess = home.water_night_l_per_h - _median([x.water_night_l_per_h for x in peers])
    return max(0.0, excess) * _HOURS_PER_YEAR / 1000 * p["fixable_share"]


def _water_per_person(
    home: HouseholdProfile, peers: Sequence[HouseholdProfile], p: Mapping[str, float]
) -> float:
    if home.water_m3_per_person_day <= _median([x.water_m3_per_person_day for x in peers]):
        return 0.0
    return home.water_m3_per_person_day * home.persons * _DAYS_PER_YEAR * p["shower_share"] * p["cut"]


def _gas_per_person(
    home: HouseholdProfile, peers: Sequence[HouseholdProfile], p: Mapping[str, float]
) -> float:
    if home.gas_m3_per_person_day <= _median([x.gas_m3_per_person_day for x in peers]):
        return 0.0
    return home.gas_m3_per_person_day * home.persons * _DAYS_PER_YEAR * p["cut"]


_MODELS: dict[str, Callable[[HouseholdProfile, Sequence[HouseholdProfile], Mapping[str, float]], float]] = {
    "base_load": _base_load,
    "evening_cooling": _evening_cooling,
    "night_water": _night_water,
    "water_per_person": _water_per_person,
    "gas_per_person": _gas_per_person,
}
_TEXT_KEYS = ("title_zh", "title_en", "body_zh", "body_en")
_FIXED_KEYS = {"id", "quantity", "model", "mechanism", "saving_source", *_TEXT_KEYS}


def catalogue_from_toml(text: str) -> TipCatalogue:
    """Parse ``data/insights/tips.toml``; raises ValueError naming a tip with a missing or unknown field."""
    raw = tomllib.loads(text)
    tips = []
    for entry in raw.get("tips", []):
        name = entry.get("id", "?")
        missing = [k for k in _FIXED_KEYS if not isinstance(entry.get(k), str)]
        if missing:
            raise ValueError(f"tips.toml tip {name}: missing {sorted(missing)}")
        if entry["model"] not in _MODELS:
            raise ValueError(
                f"tips.toml tip {name}: unknown model {entry['model']!r}; use one of {sorted(_MODELS)}"
            )
        tips.append(
            Tip(
                id=entry["id"],
                quantity=Quantity(entry["quantity"]),
                model=entry["model"],
                parameters={k: float(v) for k, v in entry.items() if k not in _FIXED_KEYS},
                texts={k: entry[k] for k in _TEXT_KEYS},
                mechanism=entry["mechanism"],
                saving_source=entry["saving_source"],
            )
        )
    factors = raw["factors"]
    return TipCatalogue(tuple(tips), {q: float(factors[q.value]) for q in Quantity})


def expected_saving(tip: Tip, home: HouseholdProfile, peers: Sequence[HouseholdProfile]) -> float:
    """The tip's expected annual saving for ``home`` in the tip quantity's unit."""
    return _MODELS[tip.model](home, peers, tip.parameters)


def rank_tips(
    home: HouseholdProfile, peers: Sequence[HouseholdProfile], catalogue: TipCatalogue
) -> list[RankedTip]:
    """The catalogue's tips with a positive expected saving for ``home``, largest CO₂ saving first.

    ``peers`` are similar households (the community); ``home`` may be among them.
    """
    ranked = []
    for tip in catalogue.tips:
        saving = expected_saving(tip, home, peers)
        if saving > 0:
            ranked.append(RankedTip(tip, saving, saving * catalogue.kg_co2_per_unit[tip.quantity]))
    return sorted(ranked, key=lambda r: (-r.expected_kg_co2e_per_year, r.tip.id))
