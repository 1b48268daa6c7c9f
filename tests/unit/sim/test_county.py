from __future__ import annotations

import itertools
import re
import statistics
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import ModuleType
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tanhui.sim
from tanhui.domain.quantity import Quantity
from tanhui.domain.reading import MeterReading
from tanhui.meters.continuity import StepKind, step
from tanhui.meters.envelope import decode
from tanhui.sim.county import County, SimMeter, Truth, build_county, envelopes, readings, truth

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = date(2026, 4, 1)


@pytest.fixture(scope="module")
def county() -> County:
    # 100 households, 60 days: the configured 1 % of 300 meters wrap, and savers have days to save.
    return build_county(seed=11, households=100, start=START, days=60)


@pytest.fixture(scope="module")
def series(county: County) -> dict[str, list[MeterReading]]:
    by_meter: dict[str, list[MeterReading]] = defaultdict(list)
    for _, pairs in readings(county):
        for _, reading in pairs:
            by_meter[reading.meter].append(reading)
    return by_meter


@pytest.fixture(scope="module")
def expected(county: County) -> Truth:
    return truth(county)


def _counts(reading: MeterReading, meter: SimMeter) -> int:
    counts = reading.value / meter.resolution
    assert counts == counts.to_integral_value()
    return int(counts)


@pytest.fixture(scope="module")
def registers(county: County, series: dict[str, list[MeterReading]]) -> dict[str, list[int]]:
    """Each meter's register in counts at every reading time."""
    return {meter.serial: [_counts(r, meter) for r in series[meter.serial]] for meter in county.meters}


def _steps(values: list[int], meter: SimMeter) -> list[tuple[int, StepKind]]:
    # The platform's own continuity rule, so the simulator and the accounting agree on rollover.
    result = []
    for previous, current in itertools.pairwise(values):
        s = step(previous, current, capacity=meter.capacity, max_rollover_counts=meter.capacity // 10)
        result.append((s.counts, s.kind))
    return result


def test_public_names_are_exported() -> None:
    public = {
        name
        for name, value in vars(tanhui.sim).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    }
    assert public == set(tanhui.sim.__all__)


def test_meters_gateways_and_serials(county: County) -> None:
    assert len(county.households) == 100
    assert len(county.meters) == 300
    assert [g.name for g in county.gateways] == ["bt-gw-001", "bt-gw-002"]
    serials = [m.serial for m in county.meters]
    assert len(set(serials)) == len(serials)
    prefixes = {Quantity.ELECTRICITY: "1101", Quantity.WATER: "2101", Quantity.GAS: "3101"}
    for meter in county.meters:
        assert re.fullmatch(r"\d{12}", meter.serial)
        assert meter.serial.startswith(prefixes[meter.kind])
        assert meter.capacity == 100_000_000
        assert meter.resolution == (
            Decimal("0.01") if meter.kind is Quantity.ELECTRICITY else Decimal("0.001")
        )
    per_gateway = defaultdict(set)
    for meter in county.meters:
        per_gateway[meter.gateway].add(meter.household)
    assert [len(homes) for _, homes in sorted(per_gateway.items())] == [50, 50]


def test_readings_start_at_local_midnight_with_the_initial_registers(
    county: County, series: dict[str, list[MeterReading]]
) -> None:
    times = county.reading_times()
    assert len(times) == 60 * 24 + 1
    assert times[0] == datetime(2026, 4, 1, tzinfo=SHANGHAI)
    assert times[-1] == datetime(2026, 5, 31, tzinfo=SHANGHAI)
    assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(times))
    for meter in county.meters:
        first = series[meter.serial][0]
        assert _counts(first, meter) == meter.initial
        assert first.unit == meter.kind.unit
        assert first.register == ("energy_import" if meter.kind is Quantity.ELECTRICITY else "volume")
        # Exactly the resolution's number of decimals, as a meter displays it.
        assert first.value.as_tuple().exponent == meter.resolution.as_tuple().exponent


