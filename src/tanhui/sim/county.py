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

What the gateways send depends on the county's :class:`CountyProtocol`. By default (``json``) they send
decoded readings in the Tanhui envelope. In ``baoting`` and ``dsmr`` mode they forward each meter's own
frame (:mod:`tanhui.sim.gateway`), and the meters carry the identities, resolutions and capacities those
protocols give them:

- ``baoting``: DL/T 645-2007 electricity meters (12-digit address, XXXXXX.XX kWh) and CJ/T 188-2004 water
  and gas meters (14-digit address of manufacturer code and meter number, XXXXXX.XX m³), in Asia/Shanghai.
- ``dsmr``: a European demo community in Europe/Amsterdam. Each household has one DSMR 5.0.2 meter
  (000000.000 kWh per tariff) with its gas (device type 3) and water (device type 7) meters on M-Bus
  (00000.000 m³), identified by the hex-encoded equipment ids the telegram carries. Only the meters are
  Dutch: weather and household behaviour (days off included) are still the Baoting models, the only
  ones the simulator has.

Every reading lies on the county's grid of reading times, a DSMR M-Bus capture included: accounting
shares an interval that crosses midnight among the days in proportion to time, so a reading off the grid
at a day boundary would make the daily truth inexact.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Context, Decimal
from enum import StrEnum
from itertools import accumulate, pairwise
from zoneinfo import ZoneInfo

from tanhui.domain.quantity import Quantity
from tanhui.domain.reading import MeterReading
from tanhui.meters.dsmr import AMSTERDAM
from tanhui.meters.envelope import FrameItem, encode
from tanhui.sim import gateway as wire
from tanhui.sim.household import (
    MIN_HISTORY_DAYS,
    Conditions,
    SimHousehold,
    apply_saving,
    draw_households,
    hourly_consumption,
)
from tanhui.sim.weather import hourly_temperatures

__all__ = [
    "County",
    "CountyProtocol",
    "HouseholdTruth",
    "MeterSeries",
    "SimGateway",
    "SimMeter",
    "Truth",
    "build_county",
    "envelopes",
    "readings",
    "register_name",
    "series",
    "truth",
]

SHANGHAI = ZoneInfo("Asia/Shanghai")


class CountyProtocol(StrEnum):
    """What the county's gateways send: decoded readings, or each meter's own frame."""

    JSON = "json"  # Tanhui envelope readings (register, value, unit, time), as the demo sends
    BAOTING = "baoting"  # DL/T 645-2007 electricity, CJ/T 188-2004 water and gas meters (Hainan)
    DSMR = "dsmr"  # one DSMR 5.0.2 P1 meter per household, gas and water on its M-Bus (the Netherlands)


# Register names in Tanhui's vocabulary (tanhui.domain.reading): what each kind of meter reports.
_REGISTERS = {Quantity.ELECTRICITY: "energy_import", Quantity.WATER: "volume", Quantity.GAS: "volume"}

# Meter serials: 12 decimal digits, as a DL/T 645-2007 meter address (6 BCD bytes) or a CJ/T 188 meter
# number is written. The 4-digit prefix tells the kinds apart in the demo (1101 electricity, 2101 water,
# 3101 gas); real prefixes are the utility's, and the platform must not rely on them.
_SERIAL_PREFIX = {Quantity.ELECTRICITY: "1101", Quantity.WATER: "2101", Quantity.GAS: "3101"}
# A CJ/T 188 address is 14 digits: the manufacturer code (A5–A6) and a 10-digit meter number (A0–A4)
# (shared/reference/meter-protocols.md §2.2). The meter number here is a 2-digit kind prefix and the
# household's number.
_CJT188_KIND_PREFIX = {Quantity.WATER: "21", Quantity.GAS: "31"}
# DSMR equipment identifiers are ASCII text, sent hex-encoded (meter-protocols.md §3.3 and vector 6.3):
# a letter for the medium, then digits (an invented model code and the household's number). 16 characters
# (32 hex digits), one fewer than vector 6.3's ids: Tanhui's meter registry stores at most 32 characters
# per serial, and PostgreSQL refuses a longer one.
_DSMR_LETTER = {Quantity.ELECTRICITY: "E", Quantity.WATER: "W", Quantity.GAS: "G"}
_DSMR_MODEL = "0051"
_DSMR_NUMBER_DIGITS = 11


