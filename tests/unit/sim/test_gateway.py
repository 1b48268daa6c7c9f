from __future__ import annotations

import itertools
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tanhui.accounting.consumption import daily_counts
from tanhui.domain.quantity import Quantity
from tanhui.domain.reading import MeterReading
from tanhui.ingest.rules import IngestRules
from tanhui.meters import cjt188, dlt645, dsmr
from tanhui.meters.envelope import FrameItem, decode
from tanhui.meters.errors import MeterError
from tanhui.meters.frames import FrameError, readings_from_frame
from tanhui.sim import gateway
from tanhui.sim.county import County, CountyProtocol, build_county, envelopes, readings, series, truth
from tanhui.sim.gateway import MeterAnswer, P1Read

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
SHANGHAI = ZoneInfo("Asia/Shanghai")
# Across the end of a month (a CJ/T 188 settlement day) and the end of Dutch summer time (2026-10-25).
START = date(2026, 10, 23)
START_AT = datetime(2026, 10, 23, tzinfo=UTC)

Key = tuple[str, str, Decimal, str, datetime]


def _key(reading: MeterReading) -> Key:
    # Instants in UTC: the same instant written with another offset is the same reading.
    return (reading.meter, reading.register, reading.value, reading.unit, reading.time.astimezone(UTC))


def _sent(county: County, max_readings: int = 5000) -> list[FrameItem]:
    return [
        item for _, payload in envelopes(county, max_readings=max_readings) for item in decode(payload).frames
    ]


def _decoded(county: County, frames: list[FrameItem]) -> Counter[Key]:
    return Counter(
        _key(reading)
        for item in frames
        for reading in readings_from_frame(item.protocol, item.frame, read_at=item.time, tz=county.tz)
    )


def _simulated(county: County) -> Counter[Key]:
    return Counter(_key(reading) for _, pairs in readings(county) for _, reading in pairs)


@pytest.fixture(scope="module")
def baoting() -> County:
    return build_county(seed=3, households=5, start=START, days=10, protocol="baoting", rollover_share=0.2)


@pytest.fixture(scope="module")
def netherlands() -> County:
    return build_county(seed=3, households=5, start=START, days=10, protocol="dsmr", rollover_share=0.2)


@pytest.fixture(scope="module")
def baoting_frames(baoting: County) -> list[FrameItem]:
    return _sent(baoting, max_readings=150)


@pytest.fixture(scope="module")
def dsmr_frames(netherlands: County) -> list[FrameItem]:
    return _sent(netherlands, max_readings=40)


def test_baoting_frames_decode_to_exactly_the_simulated_readings(
    baoting: County, baoting_frames: list[FrameItem]
) -> None:
    assert _decoded(baoting, baoting_frames) == _simulated(baoting)
    assert len(baoting_frames) == len(baoting.meters) * baoting.reading_count  # one frame per reading
    assert {item.protocol for item in baoting_frames} == {"dlt645", "cjt188"}


def test_dsmr_telegrams_decode_to_exactly_the_simulated_readings(
    netherlands: County, dsmr_frames: list[FrameItem]
) -> None:
    assert _decoded(netherlands, dsmr_frames) == _simulated(netherlands)
    assert len(dsmr_frames) == len(netherlands.households) * netherlands.reading_count  # one per household
    assert {item.protocol for item in dsmr_frames} == {"dsmr"}
    assert all(item.meter is None for item in dsmr_frames)  # a telegram carries three meters


def test_baoting_meters_carry_their_protocols_identities_and_registers(baoting: County) -> None:
    assert baoting.protocol is CountyProtocol.BAOTING
    assert baoting.tz == SHANGHAI
    vendors = set()
    for meter in baoting.meters:
        assert meter.capacity == 100_000_000  # XXXXXX.XX
        assert meter.resolution == Decimal("0.01")
        if meter.kind is Quantity.ELECTRICITY:
            assert meter.protocol == "dlt645"
            assert re.fullmatch(r"\d{12}", meter.serial)  # DL/T 645 address: 6 BCD bytes
        else:
            assert meter.protocol == "cjt188"
            assert re.fullmatch(r"\d{14}", meter.serial)  # CJ/T 188: manufacturer code + meter number
            vendors.add(meter.serial[:4])
    assert vendors == {vendor.code for vendor in gateway.CJT188_VENDORS}


