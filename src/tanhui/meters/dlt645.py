"""DL/T 645-2007 frames for Chinese electricity meters, and the 1997 energy reads (DI 9010 family).

One frame on the wire (DL/T 645-2007, frame format)::

    [FE ×0..4] 68 A0..A5 68 C L DATA(L bytes, each +33H) CS 16      CS = sum mod 256 from the first 68H

The surface, the same shape as :mod:`tanhui.meters.cjt188`::

    decode(bytes) -> Frame                 encode(Frame, *, wake_up=0) -> bytes
    Frame(address, control, body)          body: ReadRequest | ReadAnswer | AbnormalAnswer | OtherData
    read_request(), read_answer(), abnormal_answer()   constructors for the simulator
    check_answer(request, answer)          the exchange rules: same meter, same function, DI echoed
    registers(frame), describe(frame)      Tanhui register names; a JSON-ready dict for the CLI
    DATA_IDENTIFIERS, DATA_IDENTIFIERS_1997   the registers Tanhui reads, with format, unit and sign

    MeterError
     └── Dlt645Error   .code names the rule: truncated, start_byte, length, checksum, end_byte,
                       control_code, bcd, datetime, unknown_data_identifier, range, value, wake_up,
                       address_mismatch, di_mismatch

:func:`decode` finds the end of a frame from L, never by scanning for 16H (both 16H and 68H occur inside
addresses, data and checksums), and rejects any byte after the end byte: a one-byte change of L must not
turn a frame into a shorter, different one. The 1997 edition is told apart by its function codes (read
01H, answer 81H/C1H, with a 2-byte DI) from 2007 (11H, 91H/B1H/D1H, 4-byte DI), as DL/T 645-1997 defines them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal
from enum import IntEnum, IntFlag, StrEnum
from types import MappingProxyType
from typing import TypeAlias

from tanhui.meters import bcd, sumframe
from tanhui.meters.errors import MeterError

__all__ = [
    "BROADCAST",
    "DATA_IDENTIFIERS",
    "DATA_IDENTIFIERS_1997",
    "TIME_SYNC_BROADCAST",
    "AbnormalAnswer",
    "Body",
    "Control",
    "DataIdentifier",
    "Direction",
    "Dlt645Error",
    "Frame",
    "Function",
    "Kind",
    "MeterDate",
    "OtherData",
    "ReadAnswer",
    "ReadRequest",
    "Serr",
    "Value",
    "Version",
    "abnormal_answer",
    "check_answer",
    "decode",
    "describe",
    "encode",
    "read_answer",
    "read_request",
    "registers",
]

START = 0x68
END = 0x16
WAKE_UP = 0xFE
DATA_OFFSET = 0x33
ADDRESS_SIZE = 6
MAX_WAKE_UP = 4
MAX_DATA = 0xFF
BROADCAST = "AA" * ADDRESS_SIZE
TIME_SYNC_BROADCAST = "99" * ADDRESS_SIZE
# Offsets from the first 68H (DL/T 645-2007, frame format).
_SECOND_START = 7
_CONTROL = 8
_LENGTH = 9
_DATA = 10
_HEADER_AND_TRAILER = 12


class Dlt645Error(MeterError):
    """A DL/T 645 frame broke a rule of the standard; ``code`` names the rule."""

    code = "dlt645"


class Version(StrEnum):
    """The edition of DL/T 645 a read frame follows, told apart by its function code."""

    V2007 = "2007"
    V1997 = "1997"


class Direction(IntEnum):
    """Control code bit D7 (DL/T 645-2007, control code)."""

    MASTER_TO_METER = 0
    METER_TO_MASTER = 1


class Function(IntEnum):
    """Control code bits D4..D0 (DL/T 645-2007, control code; ``READ_1997`` from DL/T 645-1997)."""

    READ_1997 = 0x01
    BROADCAST_TIME = 0x08
    READ = 0x11
    READ_FOLLOW_UP = 0x12
    READ_ADDRESS = 0x13
    WRITE = 0x14
    WRITE_ADDRESS = 0x15
    FREEZE = 0x16
    CHANGE_BAUD_RATE = 0x17
    CHANGE_PASSWORD = 0x18
    CLEAR_DEMAND = 0x19
    CLEAR_METER = 0x1A
    CLEAR_EVENTS = 0x1B


# Width of the DI of each read function; a read request or answer is DI + (parameters | values).
_READ_DI_SIZE: dict[int, int] = {Function.READ: 4, Function.READ_1997: 2}
_VERSION_OF_READ: dict[int, Version] = {Function.READ: Version.V2007, Function.READ_1997: Version.V1997}


class Serr(IntFlag):
    """The error byte SERR of an abnormal answer (DL/T 645-2007, abnormal answer: error word SERR)."""

    OTHER = 0x01
    NO_SUCH_DATA = 0x02
    NOT_AUTHORISED = 0x04
    BAUD_RATE_UNCHANGEABLE = 0x08
    TOO_MANY_YEAR_ZONES = 0x10
    TOO_MANY_DAY_PERIODS = 0x20
    TOO_MANY_TARIFFS = 0x40
    RESERVED = 0x80


@dataclass(frozen=True, slots=True)
class Control:
    """The control code C (DL/T 645-2007, control code): D7 direction, D6 abnormal, D5 follow-up, D4..D0."""

    direction: Direction
    abnormal: bool
    follow_up: bool
    function: int

    @classmethod
    def from_byte(cls, byte: int) -> Control:
        """Split a control byte into its fields (DL/T 645-2007, control code)."""
        return cls(Direction(byte >> 7 & 1), bool(byte & 0x40), bool(byte & 0x20), byte & 0x1F)

    def to_byte(self) -> int:
        """The control byte (DL/T 645-2007, control code)."""
        if not 0 <= self.function <= 0x1F:
            raise _error(
                "control_code", f"function 0x{self.function:02X} does not fit bits D4..D0 (0x00-0x1F)"
            )
        return int(self.direction) << 7 | int(self.abnormal) << 6 | int(self.follow_up) << 5 | self.function


class Kind(StrEnum):
    """How the value bytes of a data identifier are laid out."""

    NUMBER = "number"  # fixed-point BCD, e.g. XXXXXX.XX
    DATE = "YYMMDDWW"  # date and weekday, WW 0 = Sunday
    TIME = "hhmmss"
    DIGITS = "digits"  # a 12-digit number such as the communication address


@dataclass(frozen=True, slots=True)
class DataIdentifier:
    """One row of the register table: what a DI holds and how its value bytes are encoded.

    ``registers`` are Tanhui's names for the values of one answer, in order. A tariff block (DI1 = FFH)
    holds the total followed by as many tariffs as the meter has, so its length is not fixed: its
    ``registers`` name the total and tariff *n* is ``<total name>_t<n>``.
    """

    di: int
    name: str
    registers: tuple[str, ...]
    size: int
    decimals: int = 0
    unit: str = ""
    signed: bool = False
    kind: Kind = Kind.NUMBER
    tariff_block: bool = False

    @property
    def format(self) -> str:
        """The format as the standard writes it (``XXXXXX.XX``, ``YYMMDDWW`` …)."""
        if self.kind is not Kind.NUMBER:
            return str(self.kind) if self.kind is not Kind.DIGITS else "N" * 2 * self.size
        whole = "X" * (2 * self.size - self.decimals)
        return f"{whole}.{'X' * self.decimals}" if self.decimals else whole

    def register_names(self, count: int) -> tuple[str, ...]:
        """Tanhui's names of ``count`` values of this DI (the total and tariffs of a block)."""
        if not self.tariff_block:
            return self.registers
        return (self.registers[0], *(f"{self.registers[0]}_t{n}" for n in range(1, count)))