@dataclass(frozen=True, slots=True)
class _Register:
    """How a kind of meter counts under a protocol: its wire protocol, resolution and capacity (counts)."""

    protocol: str
    resolution: Decimal
    capacity: int


# JSON: electricity XXXXXX.XX kWh, the DL/T 645-2007 energy format (0.01 kWh, wraps after 999999.99;
# shared/reference/meter-protocols.md, DI table and "Register rollover"); water and gas five integer
# digits and three decimals (0.001 m³, wraps after 99999.999), the DSMR gas/water format in the same table.
# Baoting: the same electricity register; CJ/T 188 water and gas registers are XXXXXX.XX m³ (§2.6).
# DSMR: electricity 6.3 digits per tariff (0.001 kWh, wraps after 999999.999), M-Bus 5.3 m³ (§7).
_PROFILES: dict[CountyProtocol, dict[Quantity, _Register]] = {
    CountyProtocol.JSON: {
        Quantity.ELECTRICITY: _Register("json", Decimal("0.01"), 100_000_000),
        Quantity.WATER: _Register("json", Decimal("0.001"), 100_000_000),
        Quantity.GAS: _Register("json", Decimal("0.001"), 100_000_000),
    },
    CountyProtocol.BAOTING: {
        Quantity.ELECTRICITY: _Register("dlt645", Decimal("0.01"), 100_000_000),
        Quantity.WATER: _Register("cjt188", Decimal("0.01"), 100_000_000),
        Quantity.GAS: _Register("cjt188", Decimal("0.01"), 100_000_000),
    },
    CountyProtocol.DSMR: {
        Quantity.ELECTRICITY: _Register("dsmr", Decimal("0.001"), 1_000_000_000),
        Quantity.WATER: _Register("dsmr", Decimal("0.001"), 100_000_000),
        Quantity.GAS: _Register("dsmr", Decimal("0.001"), 100_000_000),
    },
}

# Household codes and gateway names per community.
_NAMES = {
    CountyProtocol.JSON: ("BT", "bt-gw"),
    CountyProtocol.BAOTING: ("BT", "bt-gw"),
    CountyProtocol.DSMR: ("NL", "nl-gw"),
}

# Share (%) of a DSMR meter's initial import register on tariff 1 (assumption: nights and weekends are
# about half the hours of a week, and a household uses a little less in them than in the day).
_T1_PERCENT = 45

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
    zero at ``capacity`` counts. ``protocol`` is how its readings travel: ``json`` (decoded readings), or
    the frame protocol as :class:`~tanhui.meters.envelope.FrameItem` names it (``dlt645``, ``cjt188``,
    ``dsmr``). A DSMR electricity meter has two import registers, tariff 1 and 2; ``initial`` is their sum
    and :meth:`tariff_split` shares it out.
    """

    serial: str
    household: str
    kind: Quantity
    gateway: str
    unit: str
    resolution: Decimal
    capacity: int
    initial: int
    protocol: str = "json"

    def __post_init__(self) -> None:
        if not 0 <= self.initial < self.capacity:
            raise ValueError(f"meter {self.serial}: initial {self.initial} is outside [0, {self.capacity})")
        if not (0 < self.resolution <= 1 and self.resolution.normalize().as_tuple().digits == (1,)):
            raise ValueError(f"meter {self.serial}: resolution {self.resolution} must be 1, 0.1, 0.01, …")

    @property
    def counts_per_unit(self) -> int:
        """Register counts per accounting unit (100 for 0.01 kWh)."""
        return int(1 / self.resolution)

    @property
    def has_tariffs(self) -> bool:
        """Whether the meter counts import on two tariff registers (a DSMR electricity meter)."""
        return self.protocol == "dsmr" and self.kind is Quantity.ELECTRICITY

    def tariff_split(self, counts: int) -> tuple[int, int]:
        """``counts`` shared between tariff 1 and tariff 2, as the initial registers of a DSMR meter."""
        first = counts * _T1_PERCENT // 100
        return first, counts - first

    def value(self, counts: int) -> Decimal:
        """The register value of ``counts``, exact, with the resolution's number of decimals."""
        return _EXACT.multiply(Decimal(counts), self.resolution)


