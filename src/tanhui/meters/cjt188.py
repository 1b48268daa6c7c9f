"""CJ/T 188-2004 frames for Chinese water, gas and heat meters.

One frame on the wire (CJ/T 188-2004, frame format)::

    [FE ×0..4] 68 T A0..A6 C L DATA(L bytes) CS 16        CS = sum mod 256 from 68H; no 33H offset

DATA is DI (2 bytes) + SER (1 byte) + payload, except in an abnormal answer, which is SER + status ST.

The surface, the same shape as :mod:`tanhui.meters.dlt645`::

    decode(bytes) -> Frame                 encode(Frame, *, wake_up=0) -> bytes
    Frame(meter_type, address, control, body)
        body: Request | FlowAnswer | HeatAnswer | Answer | AbnormalAnswer
    read_request(), read_answer(), abnormal_answer()   constructors for the simulator
    check_answer(request, answer)          the exchange rules: same meter, function, SER and DI
    registers(frame), describe(frame)      Tanhui register names; a JSON-ready dict for the CLI
    DATA_IDENTIFIERS, Unit                 the DIs whose byte order can be recognised; the unit codes

    MeterError
     └── Cjt188Error   .code names the rule: truncated, start_byte, length, checksum, end_byte,
                       meter_type, control_code, bcd, unit_code, datetime, unknown_data_identifier,
                       range, wake_up, address_mismatch, ser_mismatch, di_mismatch

Vendors disagree on details the standard leaves open or that they read differently. This module takes
the defaults of the Tanhui reference notes and records what it cannot fix: the byte order of the DI
(``1F 90`` or ``90 1F``: both are accepted and the order used is kept in ``di_order``), and the status
layout (valve in D0–D1, battery in D2 of the first ST byte; the rest kept as ``vendor`` bits). Whether
the settlement field holds the settlement-day register or this month's use is a meter-model matter;
Tanhui computes consumption from the current register only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import IntEnum, StrEnum
from types import MappingProxyType
from typing import TypeAlias

from tanhui.meters import bcd, sumframe
from tanhui.meters.errors import MeterError

__all__ = [
    "BROADCAST",
    "DATA_IDENTIFIERS",
    "METERING_DATA",
    "AbnormalAnswer",
    "Answer",
    "Body",
    "Cjt188Error",
    "Control",
    "DiOrder",
    "Direction",
    "FlowAnswer",
    "Frame",
    "Function",
    "HeatAnswer",
    "Measure",
    "Medium",
    "MeterType",
    "Request",
    "Status",
    "Unit",
    "Valve",
    "abnormal_answer",
    "check_answer",
    "decode",
    "describe",
    "encode",
    "medium",
    "read_answer",
    "read_request",
    "registers",
]

START = 0x68
END = 0x16
WAKE_UP = 0xFE
ADDRESS_SIZE = 7
MAX_WAKE_UP = 4
MAX_DATA = 0xFF
BROADCAST = "AA" * ADDRESS_SIZE
METERING_DATA = 0x901F
# Offsets from 68H (CJ/T 188-2004, frame format).
_TYPE = 1
_CONTROL = 9
_LENGTH = 10
_DATA = 11
_HEADER_AND_TRAILER = 13
# L of the answers to DI 901F (CJ/T 188-2004, read data: water/gas and heat answers).
FLOW_ANSWER_LENGTH = 0x16
HEAT_ANSWER_LENGTH = 0x2E


class Cjt188Error(MeterError):
    """A CJ/T 188 frame broke a rule of the standard; ``code`` names the rule."""

    code = "cjt188"


class MeterType(IntEnum):
    """The meter type byte T (CJ/T 188-2004, meter type T)."""

    COLD_WATER = 0x10
    HOT_WATER = 0x11
    DRINKING_WATER = 0x12
    RECLAIMED_WATER = 0x13
    HEAT = 0x20
    COOLING = 0x21
    GAS = 0x30
    ELECTRICITY = 0x40
    ANY = 0xAA


class Medium(StrEnum):
    """What a meter type measures: T = 1xH water, 2xH heat, 3xH gas, 40H electricity, AAH any."""

    WATER = "water"
    HEAT = "heat"
    GAS = "gas"
    ELECTRICITY = "electricity"
    ANY = "any"


def medium(meter_type: int) -> Medium:
    """What ``meter_type`` measures (CJ/T 188-2004, meter type T); raises ``meter_type`` if unknown."""
    if meter_type == MeterType.ANY:
        return Medium.ANY
    if meter_type == MeterType.ELECTRICITY:
        return Medium.ELECTRICITY
    by_range = {0x10: Medium.WATER, 0x20: Medium.HEAT, 0x30: Medium.GAS}.get(meter_type & 0xF0)
    if by_range is None or not 0 <= meter_type <= 0xFF:  # (x & 0xF0) alone would accept 0x110
        raise _error(
            "meter_type",
            f"0x{meter_type:02X} is not a CJ/T 188 meter type: expected 10H-19H water, 20H-29H heat, "
            "30H-39H gas, 40H electricity or AAH",
        )
    return by_range


class Direction(IntEnum):
    """Control code bit D7 (CJ/T 188-2004, control code)."""

    MASTER_TO_METER = 0
    METER_TO_MASTER = 1


class Function(IntEnum):
    """Control code bits D5..D0 (CJ/T 188-2004, control code)."""

    READ = 0x01
    READ_ADDRESS = 0x03
    WRITE = 0x04
    READ_KEY_VERSION = 0x09
    WRITE_ADDRESS = 0x15
    WRITE_MECHANICAL_SYNC = 0x16  # sets the electronic register to the dial: an adjustment, not use


@dataclass(frozen=True, slots=True)
class Control:
    """The control code C (CJ/T 188-2004, control code): D7 direction, D6 abnormal, D5..D0 function."""

    direction: Direction
    abnormal: bool
    function: int

    @classmethod
    def from_byte(cls, byte: int) -> Control:
        """Split a control byte into its fields (CJ/T 188-2004, control code)."""
        return cls(Direction(byte >> 7 & 1), bool(byte & 0x40), byte & 0x3F)

    def to_byte(self) -> int:
        """The control byte (CJ/T 188-2004, control code)."""
        if not 0 <= self.function <= 0x3F:
            raise _error(
                "control_code", f"function 0x{self.function:02X} does not fit bits D5..D0 (0x00-0x3F)"
            )
        return int(self.direction) << 7 | int(self.abnormal) << 6 | self.function


class DiOrder(StrEnum):
    """The byte order of the DI on the wire: ``1F 90`` (low byte first) or ``90 1F``."""

    LOW_FIRST = "low_first"
    HIGH_FIRST = "high_first"


DATA_IDENTIFIERS: Mapping[int, str] = MappingProxyType(
    {
        METERING_DATA: "current metering data",
        **{0xD120 + n: f"history, month {n + 1}" for n in range(12)},
        0x8102: "price table",
        0x8103: "settlement day",
        0x8104: "reading day",
        0x810A: "address",
        0xA015: "set standard time",
        0xA016: "mechanical-electrical sync",
        0xA017: "valve control",
    }
)
"""The DIs this codec recognises (CJ/T 188-2004, data identifiers). A DI is only recognisable when it is
known, because its byte order varies between vendors and is read by matching both orders."""


class Unit(IntEnum):
    """Unit codes of CJ/T 188-2004 (unit code table); :attr:`symbol` is the unit as Tanhui writes it."""

    J = 0x01
    WH = 0x02
    KWH = 0x05
    MWH = 0x08
    MWH_100 = 0x0A
    KJ = 0x0B
    MJ = 0x0E
    GJ = 0x11
    GJ_100 = 0x13
    W = 0x14
    KW = 0x17
    MW = 0x1A
    L = 0x29
    M3 = 0x2C
    L_PER_H = 0x32
    M3_PER_H = 0x35

    @property
    def symbol(self) -> str:
        return _SYMBOLS[self]


# The ×100 units are kept as the meter states them: Tanhui never rescales a register it did not measure.
_SYMBOLS = {
    Unit.J: "J",
    Unit.WH: "Wh",
    Unit.KWH: "kWh",
    Unit.MWH: "MWh",
    Unit.MWH_100: "MWh*100",
    Unit.KJ: "kJ",
    Unit.MJ: "MJ",
    Unit.GJ: "GJ",
    Unit.GJ_100: "GJ*100",
    Unit.W: "W",
    Unit.KW: "kW",
    Unit.MW: "MW",
    Unit.L: "L",
    Unit.M3: "m3",
    Unit.L_PER_H: "L/h",
    Unit.M3_PER_H: "m3/h",
}


class Valve(IntEnum):
    """Valve state, ST bits D1 D0 (CJ/T 188-2004, status ST): 00 open, 01 closed, 11 fault, 10 undefined."""

    OPEN = 0b00
    CLOSED = 0b01
    UNDEFINED = 0b10
    FAULT = 0b11


@dataclass(frozen=True, slots=True)
class Status:
    """The two status bytes ST (CJ/T 188-2004, status ST).

    ``vendor`` holds the bits the standard leaves to the manufacturer, as a 16-bit number with the first
    ST byte in the low 8 bits: D3–D7 of the first byte and the whole second byte.
    """

    valve: Valve = Valve.OPEN
    battery_low: bool = False
    vendor: int = 0

    @classmethod
    def from_bytes(cls, data: bytes) -> Status:
        """Read ST, first byte first (CJ/T 188-2004, status ST)."""
        return cls(Valve(data[0] & 0b11), bool(data[0] & 0b100), (data[0] & 0xF8) | data[1] << 8)

    def to_bytes(self) -> bytes:
        """ST as two bytes (CJ/T 188-2004, status ST)."""
        if not 0 <= self.vendor <= 0xFFFF or self.vendor & 0b111:
            raise _error(
                "range",
                f"vendor bits 0x{self.vendor:04X} must fit 16 bits and leave D0-D2 to valve and battery",
            )
        first = self.vendor & 0xF8 | int(self.battery_low) << 2 | int(self.valve) & 0b11
        return bytes([first, self.vendor >> 8])


@dataclass(frozen=True, slots=True)
class Measure:
    """A register value with the unit the meter stated for it (CJ/T 188-2004, unit codes)."""

    value: Decimal
    unit: Unit


@dataclass(frozen=True, slots=True)
class Request:
    """Any frame from master to meter: DI, SER and the payload of the function (empty for a read)."""

    di: int
    ser: int
    payload: bytes = b""
    di_order: DiOrder = DiOrder.LOW_FIRST


@dataclass(frozen=True, slots=True)
class FlowAnswer:
    """A water or gas meter's answer to DI 901F (CJ/T 188-2004, read data; C=81H, L=16H)."""

    ser: int
    current: Measure
    settlement: Measure
    meter_time: datetime
    status: Status
    di_order: DiOrder = DiOrder.LOW_FIRST

    @property
    def di(self) -> int:
        return METERING_DATA