@dataclass(frozen=True, slots=True)
class MeterDate:
    """The meter's date and the weekday it has been told (DI 04000101, WW: 0 = Sunday).

    The weekday is kept as sent: meters are set by hand and a wrong weekday is not a reason to drop
    the frame; :attr:`weekday_consistent` says whether it matches the date.
    """

    day: date
    weekday: int

    @property
    def weekday_consistent(self) -> bool:
        return self.day.isoweekday() % 7 == self.weekday


Value: TypeAlias = Decimal | MeterDate | time | str
"""One decoded value: a number, the meter's date, its time of day, or a digit string (an address)."""


def _energy(di2: int, label: str, register: str, *, signed: bool) -> list[DataIdentifier]:
    # DI3 = 00 energy, DI2 = energy type, DI1 = tariff (00 total, FF block), DI0 = 00 current period.
    base = di2 << 16
    rows = [DataIdentifier(base, f"{label}, total", (register,), 4, 2, "kWh", signed)]
    rows += [
        DataIdentifier(base | n << 8, f"{label}, tariff {n}", (f"{register}_t{n}",), 4, 2, "kWh", signed)
        for n in range(1, 5)
    ]
    rows.append(
        DataIdentifier(
            base | 0xFF00, f"{label}, total and tariffs", (register,), 4, 2, "kWh", signed, tariff_block=True
        )
    )
    return rows