@dataclass(frozen=True, slots=True)
class County:
    """Everything the simulation of one county needs, drawn once from ``seed`` by :func:`build_county`.

    Readings are taken every ``interval`` from local midnight of ``start`` for ``days`` local days in
    ``tz``; ``temperatures`` holds the hourly weather (aware, local) the households respond to;
    ``protocol`` says what the gateways send (:class:`CountyProtocol`).
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
    protocol: CountyProtocol = CountyProtocol.JSON

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
            expected = _PROFILES[self.protocol][meter.kind].protocol
            if meter.protocol != expected:
                raise ValueError(
                    f"meter {meter.serial}: a {self.protocol} county's {meter.kind} meters speak {expected}, "
                    f"not {meter.protocol}"
                )
        if self.protocol is CountyProtocol.DSMR:
            _check_dsmr_households(self.meters)
        if self.protocol is CountyProtocol.BAOTING:
            # CJ/T 188 states the meter's wall time without an offset (meter-protocols.md §2.6, §7), so a
            # clock change would make an hour repeat or vanish in what the meters say.
            offsets = {moment.utcoffset() for moment in self.reading_times()}
            if len(offsets) > 1:
                raise ValueError(
                    f"{self.tz} changes its UTC offset during the period; CJ/T 188 meter times carry no "
                    "offset, so a baoting county needs a zone without daylight saving (e.g. Asia/Shanghai)"
                )

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


def _check_dsmr_households(meters: Sequence[SimMeter]) -> None:
    # One P1 telegram per household carries all three meters, so they must be one of each, on one gateway.
    kinds: dict[str, list[Quantity]] = {}
    gateways: dict[str, set[str]] = {}
    for meter in meters:
        kinds.setdefault(meter.household, []).append(meter.kind)
        gateways.setdefault(meter.household, set()).add(meter.gateway)
    for household, found in kinds.items():
        if sorted(found) != sorted(Quantity) or len(gateways[household]) != 1:
            raise ValueError(
                f"household {household}: a DSMR household has one electricity, one water and one gas meter "
                f"behind one gateway, got {sorted(found)} on {sorted(gateways[household])}"
            )


def register_name(kind: Quantity) -> str:
    """The register a meter of ``kind`` reports: ``energy_import`` for electricity, ``volume`` otherwise."""
    return _REGISTERS[kind]


def build_county(
    *,
    seed: int,
    households: int,
    start: date,
    days: int,
    tz: ZoneInfo | None = None,
    interval: timedelta = timedelta(hours=1),
    enrol_share: float = 0.5,
    saver_share: float = 0.6,
    households_per_gateway: int = 50,
    rollover_share: float = 0.01,
    protocol: CountyProtocol | str = CountyProtocol.JSON,
    min_history_days: int = MIN_HISTORY_DAYS,
) -> County:
    """Draw a county of ``households`` homes, each with an electricity, a water and a gas meter.

    Households get codes ``BT-00001``… (``NL-00001``… in a ``dsmr`` county); every
    ``households_per_gateway`` consecutive households share a gateway ``bt-gw-001``… (``nl-gw-001``…).
    ``enrol_share`` of the households enrol during the period and ``saver_share`` of those save (see
    :func:`tanhui.sim.household.draw_households`). ``floor(rollover_share × meters)`` meters start so close
    to their capacity that they wrap early in the run; in a ``dsmr`` county only gas and water meters do,
    because a DSMR import total is the sum of two tariff registers and has no single capacity.

    ``protocol`` chooses what the gateways send and so the meters' identities and registers (see
    :class:`CountyProtocol` and the module docstring); ``tz`` defaults to Asia/Shanghai, or to
    Europe/Amsterdam for ``dsmr``. The same arguments give the same county.
    """
    mode = CountyProtocol(protocol)
    if households < 1:
        raise ValueError(f"households must be at least 1, got {households}")
    if households_per_gateway < 1:
        raise ValueError(f"households_per_gateway must be at least 1, got {households_per_gateway}")
    if not 0.0 <= rollover_share <= 1.0:
        raise ValueError(f"rollover_share must be between 0 and 1, got {rollover_share}")
    zone = tz if tz is not None else AMSTERDAM if mode is CountyProtocol.DSMR else SHANGHAI
    # Independent streams for the parts of the county, so that e.g. changing the household count leaves
    # the weather alone. Simulation noise, not cryptography.
    weather_rng = random.Random(f"tanhui.sim/{seed}/weather")  # noqa: S311
    household_rng = random.Random(f"tanhui.sim/{seed}/households")  # noqa: S311
    meter_rng = random.Random(f"tanhui.sim/{seed}/meters")  # noqa: S311

    code_prefix, gateway_prefix = _NAMES[mode]
    temperatures = tuple(hourly_temperatures(start, days, zone, weather_rng))
    homes = draw_households(
        household_rng,
        households,
        start=start,
        days=days,
        enrol_share=enrol_share,
        saver_share=saver_share,
        code_prefix=code_prefix,
        min_history_days=min_history_days,
    )
    gateway_count = math.ceil(households / households_per_gateway)
    gateways = tuple(SimGateway(f"{gateway_prefix}-{i:03d}") for i in range(1, gateway_count + 1))

    kinds = (Quantity.ELECTRICITY, Quantity.WATER, Quantity.GAS)
    meter_count = households * len(kinds)
    # Rounded first so that binary floating point cannot floor 0.29 × 300 to 86.
    wrapping = math.floor(round(rollover_share * meter_count, 9))
    if mode is CountyProtocol.DSMR:
        eligible = [i for i in range(meter_count) if kinds[i % len(kinds)] is not Quantity.ELECTRICITY]
        near_capacity = set(meter_rng.sample(eligible, min(wrapping, len(eligible))))
    else:
        near_capacity = set(meter_rng.sample(range(meter_count), wrapping))
    profile = _PROFILES[mode]
    meters = []
    for i, home in enumerate(homes):
        gateway = gateways[i // households_per_gateway].name
        for j, kind in enumerate(kinds):
            register = profile[kind]
            per_unit = int(1 / register.resolution)
            low, high = _INITIAL_RANGE[kind]
            initial = meter_rng.randint(low * per_unit, high * per_unit)
            if i * len(kinds) + j in near_capacity:
                margin = max(1, int(days / 4 * _LOW_DAILY_USE[kind] * per_unit))
                initial = register.capacity - meter_rng.randint(1, margin)
            meters.append(
                SimMeter(
                    serial=_serial(mode, kind, i),
                    household=home.code,
                    kind=kind,
                    gateway=gateway,
                    unit=kind.unit,
                    resolution=register.resolution,
                    capacity=register.capacity,
                    initial=initial,
                    protocol=register.protocol,
                )
            )
    return County(
        seed=seed,
        start=start,
        days=days,
        tz=zone,
        interval=interval,
        households=homes,
        meters=tuple(meters),
        gateways=gateways,
        temperatures=temperatures,
        protocol=mode,
    )


def _serial(mode: CountyProtocol, kind: Quantity, index: int) -> str:
    """The identity of household ``index``'s meter of ``kind``, as its protocol writes it."""
    number = index + 1
    if mode is CountyProtocol.DSMR:
        return wire.equipment_id(f"{_DSMR_LETTER[kind]}{_DSMR_MODEL}{number:0{_DSMR_NUMBER_DIGITS}d}")
    if mode is CountyProtocol.BAOTING and kind is not Quantity.ELECTRICITY:
        # Households alternate between the two water/gas meter vendors, whose frames differ (DI order,
        # wake-up bytes), as a real county's mixed stock does.
        vendor = wire.CJT188_VENDORS[index % len(wire.CJT188_VENDORS)]
        return f"{vendor.code}{_CJT188_KIND_PREFIX[kind]}{number:08d}"
    return f"{_SERIAL_PREFIX[kind]}{number:08d}"


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