@dataclass(frozen=True, slots=True)
class HeatAnswer:
    """A heat meter's answer to DI 901F (CJ/T 188-2004, read data, heat answer; C=81H, L=2EH).

    Temperatures are in °C with two decimals, flow rate has four, operating time is in whole hours.
    """

    ser: int
    settlement_heat: Measure
    current_heat: Measure
    heat_power: Measure
    flow_rate: Measure
    volume: Measure
    supply_temperature: Decimal
    return_temperature: Decimal
    operating_hours: int
    meter_time: datetime
    status: Status
    di_order: DiOrder = DiOrder.LOW_FIRST

    @property
    def di(self) -> int:
        return METERING_DATA


@dataclass(frozen=True, slots=True)
class Answer:
    """Any other normal answer (read address, write acknowledgements, history …): DI, SER, payload."""

    di: int
    ser: int
    payload: bytes = b""
    di_order: DiOrder = DiOrder.LOW_FIRST


@dataclass(frozen=True, slots=True)
class AbnormalAnswer:
    """An abnormal answer (D6 = 1, e.g. C=C1H; CJ/T 188-2004, abnormal answer): SER and status, no reading."""

    ser: int
    status: Status


Body: TypeAlias = Request | FlowAnswer | HeatAnswer | Answer | AbnormalAnswer