def _phases(
    di: int, label: str, register: str, *, size: int, decimals: int, unit: str, signed: bool, total: bool
) -> list[DataIdentifier]:
    # Instantaneous variables (DI3 = 02): DI1 = 00 total, 01..03 phase A..C, FF the block of them all.
    rows = []
    names = [register] if total else []
    if total:
        rows.append(DataIdentifier(di, f"{label}, total", (register,), size, decimals, unit, signed))
    for n, phase in enumerate("abc", start=1):
        name = f"{register}_{phase}"
        names.append(name)
        rows.append(
            DataIdentifier(
                di | n << 8, f"{label}, phase {phase.upper()}", (name,), size, decimals, unit, signed
            )
        )
    rows.append(DataIdentifier(di | 0xFF00, f"{label}, block", tuple(names), size, decimals, unit, signed))
    return rows


_TABLE_2007: list[DataIdentifier] = [
    # DL/T 645-2007 Appendix A, Table A.1: combined active energy is the signed sum of import and export
    # (its range is ±799999.99); forward and reverse energies are unsigned and run to 999999.99.
    *_energy(0x00, "combined active energy", "energy_combined", signed=True),
    *_energy(0x01, "forward active energy", "energy_import", signed=False),
    *_energy(0x02, "reverse active energy", "energy_export", signed=False),
    DataIdentifier(
        0x00010001,
        "forward active energy, total, last settlement day",
        ("energy_import_settlement",),
        4,
        2,
        "kWh",
    ),
    # Table A.3: instantaneous variables.
    *_phases(0x02010000, "voltage", "voltage", size=2, decimals=1, unit="V", signed=False, total=False),
    *_phases(0x02020000, "current", "current", size=3, decimals=3, unit="A", signed=True, total=False),
    *_phases(
        0x02030000, "active power", "power_active", size=3, decimals=4, unit="kW", signed=True, total=True
    ),
    *_phases(
        0x02060000, "power factor", "power_factor", size=2, decimals=3, unit="", signed=True, total=True
    ),
    DataIdentifier(0x02800002, "grid frequency", ("frequency",), 2, 2, "Hz"),
    # Table A.5: parameters.
    DataIdentifier(0x04000101, "date and weekday", ("meter_date",), 4, kind=Kind.DATE),
    DataIdentifier(0x04000102, "time", ("meter_clock",), 3, kind=Kind.TIME),
    DataIdentifier(0x04000401, "communication address", ("comm_address",), 6, kind=Kind.DIGITS),
    DataIdentifier(0x04000402, "meter number", ("meter_number",), 6, kind=Kind.DIGITS),
]

