from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tanhui.meters import cjt188, dlt645
from tanhui.meters.cjt188 import (
    DATA_IDENTIFIERS,
    METERING_DATA,
    AbnormalAnswer,
    Answer,
    Cjt188Error,
    Control,
    DiOrder,
    Direction,
    FlowAnswer,
    Frame,
    Function,
    HeatAnswer,
    Measure,
    Medium,
    MeterType,
    Request,
    Status,
    Unit,
    Valve,
)
from tanhui.meters.errors import MeterError

FAST = settings(max_examples=150, deadline=None)
ADDRESS = "00000012345678"


def _hex(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def _rule(code: str, data: bytes) -> Cjt188Error:
    with pytest.raises(Cjt188Error) as info:
        cjt188.decode(data)
    assert info.value.code == code, info.value.message
    return info.value


def _with_checksum(frame: bytes) -> bytes:
    """``frame`` with its CS recomputed from the first 68H, for building deliberately odd frames."""
    wake_up = len(frame) - len(frame.lstrip(b"\xfe"))
    body = frame[wake_up:-2]
    return frame[:wake_up] + body + bytes([sum(body) & 0xFF, frame[-1]])


# --- the worked vectors (meter-protocols.md §6.2) -----------------------------------------------------

V188_1 = "FE FE 68 10 78 56 34 12 00 00 00 01 03 1F 90 00 3F 16"
V188_2 = (
    "68 10 78 56 34 12 00 00 00 81 16 1F 90 00 56 34 12 00 2C 00 00 12 00 2C 15 30 09 25 11 26 20 00 00 A2 16"
)
V188_3 = (
    "68 30 78 56 34 12 00 00 00 81 16 1F 90 00 65 87 00 00 2C 00 80 00 00 2C 00 00 10 25 11 26 20 05 00 47 16"
)
V188_4 = "FE FE 68 AA AA AA AA AA AA AA AA 03 03 0A 81 00 49 16"
V188_5 = "68 10 78 56 34 12 00 00 00 C1 03 00 03 00 53 16"


def _round_trips(raw: bytes) -> Frame:
    frame = cjt188.decode(raw)
    preamble = len(raw) - len(raw.lstrip(b"\xfe"))
    assert cjt188.encode(frame, wake_up=preamble) == raw
    return frame


def test_188_1_read_request() -> None:
    frame = _round_trips(_hex(V188_1))
    assert frame.meter_type == MeterType.COLD_WATER
    assert frame.medium is Medium.WATER
    assert frame.address == ADDRESS
    assert frame.kind == "read_request"
    assert frame.body == Request(METERING_DATA, 0, b"", DiOrder.LOW_FIRST)
    assert cjt188.encode(cjt188.read_request(MeterType.COLD_WATER, ADDRESS), wake_up=2) == _hex(V188_1)


def test_188_2_water_answer() -> None:
    frame = _round_trips(_hex(V188_2))
    assert frame.kind == "read_answer"
    assert frame.body == FlowAnswer(
        ser=0,
        current=Measure(Decimal("1234.56"), Unit.M3),
        settlement=Measure(Decimal("1200.00"), Unit.M3),
        meter_time=datetime(2026, 11, 25, 9, 30, 15),
        status=Status(Valve.OPEN, battery_low=False),
    )
    assert cjt188.registers(frame) == [
        ("volume", Decimal("1234.56"), "m3"),
        ("volume_settlement", Decimal("1200.00"), "m3"),
    ]
    built = cjt188.read_answer(
        MeterType.COLD_WATER,
        ADDRESS,
        Decimal("1234.56"),
        Decimal("1200.00"),
        Unit.M3,
        datetime(2026, 11, 25, 9, 30, 15),
    )
    assert cjt188.encode(built) == _hex(V188_2)


def test_188_3_gas_answer_valve_closed_battery_low() -> None:
    frame = _round_trips(_hex(V188_3))
    assert frame.meter_type == MeterType.GAS
    assert isinstance(frame.body, FlowAnswer)
    assert frame.body.current == Measure(Decimal("87.65"), Unit.M3)
    assert frame.body.settlement == Measure(Decimal("80.00"), Unit.M3)
    assert frame.body.meter_time == datetime(2026, 11, 25, 10, 0, 0)
    assert frame.body.status == Status(Valve.CLOSED, battery_low=True)
    built = cjt188.read_answer(
        MeterType.GAS,
        ADDRESS,
        Decimal("87.65"),
        Decimal("80.00"),
        Unit.M3,
        datetime(2026, 11, 25, 10),
        valve=Valve.CLOSED,
        battery_low=True,
    )
    assert cjt188.encode(built) == _hex(V188_3)


def test_188_4_broadcast_read_address_in_both_byte_orders() -> None:
    low = _round_trips(_hex(V188_4))
    assert low.meter_type == MeterType.ANY
    assert low.address == cjt188.BROADCAST
    assert low.control == Control(Direction.MASTER_TO_METER, False, Function.READ_ADDRESS)
    assert low.body == Request(0x810A, 0, b"", DiOrder.LOW_FIRST)
    # python_cjt188 sends the same frame with 81 0A; the checksum does not change with the order.
    high = _round_trips(_hex(V188_4.replace("0A 81", "81 0A")))
    assert high.body == Request(0x810A, 0, b"", DiOrder.HIGH_FIRST)


def test_188_5_abnormal_answer_keeps_ser_and_status() -> None:
    frame = _round_trips(_hex(V188_5))
    assert frame.kind == "abnormal_answer"
    assert frame.body == AbnormalAnswer(0, Status(Valve.FAULT))
    assert cjt188.registers(frame) == []
    assert cjt188.encode(
        cjt188.abnormal_answer(MeterType.COLD_WATER, ADDRESS, status=Status(Valve.FAULT))
    ) == _hex(V188_5)
    assert cjt188.describe(frame)["status"] == {"valve": "fault", "battery_low": False, "vendor_bits": "0000"}


# --- public examples (hftangyu.com/563.html, cnblogs llguanli) ----------------------------------------

HFTANGYU_REQUEST = "FE FE FE FE 68 10 44 33 22 11 00 33 78 01 03 1F 90 00 80 16"
HFTANGYU_ANSWER_AS_PUBLISHED = (
    "FE FE FE FE 68 10 44 33 22 11 00 33 78 81 16 1F 90 00 00 77 66 55 2C 00 77 66 55 2C "
    "31 01 22 11 05 15 20 21 84 08 16"
)


def test_hftangyu_request() -> None:
    frame = _round_trips(_hex(HFTANGYU_REQUEST))
    assert frame.address == "78330011223344"
    assert frame.meter_number == "0011223344"
    assert frame.manufacturer == "7833"


def test_hftangyu_published_answer_has_a_wrong_checksum() -> None:
    error = _rule("checksum", _hex(HFTANGYU_ANSWER_AS_PUBLISHED))
    assert error.diagnostics() == "checksum: frame says 0x08, bytes sum to 0x13"
    assert isinstance(error, MeterError)


def test_hftangyu_answer_with_its_checksum_recomputed() -> None:
    frame = _round_trips(_with_checksum(_hex(HFTANGYU_ANSWER_AS_PUBLISHED)))
    assert isinstance(frame.body, FlowAnswer)
    assert frame.body.current == Measure(Decimal("556677.00"), Unit.M3)
    assert frame.body.meter_time == datetime(2015, 5, 11, 22, 1, 31)
    # ST 21 84: valve bits 01 (closed), battery bit clear, the rest vendor-defined and kept.
    assert frame.body.status == Status(Valve.CLOSED, battery_low=False, vendor=0x8420)


def test_jy_heat_meter_request_sends_di_high_byte_first() -> None:
    raw = _hex("68 20 32 41 31 40 00 00 00 01 03 90 1F 01 20 16")
    frame = _round_trips(raw)
    assert frame.meter_type == MeterType.HEAT
    assert frame.body == Request(METERING_DATA, 1, b"", DiOrder.HIGH_FIRST)
    request = cjt188.read_request(MeterType.HEAT, "00000040314132", ser=1, di_order=DiOrder.HIGH_FIRST)
    assert cjt188.encode(request) == raw


# A heat answer built by hand from the field table (§2.6), independent of the encoder.
HEAT_FIELDS = [
    "1F 90 07",  # DI, SER 7
    "00 50 34 12 05",  # settlement-day heat 123450.00 kWh... read as BCD 12345000 -> 123450.00
    "67 45 23 01 05",  # current heat 12345.67 kWh
    "50 12 00 00 17",  # heat power 12.50 kW
    "34 12 00 00 35",  # flow rate 0.1234 m3/h
    "00 10 00 00 2C",  # cumulative flow 10.00 m3
    "50 62 00",  # supply temperature 62.50 °C
    "25 41 00",  # return temperature 41.25 °C
    "34 12 00",  # 1234 operating hours
    "15 30 09 25 11 26 20",  # 2026-11-25 09:30:15
    "04 00",  # battery low
]


def _heat_frame(meter_type: int = 0x20) -> bytes:
    data = _hex(" ".join(HEAT_FIELDS))
    assert len(data) == 0x2E
    head = bytes([0x68, meter_type]) + _hex("78 56 34 12 00 00 00") + bytes([0x81, len(data)])
    return _with_checksum(head + data + b"\x00\x16")


def test_heat_answer_field_layout() -> None:
    frame = _round_trips(_heat_frame())
    assert frame.body == HeatAnswer(
        ser=7,
        settlement_heat=Measure(Decimal("123450.00"), Unit.KWH),
        current_heat=Measure(Decimal("12345.67"), Unit.KWH),
        heat_power=Measure(Decimal("12.50"), Unit.KW),
        flow_rate=Measure(Decimal("0.1234"), Unit.M3_PER_H),
        volume=Measure(Decimal("10.00"), Unit.M3),
        supply_temperature=Decimal("62.50"),
        return_temperature=Decimal("41.25"),
        operating_hours=1234,
        meter_time=datetime(2026, 11, 25, 9, 30, 15),
        status=Status(Valve.OPEN, battery_low=True),
    )
    names = [name for name, _, _ in cjt188.registers(frame)]
    assert names[:2] == ["heat", "heat_settlement"]
    assert ("volume", Decimal("10.00"), "m3") in cjt188.registers(frame)
    cooling = cjt188.decode(_heat_frame(MeterType.COOLING))
    assert [name for name, _, _ in cjt188.registers(cooling)][:2] == ["cooling", "cooling_settlement"]


def test_a_water_layout_from_a_heat_meter_is_refused() -> None:
    # 188-2 with T = 20H: a heat meter answers 901F with L = 2EH, not 16H.
    raw = _with_checksum(_hex(V188_2.replace("68 10", "68 20", 1)))
    assert "L = 0x2E" in _rule("length", raw).message


# --- every rule has its code --------------------------------------------------------------------------


def test_framing_rules() -> None:
    valid = _hex(V188_2)
    _rule("truncated", b"")
    _rule("truncated", b"\xfe" * 3)
    _rule("truncated", valid[:12])
    _rule("truncated", valid[:-1])
    _rule("start_byte", b"\x16" + valid)
    _rule("length", valid + b"\xfe")
    _rule("end_byte", valid[:-1] + b"\x15")
    assert cjt188.decode(b"\xfe" * 7 + valid) == cjt188.decode(valid)


@pytest.mark.parametrize(
    ("code", "frame"),
    [
        ("meter_type", V188_2.replace("68 10", "68 50", 1)),
        ("meter_type", V188_2.replace("68 10", "68 00", 1)),
        ("unit_code", V188_2.replace("00 2C 00 00 12 00 2C", "00 2D 00 00 12 00 2C")),  # current: 2DH
        ("unit_code", V188_2.replace("00 2C 00 00 12 00 2C", "00 2C 00 00 12 00 FF")),  # settlement: FFH
        ("bcd", V188_2.replace("56 34 12 00 2C", "56 34 12 0F 2C")),
        ("bcd", V188_2.replace("78 56 34 12", "78 56 34 1A", 1)),  # the address
        ("bcd", V188_2.replace("15 30 09 25", "15 30 09 2A")),  # the real time
        ("datetime", V188_2.replace("25 11 26 20", "25 13 26 20")),  # month 13
        ("datetime", V188_2.replace("25 11 26 20", "31 11 26 20")),  # 31 November
        ("unknown_data_identifier", V188_1.replace("1F 90", "1F 91")),
        ("length", V188_1.replace("01 03 1F 90 00", "01 02 1F 90")),
        ("length", V188_5.replace("C1 03 00 03 00", "C1 04 00 03 00 00")),
        ("length", V188_2.replace("81 16", "81 15").replace("00 00 A2 16", "00 A2 16")),
        ("control_code", V188_5.replace("C1", "41")),
    ],
)
def test_content_rules(code: str, frame: str) -> None:
    _rule(code, _with_checksum(_hex(frame)))


WHEN = datetime(2026, 11, 25, 9, 30, 15)


@pytest.mark.parametrize(
    ("code", "build"),
    [
        (
            "range",
            lambda: cjt188.read_answer(0x10, ADDRESS, Decimal("1000000.00"), Decimal(0), Unit.M3, WHEN),
        ),
        ("range", lambda: cjt188.read_answer(0x10, ADDRESS, Decimal("1.001"), Decimal(0), Unit.M3, WHEN)),
        ("range", lambda: cjt188.read_answer(0x10, ADDRESS, Decimal("-1"), Decimal(0), Unit.M3, WHEN)),
        ("range", lambda: cjt188.read_answer(0x10, ADDRESS, Decimal(1), Decimal(0), Unit.M3, WHEN, ser=256)),
        (
            "datetime",
            lambda: cjt188.read_answer(
                0x10, ADDRESS, Decimal(1), Decimal(0), Unit.M3, WHEN.replace(tzinfo=UTC)
            ),
        ),
        (
            "datetime",
            lambda: cjt188.read_answer(
                0x10, ADDRESS, Decimal(1), Decimal(0), Unit.M3, WHEN.replace(microsecond=1)
            ),
        ),
        ("unit_code", lambda: cjt188.read_answer(0x10, ADDRESS, Decimal(1), Decimal(0), 0x2D, WHEN)),  # type: ignore[arg-type]
        ("meter_type", lambda: cjt188.read_request(0x50, ADDRESS)),
        ("meter_type", lambda: cjt188.read_request(0x110, ADDRESS)),
        ("bcd", lambda: cjt188.read_request(0x10, "0000001234567")),
        (
            "unknown_data_identifier",
            lambda: Frame(0x10, ADDRESS, Control(Direction.MASTER_TO_METER, False, 1), Request(0x1234, 0)),
        ),
        ("control_code", lambda: cjt188.read_answer(0x40, ADDRESS, Decimal(1), Decimal(0), Unit.M3, WHEN)),
        (
            "control_code",
            lambda: Frame(
                0x10, ADDRESS, Control(Direction.METER_TO_MASTER, False, 1), Answer(METERING_DATA, 0)
            ),
        ),
        (
            "control_code",
            lambda: Frame(
                0x10, ADDRESS, Control(Direction.METER_TO_MASTER, False, 1), Request(METERING_DATA, 0)
            ),
        ),
        (
            "control_code",
            lambda: Frame(
                0x10, ADDRESS, Control(Direction.MASTER_TO_METER, False, 1), Answer(METERING_DATA, 0)
            ),
        ),
        (
            "control_code",
            lambda: Frame(
                0x10, ADDRESS, Control(Direction.METER_TO_MASTER, False, 1), AbnormalAnswer(0, Status())
            ),
        ),
        (
            "control_code",
            lambda: Frame(0x10, ADDRESS, Control(Direction.METER_TO_MASTER, True, 1), Answer(0x810A, 0)),
        ),
        (
            "control_code",
            lambda: Frame(0x10, ADDRESS, Control(Direction.METER_TO_MASTER, False, 0x40), Answer(0x810A, 0)),
        ),
        ("range", lambda: cjt188.abnormal_answer(0x10, ADDRESS, status=Status(vendor=0x0001))),
        ("range", lambda: cjt188.abnormal_answer(0x10, ADDRESS, status=Status(vendor=0x10000))),
        (
            "length",
            lambda: Frame(
                0x10, ADDRESS, Control(Direction.MASTER_TO_METER, False, 4), Request(0xA017, 0, bytes(253))
            ),
        ),
    ],
)
def test_frames_that_cannot_be_sent_are_refused(code: str, build: Callable[[], Frame]) -> None:
    with pytest.raises(Cjt188Error) as info:
        cjt188.encode(build())
    assert info.value.code == code, info.value.message


def test_wake_up_count_is_zero_to_four() -> None:
    frame = cjt188.read_request(MeterType.GAS, ADDRESS)
    assert cjt188.encode(frame, wake_up=4)[:5] == b"\xfe\xfe\xfe\xfe\x68"
    for bad in (-1, 5):
        with pytest.raises(Cjt188Error) as info:
            cjt188.encode(frame, wake_up=bad)
        assert info.value.code == "wake_up"


def test_check_answer_rules() -> None:
    request = cjt188.read_request(MeterType.COLD_WATER, ADDRESS, ser=5)
    good = cjt188.read_answer(MeterType.COLD_WATER, ADDRESS, Decimal(1), Decimal(0), Unit.M3, WHEN, ser=5)
    assert cjt188.check_answer(request, good) is good
    abnormal = cjt188.abnormal_answer(MeterType.COLD_WATER, ADDRESS, ser=5)
    assert cjt188.check_answer(request, abnormal) is abnormal
    cases = {
        "ser_mismatch": cjt188.read_answer(
            MeterType.COLD_WATER, ADDRESS, Decimal(1), Decimal(0), Unit.M3, WHEN
        ),
        "address_mismatch": cjt188.read_answer(
            MeterType.COLD_WATER, "00000012345679", Decimal(1), Decimal(0), Unit.M3, WHEN, ser=5
        ),
        "meter_type": cjt188.read_answer(
            MeterType.GAS, ADDRESS, Decimal(1), Decimal(0), Unit.M3, WHEN, ser=5
        ),
        "di_mismatch": Frame(
            MeterType.COLD_WATER, ADDRESS, Control(Direction.METER_TO_MASTER, False, 1), Answer(0xD120, 5)
        ),
        "control_code": Frame(
            MeterType.COLD_WATER, ADDRESS, Control(Direction.METER_TO_MASTER, False, 3), Answer(0x810A, 5)
        ),
    }
    for code, answer in cases.items():
        with pytest.raises(Cjt188Error) as info:
            cjt188.check_answer(request, answer)
        assert info.value.code == code
    with pytest.raises(Cjt188Error) as info:
        cjt188.check_answer(request, request)
    assert info.value.code == "control_code"
    broadcast = cjt188.decode(_hex(V188_4))
    reply = Frame(MeterType.GAS, ADDRESS, Control(Direction.METER_TO_MASTER, False, 3), Answer(0x810A, 0))
    assert cjt188.check_answer(broadcast, reply) is reply


def test_describe_is_json_ready() -> None:
    described = cjt188.describe(cjt188.decode(_hex(V188_3)))
    assert json.loads(json.dumps(described)) == described
    assert described["protocol"] == "cjt188"
    assert described["meter_type"] == "gas"
    assert described["address"] == ADDRESS
    assert described["kind"] == "read_answer"
    assert described["di"] == "901F"
    assert described["di_order"] == "low_first"
    assert described["meter_time"] == "2026-11-25T10:00:00"
    assert described["registers"] == [
        {"name": "volume", "value": "87.65", "unit": "m3"},
        {"name": "volume_settlement", "value": "80.00", "unit": "m3"},
    ]
    assert described["status"] == {"valve": "closed", "battery_low": True, "vendor_bits": "0000"}
    request = cjt188.describe(cjt188.decode(_hex(V188_1)))
    assert request["meter_time"] is None
    assert request["status"] is None


def test_no_known_di_is_the_byte_swap_of_another() -> None:
    # Otherwise the byte order could not be recognised and HIGH_FIRST frames would decode as another DI.
    for di in DATA_IDENTIFIERS:
        swapped = (di & 0xFF) << 8 | di >> 8
        assert swapped == di or swapped not in DATA_IDENTIFIERS


def test_every_unit_code_has_a_symbol() -> None:
    assert {unit.symbol for unit in Unit} >= {"m3", "kWh", "GJ", "m3/h"}
    assert len({unit.symbol for unit in Unit}) == len(Unit)


# --- properties ---------------------------------------------------------------------------------------

DIGITS = "0123456789"
addresses = st.one_of(
    st.text(DIGITS, min_size=14, max_size=14),
    st.integers(1, 6).flatmap(
        lambda n: st.text(DIGITS, min_size=14 - 2 * n, max_size=14 - 2 * n).map(lambda rest: "AA" * n + rest)
    ),
    st.just(cjt188.BROADCAST),
)
known_dis = st.sampled_from(sorted(DATA_IDENTIFIERS))
orders = st.sampled_from(DiOrder)
sers = st.integers(0, 255)
statuses = st.builds(
    Status, st.sampled_from(Valve), st.booleans(), st.integers(0, 0x1FFF).map(lambda v: v << 3)
)
moments = st.datetimes(datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59)).map(
    lambda moment: moment.replace(microsecond=0)
)
flow_types = st.one_of(st.integers(0x10, 0x19), st.integers(0x30, 0x39))
heat_types = st.integers(0x20, 0x29)


