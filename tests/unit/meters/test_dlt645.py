from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, time
from decimal import Decimal

import pytest
from dlt645 import DLT645Protocol, MeterClientService, RtuClient
from hypothesis import given, settings
from hypothesis import strategies as st

from tanhui.meters import dlt645
from tanhui.meters.dlt645 import (
    DATA_IDENTIFIERS,
    DATA_IDENTIFIERS_1997,
    AbnormalAnswer,
    Control,
    DataIdentifier,
    Direction,
    Dlt645Error,
    Frame,
    Function,
    Kind,
    MeterDate,
    OtherData,
    ReadAnswer,
    ReadRequest,
    Serr,
    Value,
    Version,
)
from tanhui.meters.errors import MeterError

FAST = settings(max_examples=150, deadline=None)
ADDRESS = "123456789012"


def _hex(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def _rule(code: str, data: bytes) -> Dlt645Error:
    with pytest.raises(Dlt645Error) as info:
        dlt645.decode(data)
    assert info.value.code == code, info.value.message
    return info.value


def _with_checksum(frame: bytes) -> bytes:
    """``frame`` with its CS recomputed from the first 68H, for building deliberately odd frames."""
    wake_up = len(frame) - len(frame.lstrip(b"\xfe"))
    body = frame[wake_up:-2]
    return frame[:wake_up] + body + bytes([sum(body) & 0xFF, frame[-1]])


# --- the worked vectors (meter-protocols.md §6.1) -----------------------------------------------------

VECTORS_2007 = [
    # id, wire bytes, kind, DI, values
    ("645-1", "FE FE FE FE 68 12 90 78 56 34 12 68 11 04 33 33 34 33 68 16", "read_request", 0x00010000, ()),
    (
        "645-2",
        "68 12 90 78 56 34 12 68 91 08 33 33 34 33 9A 78 56 34 88 16",
        "read_answer",
        0x00010000,
        (Decimal("12345.67"),),
    ),
    ("645-4", "FE FE FE FE 68 12 90 78 56 34 12 68 11 04 33 32 34 33 67 16", "read_request", 0x0001FF00, ()),
    (
        "645-5",
        "68 12 90 78 56 34 12 68 91 06 33 34 34 35 34 55 76 16",
        "read_answer",
        0x02010100,
        (Decimal("220.1"),),
    ),
    (
        "645-6",
        "68 12 90 78 56 34 12 68 91 07 33 33 36 35 78 56 B4 71 16",
        "read_answer",
        0x02030000,
        (Decimal("-1.2345"),),
    ),
    (
        "645-7",
        "68 12 90 78 56 34 12 68 91 08 33 33 34 33 CC CC CC CC 1C 16",
        "read_answer",
        0x00010000,
        (Decimal("999999.99"),),
    ),
]


@pytest.mark.parametrize(
    ("name", "wire", "kind", "di", "values"), VECTORS_2007, ids=[v[0] for v in VECTORS_2007]
)
def test_worked_vectors(name: str, wire: str, kind: str, di: int, values: tuple[Decimal, ...]) -> None:
    raw = _hex(wire)
    frame = dlt645.decode(raw)
    assert frame.address == ADDRESS
    assert frame.kind == kind
    assert frame.version is Version.V2007
    assert isinstance(frame.body, ReadRequest | ReadAnswer)
    assert frame.body.di == di
    if isinstance(frame.body, ReadAnswer):
        assert frame.body.values == values
        assert frame.control == Control(Direction.METER_TO_MASTER, False, False, Function.READ)
    preamble = len(raw) - len(raw.lstrip(b"\xfe"))
    assert dlt645.encode(frame, wake_up=preamble) == raw
    assert dlt645.encode(frame) == raw[preamble:]


def test_645_1_is_what_read_request_builds() -> None:
    frame = dlt645.read_request(ADDRESS, 0x00010000)
    assert dlt645.encode(frame, wake_up=4) == _hex(
        "FE FE FE FE 68 12 90 78 56 34 12 68 11 04 33 33 34 33 68 16"
    )


def test_645_2_is_what_read_answer_builds() -> None:
    frame = dlt645.read_answer(ADDRESS, 0x00010000, Decimal("12345.67"))
    assert dlt645.encode(frame) == _hex("68 12 90 78 56 34 12 68 91 08 33 33 34 33 9A 78 56 34 88 16")
    assert dlt645.registers(frame) == [("energy_import", Decimal("12345.67"), "kWh")]


def test_645_3_abnormal_answer_carries_serr() -> None:
    raw = _hex("68 12 90 78 56 34 12 68 D1 01 35 8D 16")
    frame = dlt645.decode(raw)
    assert frame.kind == "abnormal_answer"
    assert frame.control == Control(Direction.METER_TO_MASTER, True, False, Function.READ)
    assert frame.body == AbnormalAnswer(Serr.NO_SUCH_DATA)
    assert dlt645.registers(frame) == []
    assert dlt645.encode(dlt645.abnormal_answer(ADDRESS, Serr.NO_SUCH_DATA)) == raw
    assert dlt645.describe(frame)["serr"] == {"code": "02", "errors": ["no_such_data"]}


def test_645_4_block_request_contains_32h() -> None:
    raw = _hex("68 12 90 78 56 34 12 68 11 04 33 32 34 33 67 16")
    assert 0x32 in raw[10:14]
    assert dlt645.decode(raw).body == ReadRequest(0x0001FF00)


def test_645_7_forward_energy_is_unsigned_up_to_the_register_maximum() -> None:
    frame = dlt645.decode(_hex("68 12 90 78 56 34 12 68 91 08 33 33 34 33 CC CC CC CC 1C 16"))
    assert dlt645.registers(frame) == [("energy_import", Decimal("999999.99"), "kWh")]


def test_645_8_length_not_scanning_finds_the_end() -> None:
    raw = _hex("68 16 00 00 00 16 68 68 91 08 33 33 34 33 33 49 33 33 AC 16")
    frame = dlt645.decode(raw)
    assert frame.address == "681600000016"
    assert frame.body == ReadAnswer(0x00010000, (Decimal("16.00"),))
    assert dlt645.encode(frame) == raw


# --- public vectors with valid checksums (eet-china forum 114707; kaledl 1997 frames; python-dlt645) -----


def test_public_combined_energy_exchange() -> None:
    request = dlt645.decode(_hex("68 03 20 12 22 20 65 68 11 04 33 33 33 33 8D 16"))
    answer = dlt645.decode(_hex("68 03 20 12 22 20 65 68 91 08 33 33 33 33 33 33 33 33 DD 16"))
    assert request.address == answer.address == "652022122003"
    assert dlt645.check_answer(request, answer) is answer
    assert dlt645.registers(answer) == [("energy_combined", Decimal("0.00"), "kWh")]


def test_public_voltage_block_exchange() -> None:
    request_raw = _hex("FE FE FE FE 68 18 20 12 22 20 65 68 11 04 33 32 34 35 A4 16")
    answer_raw = _hex("68 18 20 12 22 20 65 68 91 0A 33 32 34 35 33 33 33 33 C7 56 13 16")
    request, answer = dlt645.decode(request_raw), dlt645.decode(answer_raw)
    assert request.body == ReadRequest(0x0201FF00)
    dlt645.check_answer(request, answer)
    assert dlt645.registers(answer) == [
        ("voltage_a", Decimal("0.0"), "V"),
        ("voltage_b", Decimal("0.0"), "V"),
        ("voltage_c", Decimal("239.4"), "V"),
    ]
    assert dlt645.encode(request, wake_up=4) == request_raw
    assert dlt645.encode(answer) == answer_raw


def test_public_1997_exchange() -> None:
    request_raw = _hex("68 63 01 43 03 00 00 68 01 02 43 C3 83 16")
    answer_raw = _hex("68 54 07 13 00 80 13 68 81 06 43 C3 34 33 33 33 2B 16")
    request, answer = dlt645.decode(request_raw), dlt645.decode(answer_raw)
    assert request.version is answer.version is Version.V1997
    assert request.body == ReadRequest(0x9010)
    assert answer.body == ReadAnswer(0x9010, (Decimal("0.01"),))
    assert answer.address == "138000130754"
    assert dlt645.registers(answer) == [("energy_import", Decimal("0.01"), "kWh")]
    assert dlt645.encode(answer) == answer_raw
    assert dlt645.encode(dlt645.read_request("000003430163", 0x9010, version=Version.V1997)) == request_raw


def test_public_broadcast_read_address() -> None:
    raw = _hex("68 AA AA AA AA AA AA 68 13 00 DF 16")
    frame = dlt645.decode(raw)
    assert frame.address == dlt645.BROADCAST
    assert frame.control.function == Function.READ_ADDRESS
    assert frame.body == OtherData(b"")
    assert frame.kind == "other"
    assert dlt645.encode(frame) == raw


# --- every rule has its code --------------------------------------------------------------------------

VALID = _hex("68 12 90 78 56 34 12 68 91 08 33 33 34 33 9A 78 56 34 88 16")


def test_checksum_message_names_both_values() -> None:
    bad = VALID[:-2] + b"\x89\x16"
    error = _rule("checksum", bad)
    assert error.diagnostics() == "checksum: frame says 0x89, bytes sum to 0x88"
    assert isinstance(error, MeterError)


def test_framing_rules() -> None:
    assert "wake-up" in _rule("truncated", b"\xfe\xfe").message
    _rule("truncated", b"")
    _rule("truncated", VALID[:-1])
    _rule("truncated", VALID[:11])
    _rule("start_byte", b"\x00" + VALID)
    assert "second start byte" in _rule("start_byte", VALID[:7] + b"\x00" + VALID[8:]).message
    _rule("length", VALID + b"\x16")
    _rule("end_byte", VALID[:-1] + b"\x17")
    # Any number of wake-up bytes is accepted, not just 0-4.
    assert dlt645.decode(b"\xfe" * 9 + VALID) == dlt645.decode(VALID)


@pytest.mark.parametrize(
    ("code", "frame"),
    [
        # forward energy filled with FFH (FF + 33 = 32 on the wire): what meters send for unsupported items
        ("bcd", "68 12 90 78 56 34 12 68 91 08 33 33 34 33 32 32 32 32 00 16"),
        # address byte 1FH
        ("bcd", "68 1F 90 78 56 34 12 68 11 04 33 33 34 33 00 16"),
        # DI 00 03 00 00 (combined reactive 1) is not in the table
        ("unknown_data_identifier", "68 12 90 78 56 34 12 68 91 08 33 33 36 33 33 33 33 33 00 16"),
        # the 1997 DI B611 (voltage) is not among the 1997 energy DIs
        ("unknown_data_identifier", "68 12 90 78 56 34 12 68 81 04 44 E9 33 35 00 16"),
        # forward energy with 3 value bytes instead of 4
        ("length", "68 12 90 78 56 34 12 68 91 07 33 33 34 33 33 33 33 00 16"),
        # a tariff block whose length is not a whole number of registers
        ("length", "68 12 90 78 56 34 12 68 91 09 33 32 34 33 33 33 33 33 33 00 16"),
        # a read answer shorter than its DI
        ("length", "68 12 90 78 56 34 12 68 91 02 33 33 00 16"),
        # an abnormal answer with two bytes
        ("length", "68 12 90 78 56 34 12 68 D1 02 35 33 00 16"),
        # the abnormal flag on a request
        ("control_code", "68 12 90 78 56 34 12 68 51 01 35 00 16"),
        # date 26-13-25 (month 13), weekday 3
        ("datetime", "68 12 90 78 56 34 12 68 91 08 34 34 33 37 36 58 46 59 00 16"),
        # weekday 7
        ("datetime", "68 12 90 78 56 34 12 68 91 08 34 34 33 37 3A 58 44 59 00 16"),
        # time 24:00:00
        ("datetime", "68 12 90 78 56 34 12 68 91 07 35 34 33 37 33 33 57 00 16"),
    ],
)
def test_content_rules(code: str, frame: str) -> None:
    _rule(code, _with_checksum(_hex(frame)))


def test_date_time_and_address_registers() -> None:
    day = dlt645.read_answer(ADDRESS, 0x04000101, MeterDate(date(2026, 11, 25), 3))
    clock = dlt645.read_answer(ADDRESS, 0x04000102, time(9, 30, 15))
    address = dlt645.read_answer(ADDRESS, 0x04000401, ADDRESS)
    for frame in (day, clock, address):
        assert dlt645.decode(dlt645.encode(frame)) == frame
        assert dlt645.registers(frame) == []
    # YYMMDDWW is sent WW first: 03 25 11 26, each +33H.
    assert dlt645.encode(day)[14:18] == bytes.fromhex("36 58 44 59")
    assert dlt645.decode(dlt645.encode(day)).body == ReadAnswer(
        0x04000101, (MeterDate(date(2026, 11, 25), 3),)
    )
    assert MeterDate(date(2026, 11, 25), 3).weekday_consistent  # a Wednesday
    assert not MeterDate(date(2026, 11, 25), 4).weekday_consistent
    assert dlt645.describe(clock)["values"] == ["09:30:15"]
    assert dlt645.describe(day)["values"] == [{"date": "2026-11-25", "weekday": 3}]


def test_combined_energy_is_signed_and_forward_energy_is_not() -> None:
    net_export = dlt645.read_answer(ADDRESS, 0x00000000, Decimal("-1234.56"))
    assert dlt645.decode(dlt645.encode(net_export)) == net_export
    with pytest.raises(Dlt645Error) as info:
        dlt645.encode(dlt645.read_answer(ADDRESS, 0x00010000, Decimal("-1234.56")))
    assert info.value.code == "range"
    with pytest.raises(Dlt645Error) as info:
        dlt645.encode(dlt645.read_answer(ADDRESS, 0x00000000, Decimal("800000.00")))
    assert info.value.code == "range"


@pytest.mark.parametrize(
    ("code", "build"),
    [
        ("range", lambda: dlt645.read_answer(ADDRESS, 0x00010000, Decimal("1000000.00"))),
        ("range", lambda: dlt645.read_answer(ADDRESS, 0x02010100, Decimal("220.15"))),
        ("value", lambda: dlt645.read_answer(ADDRESS, 0x02010100, "220.1")),
        ("value", lambda: dlt645.read_answer(ADDRESS, 0x04000102, Decimal(9))),
        ("value", lambda: dlt645.read_answer(ADDRESS, 0x04000401, "12345")),
        ("datetime", lambda: dlt645.read_answer(ADDRESS, 0x04000102, time(9, 30, 15, 500))),
        ("datetime", lambda: dlt645.read_answer(ADDRESS, 0x04000101, MeterDate(date(1999, 1, 1), 5))),
        ("length", lambda: dlt645.read_answer(ADDRESS, 0x0201FF00, [Decimal(220)] * 2)),
        ("length", lambda: dlt645.read_answer(ADDRESS, 0x0001FF00, [])),
        ("length", lambda: dlt645.read_answer(ADDRESS, 0x0001FF00, [Decimal(1)] * 64)),
        ("unknown_data_identifier", lambda: dlt645.read_answer(ADDRESS, 0x00030000, Decimal(1))),
        ("range", lambda: dlt645.read_request(ADDRESS, 0x1_0000_0000)),
        ("range", lambda: dlt645.read_request(ADDRESS, 0x10000, version=Version.V1997)),
        ("bcd", lambda: dlt645.read_request("12345678901", 0x00010000)),
        ("bcd", lambda: dlt645.read_request("1234567890AB", 0x00010000)),
        (
            "control_code",
            lambda: Frame(ADDRESS, Control(Direction.METER_TO_MASTER, False, False, 0x11), OtherData(b"")),
        ),
        (
            "control_code",
            lambda: Frame(ADDRESS, Control(Direction.METER_TO_MASTER, False, False, 0x11), ReadRequest(1)),
        ),
        (
            "control_code",
            lambda: Frame(ADDRESS, Control(Direction.MASTER_TO_METER, False, False, 0x13), ReadRequest(1)),
        ),
        (
            "control_code",
            lambda: Frame(ADDRESS, Control(Direction.MASTER_TO_METER, True, False, 0x13), OtherData(b"")),
        ),
        (
            "control_code",
            lambda: Frame(
                ADDRESS, Control(Direction.MASTER_TO_METER, True, False, 0x11), AbnormalAnswer(Serr(1))
            ),
        ),
        (
            "control_code",
            lambda: Frame(ADDRESS, Control(Direction.METER_TO_MASTER, False, False, 0x20), OtherData(b"")),
        ),
        (
            "length",
            lambda: Frame(
                ADDRESS, Control(Direction.MASTER_TO_METER, False, False, 0x14), OtherData(bytes(256))
            ),
        ),
    ],
)
def test_frames_that_cannot_be_sent_are_refused(code: str, build: Callable[[], Frame]) -> None:
    with pytest.raises(Dlt645Error) as info:
        dlt645.encode(build())
    assert info.value.code == code, info.value.message


def test_wake_up_count_is_zero_to_four() -> None:
    frame = dlt645.read_request(ADDRESS, 0x00010000)
    assert dlt645.encode(frame, wake_up=2)[:3] == b"\xfe\xfe\x68"
    for bad in (-1, 5):
        with pytest.raises(Dlt645Error) as info:
            dlt645.encode(frame, wake_up=bad)
        assert info.value.code == "wake_up"


def test_check_answer_rules() -> None:
    request = dlt645.read_request(ADDRESS, 0x00010000)
    good = dlt645.read_answer(ADDRESS, 0x00010000, Decimal("1.00"))
    assert dlt645.check_answer(request, good) is good
    assert dlt645.check_answer(request, dlt645.abnormal_answer(ADDRESS, Serr.NO_SUCH_DATA)) is not None
    cases = {
        "di_mismatch": dlt645.read_answer(ADDRESS, 0x00020000, Decimal("1.00")),
        "address_mismatch": dlt645.read_answer("123456789013", 0x00010000, Decimal("1.00")),
        "control_code": dlt645.read_answer(ADDRESS, 0x9010, Decimal("1.00"), version=Version.V1997),
    }
    for code, answer in cases.items():
        with pytest.raises(Dlt645Error) as info:
            dlt645.check_answer(request, answer)
        assert info.value.code == code
    with pytest.raises(Dlt645Error) as info:
        dlt645.check_answer(request, request)
    assert info.value.code == "control_code"
    # A broadcast read address is answered from the meter's own address.
    broadcast = Frame(
        dlt645.BROADCAST, Control(Direction.MASTER_TO_METER, False, False, 0x13), OtherData(b"")
    )
    reply = Frame(ADDRESS, Control(Direction.METER_TO_MASTER, False, False, 0x13), OtherData(b"\x12" * 6))
    assert dlt645.check_answer(broadcast, reply) is reply


def test_describe_is_json_ready() -> None:
    frame = dlt645.decode(_hex("68 12 90 78 56 34 12 68 91 07 33 33 36 35 78 56 B4 71 16"))
    described = dlt645.describe(frame)
    assert json.loads(json.dumps(described)) == described
    assert described["protocol"] == "dlt645"
    assert described["address"] == ADDRESS
    assert described["kind"] == "read_answer"
    assert described["di"] == "02030000"
    assert described["registers"] == [{"name": "power_active", "value": "-1.2345", "unit": "kW"}]
    assert described["meter_time"] is None


def test_tariff_block_names_every_tariff() -> None:
    values = [Decimal("100.00"), Decimal("10.00"), Decimal("20.00"), Decimal("30.00"), Decimal("40.00")]
    frame = dlt645.decode(dlt645.encode(dlt645.read_answer(ADDRESS, 0x0001FF00, values)))
    assert [name for name, _, _ in dlt645.registers(frame)] == [
        "energy_import",
        "energy_import_t1",
        "energy_import_t2",
        "energy_import_t3",
        "energy_import_t4",
    ]


def test_table_rows_are_consistent() -> None:
    assert DATA_IDENTIFIERS[0x00010000].format == "XXXXXX.XX"
    assert DATA_IDENTIFIERS[0x02020100].format == "XXX.XXX"
    assert DATA_IDENTIFIERS[0x04000101].format == "YYMMDDWW"
    assert DATA_IDENTIFIERS[0x04000401].format == "NNNNNNNNNNNN"
    signed = {di for di, row in DATA_IDENTIFIERS.items() if row.signed}
    # §1.4: combined energy, current, power and power factor are signed; nothing else is.
    assert all(di >> 16 in (0x0000, 0x0202, 0x0203, 0x0206) for di in signed)
    assert not any(
        row.signed for row in DATA_IDENTIFIERS.values() if row.di >> 16 in (0x0001, 0x0002, 0x0201)
    )
    for row in (*DATA_IDENTIFIERS.values(), *DATA_IDENTIFIERS_1997.values()):
        assert row.kind is not Kind.NUMBER or row.decimals < 2 * row.size


# --- properties ---------------------------------------------------------------------------------------

DIGITS = "0123456789"


def _shortened(wildcards: int) -> st.SearchStrategy[str]:
    # AAH stands in for the unused high bytes of a shortened address (§1.2).
    digits = 12 - 2 * wildcards
    return st.text(DIGITS, min_size=digits, max_size=digits).map(lambda rest: "AA" * wildcards + rest)


addresses = st.one_of(
    st.text(DIGITS, min_size=12, max_size=12),
    st.integers(1, 5).flatmap(_shortened),
    st.sampled_from([dlt645.BROADCAST, dlt645.TIME_SYNC_BROADCAST]),
)


def _value(row: DataIdentifier) -> st.SearchStrategy[Value]:
    if row.kind is Kind.DATE:
        return st.builds(MeterDate, st.dates(date(2000, 1, 1), date(2099, 12, 31)), st.integers(0, 6))
    if row.kind is Kind.TIME:
        return st.times().map(lambda t: t.replace(microsecond=0))
    if row.kind is Kind.DIGITS:
        return st.text("0123456789", min_size=2 * row.size, max_size=2 * row.size)
    top = (8 * 10 ** (2 * row.size - 1) if row.signed else 10 ** (2 * row.size)) - 1
    magnitude = st.one_of(st.integers(0, top), st.sampled_from([0, top]))
    number = magnitude.map(lambda m: Decimal(m).scaleb(-row.decimals))
    if row.signed:
        return st.tuples(number, st.booleans()).map(
            lambda pair: pair[0].copy_negate() if pair[1] else pair[0]
        )
    return number


@st.composite
def read_answers(draw: st.DrawFn) -> Frame:
    version = draw(st.sampled_from([Version.V2007, Version.V1997]))
    rows = list((DATA_IDENTIFIERS if version is Version.V2007 else DATA_IDENTIFIERS_1997).values())
    row = draw(st.sampled_from(rows))
    count = draw(st.integers(1, 9)) if row.tariff_block else len(row.registers)
    values = draw(st.lists(_value(row), min_size=count, max_size=count))
    return dlt645.read_answer(draw(addresses), row.di, values, version=version, follow_up=draw(st.booleans()))


@st.composite
def frames(draw: st.DrawFn) -> Frame:
    address = draw(addresses)
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return draw(read_answers())
    if choice == 1:
        version = draw(st.sampled_from([Version.V2007, Version.V1997]))
        di = draw(st.integers(0, 0xFFFFFFFF if version is Version.V2007 else 0xFFFF))
        frame = dlt645.read_request(address, di, version=version)
        return Frame(address, frame.control, ReadRequest(di, draw(st.binary(max_size=6))))
    if choice == 2:
        function = draw(st.integers(0, 0x1F))
        return dlt645.abnormal_answer(address, Serr(draw(st.integers(0, 0xFF))), function=function)
    function = draw(st.integers(0, 0x1F).filter(lambda f: f not in (0x01, 0x11)))
    control = Control(draw(st.sampled_from(Direction)), False, draw(st.booleans()), function)
    return Frame(address, control, OtherData(draw(st.binary(max_size=40))))


@FAST
@given(frames(), st.integers(0, 4))
def test_round_trip(frame: Frame, wake_up: int) -> None:
    raw = dlt645.encode(frame, wake_up=wake_up)
    assert raw[:wake_up] == b"\xfe" * wake_up
    assert dlt645.decode(raw) == frame


@st.composite
def wire_frames(draw: st.DrawFn) -> bytes:
    """Frame-shaped bytes with a valid checksum and arbitrary content, biased towards known DIs."""
    address = draw(
        st.one_of(st.binary(min_size=6, max_size=6), addresses.map(lambda a: bytes.fromhex(a)[::-1]))
    )
    control = draw(
        st.one_of(
            st.sampled_from([0x11, 0x91, 0xB1, 0x01, 0x81, 0xD1, 0xC1, 0x51, 0x13]), st.integers(0, 255)
        )
    )
    table = DATA_IDENTIFIERS_1997 if control & 0x1F == 0x01 else DATA_IDENTIFIERS
    width = 2 if control & 0x1F == 0x01 else 4
    di = draw(st.one_of(st.sampled_from(sorted(table)), st.integers(0, 256**width - 1)))
    values = draw(
        st.one_of(
            st.lists(st.integers(0, 99).map(lambda n: (n // 10) << 4 | n % 10), max_size=40).map(bytes),
            st.binary(max_size=40),
        )
    )
    data = draw(st.one_of(st.just(di.to_bytes(width, "little") + values), st.binary(max_size=8)))
    body = bytes([0x68, *address, 0x68, control, len(data)]) + bytes((b + 0x33) & 0xFF for b in data)
    return b"\xfe" * draw(st.integers(0, 5)) + body + bytes([sum(body) & 0xFF, 0x16])


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.binary(max_size=64), wire_frames()))
def test_any_bytes_decode_exactly_or_raise_the_codec_error(raw: bytes) -> None:
    try:
        frame = dlt645.decode(raw)
    except Dlt645Error as exc:
        assert exc.code != Dlt645Error.code
        return
    # Whatever decodes re-encodes to the same bytes: nothing the meter sent is lost or normalised.
    assert dlt645.encode(frame) == raw.lstrip(b"\xfe")


@FAST
@given(frames(), st.data())
def test_a_changed_byte_between_68h_and_cs_never_decodes(frame: Frame, data: st.DataObject) -> None:
    raw = dlt645.encode(frame)
    index = data.draw(st.integers(0, len(raw) - 2), label="index")
    replacement = data.draw(st.integers(0, 255).filter(lambda b: b != raw[index]), label="byte")
    changed = raw[:index] + bytes([replacement]) + raw[index + 1 :]
    with pytest.raises(Dlt645Error):
        dlt645.decode(changed)


# --- the independent peer: dlt645 3.2.0 ---------------------------------------------------------------


@pytest.fixture(scope="module")
def peer() -> MeterClientService:
    # A client service that is never connected: only its frame parser and response handler are used.
    return MeterClientService(RtuClient())


def _peer_rows() -> list[DataIdentifier]:
    # The peer decodes single registers by looking their DI up in its own table; blocks it does not know.
    return [row for row in DATA_IDENTIFIERS.values() if not row.tariff_block and len(row.registers) == 1]


@st.composite
def single_register_answers(draw: st.DrawFn) -> Frame:
    row = draw(st.sampled_from(_peer_rows()))
    return dlt645.read_answer(draw(addresses.filter(lambda a: "AA" not in a)), row.di, draw(_value(row)))


@FAST
@given(frames(), st.integers(0, 4))
def test_peer_sees_the_same_frame_layer(frame: Frame, wake_up: int) -> None:
    raw = dlt645.encode(frame, wake_up=wake_up)
    theirs = DLT645Protocol.deserialize(raw)
    assert theirs is not None
    assert bytes(theirs.addr) == bytes.fromhex(frame.address)[::-1]
    assert theirs.ctrl_code == frame.control.to_byte()
    assert bytes(theirs.data) == frame.data
    assert dlt645.encode(frame) == DLT645Protocol.serialize(theirs)[len(theirs.preamble) :]


@settings(max_examples=300, deadline=None)
@given(single_register_answers())
def test_peer_decodes_the_same_values_except_its_sign_bug(peer: MeterClientService, frame: Frame) -> None:
    raw = dlt645.encode(frame, wake_up=4)
    ours = dlt645.decode(raw)
    assert isinstance(ours.body, ReadAnswer)
    theirs = DLT645Protocol.deserialize(raw)
    assert theirs is not None
    assert bytes(theirs.addr)[::-1].hex() == ours.address
    assert theirs.ctrl_code == ours.control.to_byte() == 0x91
    assert int.from_bytes(theirs.data[:4], "little") == ours.body.di
    peer.address = bytearray(theirs.addr)
    item = peer.handle_response(theirs)
    assert item is not None
    assert item.di == ours.body.di
    row = DATA_IDENTIFIERS[ours.body.di]
    (value,) = ours.body.values
    if row.kind is Kind.NUMBER:
        assert isinstance(value, Decimal)
        expected = value
        if not row.signed and value.scaleb(row.decimals) >= 8 * 10 ** (2 * row.size - 1):
            # The peer's bcd_to_float reads bit 7 of the top byte as a sign on every register: an unsigned
            # 999999.99 kWh comes back as -199999.99. We keep the register; the peer is off by exactly that.
            expected = -(value - Decimal(8 * 10 ** (2 * row.size - 1 - row.decimals)))
            assert value >= 0
        assert Decimal(repr(item.value)) == expected
    elif isinstance(value, MeterDate):
        assert item.value == f"{value.day:%y%m%d}{value.weekday:02d}"
    elif isinstance(value, time):
        assert item.value == f"{value:%H%M%S}"
    else:
        assert item.value == value


def test_peer_sign_bug_on_vector_645_7(peer: MeterClientService) -> None:
    raw = _hex("68 12 90 78 56 34 12 68 91 08 33 33 34 33 CC CC CC CC 1C 16")
    theirs = DLT645Protocol.deserialize(raw)
    assert theirs is not None
    peer.address = bytearray(theirs.addr)
    item = peer.handle_response(theirs)
    assert item is not None
    assert item.value == -199999.99
    assert dlt645.registers(dlt645.decode(raw)) == [("energy_import", Decimal("999999.99"), "kWh")]


def test_no_sign_is_applied_to_forward_energy_at_the_boundary() -> None:
    for text in ("799999.99", "800000.00", "899999.99", "999999.99"):
        frame = dlt645.read_answer(ADDRESS, 0x00010000, Decimal(text))
        assert dlt645.decode(dlt645.encode(frame)) == frame