DATA_IDENTIFIERS: Mapping[int, DataIdentifier] = MappingProxyType({row.di: row for row in _TABLE_2007})
"""The 2007 data identifiers Tanhui reads (DI3 DI2 DI1 DI0 as an integer, e.g. ``0x00010000``)."""

_TABLE_1997: list[DataIdentifier] = [
    # DL/T 645-1997 energy registers, same XXXXXX.XX format as 2007 and unsigned.
    DataIdentifier(0x9010, "forward active energy, total", ("energy_import",), 4, 2, "kWh"),
    *(
        DataIdentifier(
            0x9010 + n, f"forward active energy, tariff {n}", (f"energy_import_t{n}",), 4, 2, "kWh"
        )
        for n in range(1, 5)
    ),
    DataIdentifier(
        0x901F, "forward active energy, total and tariffs", ("energy_import",), 4, 2, "kWh", tariff_block=True
    ),
    DataIdentifier(0x9020, "reverse active energy, total", ("energy_export",), 4, 2, "kWh"),
    *(
        DataIdentifier(
            0x9020 + n, f"reverse active energy, tariff {n}", (f"energy_export_t{n}",), 4, 2, "kWh"
        )
        for n in range(1, 5)
    ),
    DataIdentifier(
        0x902F, "reverse active energy, total and tariffs", ("energy_export",), 4, 2, "kWh", tariff_block=True
    ),
    DataIdentifier(
        0x9410, "forward active energy, total, last month", ("energy_import_settlement",), 4, 2, "kWh"
    ),
]

DATA_IDENTIFIERS_1997: Mapping[int, DataIdentifier] = MappingProxyType({row.di: row for row in _TABLE_1997})
"""The 1997 energy identifiers Tanhui recognises (2-byte DI, e.g. ``0x9010``)."""

_TABLES = {Version.V2007: DATA_IDENTIFIERS, Version.V1997: DATA_IDENTIFIERS_1997}


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """A read (DL/T 645-2007, read data: C=11H; 1997: C=01H): the DI and any request parameters."""

    di: int
    params: bytes = b""


@dataclass(frozen=True, slots=True)
class ReadAnswer:
    """A normal answer to a read (2007: C=91H/B1H, 1997: C=81H): the DI echo and its decoded values."""

    di: int
    values: tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class AbnormalAnswer:
    """An abnormal answer (D6 = 1, e.g. C=D1H): one SERR byte, no reading (DL/T 645-2007, abnormal answer)."""

    serr: Serr


@dataclass(frozen=True, slots=True)
class OtherData:
    """Any other frame (time sync, read address, writes …): its data with the 33H offset removed."""

    data: bytes


Body: TypeAlias = ReadRequest | ReadAnswer | AbnormalAnswer | OtherData


@dataclass(frozen=True, slots=True)
class Frame:
    """One DL/T 645 frame: the 12-digit meter address, the control code and the interpreted data."""

    address: str
    control: Control
    body: Body

    @property
    def version(self) -> Version:
        """1997 for the 1997 read functions, 2007 otherwise."""
        return _VERSION_OF_READ.get(self.control.function, Version.V2007)

    @property
    def kind(self) -> str:
        """``read_request``, ``read_answer``, ``abnormal_answer`` or ``other``."""
        return _KINDS[type(self.body)]

    @property
    def data(self) -> bytes:
        """The data field as the meter means it, i.e. without the 33H offset of the wire."""
        return _body_bytes(self)

    @property
    def identifier(self) -> DataIdentifier | None:
        """The table row of a read answer's DI (None for other frames)."""
        if isinstance(self.body, ReadAnswer):
            return _TABLES[self.version].get(self.body.di)
        return None