def _measures(digits: int, decimals: int) -> st.SearchStrategy[Measure]:
    top = 10**digits - 1
    values = st.one_of(st.integers(0, top), st.sampled_from([0, top])).map(
        lambda v: Decimal(v).scaleb(-decimals)
    )
    return st.builds(Measure, values, st.sampled_from(Unit))


def _numbers(digits: int, decimals: int) -> st.SearchStrategy[Decimal]:
    return st.integers(0, 10**digits - 1).map(lambda v: Decimal(v).scaleb(-decimals))


READ = Control(Direction.METER_TO_MASTER, False, Function.READ)


@st.composite
def frames(draw: st.DrawFn) -> Frame:
    address = draw(addresses)
    choice = draw(st.integers(0, 4))
    if choice == 0:
        body = FlowAnswer(
            draw(sers),
            draw(_measures(8, 2)),
            draw(_measures(8, 2)),
            draw(moments),
            draw(statuses),
            draw(orders),
        )
        return Frame(draw(flow_types), address, READ, body)
    if choice == 1:
        heat = HeatAnswer(
            draw(sers),
            draw(_measures(8, 2)),
            draw(_measures(8, 2)),
            draw(_measures(8, 2)),
            draw(_measures(8, 4)),
            draw(_measures(8, 2)),
            draw(_numbers(6, 2)),
            draw(_numbers(6, 2)),
            draw(st.integers(0, 999999)),
            draw(moments),
            draw(statuses),
            draw(orders),
        )
        return Frame(draw(heat_types), address, READ, heat)
    meter_type = draw(st.one_of(st.sampled_from(MeterType), flow_types, heat_types))
    if choice == 2:
        control = Control(Direction.METER_TO_MASTER, True, draw(st.integers(0, 0x3F)))
        return Frame(meter_type, address, control, AbnormalAnswer(draw(sers), draw(statuses)))
    function = draw(st.integers(0, 0x3F))
    di, ser, order, payload = draw(known_dis), draw(sers), draw(orders), draw(st.binary(max_size=40))
    if choice == 3:
        return Frame(
            meter_type,
            address,
            Control(Direction.MASTER_TO_METER, False, function),
            Request(di, ser, payload, order),
        )
    reads_metering_data = function == Function.READ and di == METERING_DATA
    if reads_metering_data and cjt188.medium(meter_type) in (Medium.WATER, Medium.GAS, Medium.HEAT):
        di = 0x810A
    return Frame(
        meter_type,
        address,
        Control(Direction.METER_TO_MASTER, False, function),
        Answer(di, ser, payload, order),
    )