def _low_tariff(county: County) -> list[bool]:
    """Whether each simulated hour is on the NL low tariff (DSMR tariff 1), by its local start."""
    return [wire.nl_tariff(moment) == 1 for moment, _ in county.temperatures]


def _tariff_consumed(
    county: County, hourly: Sequence[float], per_unit: int, low: Sequence[bool]
) -> tuple[list[int], list[int]]:
    """Whole counts consumed on tariff 1 and on tariff 2 up to each reading time (not wrapped).

    Each tariff register floors its own running total, as two separate registers of a meter do.
    """
    first = [value if is_low else 0.0 for value, is_low in zip(hourly, low, strict=True)]
    second = [0.0 if is_low else value for value, is_low in zip(hourly, low, strict=True)]
    return _cumulative_counts(county, first, per_unit), _cumulative_counts(county, second, per_unit)


def _consumed(county: County, meter: SimMeter, hourly: Sequence[float], low: Sequence[bool]) -> list[int]:
    """Whole counts of the meter's accounting register consumed up to each reading time (not wrapped)."""
    if meter.has_tariffs:
        first, second = _tariff_consumed(county, hourly, meter.counts_per_unit, low)
        return [a + b for a, b in zip(first, second, strict=True)]
    return _cumulative_counts(county, hourly, meter.counts_per_unit)


