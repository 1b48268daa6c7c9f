"""Simulated households and their hourly use of electricity, water and gas.

The model is deliberately the kind a baseline must rediscover (``shared/reference/baseline-methods.md``
§1.1–1.2): a base load, a time-of-day shape that differs between workdays and days off, and for
electricity a cooling load that grows with temperature above a balance point. On top come household scale
factors (no two homes are alike), a day-to-day factor (visitors, eating out, a day away) and hour-to-hour
noise. All noise is multiplicative and log-normal with mean one, so consumption is never negative and its
expectation is the model's.

Household-independent work (shapes, temperature terms) is done once per period in :class:`Conditions`;
:func:`hourly_consumption` then costs a few multiplications and two random draws per hour.

A household that saves reduces every quantity by ``saving_fraction`` from ``saves_from`` on. The saving is
applied to the very numbers the model drew (:func:`apply_saving`), so the same household without saving
(the counterfactual a baseline estimates) is known exactly.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from tanhui.domain.quantity import Quantity
from tanhui.sim.daytype import is_day_off

__all__ = [
    "Conditions",
    "SimHousehold",
    "apply_saving",
    "draw_households",
    "hourly_consumption",
]

# --- Household size ---------------------------------------------------------------------------------
# Persons per household, 1 to 6, with weights whose mean is 3.05. Sourced: the mean, Hainan's 3.06 persons
# per household (Hainan 7th Census bulletin 2020, via shared/reference/emission-factors.md §6 and
# shared/docs/baoting.md). The spread over sizes is an assumption.
_PERSONS = (1, 2, 3, 4, 5, 6)
_PERSON_WEIGHTS = (0.14, 0.23, 0.27, 0.21, 0.10, 0.05)
MEAN_PERSONS = 3.06

# --- Calendar ---------------------------------------------------------------------------------------
# Share of days that are days off in mainland China: 104 weekend days plus the net public holidays make
# about 115 of 365 (derived from the holidays.China calendar, rounded). Used to normalise the day-off uplift
# so that the long-run averages below stay what their sources say.
_DAY_OFF_SHARE = 0.315

# --- Electricity ------------------------------------------------------------------------------------
# Targets, sourced: a Baoting household uses 2,000–3,250 kWh a year (shared/reference/emission-factors.md
# §6: national residential use per person x 3.06 persons, lowered for a rural county and raised for air
# conditioning). The split below is an assumption calibrated so the simulated county averages about
# 2,600 kWh a year, the middle of that range: ~1,500 kWh of appliances and ~1,100 kWh of cooling.
_FIXED_KWH_PER_DAY = 1.4  # refrigerator and standby, independent of household size (assumption)
_PERSON_KWH_PER_DAY = 0.9  # lighting, television, rice cooker, fans, chargers, per person (assumption)
# Cooling: kWh per hour per °C that the blended temperature exceeds the balance point, for a household of
# average size with air conditioning (calibrated, see above). Balance point 25 °C: the brief's 24–26 °C,
# and where CalTRACK-style cooling models for tropical sites put their knee (baseline-methods.md §1.2).
_COOLING_KWH_PER_DEGREE_HOUR = 0.23
_BALANCE_POINT_C = 25.0
# Indoor warmth lags the outdoor air: the cooling driver blends the hour's temperature with the day mean.
_HOUR_WEIGHT = 0.5
# Share of households with air conditioning (assumption: most Hainan homes have at least one unit;
# rural homes without one still run fans, modelled as a tenth of the cooling response).
_AIR_CONDITIONING_SHARE = 0.85
_FAN_ONLY_FACTOR = 0.1
# The refrigerator works harder when the kitchen is warm: +2 % per °C of daily mean above 24 °C
# (assumption).
_FRIDGE_PER_DEGREE = 0.02
_FRIDGE_REFERENCE_C = 24.0

# --- Water ------------------------------------------------------------------------------------------
# Sourced: 125 L per resident per day (Ministry of Water Resources, China Water Resources Bulletin 2023,
# via shared/reference/emission-factors.md §3).
_WATER_L_PER_PERSON_DAY = 125.0
# More showers on hot days: +1.5 % per °C of daily mean above 24 °C (assumption; centred near the simulated
# annual mean so the yearly average stays at the sourced value).
_WATER_PER_DEGREE = 0.015
_WATER_REFERENCE_C = 24.0

# --- Gas --------------------------------------------------------------------------------------------
# Natural gas for cooking and some water heating: 0.28 m³ per person per day, inside the brief's
# 0.25–0.35 m³. No source in the reference documents; treat as a planning value. Many rural Baoting homes
# cook on bottled LPG instead (emission-factors.md §2), which no meter sees.
_GAS_M3_PER_PERSON_DAY = 0.28

# --- Days off ---------------------------------------------------------------------------------------
# Uplift of the day's total on a day off, when people are at home (assumptions).
_DAY_OFF_UPLIFT = {Quantity.ELECTRICITY: 1.12, Quantity.WATER: 1.10, Quantity.GAS: 1.15}

# --- Time-of-day shapes (relative weights per local hour 0..23; Conditions scales them to a day) -------
# All assumptions, drawn from the usual residential pattern: low at night, a morning peak before work and
# school, an evening peak; on days off the day between is fuller and the morning starts later.
_APPLIANCE_WORKDAY = (
    0.35, 0.35, 0.35, 0.35, 0.35, 0.4, 0.8, 1.2, 0.9, 0.55, 0.55, 0.55,
    0.8, 0.7, 0.55, 0.55, 0.55, 0.9, 1.4, 1.9, 2.0, 1.8, 1.3, 0.7,
)  # fmt: skip
_APPLIANCE_DAY_OFF = (
    0.35, 0.35, 0.35, 0.35, 0.35, 0.35, 0.5, 0.9, 1.1, 1.0, 1.0, 1.0,
    1.2, 1.0, 0.9, 0.9, 0.9, 1.1, 1.5, 1.9, 2.0, 1.8, 1.4, 0.9,
)  # fmt: skip
# Fraction of the cooling demand that is met, by hour: bedrooms are cooled through the night, the home
# is cooled in the evening, and on workdays few are at home in the daytime.
_COOLING_WORKDAY = (
    0.9, 0.9, 0.9, 0.9, 0.9, 0.8, 0.5, 0.3, 0.25, 0.25, 0.25, 0.25,
    0.3, 0.3, 0.25, 0.25, 0.25, 0.5, 0.7, 0.9, 0.9, 0.9, 1.0, 1.0,
)  # fmt: skip
_COOLING_DAY_OFF = (
    0.9, 0.9, 0.9, 0.9, 0.9, 0.8, 0.6, 0.5, 0.6, 0.7, 0.7, 0.7,
    0.8, 0.8, 0.7, 0.7, 0.7, 0.7, 0.8, 0.9, 0.9, 0.9, 1.0, 1.0,
)  # fmt: skip
# Water: morning wash, lunch, evening showers (in the tropics most people shower in the evening).
_WATER_WORKDAY = (
    0.1, 0.1, 0.1, 0.1, 0.1, 0.3, 1.6, 2.0, 1.2, 0.7, 0.7, 0.9,
    1.1, 0.7, 0.5, 0.5, 0.5, 1.0, 1.5, 2.0, 2.2, 2.0, 1.4, 0.6,
)  # fmt: skip
_WATER_DAY_OFF = (
    0.1, 0.1, 0.1, 0.1, 0.1, 0.2, 0.8, 1.3, 1.8, 1.4, 1.1, 1.1,
    1.2, 0.9, 0.9, 0.9, 0.9, 1.1, 1.5, 1.9, 2.1, 1.9, 1.4, 0.7,
)  # fmt: skip
# Gas: breakfast, lunch, dinner (the largest meal), and water heating for evening showers.
_GAS_WORKDAY = (
    0.0, 0.0, 0.0, 0.0, 0.0, 0.1, 0.8, 1.6, 0.5, 0.2, 0.2, 1.6,
    1.4, 0.3, 0.15, 0.15, 0.15, 2.0, 3.0, 2.0, 1.2, 1.0, 0.6, 0.1,
)  # fmt: skip
_GAS_DAY_OFF = (
    0.0, 0.0, 0.0, 0.0, 0.0, 0.05, 0.4, 1.0, 1.2, 0.5, 0.6, 2.0,
    1.9, 0.5, 0.3, 0.3, 0.4, 2.0, 2.8, 1.8, 1.2, 1.0, 0.6, 0.15,
)  # fmt: skip

# --- Noise (log-normal standard deviations of log; assumptions) ------------------------------------------
_HOUSEHOLD_SD = 0.25  # household scale factors: no two homes use the same
_COOLING_HOUSEHOLD_SD = 0.4  # air-conditioning habits differ more than other habits
_SCALE_LIMITS = (0.4, 2.5)  # keep scale factors inside a plausible band
_DAILY_SD = {Quantity.ELECTRICITY: 0.12, Quantity.WATER: 0.18, Quantity.GAS: 0.22}
_HOURLY_SD = {Quantity.ELECTRICITY: 0.3, Quantity.WATER: 0.6, Quantity.GAS: 0.6}
_COOLING_HOURLY_SD = 0.25

# --- Enrolment --------------------------------------------------------------------------------------
# Enrolment leaves at least this many days of history before it when the period allows, so a baseline
# has something to learn from (a month of daily data: the least CalTRACK-style models are fitted on).
MIN_HISTORY_DAYS = 30
# A saver starts saving a few days after enrolling (assumption: the first statement arrives).
_SAVE_DELAY_DAYS = (2, 7)
# A saver's reduction, uniform in this range (the brief's 5–15 %; feedback programmes report low single
# digits to about 10 % sustained, emission-factors.md §6).
_SAVING_RANGE = (0.05, 0.15)


@dataclass(frozen=True, slots=True)
class SimHousehold:
    """One simulated household: its size, its habits, and whether and when it enrols and saves.

    The scale factors multiply the model's average: ``appliance_scale`` (non-cooling electricity),
    ``cooling_kwh_per_degree_hour`` (kWh per hour per °C above the balance point), ``water_scale`` and
    ``gas_scale``. ``saving_fraction`` applies from ``saves_from`` (a date at or after ``enrolled_on``).
    """

    code: str
    persons: int
    enrolled_on: date | None
    saves_from: date | None
    saving_fraction: float
    appliance_scale: float = 1.0
    cooling_kwh_per_degree_hour: float = _COOLING_KWH_PER_DEGREE_HOUR
    water_scale: float = 1.0
    gas_scale: float = 1.0

    def __post_init__(self) -> None:
        if not _PERSONS[0] <= self.persons <= _PERSONS[-1]:
            raise ValueError(f"household {self.code}: persons must be 1–6, got {self.persons}")
        if not 0.0 <= self.saving_fraction < 1.0:
            raise ValueError(
                f"household {self.code}: saving_fraction must be in [0, 1), got {self.saving_fraction}"
            )
        if self.saves_from is not None and (self.enrolled_on is None or self.saves_from < self.enrolled_on):
            raise ValueError(
                f"household {self.code}: saves_from {self.saves_from} needs an earlier enrolment"
            )
        if self.saving_fraction and self.saves_from is None:
            raise ValueError(f"household {self.code}: a saving_fraction needs a saves_from date")
        scales = (self.appliance_scale, self.cooling_kwh_per_degree_hour, self.water_scale, self.gas_scale)
        if min(scales) < 0:
            raise ValueError(f"household {self.code}: scale factors must not be negative, got {scales}")

    @property
    def saves(self) -> bool:
        """Whether the household reduces its consumption at some point."""
        return self.saves_from is not None and self.saving_fraction > 0


def _normalised(shape: Sequence[float], total: float) -> tuple[float, ...]:
    """``shape`` scaled so that its 24 values sum to ``total`` (a day's worth)."""
    scale = total / sum(shape)
    return tuple(w * scale for w in shape)


@dataclass(frozen=True, slots=True)
class Conditions:
    """The household-independent inputs of every simulated hour, computed once per period.

    Per hour: local hour of day, index of its local day, and the model's per-hour terms for a reference
    household (one person, all scale factors 1, no noise): ``appliance``, ``fridge`` and ``water`` and
    ``gas`` as fractions of a day's use, and ``cooling`` as °C-hours above the balance point weighted by
    how much of the demand is met in that hour. Per day: the date, whether it is a day off, and the mean
    temperature.
    """

    days: tuple[date, ...]
    day_off: tuple[bool, ...]
    day_temperature: tuple[float, ...]
    day_of_hour: tuple[int, ...]
    hour_of_day: tuple[int, ...]
    temperature: tuple[float, ...]
    appliance: tuple[float, ...]
    fridge: tuple[float, ...]
    cooling: tuple[float, ...]
    water: tuple[float, ...]
    gas: tuple[float, ...]

    @classmethod
    def from_temperatures(cls, series: Sequence[tuple[datetime, float]]) -> Conditions:
        """Conditions for an hourly temperature series (aware local datetimes, one per hour, in order)."""
        days: list[date] = []
        sums: list[float] = []
        counts: list[int] = []
        day_of_hour: list[int] = []
        for moment, value in series:
            if not days or moment.date() != days[-1]:
                days.append(moment.date())
                sums.append(0.0)
                counts.append(0)
            sums[-1] += value
            counts[-1] += 1
            day_of_hour.append(len(days) - 1)
        day_temperature = tuple(s / n for s, n in zip(sums, counts, strict=True))
        day_off = tuple(is_day_off(d) for d in days)
        hour_of_day = tuple(moment.hour for moment, _ in series)
        temperature = tuple(value for _, value in series)

        # Days off carry an uplift; dividing by the long-run mean uplift keeps the sourced averages.
        def per_day(
            quantity: Quantity, workday: Sequence[float], day_off_shape: Sequence[float]
        ) -> tuple[tuple[float, ...], tuple[float, ...]]:
            uplift = _DAY_OFF_UPLIFT[quantity]
            mean_uplift = 1 + (uplift - 1) * _DAY_OFF_SHARE
            return (_normalised(workday, 1 / mean_uplift), _normalised(day_off_shape, uplift / mean_uplift))

        shapes = {
            Quantity.ELECTRICITY: per_day(Quantity.ELECTRICITY, _APPLIANCE_WORKDAY, _APPLIANCE_DAY_OFF),
            Quantity.WATER: per_day(Quantity.WATER, _WATER_WORKDAY, _WATER_DAY_OFF),
            Quantity.GAS: per_day(Quantity.GAS, _GAS_WORKDAY, _GAS_DAY_OFF),
        }
        cooling_use = (_COOLING_WORKDAY, _COOLING_DAY_OFF)

        appliance, fridge, cooling, water, gas = [], [], [], [], []
        for i, hour in enumerate(hour_of_day):
            d = day_of_hour[i]
            off = int(day_off[d])
            t_day = day_temperature[d]
            hours_in_day = counts[d]
            appliance.append(shapes[Quantity.ELECTRICITY][off][hour])
            fridge.append((1 + _FRIDGE_PER_DEGREE * (t_day - _FRIDGE_REFERENCE_C)) / hours_in_day)
            blended = _HOUR_WEIGHT * temperature[i] + (1 - _HOUR_WEIGHT) * t_day
            cooling.append(max(0.0, blended - _BALANCE_POINT_C) * cooling_use[off][hour])
            water.append(
                shapes[Quantity.WATER][off][hour] * (1 + _WATER_PER_DEGREE * (t_day - _WATER_REFERENCE_C))
            )
            gas.append(shapes[Quantity.GAS][off][hour])
        return cls(
            days=tuple(days),
            day_off=day_off,
            day_temperature=day_temperature,
            day_of_hour=tuple(day_of_hour),
            hour_of_day=hour_of_day,
            temperature=temperature,
            appliance=tuple(appliance),
            fridge=tuple(fridge),
            cooling=tuple(cooling),
            water=tuple(water),
            gas=tuple(gas),
        )


def _rng(seed: int, household: str, quantity: Quantity) -> random.Random:
    # One stream per household and quantity, seeded by a string (hashed with SHA-512 by random.seed), so a
    # household's consumption does not change when households are added or quantities reordered. Simulation
    # noise, not cryptography.
    return random.Random(f"tanhui.sim/{seed}/{household}/{quantity.value}")  # noqa: S311


def _lognormal_factors(rng: random.Random, sd: float, count: int) -> list[float]:
    """``count`` independent log-normal factors with mean 1 (log mean −sd²/2, log standard deviation sd)."""
    mu = -sd * sd / 2
    gauss, exp = rng.gauss, math.exp
    return [exp(mu + sd * gauss(0.0, 1.0)) for _ in range(count)]


def hourly_consumption(
    household: SimHousehold, quantity: Quantity, conditions: Conditions, *, seed: int
) -> list[float]:
    """The household's use of ``quantity`` in each hour of ``conditions``, in the accounting unit.

    kWh for electricity, m³ for water and gas; never negative. This is the consumption without any saving
    (the counterfactual); :func:`apply_saving` turns it into what the meter sees. The same arguments give
    the same numbers.
    """
    rng = _rng(seed, household.code, quantity)
    daily = _lognormal_factors(rng, _DAILY_SD[quantity], len(conditions.days))
    noise = _lognormal_factors(rng, _HOURLY_SD[quantity], len(conditions.hour_of_day))
    day_of_hour = conditions.day_of_hour
    if quantity is Quantity.ELECTRICITY:
        per_day = _PERSON_KWH_PER_DAY * household.persons * household.appliance_scale
        cooling_noise = _lognormal_factors(rng, _COOLING_HOURLY_SD, len(conditions.hour_of_day))
        beta = household.cooling_kwh_per_degree_hour
        return [
            _FIXED_KWH_PER_DAY * fridge + per_day * shape * daily[d] * n + beta * degrees * c
            for fridge, shape, d, n, degrees, c in zip(
                conditions.fridge,
                conditions.appliance,
                day_of_hour,
                noise,
                conditions.cooling,
                cooling_noise,
                strict=True,
            )
        ]
    if quantity is Quantity.WATER:
        per_day = _WATER_L_PER_PERSON_DAY / 1000 * household.persons * household.water_scale
        shapes = conditions.water
    else:
        per_day = _GAS_M3_PER_PERSON_DAY * household.persons * household.gas_scale
        shapes = conditions.gas
    return [per_day * shape * daily[d] * n for shape, d, n in zip(shapes, day_of_hour, noise, strict=True)]


def apply_saving(household: SimHousehold, conditions: Conditions, hourly: Sequence[float]) -> list[float]:
    """``hourly`` less the household's ``saving_fraction`` in every hour of the days from ``saves_from``."""
    if not household.saves or household.saves_from is None:
        return list(hourly)
    keep = 1 - household.saving_fraction
    saving_days = [day >= household.saves_from for day in conditions.days]
    return [
        value * keep if saving_days[d] else value
        for value, d in zip(hourly, conditions.day_of_hour, strict=True)
    ]


def _clipped_lognormal(rng: random.Random, sd: float) -> float:
    low, high = _SCALE_LIMITS
    return min(high, max(low, rng.lognormvariate(-sd * sd / 2, sd)))


def draw_households(
    rng: random.Random,
    count: int,
    *,
    start: date,
    days: int,
    enrol_share: float,
    saver_share: float,
    code_prefix: str = "BT",
    min_history_days: int = MIN_HISTORY_DAYS,
) -> tuple[SimHousehold, ...]:
    """``count`` households with codes ``BT-00001``…, sizes, habits, and enrolment inside the period.

    Exactly ``round(enrol_share * count)`` households enrol, each on a random day of the period that leaves
    ``min_history_days`` (default :data:`MIN_HISTORY_DAYS`) of history before it and room to start saving
    before the end, when the period is long enough; ``round(saver_share * enrolled)`` of them save, from a
    few days after enrolling, a fraction between 5 and 15 %.
    """
    for name, share in (("enrol_share", enrol_share), ("saver_share", saver_share)):
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1, got {share}")
    if count < 0:
        raise ValueError(f"household count must not be negative, got {count}")
    codes = [f"{code_prefix}-{i:05d}" for i in range(1, count + 1)]
    persons = rng.choices(_PERSONS, weights=_PERSON_WEIGHTS, k=count)
    enrolled = set(rng.sample(range(count), round(enrol_share * count)))
    savers = set(rng.sample(sorted(enrolled), round(saver_share * len(enrolled))))

    first, last = 0, days - 1
    max_delay = _SAVE_DELAY_DAYS[1]
    if days - 1 - max_delay >= min_history_days:
        first, last = min_history_days, days - 1 - max_delay

    households = []
    for i, code in enumerate(codes):
        size = persons[i]
        has_ac = rng.random() < _AIR_CONDITIONING_SHARE
        # Bigger households cool more rooms, but not proportionally more.
        cooling = (
            _COOLING_KWH_PER_DEGREE_HOUR
            * (0.6 + 0.4 * size / MEAN_PERSONS)
            * _clipped_lognormal(rng, _COOLING_HOUSEHOLD_SD)
            * (1.0 if has_ac else _FAN_ONLY_FACTOR)
        )
        appliance = _clipped_lognormal(rng, _HOUSEHOLD_SD)
        water = _clipped_lognormal(rng, _HOUSEHOLD_SD)
        gas = _clipped_lognormal(rng, _HOUSEHOLD_SD)
        enrolled_on = saves_from = None
        fraction = 0.0
        if i in enrolled:
            enrolled_on = start + timedelta(days=rng.randint(first, last))
            if i in savers:
                saves_from = enrolled_on + timedelta(days=rng.randint(*_SAVE_DELAY_DAYS))
                fraction = round(rng.uniform(*_SAVING_RANGE), 3)
        households.append(
            SimHousehold(
                code=code,
                persons=size,
                enrolled_on=enrolled_on,
                saves_from=saves_from,
                saving_fraction=fraction,
                appliance_scale=appliance,
                cooling_kwh_per_degree_hour=cooling,
                water_scale=water,
                gas_scale=gas,
            )
        )
    return tuple(households)