def test_dsmr_meters_are_named_by_the_equipment_ids_their_telegrams_carry(
    netherlands: County, dsmr_frames: list[FrameItem]
) -> None:
    assert netherlands.protocol is CountyProtocol.DSMR
    assert netherlands.tz == AMSTERDAM
    assert [g.name for g in netherlands.gateways] == ["nl-gw-001"]
    assert all(h.code.startswith("NL-") for h in netherlands.households)
    serials = {meter.kind: set() for meter in netherlands.meters}
    for meter in netherlands.meters:
        serials[meter.kind].add(meter.serial)
        assert len(meter.serial) <= 32  # what the meter registry stores
        assert meter.protocol == "dsmr"
        assert meter.resolution == Decimal("0.001")
        assert meter.capacity == (10**9 if meter.kind is Quantity.ELECTRICITY else 10**8)
    telegram = dsmr.decode(dsmr_frames[0].frame, tz=AMSTERDAM)
    assert telegram.equipment_id in serials[Quantity.ELECTRICITY]
    channels = {channel.device_type: channel for channel in telegram.mbus}
    assert channels[dsmr.DEVICE_GAS].equipment_id in serials[Quantity.GAS]
    assert channels[dsmr.DEVICE_WATER].equipment_id in serials[Quantity.WATER]
    assert bytes.fromhex(telegram.equipment_id).decode("ascii").startswith("E")


def test_dlt645_answers_read_forward_active_energy_with_varying_wake_up(
    baoting: County, baoting_frames: list[FrameItem]
) -> None:
    preambles = set()
    for item in baoting_frames:
        if item.protocol != "dlt645":
            continue
        frame = dlt645.decode(item.frame)
        assert frame.address == item.meter
        assert frame.control.to_byte() == 0x91  # normal answer, no follow-up
        assert isinstance(frame.body, dlt645.ReadAnswer)
        assert frame.body.di == 0x00010000
        preambles.add(len(item.frame) - len(item.frame.lstrip(b"\xfe")))
    assert preambles <= {0, 1, 2, 3, 4}
    assert len(preambles) > 1


def test_cjt188_answers_carry_the_meter_clock_in_local_time_and_both_di_orders(
    baoting: County, baoting_frames: list[FrameItem]
) -> None:
    orders = set()
    types = {}
    for item in baoting_frames:
        if item.protocol != "cjt188":
            continue
        frame = cjt188.decode(item.frame)
        body = frame.body
        assert isinstance(body, cjt188.FlowAnswer)
        assert body.current.unit is cjt188.Unit.M3
        assert body.meter_time == item.time.astimezone(SHANGHAI).replace(tzinfo=None)
        assert body.di_order is gateway.cjt188_vendor(frame.address).di_order
        orders.add(body.di_order)
        types[frame.address] = frame.meter_type
    assert orders == set(cjt188.DiOrder)
    kinds = {meter.serial: meter.kind for meter in baoting.meters}
    assert {types[a] for a in types if kinds[a] is Quantity.WATER} == {cjt188.MeterType.COLD_WATER}
    assert {types[a] for a in types if kinds[a] is Quantity.GAS} == {cjt188.MeterType.GAS}


def test_cjt188_settlement_register_is_the_one_at_the_first_of_the_month(baoting: County) -> None:
    one = next(s for s in series(baoting) if s.meter.protocol == "cjt188")
    times = baoting.reading_times()
    first_of_november = times.index(datetime(2026, 11, 1, tzinfo=SHANGHAI))
    rounds = list(gateway.poll_rounds(baoting, series(baoting)))
    settled = []
    for _, by_gateway in rounds:
        read = next(r for r in by_gateway[one.meter.gateway] if r.meter == one.meter)
        assert isinstance(read, MeterAnswer)
        settled.append(read.settlement)
    assert settled[:first_of_november] == [one.counts[0]] * first_of_november  # before: the initial register
    assert set(settled[first_of_november:]) == {one.counts[first_of_november]}


def test_cjt188_ser_counts_the_polls_modulo_256() -> None:
    county = build_county(seed=1, households=1, start=START, days=11, protocol="baoting")
    sers = [
        cjt188.decode(item.frame).body.ser  # type: ignore[union-attr]
        for item in _sent(county)
        if item.protocol == "cjt188" and item.meter == county.meters[1].serial
    ]
    assert sers == [k % 256 for k in range(county.reading_count)]


def test_dsmr_tariffs_follow_the_dutch_low_hours_and_weekends(
    netherlands: County, dsmr_frames: list[FrameItem]
) -> None:
    first = netherlands.meters[0]
    t1: list[tuple[datetime, Decimal]] = []
    t2: list[tuple[datetime, Decimal]] = []
    for item in dsmr_frames:
        telegram = dsmr.decode(item.frame, tz=AMSTERDAM)
        if telegram.equipment_id != first.serial:
            continue
        assert telegram.timestamp is not None and telegram.energy_import_t1 is not None
        assert telegram.energy_import_t2 is not None
        local = telegram.timestamp.at.astimezone(AMSTERDAM)
        low = local.weekday() >= 5 or local.hour >= 23 or local.hour < 7
        assert telegram.tariff == (1 if low else 2)
        assert telegram.energy_export_t1 == telegram.energy_export_t2 == 0
        assert telegram.power_import is not None and telegram.power_import >= 0
        t1.append((local, telegram.energy_import_t1))
        t2.append((local, telegram.energy_import_t2))
    # A tariff register advances only over hours of its tariff (the hour that ends at the reading).
    for (before, a), (_, b) in itertools.pairwise(t1):
        if gateway.nl_tariff(before) == 2:
            assert a == b
    for (before, a), (_, b) in itertools.pairwise(t2):
        if gateway.nl_tariff(before) == 1:
            assert a == b
    assert t1[-1][1] > t1[0][1] and t2[-1][1] > t2[0][1]