@dataclass(frozen=True, slots=True)
class MeterSeries:
    """One meter's registers at every reading time of its county, in counts of its resolution.

    ``counts`` is the register Tanhui accounts from (``energy_import`` or ``volume``), wrapped at the
    meter's capacity. A DSMR electricity meter also has ``tariffs``: its import registers for tariff 1 and
    tariff 2, each wrapped at capacity; ``counts`` is then their sum, as the DSMR codec reports
    ``energy_import`` for a meter that sends no total.
    """

    meter: SimMeter
    counts: list[int]
    tariffs: tuple[list[int], list[int]] | None = None


def series(county: County) -> list[MeterSeries]:
    """Every meter's registers at every reading time, in the county's meter order.

    The counts behind :func:`readings`, :func:`envelopes` and :func:`truth`, for code that encodes them
    itself (:mod:`tanhui.sim.gateway`, :mod:`tanhui.sim.faults`).
    """
    simulation = _simulate(county)
    homes = {home.code: home for home in county.households}
    low = _low_tariff(county) if county.protocol is CountyProtocol.DSMR else []
    out: list[MeterSeries] = []
    for meter in county.meters:
        hourly = apply_saving(
            homes[meter.household], simulation.conditions, simulation.hourly[meter.household, meter.kind]
        )
        capacity = meter.capacity
        if meter.has_tariffs:
            first, second = _tariff_consumed(county, hourly, meter.counts_per_unit, low)
            start_first, start_second = meter.tariff_split(meter.initial)
            t1 = [(start_first + c) % capacity for c in first]
            t2 = [(start_second + c) % capacity for c in second]
            out.append(MeterSeries(meter, [a + b for a, b in zip(t1, t2, strict=True)], (t1, t2)))
            continue
        initial = meter.initial
        consumed = _cumulative_counts(county, hourly, meter.counts_per_unit)
        out.append(MeterSeries(meter, [(initial + c) % capacity for c in consumed]))
    return out


def readings(
    county: County, *, since: datetime | None = None
) -> Iterator[tuple[datetime, list[tuple[str, MeterReading]]]]:
    """Every meter's register at every reading time, in time order, with the gateway it goes through.

    Yields ``(time, [(gateway, reading), ...])`` with the meters in the county's order. The first reading
    time is local midnight of ``start`` and shows the initial registers; the last is local midnight after
    the last day. Values are exact decimals with the resolution's number of places, wrapped at capacity.

    These are the readings ingest must find in what the gateways send, whatever the protocol. In a
    ``dsmr`` county an electricity meter has six per time, as its telegram decodes: import tariff 1,
    tariff 2 and their sum ``energy_import``, and the same three for export, which stay zero (the demo
    households have no solar panels); an M-Bus volume carries its capture time, which is the reading time.
    With ``since``, reading times before it are skipped.
    """
    all_series = series(county)
    times = county.reading_times()
    if county.protocol is CountyProtocol.DSMR:
        yield from (
            (moment, pairs)
            for moment, pairs in _dsmr_readings(all_series, times)
            if since is None or moment >= since
        )
        return
    fixed = [
        (s.meter.gateway, s.meter.serial, _REGISTERS[s.meter.kind], s.meter.unit, s.meter.resolution)
        for s in all_series
    ]
    registers = [s.counts for s in all_series]
    multiply = _EXACT.multiply
    for k, moment in enumerate(times):
        if since is not None and moment < since:
            continue
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