def test_register_steps_add_up_to_the_truth_per_day_and_in_total(
    county: County, registers: dict[str, list[int]], expected: Truth
) -> None:
    for meter in county.meters:
        steps = [counts for counts, _ in _steps(registers[meter.serial], meter)]
        assert min(steps) >= 0
        daily = [sum(steps[24 * d : 24 * (d + 1)]) * meter.resolution for d in range(county.days)]
        assert [value for _, value in expected.daily(meter.household, meter.kind)] == daily
        assert expected.households[meter.household].total(meter.kind) == sum(daily)


def test_registers_stay_below_capacity_and_the_configured_share_rolls_over(
    county: County, registers: dict[str, list[int]]
) -> None:
    rolled = []
    for meter in county.meters:
        assert all(0 <= counts < meter.capacity for counts in registers[meter.serial])
        kinds = [kind for _, kind in _steps(registers[meter.serial], meter)]
        if StepKind.ROLLOVER in kinds:
            assert kinds.count(StepKind.ROLLOVER) == 1
            rolled.append(meter)
    assert len(rolled) == 3  # floor(1 % of 300 meters)


def test_same_seed_same_bytes_different_seed_different_bytes() -> None:
    def run(seed: int) -> list[tuple[str, bytes]]:
        return list(envelopes(build_county(seed=seed, households=7, start=START, days=3), max_readings=100))

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_envelopes_carry_every_reading_once_in_sequence() -> None:
    county = build_county(seed=4, households=25, start=START, days=5, households_per_gateway=10)
    sent = list(envelopes(county, max_readings=1000))
    seqs: dict[str, list[int]] = defaultdict(list)
    keys = set()
    last_sent: datetime | None = None
    for gateway, payload in sent:
        env = decode(payload)
        assert env.gateway == gateway
        assert env.errors == []
        assert 0 < len(env.readings) <= 1000
        assert env.sent_at == max(r.time for r in env.readings)
        assert last_sent is None or env.sent_at >= last_sent  # in time order
        last_sent = env.sent_at
        seqs[gateway].append(env.seq)
        for reading in env.readings:
            keys.add((reading.meter, reading.time))
    assert set(seqs) == {"bt-gw-001", "bt-gw-002", "bt-gw-003"}
    for numbers in seqs.values():
        assert numbers == list(range(1, len(numbers) + 1))
    assert len(keys) == len(county.meters) * county.reading_count


def test_a_round_is_not_split_when_it_fits_in_the_next_envelope() -> None:
    small = build_county(seed=1, households=4, start=START, days=1)  # 12 meters, 25 rounds
    sizes = [len(decode(payload).readings) for _, payload in envelopes(small, max_readings=30)]
    assert sizes == [24] * 12 + [12]
    huge = [len(decode(payload).readings) for _, payload in envelopes(small, max_readings=5)]
    assert set(huge[:-1]) <= {5, 2} and sum(huge) == 12 * 25


def test_savers_use_less_than_their_counterfactual_from_saves_from(expected: Truth) -> None:
    savers = [record for record in expected.households.values() if record.household.saves]
    others = [record for record in expected.households.values() if not record.household.saves]
    assert len(savers) == 30  # 60 % of the 50 % who enrol
    for record in others:
        for quantity in Quantity:
            assert record.avoided(quantity) == 0
    for record in savers:
        assert record.saves_from is not None
        fraction = Decimal(str(record.saving_fraction))
        for quantity in Quantity:
            actual = record.actual[quantity]
            counterfactual = record.counterfactual[quantity]
            for day, a, c in zip(expected.days, actual, counterfactual, strict=True):
                if day < record.saves_from:
                    assert a == c
                else:
                    # Each day is reduced by the fraction, up to a count of rounding either way.
                    assert abs(a - c * (1 - fraction)) <= Decimal("0.02")
            assert record.avoided(quantity) > 0


