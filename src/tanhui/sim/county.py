"""A simulated county: households, their meters and gateways, and the readings the gateways send.

:func:`build_county` draws the county once from a seed; everything after that is a pure function of the
:class:`County`: :func:`readings` gives every meter's cumulative register at every reading time,
:func:`envelopes` packs them as the gateways would send them (Tanhui envelope v1), and :func:`truth` gives
what the platform must rediscover from those bytes: each household's consumption per local day, with and
without its saving.

Registers count in integer steps of the meter's resolution and wrap at the meter's capacity, as real
registers do (see :mod:`tanhui.meters.continuity`). Consumption is accumulated as a running total and
floored to whole counts at each reading time, so each reading carries the fraction left over from the last
one: the sum of the register steps equals the simulated consumption to within one count, never drifting.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Context, Decimal
from itertools import accumulate, pairwise
from zoneinfo import ZoneInfo

from tanhui.domain.quantity import Quantity
from tanhui.domain.reading import MeterReading
from tanhui.meters.envelope import encode
from tanhui.sim.household import Conditions, SimHousehold, apply_saving, draw_households, hourly_consumption
from tanhui.sim.weather import hourly_temperatures

__all__ = [
    "County",
    "HouseholdTruth",
    "SimGateway",
    "SimMeter",
    "Truth",
    "build_county",
    "envelopes",
    "readings",
    "register_name",
    "truth",
]

SHANGHAI = ZoneInfo("Asia/Shanghai")

# Register names in Tanhui's vocabulary (tanhui.domain.reading): what each kind of meter reports.
_REGISTERS = {Quantity.ELECTRICITY: "energy_import", Quantity.WATER: "volume", Quantity.GAS: "volume"}

# Meter serials: 12 decimal digits, as a DL/T 645-2007 meter address (6 BCD bytes) or a CJ/T 188 meter
# number is written. The 4-digit prefix tells the kinds apart in the demo (1101 electricity, 2101 water,
# 3101 gas); real prefixes are the utility's, and the platform must not rely on them.
_SERIAL_PREFIX = {Quantity.ELECTRICITY: "1101", Quantity.WATER: "2101", Quantity.GAS: "3101"}

# Resolution and capacity of the registers, both 100,000,000 counts. Electricity: XXXXXX.XX kWh, the DL/T
# 645-2007 energy format (0.01 kWh, wraps after 999999.99; shared/reference/meter-protocols.md, DI table
# and "Register rollover"). Water and gas: five integer digits and three decimals (0.001 m³, wraps after
# 99999.999), the DSMR gas/water format in the same table; the brief asked for it. A CJ/T 188 water
# register is XXXXXX.XX m³ instead (0.01 m³), which a configurable resolution would cover.
_RESOLUTION = {
    Quantity.ELECTRICITY: Decimal("0.01"),
    Quantity.WATER: Decimal("0.001"),
    Quantity.GAS: Decimal("0.001"),
}
_CAPACITY = 100_000_000

# Plausible register values at the start, in the accounting unit: meters have run for years (assumption:
# a few thousand kWh, hundreds of m³).
_INITIAL_RANGE = {Quantity.ELECTRICITY: (500, 20_000), Quantity.WATER: (20, 900), Quantity.GAS: (10, 600)}
# Below any household's expected daily use (accounting unit per day): a one-person household with the
# lowest scale factors expects about 1.8 kWh, 0.05 m³ of water and 0.11 m³ of gas (tanhui.sim.household).
# Near-capacity registers start at most a quarter of the run's worth of this below capacity, so they wrap
# early in the run.
_LOW_DAILY_USE = {Quantity.ELECTRICITY: 1.0, Quantity.WATER: 0.03, Quantity.GAS: 0.03}

_SECONDS_PER_HOUR = 3600
# Decimal arithmetic with a fixed context, so a caller's decimal settings cannot round a register.
_EXACT = Context(prec=28)


@dataclass(frozen=True, slots=True)
class SimGateway:
    """A concentrator that reads its meters and forwards their readings."""

    name: str


@dataclass(frozen=True, slots=True)
class SimMeter:
    """A household meter: which quantity it measures, through which gateway, and its register.

    The register counts in steps of ``resolution`` (in ``unit``), starts at ``initial`` counts and wraps to
    zero at ``capacity`` counts.
    """

    serial: str
    household: str
    kind: Quantity
    gateway: str
    unit: str
    resolution: Decimal
    capacity: int
    initial: int

    def __post_init__(self) -> None:
        if not 0 <= self.initial < self.capacity:
            raise ValueError(f"meter {self.serial}: initial {self.initial} is outside [0, {self.capacity})")
        if not (0 < self.resolution <= 1 and self.resolution.normalize().as_tuple().digits == (1,)):
            raise ValueError(f"meter {self.serial}: resolution {self.resolution} must be 1, 0.1, 0.01, …")

    @property
    def counts_per_unit(self) -> int:
        """Register counts per accounting unit (100 for 0.01 kWh)."""
        return int(1 / self.resolution)


@dataclass(frozen=True, slots=True)
class County:
    """Everything the simulation of one county needs, drawn once from ``seed`` by :func:`build_county`.

    Readings are taken every ``interval`` from local midnight of ``start`` for ``days`` local days in
    ``tz``; ``temperatures`` holds the hourly weather (aware, local) the households respond to.
    """

    seed: int
    start: date
    days: int
    tz: ZoneInfo
    interval: timedelta
    households: tuple[SimHousehold, ...]
    meters: tuple[SimMeter, ...]
    gateways: tuple[SimGateway, ...]
    temperatures: tuple[tuple[datetime, float], ...]

    def __post_init__(self) -> None:
        if self.days < 1:
            raise ValueError(f"days must be at least 1, got {self.days}")
        step = self.interval
        if step <= timedelta(0) or step.microseconds:
            raise ValueError(f"interval must be a positive whole number of seconds, got {step}")
        begin = self.begin
        for day in range(self.days + 1):
            midnight = datetime.combine(self.start + timedelta(days=day), time(0), self.tz).astimezone(UTC)
            if (midnight - begin) % step:
                raise ValueError(
                    f"interval {step} does not divide the local day: {midnight.astimezone(self.tz)} would "
                    "fall between readings; use an interval that divides 24 hours"
                )
        hours = (self.end - begin) // timedelta(hours=1)
        if len(self.temperatures) != hours:
            raise ValueError(f"temperatures has {len(self.temperatures)} hours; the period has {hours}")
        codes = {h.code for h in self.households}
        names = {g.name for g in self.gateways}
        for meter in self.meters:
            if meter.household not in codes or meter.gateway not in names:
                raise ValueError(f"meter {meter.serial} names an unknown household or gateway")

    @property
    def begin(self) -> datetime:
        """The first reading time (local midnight of ``start``), in UTC."""
        return datetime.combine(self.start, time(0), self.tz).astimezone(UTC)

    @property
    def end(self) -> datetime:
        """The last reading time (local midnight after the last day), in UTC."""
        return datetime.combine(self.start + timedelta(days=self.days), time(0), self.tz).astimezone(UTC)

    @property
    def reading_count(self) -> int:
        """Reading times per meter, including the first (the initial registers) and the last."""
        return (self.end - self.begin) // self.interval + 1

    def reading_times(self) -> list[datetime]:
        """Every reading time, aware, in the county's time zone."""
        begin, step, tz = self.begin, self.interval, self.tz
        return [(begin + k * step).astimezone(tz) for k in range(self.reading_count)]