def test_dsmr_stamps_flag_summer_and_winter_time_across_the_repeated_hour(
    netherlands: County, dsmr_frames: list[FrameItem]
) -> None:
    stamps = []
    for item in dsmr_frames[: netherlands.reading_count * len(netherlands.households)]:
        telegram = dsmr.decode(item.frame, tz=AMSTERDAM)
        assert telegram.timestamp is not None
        if telegram.equipment_id == netherlands.meters[0].serial:
            stamps.append(telegram.timestamp)
            for channel in telegram.mbus:
                assert channel.captured_at == telegram.timestamp  # captured on the reading grid
    repeated = [s for s in stamps if s.local == datetime(2026, 10, 25, 2, 0)]
    assert [s.dst for s in repeated] == [True, False]
    assert repeated[1].at - repeated[0].at == timedelta(hours=1)
    utc = [s.at.astimezone(UTC) for s in stamps]
    assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(utc))


@pytest.mark.parametrize("mode", ["baoting", "dsmr"])
def test_accounting_of_the_decoded_frames_gives_the_truth(mode: str, request: pytest.FixtureRequest) -> None:
    county: County = request.getfixturevalue("baoting" if mode == "baoting" else "netherlands")
    frames: list[FrameItem] = request.getfixturevalue(f"{mode}_frames")
    by_meter: dict[str, list[tuple[int, int]]] = defaultdict(list)
    meters = {meter.serial: meter for meter in county.meters}
    for item in frames:
        for reading in readings_from_frame(item.protocol, item.frame, read_at=item.time, tz=county.tz):
            meter = meters[reading.meter]
            if reading.register == meter.kind.register:
                counts = reading.value / meter.resolution
                by_meter[reading.meter].append((int(reading.time.timestamp()), int(counts)))
    expected = truth(county)
    rolled = 0
    for serial, points in by_meter.items():
        meter = meters[serial]
        result = daily_counts(
            sorted(points),
            capacity=meter.capacity,
            max_rollover_counts=IngestRules.load().max_rollover_counts(meter.capacity),
            tz=county.tz,
        )
        assert result.rejected_steps == []
        rolled += result.rollovers
        for day, amount in expected.daily(meter.household, meter.kind):
            assert result.by_day.get(day, 0) * meter.resolution == amount, (serial, day)
    assert rolled >= 1


def test_same_seed_same_frames_other_seed_other_frames() -> None:
    def run(seed: int, mode: str) -> list[tuple[str, bytes]]:
        county = build_county(seed=seed, households=3, start=START, days=2, protocol=mode)
        return list(envelopes(county, max_readings=50))

    for mode in ("baoting", "dsmr"):
        assert run(5, mode) == run(5, mode)
        assert run(5, mode) != run(6, mode)


def test_registers_of_names_what_each_kind_of_read_decodes_to(netherlands: County, baoting: County) -> None:
    for county in (baoting, netherlands):
        _, by_gateway = next(iter(gateway.poll_rounds(county, series(county))))
        reads = [read for reads in by_gateway.values() for read in reads]
        variants: list[gateway.Read] = []
        for read in reads:
            variants.append(read)
            if isinstance(read, P1Read):
                variants.append(P1Read(**{**_fields(read), "electricity": False}))
            elif read.meter.protocol != "json":
                variants.append(MeterAnswer(**{**_fields(read), "abnormal": True}))
        for read in variants:
            item = gateway.item(read, county.tz)
            assert isinstance(item, FrameItem)
            try:
                decoded = readings_from_frame(item.protocol, item.frame, read_at=item.time, tz=county.tz)
            except FrameError as exc:
                assert exc.code == "abnormal_answer"
                decoded = []
            assert [(r.meter, r.register) for r in decoded] == gateway.registers_of(read)


def _fields(read: gateway.Read) -> dict[str, object]:
    return {name: getattr(read, name) for name in read.__slots__}  # type: ignore[union-attr]