def test_hot_days_use_more_electricity_than_cool_days(county: County, expected: Truth) -> None:
    # April–May warms up: within each household, the ten hottest days against the ten coolest.
    daily_temperature = dict(tanhui.sim.daily_means(county.temperatures))
    ranked = sorted(expected.days, key=daily_temperature.__getitem__)
    cool, hot = set(ranked[:10]), set(ranked[-10:])
    higher = 0
    for code in expected.households:
        values = expected.daily(code, Quantity.ELECTRICITY, counterfactual=True)
        hot_mean = statistics.fmean(float(v) for d, v in values if d in hot)
        cool_mean = statistics.fmean(float(v) for d, v in values if d in cool)
        higher += hot_mean > cool_mean
    assert higher >= 0.9 * len(expected.households)


def test_days_off_differ_from_workdays_in_the_county(expected: Truth) -> None:
    off = {day for day in expected.days if tanhui.sim.is_day_off(day)}
    water_off: list[float] = []
    water_work: list[float] = []
    for code in expected.households:
        for day, value in expected.daily(code, Quantity.WATER, counterfactual=True):
            (water_off if day in off else water_work).append(float(value))
    assert statistics.fmean(water_off) > 1.04 * statistics.fmean(water_work)


def test_annual_electricity_per_household_is_plausible() -> None:
    # Two 60-day windows, dry-season winter and wet-season summer, scaled to a year: the average lands in
    # the 2,000–3,250 kWh per household of emission-factors.md §6.
    per_year = []
    for start in (date(2026, 1, 1), date(2026, 7, 1)):
        result = truth(build_county(seed=5, households=80, start=start, days=60, enrol_share=0.0))
        per_year.append(
            statistics.fmean(float(r.total(Quantity.ELECTRICITY)) for r in result.households.values())
            * 365
            / 60
        )
    winter, summer = per_year
    assert summer > 1.3 * winter
    assert 2000 <= statistics.fmean(per_year) <= 3250


def test_quarter_hour_readings_interpolate_and_still_add_up() -> None:
    small = build_county(seed=2, households=3, start=START, days=2, interval=timedelta(minutes=15))
    expected = truth(small)
    rounds = list(readings(small))
    assert len(rounds) == 2 * 96 + 1
    assert rounds[1][0] == datetime(2026, 4, 1, 0, 15, tzinfo=SHANGHAI)
    for meter in small.meters:
        values = [
            _counts(reading, meter)
            for _, pairs in rounds
            for _, reading in pairs
            if reading.meter == meter.serial
        ]
        steps = [(b - a) % meter.capacity for a, b in itertools.pairwise(values)]
        assert sum(steps) * meter.resolution == expected.households[meter.household].total(meter.kind)


def test_refuses_an_interval_that_does_not_divide_the_day() -> None:
    with pytest.raises(ValueError, match="divide"):
        build_county(seed=1, households=1, start=START, days=2, interval=timedelta(hours=5))


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**31),
    households=st.integers(min_value=1, max_value=4),
    days=st.integers(min_value=1, max_value=4),
    interval=st.sampled_from(
        [timedelta(minutes=30), timedelta(hours=1), timedelta(hours=6), timedelta(days=1)]
    ),
    zone=st.sampled_from(["Asia/Shanghai", "Europe/Berlin"]),
    start=st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31)),
)
def test_any_small_county_accounts_exactly(
    seed: int, households: int, days: int, interval: timedelta, zone: str, start: date
) -> None:
    tz = ZoneInfo(zone)
    if zone == "Europe/Berlin" and interval > timedelta(hours=1):
        interval = timedelta(hours=1)  # a 23- or 25-hour day is not divided by 6 hours
    small = build_county(
        seed=seed, households=households, start=start, days=days, tz=tz, interval=interval, rollover_share=0.5
    )
    expected = truth(small)
    rounds = list(readings(small))
    utc = [moment.astimezone(UTC) for moment, _ in rounds]
    assert all(b - a == interval for a, b in itertools.pairwise(utc))
    for index, meter in enumerate(small.meters):
        values = [_counts(pairs[index][1], meter) for _, pairs in rounds]
        assert all(0 <= v < meter.capacity for v in values)
        steps = [(b - a) % meter.capacity for a, b in itertools.pairwise(values)]
        assert sum(steps) * meter.resolution == expected.households[meter.household].total(meter.kind)