def _dsmr_readings(
    all_series: Sequence[MeterSeries], times: Sequence[datetime]
) -> Iterator[tuple[datetime, list[tuple[str, MeterReading]]]]:
    import_t1, import_t2, import_total, *export = wire.P1_REGISTERS
    for k, moment in enumerate(times):
        pairs: list[tuple[str, MeterReading]] = []
        for s in all_series:
            meter = s.meter
            serial, unit, gateway = meter.serial, meter.unit, meter.gateway
            if s.tariffs is None:
                reading = MeterReading(serial, _REGISTERS[meter.kind], meter.value(s.counts[k]), unit, moment)
                pairs.append((gateway, reading))
                continue
            first, second = s.tariffs[0][k], s.tariffs[1][k]
            zero = meter.value(0)
            pairs.extend(
                (gateway, MeterReading(serial, register, value, unit, moment))
                for register, value in (
                    (import_t1, meter.value(first)),
                    (import_t2, meter.value(second)),
                    (import_total, meter.value(first + second)),
                    *((name, zero) for name in export),
                )
            )
        yield moment, pairs


def envelopes(
    county: County, *, max_readings: int = 5000, since: datetime | None = None
) -> Iterator[tuple[str, bytes]]:
    """The county's readings as each gateway sends them: ``(gateway, envelope bytes)`` in time order.

    A gateway collects whole reading rounds and sends an envelope before the next round would take it past
    ``max_readings`` items (a round larger than that is split); ``seq`` counts 1, 2, 3… per gateway and
    ``sent_at`` is the time of the latest round inside. Envelopes sent at the same time come in gateway
    order; the last partial batch of every gateway is sent at the end.

    In a ``json`` county an item is a reading; otherwise it is a meter's frame
    (:func:`tanhui.sim.gateway.frame_rounds`): one per meter and reading time (DL/T 645, CJ/T 188), or one
    P1 telegram per household and reading time (DSMR). With ``since``, rounds read before it are skipped
    (their history reaches the platform another way, as the demo's imported billing history does).
    """
    if max_readings < 1:
        raise ValueError(f"max_readings must be at least 1, got {max_readings}")
    names = [gateway.name for gateway in county.gateways]
    rounds: Iterable[tuple[datetime, Mapping[str, Sequence[MeterReading | FrameItem]]]]
    if county.protocol is CountyProtocol.JSON:
        rounds = _json_rounds(county, names, since)
    else:
        rounds = wire.frame_rounds(county, series(county))
        if since is not None:
            rounds = ((moment, items) for moment, items in rounds if moment >= since)
    for name, seq, sent_at, batch in wire.batches(names, rounds, max_readings):
        yield name, encode(name, seq, sent_at, batch)


def _json_rounds(
    county: County, names: Sequence[str], since: datetime | None
) -> Iterator[tuple[datetime, dict[str, list[MeterReading]]]]:
    for moment, pairs in readings(county, since=since):
        by_gateway: dict[str, list[MeterReading]] = {name: [] for name in names}
        for gateway, reading in pairs:
            by_gateway[gateway].append(reading)
        yield moment, by_gateway


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
    of the readings into daily consumption must find exactly these numbers (for a DSMR electricity meter,
    the steps of ``energy_import``, the sum of its tariff registers).
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
    low = _low_tariff(county) if county.protocol is CountyProtocol.DSMR else []
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
                counts = _consumed(county, meter, hourly, low)
                target[meter.kind] = tuple(
                    _EXACT.multiply(Decimal(counts[b] - counts[a]), meter.resolution)
                    for a, b in pairwise(boundaries)
                )
        records[home.code] = HouseholdTruth(home, actual, counterfactual)
    days = tuple(county.start + timedelta(days=d) for d in range(county.days))
    return Truth(days, records)