@settings(max_examples=200, deadline=None)
@given(
    meter_index=st.integers(min_value=0, max_value=5),
    counts=st.integers(min_value=0, max_value=10**8 - 1),
    settlement=st.integers(min_value=0, max_value=10**8 - 1),
    index=st.integers(min_value=0, max_value=100_000),
    at=st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2090, 12, 31), timezones=st.just(UTC)),
    ahead=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)),
    fault=st.sampled_from(["", "abnormal", "wrong_unit"]),
)
def test_the_frame_writer_writes_what_the_codec_writes(
    meter_index: int, counts: int, settlement: int, index: int, at: datetime, ahead: timedelta, fault: str
) -> None:
    # Two households: both CJ/T 188 vendors, and DL/T 645 addresses with different wake-up bytes.
    county = build_county(seed=1, households=2, start=START, days=1, protocol="baoting")
    meter = county.meters[meter_index]
    read = MeterAnswer(
        meter,
        index,
        at,
        counts,
        settlement,
        clock_ahead=timedelta(seconds=int(ahead.total_seconds())),
        abnormal=fault == "abnormal",
        wrong_unit=fault == "wrong_unit" and meter.protocol == "cjt188",
    )
    writer = gateway.FrameWriter(county.tz)
    writer.frame(MeterAnswer(meter, 0, START_AT, 0, 0))  # a template already in place, as in a run

    def outcome(write: Callable[[], object]) -> object:
        try:
            return write()
        except MeterError as exc:  # a time the field cannot hold: the same refusal either way
            return type(exc), exc.code

    assert outcome(lambda: writer.frame(read)) == outcome(lambda: gateway.frame(read, county.tz))
    assert outcome(lambda: writer.item(read)) == outcome(lambda: gateway.item(read, county.tz))


def test_batches_keep_rounds_whole_and_number_each_gateway() -> None:
    at = [datetime(2026, 1, 1, h, tzinfo=UTC) for h in range(4)]
    rounds = [(t, {"a": [f"a{i}", f"a{i}'"], "b": [f"b{i}"]}) for i, t in enumerate(at)]
    sent = list(gateway.batches(["a", "b"], rounds, max_items=3))
    # a sends before a round would take it past 3; b fills exactly 3 in round 2 and sends at once.
    assert [(name, seq, len(items)) for name, seq, _, items in sent] == [
        ("a", 1, 2),
        ("a", 2, 2),
        ("b", 1, 3),
        ("a", 3, 2),
        ("a", 4, 2),
        ("b", 2, 1),
    ]
    assert sent[2][3] == ["b0", "b1", "b2"]
    assert [sent_at for name, _, sent_at, _ in sent if name == "a"] == at
    with pytest.raises(ValueError, match="max_items"):
        list(gateway.batches(["a"], rounds, max_items=0))


def test_a_dsmr_county_needs_all_three_meters_of_each_household(netherlands: County) -> None:
    with pytest.raises(ValueError, match="one electricity, one water and one gas meter"):
        County(**{**_county_fields(netherlands), "meters": netherlands.meters[1:]})
    with pytest.raises(ValueError, match="speak json, not dsmr"):
        County(**{**_county_fields(netherlands), "protocol": CountyProtocol.JSON})


def _county_fields(county: County) -> dict[str, object]:
    return {name: getattr(county, name) for name in county.__slots__}  # type: ignore[attr-defined]


def test_a_baoting_county_refuses_a_zone_with_daylight_saving() -> None:
    # A CJ/T 188 meter's clock has no offset: the repeated autumn hour could not be told apart.
    with pytest.raises(ValueError, match="daylight saving"):
        build_county(seed=1, households=1, start=START, days=3, protocol="baoting", tz=AMSTERDAM)
    build_county(seed=1, households=1, start=date(2026, 6, 1), days=3, protocol="baoting", tz=AMSTERDAM)


def test_json_mode_is_the_default_and_unchanged() -> None:
    county = build_county(seed=3, households=2, start=START, days=1)
    assert county.protocol is CountyProtocol.JSON
    assert county.tz == SHANGHAI
    assert {meter.protocol for meter in county.meters} == {"json"}
    assert all(decode(payload).frames == [] for _, payload in envelopes(county))


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**31),
    households=st.integers(min_value=1, max_value=3),
    days=st.integers(min_value=1, max_value=3),
    mode=st.sampled_from(["baoting", "dsmr"]),
    interval=st.sampled_from([timedelta(minutes=30), timedelta(hours=1)]),
    start=st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)),
)
def test_any_small_protocol_county_decodes_to_its_readings(
    seed: int, households: int, days: int, mode: str, interval: timedelta, start: date
) -> None:
    county = build_county(
        seed=seed, households=households, start=start, days=days, protocol=mode, interval=interval
    )
    assert _decoded(county, _sent(county, max_readings=97)) == _simulated(county)