@dataclass(frozen=True, slots=True)
class Frame:
    """One CJ/T 188 frame: meter type, 14-digit address (A6 first), control code and interpreted data."""

    meter_type: int
    address: str
    control: Control
    body: Body

    @property
    def medium(self) -> Medium:
        return medium(self.meter_type)

    @property
    def meter_number(self) -> str:
        """A0–A4, the meter's own number (the last ten digits of :attr:`address`)."""
        return self.address[4:]

    @property
    def manufacturer(self) -> str:
        """A5–A6, the manufacturer code (the first four digits of :attr:`address`)."""
        return self.address[:4]

    @property
    def kind(self) -> str:
        """``read_request``, ``request``, ``read_answer``, ``answer`` or ``abnormal_answer``."""
        if isinstance(self.body, Request):
            return "read_request" if self.control.function == Function.READ else "request"
        if isinstance(self.body, FlowAnswer | HeatAnswer):
            return "read_answer"
        return "answer" if isinstance(self.body, Answer) else "abnormal_answer"


def _error(rule: str, message: str) -> Cjt188Error:
    return Cjt188Error(message, code=rule)


def _fieldwise(where: str, exc: bcd.BcdError) -> Cjt188Error:
    return Cjt188Error(f"{where}: {exc.message}", code=exc.code)