def register_name(kind: Quantity) -> str:
    """The register a meter of ``kind`` reports: ``energy_import`` for electricity, ``volume`` otherwise."""
    return _REGISTERS[kind]


def build_county(
    *,
    seed: int,
    households: int,
    start: date,
    days: int,
    tz: ZoneInfo = SHANGHAI,
    interval: timedelta = timedelta(hours=1),
    enrol_share: float = 0.5,
    saver_share: float = 0.6,
    households_per_gateway: int = 50,
    rollover_share: float = 0.01,
) -> County:
    """Draw a county of ``households`` homes, each with an electricity, a water and a gas meter.

    Households get codes ``BT-00001``…; every ``households_per_gateway`` consecutive households share a
    gateway ``bt-gw-001``…. ``enrol_share`` of the households enrol during the period and ``saver_share``
    of those save (see :func:`tanhui.sim.household.draw_households`). ``floor(rollover_share × meters)``
    meters start so close to their capacity that they wrap early in the run. The same
    arguments give the same county.
    """
    if households < 1:
        raise ValueError(f"households must be at least 1, got {households}")
    if households_per_gateway < 1:
        raise ValueError(f"households_per_gateway must be at least 1, got {households_per_gateway}")
    if not 0.0 <= rollover_share <= 1.0:
        raise ValueError(f"rollover_share must be between 0 and 1, got {rollover_share}")
    # Independent streams for the parts of the county, so that e.g. changing the household count leaves
    # the weather alone. Simulation noise, not cryptography.
    weather_rng = random.Random(f"tanhui.sim/{seed}/weather")  # noqa: S311
    household_rng = random.Random(f"tanhui.sim/{seed}/households")  # noqa: S311
    meter_rng = random.Random(f"tanhui.sim/{seed}/meters")  # noqa: S311

    temperatures = tuple(hourly_temperatures(start, days, tz, weather_rng))
    homes = draw_households(
        household_rng, households, start=start, days=days, enrol_share=enrol_share, saver_share=saver_share
    )
    gateway_count = math.ceil(households / households_per_gateway)
    gateways = tuple(SimGateway(f"bt-gw-{i:03d}") for i in range(1, gateway_count + 1))

    kinds = (Quantity.ELECTRICITY, Quantity.WATER, Quantity.GAS)
    meter_count = households * len(kinds)
    # Rounded first so that binary floating point cannot floor 0.29 × 300 to 86.
    near_capacity = set(
        meter_rng.sample(range(meter_count), math.floor(round(rollover_share * meter_count, 9)))
    )
    meters = []
    for i, home in enumerate(homes):
        gateway = gateways[i // households_per_gateway].name
        for j, kind in enumerate(kinds):
            resolution = _RESOLUTION[kind]
            per_unit = int(1 / resolution)
            low, high = _INITIAL_RANGE[kind]
            initial = meter_rng.randint(low * per_unit, high * per_unit)
            if i * len(kinds) + j in near_capacity:
                margin = max(1, int(days / 4 * _LOW_DAILY_USE[kind] * per_unit))
                initial = _CAPACITY - meter_rng.randint(1, margin)
            meters.append(
                SimMeter(
                    serial=f"{_SERIAL_PREFIX[kind]}{i + 1:08d}",
                    household=home.code,
                    kind=kind,
                    gateway=gateway,
                    unit=kind.unit,
                    resolution=resolution,
                    capacity=_CAPACITY,
                    initial=initial,
                )
            )
    return County(
        seed=seed,
        start=start,
        days=days,
        tz=tz,
        interval=interval,
        households=homes,
        meters=tuple(meters),
        gateways=gateways,
        temperatures=temperatures,
    )


def _cumulative_counts(county: County, hourly_units: Sequence[float], per_unit: int) -> list[int]:
    """Whole counts consumed from the start to each reading time (not wrapped; starts at 0).

    Within an hour consumption runs at the hour's constant rate, so readings more often than hourly
    interpolate linearly. Flooring the running total keeps the fraction for the next reading.
    """
    running = [0.0, *accumulate(value * per_unit for value in hourly_units)]
    hours = len(hourly_units)
    step = int(county.interval.total_seconds())
    if step % _SECONDS_PER_HOUR == 0:  # the usual case: every reading falls on the hour
        floor = math.floor
        return [floor(total) for total in running[:: step // _SECONDS_PER_HOUR]]
    counts = []
    for k in range(county.reading_count):
        hour, seconds = divmod(k * step, _SECONDS_PER_HOUR)
        total = running[hour]
        if seconds and hour < hours:
            # Capped at the hour's end, so float rounding can never make a register step backwards.
            total = min(
                total + hourly_units[hour] * per_unit * seconds / _SECONDS_PER_HOUR, running[hour + 1]
            )
        counts.append(math.floor(total))
    return counts


@dataclass(frozen=True, slots=True)
class _Simulation:
    conditions: Conditions
    hourly: Mapping[tuple[str, Quantity], list[float]]  # counterfactual, accounting unit per hour


def _simulate(county: County) -> _Simulation:
    conditions = Conditions.from_temperatures(county.temperatures)
    hourly = {
        (home.code, kind): hourly_consumption(home, kind, conditions, seed=county.seed)
        for home in county.households
        for kind in Quantity
    }
    return _Simulation(conditions, hourly)


def readings(county: County) -> Iterator[tuple[datetime, list[tuple[str, MeterReading]]]]:
    """Every meter's register at every reading time, in time order, with the gateway it goes through.

    Yields ``(time, [(gateway, reading), ...])`` with the meters in the county's order. The first reading
    time is local midnight of ``start`` and shows the initial registers; the last is local midnight after
    the last day. Values are exact decimals with the resolution's number of places, wrapped at capacity.
    """
    simulation = _simulate(county)
    homes = {home.code: home for home in county.households}
    registers: list[list[int]] = []
    for meter in county.meters:
        hourly = apply_saving(
            homes[meter.household], simulation.conditions, simulation.hourly[meter.household, meter.kind]
        )
        capacity, initial = meter.capacity, meter.initial
        registers.append(
            [(initial + c) % capacity for c in _cumulative_counts(county, hourly, meter.counts_per_unit)]
        )
    fixed = [
        (meter.gateway, meter.serial, _REGISTERS[meter.kind], meter.unit, meter.resolution)
        for meter in county.meters
    ]
    multiply = _EXACT.multiply
    for k, moment in enumerate(county.reading_times()):
        yield (
            moment,
            [
                (
                    gateway,
                    MeterReading(serial, register, multiply(Decimal(counts[k]), resolution), unit, moment),
                )
                for (gateway, serial, register, unit, resolution), counts in zip(
                    fixed, registers, strict=True
                )
            ],
        )


def envelopes(county: County, *, max_readings: int = 5000) -> Iterator[tuple[str, bytes]]:
    """The county's readings as each gateway sends them: ``(gateway, envelope bytes)`` in time order.

    A gateway collects whole reading rounds and sends an envelope before the next round would take it past
    ``max_readings`` readings (a round larger than that is split); ``seq`` counts 1, 2, 3… per gateway and
    ``sent_at`` is the time of the latest reading inside. Envelopes sent at the same time come in gateway
    order; the last partial batch of every gateway is sent at the end.
    """
    if max_readings < 1:
        raise ValueError(f"max_readings must be at least 1, got {max_readings}")
    names = [gateway.name for gateway in county.gateways]
    pending: dict[str, list[MeterReading]] = {name: [] for name in names}
    seq = dict.fromkeys(names, 0)

    def send(name: str, batch: list[MeterReading]) -> tuple[str, bytes]:
        seq[name] += 1
        return name, encode(name, seq[name], batch[-1].time, batch)

    for _, pairs in readings(county):
        rounds: dict[str, list[MeterReading]] = {name: [] for name in names}
        for gateway, reading in pairs:
            rounds[gateway].append(reading)
        for name in names:
            batch, this_round = pending[name], rounds[name]
            if batch and len(batch) + len(this_round) > max_readings:
                yield send(name, batch)
                batch = pending[name] = []
            batch.extend(this_round)
            while len(batch) >= max_readings:
                yield send(name, batch[:max_readings])
                batch = pending[name] = batch[max_readings:]
    for name in names:
        if pending[name]:
            yield send(name, pending[name])


@dataclass(frozen=True, slots=True)
class HouseholdTruth:
    """What the simulator knows about one household: its enrolment and its consumption per local day.

    ``actual`` is what its meters measured; ``counterfactual`` is the same household without any saving,
    the quantity a baseline model estimates. Both map a quantity to one exact value per day of
    :attr:`Truth.days`, in the accounting unit, with the meter's resolution.
    """

    household: SimHousehold
    actual: Mapping[Quantity, tuple[Decimal, ...]]
    counterfactual: Mapping[Quantity, tuple[Decimal, ...]]

    @property
    def enrolled_on(self) -> date | None:
        return self.household.enrolled_on

    @property
    def saves_from(self) -> date | None:
        return self.household.saves_from

    @property
    def saving_fraction(self) -> float:
        return self.household.saving_fraction

    def total(self, quantity: Quantity, *, counterfactual: bool = False) -> Decimal:
        """Consumption over the whole period."""
        values = (self.counterfactual if counterfactual else self.actual)[quantity]
        return sum(values, Decimal(0))

    def avoided(self, quantity: Quantity) -> Decimal:
        """Counterfactual minus actual consumption over the period: what the saving achieved."""
        return self.total(quantity, counterfactual=True) - self.total(quantity)


@dataclass(frozen=True, slots=True)
class Truth:
    """The ground truth of a simulated county, per household (by code) and local day."""

    days: tuple[date, ...]
    households: Mapping[str, HouseholdTruth]

    def daily(
        self, household: str, quantity: Quantity, *, counterfactual: bool = False
    ) -> list[tuple[date, Decimal]]:
        """``(day, consumption)`` for every day of the period."""
        record = self.households[household]
        values = (record.counterfactual if counterfactual else record.actual)[quantity]
        return list(zip(self.days, values, strict=True))


def truth(county: County) -> Truth:
    """Each household's consumption per local day and quantity, as measured and without saving.

    Computed from the same whole counts as :func:`readings`, so a platform that turns the register steps
    of the readings into daily consumption must find exactly these numbers.
    """
    simulation = _simulate(county)
    conditions = simulation.conditions
    step = county.interval
    # Reading indices at local midnights (County checks that every midnight is a reading time).
    boundaries = [
        (
            datetime.combine(county.start + timedelta(days=d), time(0), county.tz).astimezone(UTC)
            - county.begin
        )
        // step
        for d in range(county.days + 1)
    ]
    meters_of: dict[str, list[SimMeter]] = {home.code: [] for home in county.households}
    for meter in county.meters:
        meters_of[meter.household].append(meter)
    records: dict[str, HouseholdTruth] = {}
    for home in county.households:
        actual: dict[Quantity, tuple[Decimal, ...]] = {}
        counterfactual: dict[Quantity, tuple[Decimal, ...]] = {}
        for meter in meters_of[home.code]:
            base = simulation.hourly[home.code, meter.kind]
            for target, hourly in ((counterfactual, base), (actual, apply_saving(home, conditions, base))):
                counts = _cumulative_counts(county, hourly, meter.counts_per_unit)
                target[meter.kind] = tuple(
                    _EXACT.multiply(Decimal(counts[b] - counts[a]), meter.resolution)
                    for a, b in pairwise(boundaries)
                )
        records[home.code] = HouseholdTruth(home, actual, counterfactual)
    days = tuple(county.start + timedelta(days=d) for d in range(county.days))
    return Truth(days, records)