@FAST
@given(frames(), st.integers(0, 4))
def test_round_trip(frame: Frame, wake_up: int) -> None:
    raw = cjt188.encode(frame, wake_up=wake_up)
    assert raw[:wake_up] == b"\xfe" * wake_up
    assert cjt188.decode(raw) == frame


@st.composite
def wire_frames(draw: st.DrawFn) -> bytes:
    """Frame-shaped bytes with a valid checksum and arbitrary content, biased towards known fields."""
    meter_type = draw(st.one_of(st.sampled_from([0x10, 0x20, 0x30, 0x40, 0xAA]), st.integers(0, 255)))
    address = draw(st.binary(min_size=7, max_size=7))
    control = draw(st.one_of(st.sampled_from([0x01, 0x81, 0xC1, 0x03, 0x83, 0x41]), st.integers(0, 255)))
    di = draw(st.one_of(known_dis, st.integers(0, 0xFFFF))).to_bytes(
        2, draw(st.sampled_from(["little", "big"]))
    )
    bcd_bytes = st.lists(st.integers(0, 99).map(lambda n: (n // 10) << 4 | n % 10), max_size=0x2E).map(bytes)
    units = st.sampled_from([int(unit) for unit in Unit])
    flow = st.tuples(bcd_bytes, units).map(lambda pair: pair[0][:4].ljust(4, b"\x00") + bytes([pair[1]]))
    payload = draw(
        st.one_of(
            st.tuples(flow, flow, bcd_bytes, st.binary(min_size=2, max_size=2)).map(
                lambda parts: parts[0] + parts[1] + parts[2][:7].ljust(7, b"\x20") + parts[3]
            ),
            bcd_bytes,
            st.binary(max_size=48),
        )
    )
    data = draw(st.one_of(st.just(di + bytes([draw(sers)]) + payload), st.binary(max_size=5)))
    body = bytes([0x68, meter_type, *address, control, len(data)]) + data
    return b"\xfe" * draw(st.integers(0, 5)) + body + bytes([sum(body) & 0xFF, 0x16])


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.binary(max_size=64), wire_frames()))
def test_any_bytes_decode_exactly_or_raise_the_codec_error(raw: bytes) -> None:
    try:
        frame = cjt188.decode(raw)
    except Cjt188Error as exc:
        assert exc.code != Cjt188Error.code
        return
    assert cjt188.encode(frame) == raw.lstrip(b"\xfe")


@FAST
@given(frames(), st.data())
def test_a_changed_byte_between_68h_and_cs_never_decodes(frame: Frame, data: st.DataObject) -> None:
    raw = cjt188.encode(frame)
    index = data.draw(st.integers(0, len(raw) - 2), label="index")
    replacement = data.draw(st.integers(0, 255).filter(lambda b: b != raw[index]), label="byte")
    with pytest.raises(Cjt188Error):
        cjt188.decode(raw[:index] + bytes([replacement]) + raw[index + 1 :])


@FAST
@given(flow_types, addresses, _measures(8, 2), moments, st.sampled_from(Valve), st.booleans(), sers)
def test_read_answer_constructor_round_trip(
    meter_type: int, address: str, current: Measure, moment: datetime, valve: Valve, battery: bool, ser: int
) -> None:
    frame = cjt188.read_answer(
        meter_type,
        address,
        current.value,
        current.value,
        current.unit,
        moment,
        valve=valve,
        battery_low=battery,
        ser=ser,
    )
    decoded = cjt188.decode(cjt188.encode(frame))
    assert decoded == frame
    assert cjt188.registers(decoded)[0] == ("volume", current.value, current.unit.symbol)


@pytest.mark.parametrize(
    ("meter_type", "expected"),
    [
        (0x10, Medium.WATER),
        (0x19, Medium.WATER),
        (0x21, Medium.HEAT),
        (0x39, Medium.GAS),
        (0x40, Medium.ELECTRICITY),
        (0xAA, Medium.ANY),
    ],
)
def test_medium_of_meter_types(meter_type: int, expected: Medium) -> None:
    assert cjt188.medium(meter_type) is expected


@pytest.mark.parametrize("meter_type", [0x00, 0x0F, 0x41, 0x50, 0xAB, 0x110, -0x10])
def test_unknown_meter_types_are_refused(meter_type: int) -> None:
    with pytest.raises(Cjt188Error) as info:
        cjt188.medium(meter_type)
    assert info.value.code == "meter_type"


def test_exported_names_match_and_both_codecs_share_one_surface() -> None:
    for module in (cjt188, dlt645):
        defined = {
            name
            for name, value in vars(module).items()
            if not name.startswith("_") and getattr(value, "__module__", None) == module.__name__
        }
        assert defined <= set(module.__all__), defined - set(module.__all__)
        assert all(hasattr(module, name) for name in module.__all__)
    shared = {
        "AbnormalAnswer", "Control", "DATA_IDENTIFIERS", "Direction", "Frame", "Function", "abnormal_answer",
        "check_answer", "decode", "describe", "encode", "read_answer", "read_request", "registers",
    }  # fmt: skip
    assert shared <= set(cjt188.__all__) & set(dlt645.__all__)
    assert issubclass(cjt188.Cjt188Error, MeterError)
    assert issubclass(dlt645.Dlt645Error, MeterError)