# --- decoding -----------------------------------------------------------------------------------------


def decode(data: bytes) -> Frame:
    """Decode one CJ/T 188 frame (CJ/T 188-2004, frame format), after any number of FEH wake-up bytes.

    Checks the start byte, the length against L, the checksum (sum mod 256 from 68H through the last
    data byte), the end byte 16H and the meter type, then interprets the data. Raises
    :class:`Cjt188Error` and nothing else, whatever the bytes.
    """
    raw = bytes(data)
    start = 0
    while start < len(raw) and raw[start] == WAKE_UP:
        start += 1
    frame = raw[start:]
    if not frame:
        raise _error("truncated", f"no frame after {start} wake-up bytes; expected 68H")
    if frame[0] != START:
        raise _error("start_byte", f"byte {start} is 0x{frame[0]:02X}, expected the start byte 0x68")
    if len(frame) < _HEADER_AND_TRAILER:
        raise _error("truncated", f"{len(frame)} bytes from 68H, a frame has at least {_HEADER_AND_TRAILER}")
    problem = sumframe.trailer_problem(
        frame, length_at=_LENGTH, data_at=_DATA, overhead=_HEADER_AND_TRAILER, origin="68H"
    )
    if problem is not None:
        raise _error(*problem)
    length = frame[_LENGTH]
    meter_type = frame[_TYPE]
    kind = medium(meter_type)
    try:
        address = bcd.decode_address(frame[_TYPE + 1 : _CONTROL])
    except bcd.BcdError as exc:
        raise _fieldwise("address", exc) from exc
    control = Control.from_byte(frame[_CONTROL])
    body = _interpret(kind, control, frame[_DATA : _DATA + length])
    return Frame(_known_type(meter_type), address, control, body)


def _known_type(meter_type: int) -> int:
    # Keep the enum member when there is one, so that reprs and describe() name the type.
    try:
        return MeterType(meter_type)
    except ValueError:
        return meter_type


def _interpret(kind: Medium, control: Control, data: bytes) -> Body:
    if control.abnormal:
        if control.direction is Direction.MASTER_TO_METER:
            raise _error("control_code", f"0x{control.to_byte():02X} sets the abnormal flag D6 on a request")
        if len(data) != 3:
            raise _error("length", f"an abnormal answer carries SER + ST (3 bytes), got L = {len(data)}")
        return AbnormalAnswer(data[0], Status.from_bytes(data[1:3]))
    if len(data) < 3:
        raise _error("length", f"a frame carries DI (2 bytes) + SER (1 byte), got L = {len(data)}")
    di, order = _read_di(data[:2])
    ser, payload = data[2], data[3:]
    if control.direction is Direction.MASTER_TO_METER:
        return Request(di, ser, payload, order)
    shape = _answer_shape(kind, control, di)
    if shape is FlowAnswer:
        _expect_length(kind, len(data), FLOW_ANSWER_LENGTH)
        return _decode_flow(ser, payload, order)
    if shape is HeatAnswer:
        _expect_length(kind, len(data), HEAT_ANSWER_LENGTH)
        return _decode_heat(ser, payload, order)
    return Answer(di, ser, payload, order)