_KINDS: dict[type, str] = {
    ReadRequest: "read_request",
    ReadAnswer: "read_answer",
    AbnormalAnswer: "abnormal_answer",
    OtherData: "other",
}


def _error(rule: str, message: str) -> Dlt645Error:
    return Dlt645Error(message, code=rule)


def _fieldwise(where: str, exc: bcd.BcdError) -> Dlt645Error:
    return Dlt645Error(f"{where}: {exc.message}", code=exc.code)


# --- decoding -----------------------------------------------------------------------------------------


def decode(data: bytes) -> Frame:
    """Decode one DL/T 645 frame (DL/T 645-2007, frame format), after any number of FEH wake-up bytes.

    Checks the two start bytes, the length against L, the checksum (sum mod 256 from the first 68H
    through the last data byte), the end byte 16H, then removes the 33H offset and interprets the data.
    Raises :class:`Dlt645Error` and nothing else, whatever the bytes.
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
        raise _error("truncated", f"{len(frame)} bytes from the first 68H, a frame has at least 12")
    if frame[_SECOND_START] != START:
        raise _error(
            "start_byte",
            f"byte 7 after the first 68H is 0x{frame[_SECOND_START]:02X}, "
            "expected the second start byte 0x68",
        )
    problem = sumframe.trailer_problem(
        frame, length_at=_LENGTH, data_at=_DATA, overhead=_HEADER_AND_TRAILER, origin="the first 68H"
    )
    if problem is not None:
        raise _error(*problem)
    length = frame[_LENGTH]
    try:
        address = bcd.decode_address(frame[1:_SECOND_START])
    except bcd.BcdError as exc:
        raise _fieldwise("address", exc) from exc
    control = Control.from_byte(frame[_CONTROL])
    payload = bytes((byte - DATA_OFFSET) & 0xFF for byte in frame[_DATA : _DATA + length])
    return Frame(address, control, _interpret(control, payload))


def _interpret(control: Control, data: bytes) -> Body:
    if control.abnormal:
        if control.direction is Direction.MASTER_TO_METER:
            raise _error("control_code", f"0x{control.to_byte():02X} sets the abnormal flag D6 on a request")
        if len(data) != 1:
            raise _error("length", f"an abnormal answer carries 1 byte (SERR), got L = {len(data)}")
        return AbnormalAnswer(Serr(data[0]))
    width = _READ_DI_SIZE.get(control.function)
    if width is None:
        return OtherData(data)
    if len(data) < width:
        raise _error("length", f"a read frame starts with a {width}-byte DI, got L = {len(data)}")
    di = int.from_bytes(data[:width], "little")
    if control.direction is Direction.MASTER_TO_METER:
        return ReadRequest(di, data[width:])
    version = _VERSION_OF_READ[control.function]
    return ReadAnswer(di, _decode_values(version, di, data[width:]))


def _lookup(version: Version, di: int) -> DataIdentifier:
    row = _TABLES[version].get(di)
    if row is None:
        raise _error(
            "unknown_data_identifier",
            f"DI {_di_text(version, di)} is not in Tanhui's DL/T 645-{version} table; "
            "add it to the table with its format before reading it",
        )
    return row


def _di_text(version: Version, di: int) -> str:
    return f"{di:04X}" if version is Version.V1997 else f"{di:08X}"


def _decode_values(version: Version, di: int, data: bytes) -> tuple[Value, ...]:
    row = _lookup(version, di)
    count = len(data) // row.size
    if row.tariff_block:
        if not data or len(data) % row.size:
            raise _error(
                "length",
                f"DI {_di_text(version, di)} holds a total and tariffs of {row.size} bytes each, "
                f"got {len(data)} value bytes",
            )
    elif len(data) != row.size * len(row.registers):
        raise _error(
            "length",
            f"DI {_di_text(version, di)} holds {row.size * len(row.registers)} value bytes "
            f"({row.format}), got {len(data)}",
        )
    names = row.register_names(count)
    return tuple(_decode_value(row, names[i], data[i * row.size : (i + 1) * row.size]) for i in range(count))


def _decode_value(row: DataIdentifier, name: str, raw: bytes) -> Value:
    try:
        if row.kind is Kind.NUMBER:
            return bcd.decode_decimal(raw, row.decimals, signed=row.signed)
        digits = bcd.decode_digits(raw)
    except bcd.BcdError as exc:
        raise _fieldwise(f"{name} ({row.format})", exc) from exc
    if row.kind is Kind.DIGITS:
        return digits
    numbers = [int(digits[i : i + 2]) for i in range(0, len(digits), 2)]
    try:
        if row.kind is Kind.DATE:
            year, month, day, weekday = numbers
            if weekday > 6:
                raise ValueError(f"weekday {weekday} is not 0 (Sunday) to 6")
            return MeterDate(date(2000 + year, month, day), weekday)
        hour, minute, second = numbers
        return time(hour, minute, second)
    except ValueError as exc:
        raise _error(
            "datetime", f"{name} {digits} ({row.format}) is not a valid date or time: {exc}"
        ) from exc


# --- encoding -----------------------------------------------------------------------------------------


def encode(frame: Frame, *, wake_up: int = 0) -> bytes:
    """Encode ``frame`` for the wire (DL/T 645-2007, frame format), preceded by ``wake_up`` FEH bytes (0–4).

    The exact inverse of :func:`decode`. Raises :class:`Dlt645Error` for a frame that cannot be sent:
    a malformed address, a body that does not match the control code, or a value out of its range.
    """
    if not 0 <= wake_up <= MAX_WAKE_UP:
        raise _error("wake_up", f"{wake_up} wake-up bytes requested, DL/T 645 sends 0 to {MAX_WAKE_UP}")
    try:
        address = bcd.encode_address(frame.address, ADDRESS_SIZE)
    except bcd.BcdError as exc:
        raise _fieldwise("address", exc) from exc
    data = _body_bytes(frame)
    if len(data) > MAX_DATA:
        raise _error("length", f"{len(data)} data bytes do not fit the 1-byte L (at most {MAX_DATA})")
    body = bytearray([START, *address, START, frame.control.to_byte(), len(data)])
    body += bytes((byte + DATA_OFFSET) & 0xFF for byte in data)
    body += bytes([sumframe.checksum(body, len(body)), END])
    return bytes([WAKE_UP] * wake_up) + bytes(body)


def _body_bytes(frame: Frame) -> bytes:
    # The body must be the one decode() would build from these bytes, or the round trip breaks.
    control, body = frame.control, frame.body
    code = f"0x{control.to_byte():02X}"
    width = _READ_DI_SIZE.get(control.function)
    if isinstance(body, AbnormalAnswer):
        if not control.abnormal or control.direction is not Direction.METER_TO_MASTER:
            raise _error("control_code", f"an abnormal answer needs D7 = 1 and D6 = 1, control is {code}")
        return bytes([int(body.serr) & 0xFF])
    if control.abnormal:
        raise _error("control_code", f"control {code} is abnormal but the body is {type(body).__name__}")
    if isinstance(body, OtherData):
        if width is not None:
            raise _error("control_code", f"control {code} is a read; use ReadRequest or ReadAnswer")
        return body.data
    if width is None:
        raise _error(
            "control_code", f"{type(body).__name__} needs a read function (11H or 01H), control is {code}"
        )
    if not 0 <= body.di < 1 << (8 * width):
        raise _error("range", f"DI 0x{body.di:X} does not fit {width} bytes")
    di = body.di.to_bytes(width, "little")
    if isinstance(body, ReadRequest):
        if control.direction is not Direction.MASTER_TO_METER:
            raise _error("control_code", f"a read request goes master to meter (D7 = 0), control is {code}")
        return di + body.params
    if control.direction is not Direction.METER_TO_MASTER:
        raise _error("control_code", f"a read answer goes meter to master (D7 = 1), control is {code}")
    return di + _encode_values(frame.version, body.di, body.values)


def _encode_values(version: Version, di: int, values: Sequence[Value]) -> bytes:
    row = _lookup(version, di)
    if row.tariff_block:
        if not values:
            raise _error("length", f"DI {_di_text(version, di)} needs at least the total")
    elif len(values) != len(row.registers):
        raise _error(
            "length", f"DI {_di_text(version, di)} holds {len(row.registers)} values, got {len(values)}"
        )
    names = row.register_names(len(values))
    return b"".join(_encode_value(row, name, value) for name, value in zip(names, values, strict=True))


def _encode_value(row: DataIdentifier, name: str, value: Value) -> bytes:
    try:
        if row.kind is Kind.NUMBER:
            if not isinstance(value, Decimal):
                raise _error("value", f"{name} expects a Decimal, got {type(value).__name__}")
            return bcd.encode_decimal(value, row.size, row.decimals, signed=row.signed)
        if row.kind is Kind.DIGITS:
            if not isinstance(value, str) or len(value) != 2 * row.size:
                raise _error("value", f"{name} expects a string of {2 * row.size} digits, got {value!r}")
            return bcd.encode_digits(value)
        if row.kind is Kind.DATE:
            if not isinstance(value, MeterDate):
                raise _error("value", f"{name} expects a MeterDate, got {type(value).__name__}")
            if not 2000 <= value.day.year <= 2099 or not 0 <= value.weekday <= 6:
                raise _error("datetime", f"{name} {value} needs a year 2000-2099 and a weekday 0-6")
            return bcd.encode_digits(f"{value.day:%y%m%d}{value.weekday:02d}")
        if not isinstance(value, time):
            raise _error("value", f"{name} expects a datetime.time, got {type(value).__name__}")
        if value.microsecond or value.tzinfo is not None:
            raise _error("datetime", f"{name} {value} must be a naive time in whole seconds (hhmmss)")
        return bcd.encode_digits(f"{value:%H%M%S}")
    except bcd.BcdError as exc:
        raise _fieldwise(f"{name} ({row.format})", exc) from exc


# --- constructors -------------------------------------------------------------------------------------


def read_request(address: str, di: int, *, version: Version = Version.V2007) -> Frame:
    """A read-data request for ``di`` (DL/T 645-2007, read data: C=11H, L=04H; 1997: C=01H, 2-byte DI)."""
    function = Function.READ if version is Version.V2007 else Function.READ_1997
    return Frame(address, Control(Direction.MASTER_TO_METER, False, False, function), ReadRequest(di))


def read_answer(
    address: str,
    di: int,
    values: Value | Sequence[Value],
    *,
    version: Version = Version.V2007,
    follow_up: bool = False,
) -> Frame:
    """A normal read answer (DL/T 645-2007, read data answer: C=91H, or B1H with ``follow_up``; 1997: C=81H).

    ``values`` is one value or the values of a block, as :data:`DATA_IDENTIFIERS` lays them out: a
    :class:`~decimal.Decimal` for energy, voltage, current, power, power factor and frequency, a
    :class:`MeterDate` for 04000101, a :class:`datetime.time` for 04000102, a digit string for addresses.
    The frame is validated when encoded.
    """
    function = Function.READ if version is Version.V2007 else Function.READ_1997
    items = (values,) if isinstance(values, Decimal | MeterDate | time | str) else tuple(values)
    return Frame(
        address, Control(Direction.METER_TO_MASTER, False, follow_up, function), ReadAnswer(di, items)
    )


def abnormal_answer(address: str, serr: Serr, *, function: int = Function.READ) -> Frame:
    """An abnormal answer carrying ``serr`` (DL/T 645-2007, abnormal answer; C = D1H for a read)."""
    return Frame(address, Control(Direction.METER_TO_MASTER, True, False, function), AbnormalAnswer(serr))


def check_answer(request: Frame, answer: Frame) -> Frame:
    """Check that ``answer`` answers ``request`` (DL/T 645-2007, read data): same meter, function and DI.

    A request to a broadcast or wildcard address (AAH bytes) accepts any answering address. Returns
    ``answer``; raises :class:`Dlt645Error` with ``control_code``, ``address_mismatch`` or ``di_mismatch``.
    """
    if answer.control.direction is not Direction.METER_TO_MASTER:
        raise _error("control_code", f"0x{answer.control.to_byte():02X} is not an answer (D7 = 0)")
    if answer.control.function != request.control.function:
        raise _error(
            "control_code",
            f"answer function 0x{answer.control.function:02X}, "
            f"request function 0x{request.control.function:02X}",
        )
    if "AA" not in request.address and answer.address != request.address:
        raise _error("address_mismatch", f"answer from {answer.address}, request to {request.address}")
    if (
        isinstance(request.body, ReadRequest)
        and isinstance(answer.body, ReadAnswer)
        and answer.body.di != request.body.di
    ):
        raise _error(
            "di_mismatch",
            f"answer echoes DI {_di_text(answer.version, answer.body.di)}, "
            f"request asked for {_di_text(request.version, request.body.di)}",
        )
    return answer


# --- Tanhui's view ------------------------------------------------------------------------------------


def registers(frame: Frame) -> list[tuple[str, Decimal, str]]:
    """The numeric registers of a read answer as (Tanhui register name, value, unit).

    ``energy_import`` is forward active energy (DL/T 645-2007 DI 00010000), ``energy_export`` reverse,
    ``energy_combined`` combined; tariffs add ``_t1``…; phases add ``_a``/``_b``/``_c``. Dates, times and
    addresses are not registers; other frames have none.
    """
    row = frame.identifier
    if row is None or row.kind is not Kind.NUMBER or not isinstance(frame.body, ReadAnswer):
        return []
    values = frame.body.values
    names = row.register_names(len(values))
    return [
        (name, value, row.unit)
        for name, value in zip(names, values, strict=True)
        if isinstance(value, Decimal)
    ]


def _json_value(value: Value) -> object:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, MeterDate):
        return {"date": value.day.isoformat(), "weekday": value.weekday}
    if isinstance(value, time):
        return value.isoformat()
    return value


def describe(frame: Frame) -> dict[str, object]:
    """A JSON-ready description of ``frame`` for the CLI and for quarantine records.

    Values are decimal strings; ``meter_time`` is null because one DL/T 645 answer carries the date or
    the time (DI 04000101/04000102), never a whole timestamp.
    """
    control = frame.control
    out: dict[str, object] = {
        "protocol": "dlt645",
        "version": str(frame.version),
        "address": frame.address,
        "kind": frame.kind,
        "control": {
            "code": f"{control.to_byte():02X}",
            "direction": control.direction.name.lower(),
            "abnormal": control.abnormal,
            "follow_up": control.follow_up,
            "function": f"{control.function:02X}",
        },
        "di": None,
        "registers": [
            {"name": name, "value": format(value, "f"), "unit": unit}
            for name, value, unit in registers(frame)
        ],
        "values": [],
        "meter_time": None,
        "serr": None,
    }
    body = frame.body
    if isinstance(body, ReadRequest | ReadAnswer):
        out["di"] = _di_text(frame.version, body.di)
    if isinstance(body, ReadAnswer):
        row = frame.identifier
        out["di_name"] = row.name if row else None
        out["values"] = [_json_value(value) for value in body.values]
    if isinstance(body, AbnormalAnswer):
        out["serr"] = {
            "code": f"{int(body.serr):02X}",
            "errors": [flag.name.lower() for flag in Serr if flag in body.serr and flag.name],
        }
    if isinstance(body, OtherData):
        out["data"] = body.data.hex().upper()
    return out