def _answer_shape(kind: Medium, control: Control, di: int) -> type | None:
    if control.function != Function.READ or di != METERING_DATA:
        return None
    if kind in (Medium.WATER, Medium.GAS):
        return FlowAnswer
    return HeatAnswer if kind is Medium.HEAT else None


def _expect_length(kind: Medium, length: int, expected: int) -> None:
    if length != expected:
        raise _error(
            "length", f"a {kind} meter's answer to DI 901F has L = 0x{expected:02X}, got L = 0x{length:02X}"
        )


def _read_di(raw: bytes) -> tuple[int, DiOrder]:
    # Vendors send DI low byte first (1F 90) or high byte first (90 1F); only a known DI tells which.
    low_first = raw[0] | raw[1] << 8
    if low_first in DATA_IDENTIFIERS:
        return low_first, DiOrder.LOW_FIRST
    high_first = raw[0] << 8 | raw[1]
    if high_first in DATA_IDENTIFIERS:
        return high_first, DiOrder.HIGH_FIRST
    raise _error(
        "unknown_data_identifier",
        f"DI bytes {raw.hex(' ').upper()} match no known DI in either byte order; "
        "add the DI to DATA_IDENTIFIERS if the meter model uses it",
    )


class _Reader:
    """Reads the fields of an answer payload in order, naming the field in any error."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._at = 0

    def take(self, size: int) -> bytes:
        chunk = self._data[self._at : self._at + size]
        self._at += size
        return chunk

    def number(self, name: str, size: int, decimals: int) -> Decimal:
        try:
            return bcd.decode_decimal(self.take(size), decimals)
        except bcd.BcdError as exc:
            raise _fieldwise(name, exc) from exc

    def measure(self, name: str, size: int, decimals: int) -> Measure:
        value = self.number(name, size, decimals)
        code = self.take(1)[0]
        try:
            unit = Unit(code)
        except ValueError:
            raise _error(
                "unit_code",
                f"{name}: unit code 0x{code:02X} is not in the CJ/T 188 unit table "
                f"(m3 is 0x{Unit.M3:02X}); quarantine the frame rather than assume a unit",
            ) from None
        return Measure(value, unit)

    def clock(self) -> datetime:
        try:
            digits = bcd.decode_digits(self.take(7))
        except bcd.BcdError as exc:
            raise _fieldwise("real time", exc) from exc
        try:
            # Naive on purpose: CJ/T 188 carries local time without an offset.
            return datetime(
                int(digits[0:4]),
                int(digits[4:6]),
                int(digits[6:8]),
                int(digits[8:10]),
                int(digits[10:12]),
                int(digits[12:14]),
            )
        except ValueError as exc:
            raise _error(
                "datetime", f"real time {digits} (YYYYMMDDhhmmss) is not a valid date and time: {exc}"
            ) from None


def _decode_flow(ser: int, payload: bytes, order: DiOrder) -> FlowAnswer:
    read = _Reader(payload)
    current = read.measure("current cumulative flow", 4, 2)
    settlement = read.measure("settlement-day cumulative flow", 4, 2)
    meter_time = read.clock()
    return FlowAnswer(ser, current, settlement, meter_time, Status.from_bytes(read.take(2)), order)


def _decode_heat(ser: int, payload: bytes, order: DiOrder) -> HeatAnswer:
    # Field order and sizes: CJ/T 188-2004, heat answer to 901F. The decimal places of power, flow rate and
    # temperature follow the common reading of the table and are to be confirmed per meter model.
    read = _Reader(payload)
    settlement_heat = read.measure("settlement-day heat", 4, 2)
    current_heat = read.measure("current heat", 4, 2)
    heat_power = read.measure("heat power", 4, 2)
    flow_rate = read.measure("flow rate", 4, 4)
    volume = read.measure("cumulative flow", 4, 2)
    supply = read.number("supply temperature", 3, 2)
    back = read.number("return temperature", 3, 2)
    hours = int(read.number("operating hours", 3, 0))
    meter_time = read.clock()
    status = Status.from_bytes(read.take(2))
    return HeatAnswer(
        ser,
        settlement_heat,
        current_heat,
        heat_power,
        flow_rate,
        volume,
        supply,
        back,
        hours,
        meter_time,
        status,
        order,
    )


# --- encoding -----------------------------------------------------------------------------------------


def encode(frame: Frame, *, wake_up: int = 0) -> bytes:
    """Encode ``frame`` for the wire (CJ/T 188-2004, frame format), preceded by ``wake_up`` FEH bytes (0–4).

    The exact inverse of :func:`decode`. Raises :class:`Cjt188Error` for a frame that cannot be sent:
    an unknown meter type or DI, a malformed address, a body that does not match the control code and
    meter type, or a value out of its range.
    """
    if not 0 <= wake_up <= MAX_WAKE_UP:
        raise _error("wake_up", f"{wake_up} wake-up bytes requested, CJ/T 188 sends 0 to {MAX_WAKE_UP}")
    if not 0 <= frame.meter_type <= 0xFF:
        raise _error("meter_type", f"meter type {frame.meter_type} does not fit one byte")
    kind = medium(frame.meter_type)
    try:
        address = bcd.encode_address(frame.address, ADDRESS_SIZE)
    except bcd.BcdError as exc:
        raise _fieldwise("address", exc) from exc
    data = _body_bytes(kind, frame.control, frame.body)
    if len(data) > MAX_DATA:
        raise _error("length", f"{len(data)} data bytes do not fit the 1-byte L (at most {MAX_DATA})")
    body = bytearray([START, frame.meter_type, *address, frame.control.to_byte(), len(data)])
    body += data
    body += bytes([sumframe.checksum(body, len(body)), END])
    return bytes([WAKE_UP] * wake_up) + bytes(body)


def _body_bytes(kind: Medium, control: Control, body: Body) -> bytes:
    # The body must be the one decode() would build from these bytes, or the round trip breaks.
    code = f"0x{control.to_byte():02X}"
    if isinstance(body, AbnormalAnswer):
        if not control.abnormal or control.direction is not Direction.METER_TO_MASTER:
            raise _error("control_code", f"an abnormal answer needs D7 = 1 and D6 = 1, control is {code}")
        return _byte("SER", body.ser) + body.status.to_bytes()
    if control.abnormal:
        raise _error("control_code", f"control {code} is abnormal but the body is {type(body).__name__}")
    head = _di_bytes(body.di, body.di_order) + _byte("SER", body.ser)
    if isinstance(body, Request):
        if control.direction is not Direction.MASTER_TO_METER:
            raise _error("control_code", f"a request goes master to meter (D7 = 0), control is {code}")
        return head + body.payload
    if control.direction is not Direction.METER_TO_MASTER:
        raise _error("control_code", f"an answer goes meter to master (D7 = 1), control is {code}")
    shape = _answer_shape(kind, control, body.di)
    if not isinstance(body, shape or Answer):
        expected = shape.__name__ if shape else "Answer"
        raise _error(
            "control_code",
            f"control {code}, DI {body.di:04X} from a {kind} meter is decoded as {expected}, "
            f"not {type(body).__name__}",
        )
    if isinstance(body, FlowAnswer):
        return head + _flow_bytes(body)
    if isinstance(body, HeatAnswer):
        return head + _heat_bytes(body)
    return head + body.payload


def _byte(name: str, value: int) -> bytes:
    if not 0 <= value <= 0xFF:
        raise _error("range", f"{name} {value} does not fit one byte (0-255)")
    return bytes([value])


def _di_bytes(di: int, order: DiOrder) -> bytes:
    if di not in DATA_IDENTIFIERS:
        raise _error(
            "unknown_data_identifier",
            f"DI 0x{di:X} is not in DATA_IDENTIFIERS, so its byte order is unreadable",
        )
    return di.to_bytes(2, "little" if order is DiOrder.LOW_FIRST else "big")


def _number(name: str, value: Decimal, size: int, decimals: int) -> bytes:
    try:
        return bcd.encode_decimal(value, size, decimals)
    except bcd.BcdError as exc:
        raise _fieldwise(name, exc) from exc


def _measure(name: str, measure: Measure, size: int, decimals: int) -> bytes:
    if measure.unit not in _SYMBOLS:
        raise _error("unit_code", f"{name}: unit {measure.unit!r} is not a CJ/T 188 unit code")
    return _number(name, measure.value, size, decimals) + bytes([measure.unit])


def _clock(value: datetime) -> bytes:
    if value.tzinfo is not None or value.microsecond:
        raise _error(
            "datetime",
            f"real time {value.isoformat()} must be naive and in whole seconds: CJ/T 188 carries no offset",
        )
    return bcd.encode_digits(f"{value.year:04d}{value:%m%d%H%M%S}")


def _flow_bytes(body: FlowAnswer) -> bytes:
    return (
        _measure("current cumulative flow", body.current, 4, 2)
        + _measure("settlement-day cumulative flow", body.settlement, 4, 2)
        + _clock(body.meter_time)
        + body.status.to_bytes()
    )


def _heat_bytes(body: HeatAnswer) -> bytes:
    return (
        _measure("settlement-day heat", body.settlement_heat, 4, 2)
        + _measure("current heat", body.current_heat, 4, 2)
        + _measure("heat power", body.heat_power, 4, 2)
        + _measure("flow rate", body.flow_rate, 4, 4)
        + _measure("cumulative flow", body.volume, 4, 2)
        + _number("supply temperature", body.supply_temperature, 3, 2)
        + _number("return temperature", body.return_temperature, 3, 2)
        + _number("operating hours", Decimal(body.operating_hours), 3, 0)
        + _clock(body.meter_time)
        + body.status.to_bytes()
    )


# --- constructors -------------------------------------------------------------------------------------


def read_request(
    meter_type: int, address: str, *, ser: int = 0, di_order: DiOrder = DiOrder.LOW_FIRST
) -> Frame:
    """A read of the current metering data, DI 901F (CJ/T 188-2004, read data: C=01H, L=03H)."""
    control = Control(Direction.MASTER_TO_METER, False, Function.READ)
    return Frame(meter_type, address, control, Request(METERING_DATA, ser, b"", di_order))


def read_answer(
    meter_type: int,
    address: str,
    current: Decimal,
    settlement: Decimal,
    unit: Unit,
    meter_time: datetime,
    *,
    valve: Valve = Valve.OPEN,
    battery_low: bool = False,
    ser: int = 0,
    di_order: DiOrder = DiOrder.LOW_FIRST,
) -> Frame:
    """A water or gas meter's answer to DI 901F (CJ/T 188-2004, read data: C=81H, L=16H).

    ``meter_time`` is the meter's naive local time; both registers are stated in ``unit``.
    """
    control = Control(Direction.METER_TO_MASTER, False, Function.READ)
    body = FlowAnswer(
        ser,
        Measure(current, unit),
        Measure(settlement, unit),
        meter_time,
        Status(valve, battery_low),
        di_order,
    )
    return Frame(meter_type, address, control, body)


def abnormal_answer(
    meter_type: int,
    address: str,
    *,
    ser: int = 0,
    status: Status | None = None,
    function: int = Function.READ,
) -> Frame:
    """An abnormal answer: SER and status, no reading (CJ/T 188-2004, abnormal answer; C=C1H for a read)."""
    control = Control(Direction.METER_TO_MASTER, True, function)
    return Frame(meter_type, address, control, AbnormalAnswer(ser, status or Status()))


def check_answer(request: Frame, answer: Frame) -> Frame:
    """Check that ``answer`` answers ``request`` (CJ/T 188-2004): same meter, function, SER and DI.

    A request to a wildcard address (AAH bytes) or meter type AAH accepts any answering meter. Returns
    ``answer``; raises :class:`Cjt188Error` with ``control_code``, ``meter_type``, ``address_mismatch``,
    ``ser_mismatch`` or ``di_mismatch``.
    """
    if answer.control.direction is not Direction.METER_TO_MASTER:
        raise _error("control_code", f"0x{answer.control.to_byte():02X} is not an answer (D7 = 0)")
    if answer.control.function != request.control.function:
        raise _error(
            "control_code",
            f"answer function 0x{answer.control.function:02X}, "
            f"request function 0x{request.control.function:02X}",
        )
    if request.meter_type not in (MeterType.ANY, answer.meter_type):
        raise _error(
            "meter_type", f"answer from type 0x{answer.meter_type:02X}, request to 0x{request.meter_type:02X}"
        )
    if "AA" not in request.address and answer.address != request.address:
        raise _error("address_mismatch", f"answer from {answer.address}, request to {request.address}")
    if isinstance(request.body, Request):
        if answer.body.ser != request.body.ser:
            raise _error(
                "ser_mismatch", f"answer echoes SER {answer.body.ser}, request sent {request.body.ser}"
            )
        if not isinstance(answer.body, AbnormalAnswer) and answer.body.di != request.body.di:
            raise _error(
                "di_mismatch",
                f"answer echoes DI {answer.body.di:04X}, request asked for {request.body.di:04X}",
            )
    return answer


# --- Tanhui's view ------------------------------------------------------------------------------------


def registers(frame: Frame) -> list[tuple[str, Decimal, str]]:
    """The registers of a DI 901F answer as (Tanhui register name, value, unit) (CJ/T 188-2004, read data).

    Water and gas: ``volume`` (current cumulative flow) and ``volume_settlement``. Heat meters: ``heat``
    (``cooling`` for type 21H) and its settlement value, ``heat_power``, ``flow_rate``, ``volume``,
    ``temperature_supply``, ``temperature_return``, ``operating_time``. Other frames have none.
    """
    body = frame.body
    if isinstance(body, FlowAnswer):
        return [
            ("volume", body.current.value, body.current.unit.symbol),
            ("volume_settlement", body.settlement.value, body.settlement.unit.symbol),
        ]
    if isinstance(body, HeatAnswer):
        energy = "cooling" if frame.meter_type == MeterType.COOLING else "heat"
        return [
            (energy, body.current_heat.value, body.current_heat.unit.symbol),
            (f"{energy}_settlement", body.settlement_heat.value, body.settlement_heat.unit.symbol),
            ("heat_power", body.heat_power.value, body.heat_power.unit.symbol),
            ("flow_rate", body.flow_rate.value, body.flow_rate.unit.symbol),
            ("volume", body.volume.value, body.volume.unit.symbol),
            ("temperature_supply", body.supply_temperature, "°C"),
            ("temperature_return", body.return_temperature, "°C"),
            ("operating_time", Decimal(body.operating_hours), "h"),
        ]
    return []


def _type_name(meter_type: int) -> str:
    try:
        return MeterType(meter_type).name.lower()
    except ValueError:
        return f"{medium(meter_type)}_{meter_type:02X}"


def describe(frame: Frame) -> dict[str, object]:
    """A JSON-ready description of ``frame`` for the CLI and for quarantine records.

    Values are decimal strings; ``meter_time`` is the meter's naive local time in ISO 8601 (no offset:
    CJ/T 188 carries none) or null; ``status`` is null for frames that carry no ST.
    """
    body = frame.body
    out: dict[str, object] = {
        "protocol": "cjt188",
        "meter_type": _type_name(frame.meter_type),
        "medium": str(frame.medium),
        "address": frame.address,
        "kind": frame.kind,
        "control": {
            "code": f"{frame.control.to_byte():02X}",
            "direction": frame.control.direction.name.lower(),
            "abnormal": frame.control.abnormal,
            "function": f"{frame.control.function:02X}",
        },
        "di": None if isinstance(body, AbnormalAnswer) else f"{body.di:04X}",
        "di_order": None if isinstance(body, AbnormalAnswer) else str(body.di_order),
        "ser": body.ser,
        "registers": [
            {"name": name, "value": format(value, "f"), "unit": unit}
            for name, value, unit in registers(frame)
        ],
        "meter_time": None,
        "status": None,
    }
    if isinstance(body, FlowAnswer | HeatAnswer):
        out["meter_time"] = body.meter_time.isoformat()
    if isinstance(body, FlowAnswer | HeatAnswer | AbnormalAnswer):
        out["status"] = {
            "valve": body.status.valve.name.lower(),
            "battery_low": body.status.battery_low,
            "vendor_bits": f"{body.status.vendor:04X}",
        }
    if isinstance(body, Request | Answer):
        out["payload"] = body.payload.hex().upper()
    return out
