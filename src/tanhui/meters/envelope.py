"""The JSON envelope in which gateways forward readings (Tanhui envelope, version 1).

A gateway sends one envelope per batch over HTTP (``POST /api/v1/ingest``) or MQTT::

    {"v": 1, "gateway": "bt-gw-001", "seq": 42, "sent_at": "2026-11-25T02:00:00Z",
     "readings": [{"meter": "000000000001", "register": "energy_import", "value": "1234.56",
                   "unit": "kWh", "time": "2026-11-25T10:00:00+08:00"}]}

``seq`` increases by one per envelope a gateway sends and ``boot`` (optional) names the gateway's current
boot: sequence numbers restart after a reboot, so (gateway, boot, seq) names one envelope. The same
envelope again is a redelivery (a no-op); other content under a used (gateway, boot, seq) is a replay.
Times must carry a UTC offset: a naive meter time cannot be placed on the timeline without guessing.
Values are decimal strings so that no binary float ever touches a register.

A gateway that forwards what the meter said, byte for byte, sends a frame item instead of a decoded
reading; Tanhui decodes it itself (``tanhui.meters.frames``), so every stored value traces back to the
meter's own bytes::

    {"protocol": "dlt645", "frame": "68129078563412689108333334339a7856348816",
     "time": "2026-11-25T10:00:03+08:00", "meter": "123456789012"}

``time`` is when the gateway read the meter (DL/T 645 answers carry no time of their own); ``meter`` is
optional and, when given, must be the address inside the frame.

Errors are split in two levels, so that one bad reading never costs the others: :func:`decode` raises
:class:`EnvelopeError` when the envelope itself is unusable, and reports a bad reading as an
:class:`ItemError` in :attr:`Envelope.items` beside the good ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from types import ModuleType

import msgspec
import numpy as np
from numpy.typing import NDArray

from tanhui.domain.reading import MeterReading
from tanhui.meters.errors import MeterError

_native: ModuleType | None
try:  # the C reader of decode_columns; without a compiler the Python one does the same, slower
    from tanhui.meters import _columns as _native
except ImportError:  # pragma: no cover - depends on the build
    _native = None

VERSION = 1
MAX_READINGS = 100_000


class EnvelopeError(MeterError):
    """The envelope, or one reading inside it, does not follow the envelope rules."""

    code = "malformed_envelope"


@dataclass(frozen=True, slots=True)
class ItemError:
    """A reading of the envelope that could not be decoded, with its raw JSON and the rule broken."""

    index: int
    raw: bytes
    error: EnvelopeError


@dataclass(frozen=True, slots=True)
class FrameItem:
    """A raw meter frame forwarded by the gateway, decoded by Tanhui at ingest."""

    protocol: str
    frame: bytes
    time: datetime
    meter: str | None = None


@dataclass(frozen=True, slots=True)
class Envelope:
    """A decoded envelope: who sent it, its sequence number, and its readings (or their errors)."""

    gateway: str
    seq: int
    sent_at: datetime
    items: tuple[MeterReading | FrameItem | ItemError, ...]
    boot: str = ""

    @property
    def readings(self) -> list[MeterReading]:
        return [item for item in self.items if isinstance(item, MeterReading)]

    @property
    def frames(self) -> list[FrameItem]:
        return [item for item in self.items if isinstance(item, FrameItem)]

    @property
    def errors(self) -> list[ItemError]:
        return [item for item in self.items if isinstance(item, ItemError)]


class _Reading(msgspec.Struct, forbid_unknown_fields=False, kw_only=True):
    time: datetime
    meter: str = ""
    register: str = ""
    value: str = ""
    unit: str = ""
    protocol: str = ""
    frame: str = ""


class _Envelope(msgspec.Struct, forbid_unknown_fields=False):
    v: int
    gateway: str
    seq: int
    sent_at: datetime
    readings: list[_Reading]
    boot: str = ""


class _LooseEnvelope(msgspec.Struct, forbid_unknown_fields=False):
    v: int
    gateway: str
    seq: int
    sent_at: datetime
    readings: list[msgspec.Raw]
    boot: str = ""


_strict = msgspec.json.Decoder(_Envelope)
_loose = msgspec.json.Decoder(_LooseEnvelope)
_item = msgspec.json.Decoder(_Reading)
_encoder = msgspec.json.Encoder()


# msgspec raises UnicodeDecodeError, not DecodeError, for a string that is not UTF-8.
_UNREADABLE = (msgspec.DecodeError, UnicodeDecodeError)


def _why(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"a string is not UTF-8 (byte 0x{exc.object[exc.start]:02x})"
    return str(exc)


def decode(payload: bytes) -> Envelope:
    """Decode an envelope; raise :class:`EnvelopeError` naming the rule when it is unusable."""
    try:
        env = _strict.decode(payload)
    except _UNREADABLE:
        return _decode_item_by_item(payload)
    _check_header(env.v, env.gateway, env.seq, env.sent_at, len(env.readings))
    items: list[MeterReading | FrameItem | ItemError] = []
    for index, raw in enumerate(env.readings):
        try:
            items.append(_to_item(raw))
        except EnvelopeError as exc:
            items.append(ItemError(index, _encoder.encode(raw), exc))
    return Envelope(env.gateway, env.seq, env.sent_at, tuple(items), env.boot)


@dataclass(frozen=True, slots=True)
class ReadingColumns:
    """An envelope of plain decoded readings as columns: what the batch checks of ingest work on.

    ``counts`` are not known here (they depend on the meter's resolution): each value is an integer
    ``mantissa`` with ``decimals`` digits after the point. ``times`` are epoch seconds. Meters, registers
    and units are given as their distinct strings (``*_keys``, in order of first appearance) and, per
    reading, the index of its string there: an envelope repeats a few hundred meters and a handful of
    registers and units over its rounds, and each distinct string is then looked up once.
    """

    gateway: str
    seq: int
    boot: str
    meter_keys: list[str]
    meter_index: NDArray[np.int64]
    register_keys: list[str]
    register_index: NDArray[np.int64]
    unit_keys: list[str]
    unit_index: NDArray[np.int64]
    times: NDArray[np.int64]
    mantissas: NDArray[np.int64]
    decimals: NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.times)


class _Plain(msgspec.Struct, forbid_unknown_fields=False, kw_only=True, gc=False):
    meter: str
    register: str
    value: str
    unit: str
    time: str
    protocol: str = ""
    frame: str = ""


class _PlainEnvelope(msgspec.Struct, forbid_unknown_fields=False):
    v: int
    gateway: str
    seq: int
    sent_at: datetime
    readings: list[_Plain]
    boot: str = ""


_plain = msgspec.json.Decoder(_PlainEnvelope)
_timestamp = msgspec.json.Decoder(datetime)


def decode_columns(payload: bytes) -> ReadingColumns | None:
    """The envelope as columns when it is valid and every item is a plain reading in the usual form.

    None means "not this fast way", never "invalid": frame items, a missing field, a time that is not
    ``YYYY-MM-DDTHH:MM:SS`` with ``Z`` or ``±hh:mm``, a value that is not plain digits with at most one
    inner point, or any header problem. :func:`decode` then decides, naming the rule that is broken.
    Whatever this accepts, :func:`decode` accepts with the same meaning (a property test holds them
    to it).

    The C reader (:mod:`tanhui.meters._columns`, built by ``pip install``) takes the usual envelope in one
    pass; what it is not sure of, and everything when it is not built, goes to :func:`decode_plain`.
    """
    if _native is None:
        return decode_plain(payload)
    read = _native.read(payload)
    if read is None:
        return decode_plain(payload)
    (
        version,
        gateway,
        seq,
        boot,
        sent_at_text,
        meters,
        m_index,
        registers,
        r_index,
        units,
        u_index,
        *numbers,
    ) = read
    try:
        sent_at = _timestamp.decode(b'"' + sent_at_text.encode("ascii") + b'"')
        _check_header(version, gateway, seq, sent_at, len(numbers[0]) // 8)
    except (*_UNREADABLE, EnvelopeError):
        return None
    times, mantissas, decimals = (np.frombuffer(column, dtype=np.int64) for column in numbers)
    return ReadingColumns(
        gateway,
        seq,
        boot,
        meters,
        np.frombuffer(m_index, dtype=np.int64),
        registers,
        np.frombuffer(r_index, dtype=np.int64),
        units,
        np.frombuffer(u_index, dtype=np.int64),
        times,
        mantissas,
        decimals,
    )


def decode_plain(payload: bytes) -> ReadingColumns | None:
    """:func:`decode_columns` in Python alone: the reference the C reader is tested against."""
    try:
        env = _plain.decode(payload)
    except _UNREADABLE:
        return None
    try:
        _check_header(env.v, env.gateway, env.seq, env.sent_at, len(env.readings))
    except EnvelopeError:
        return None
    items = env.readings
    if not items or any(r.protocol or r.frame for r in items):
        return None
    meters = [r.meter for r in items]
    registers = [r.register for r in items]
    units = [r.unit for r in items]
    if not (all(meters) and all(registers) and all(units)):
        return None
    times = epoch_seconds([r.time for r in items])
    parts = decimal_parts([r.value for r in items])
    if times is None or parts is None:
        return None
    return ReadingColumns(
        env.gateway,
        env.seq,
        env.boot,
        *_distinct(meters),
        *_distinct(registers),
        *_distinct(units),
        times,
        *parts,
    )


def _distinct(texts: list[str]) -> tuple[list[str], NDArray[np.int64]]:
    index: dict[str, int] = {}
    for text in texts:
        index.setdefault(text, len(index))
    return list(index), np.fromiter(map(index.__getitem__, texts), dtype=np.int64, count=len(texts))


_DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
_DATE_DIGITS = (0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18)  # YYYY MM DD HH MM SS
_OFFSET_DIGITS = (20, 21, 23, 24)  # hh mm of ±hh:mm
_ZERO = ord("0")


def epoch_seconds(texts: list[str]) -> NDArray[np.int64] | None:
    """Epoch seconds of ISO 8601 times ``YYYY-MM-DDTHH:MM:SSZ`` or ``...SS±hh:mm``, all of one form.

    None when any time is in another form or out of range (the caller falls back to a full parser).
    """
    lengths = set(map(len, texts))
    if lengths not in ({20}, {25}):
        return None
    width = lengths.pop()
    try:
        raw = "".join(texts).encode("ascii")
    except UnicodeEncodeError:
        return None
    chars = np.frombuffer(raw, dtype=np.uint8).reshape(len(texts), width)
    fixed = {4: "-", 7: "-", 10: "T", 13: ":", 16: ":"} | ({22: ":"} if width == 25 else {19: "Z"})
    digits = chars[:, _DATE_DIGITS + (_OFFSET_DIGITS if width == 25 else ())].astype(np.int64) - _ZERO
    if any((chars[:, i] != ord(c)).any() for i, c in fixed.items()) or ((digits < 0) | (digits > 9)).any():
        return None
    pairs = digits[:, 0::2] * 10 + digits[:, 1::2]  # YY YY MM DD hh mm ss [oh om]
    year = pairs[:, 0] * 100 + pairs[:, 1]
    month, day, hour, minute, second = (pairs[:, i] for i in range(2, 7))
    offset = np.zeros(len(texts), dtype=np.int64)
    bad = np.zeros(len(texts), dtype=np.bool_)
    if width == 25:
        sign = chars[:, 19]
        offset = (pairs[:, 7] * 3600 + pairs[:, 8] * 60) * np.where(sign == ord("+"), 1, -1)
        bad = ((sign != ord("+")) & (sign != ord("-"))) | (pairs[:, 7] > 14) | (pairs[:, 8] > 59)
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    month_ok = (month >= 1) & (month <= 12)
    last_day = _DAYS_IN_MONTH[np.where(month_ok, month - 1, 0)] + ((month == 2) & leap)
    bad |= (year < 1) | ~month_ok | (day < 1) | (day > last_day) | (hour > 23) | (minute > 59) | (second > 59)
    if bad.any():
        return None
    # Days since 1970-01-01 of a proleptic Gregorian date, counted from a year starting in March.
    y = year - (month <= 2)
    era = y // 400
    year_of_era = y - era * 400
    day_of_year = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    days = era * 146_097 + day_of_era - 719_468
    return np.asarray(days * 86_400 + hour * 3600 + minute * 60 + second - offset, dtype=np.int64)


_VALUE_WIDTH = 15  # digits and point: a mantissa below 10**15 stays exact through any scaling used here


def decimal_parts(texts: list[str]) -> tuple[NDArray[np.int64], NDArray[np.int64]] | None:
    """``(mantissa, decimals)`` of plain decimal strings such as ``"1234.56"`` -> ``(123456, 2)``.

    Only digits with at most one point between digits, at most 15 characters; None otherwise (signs,
    exponents, spaces and the like are left to :class:`decimal.Decimal`).
    """
    n = len(texts)
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=n)
    if lengths.min() < 1 or lengths.max() > _VALUE_WIDTH:
        return None
    try:
        chars = np.array(texts, dtype=f"S{_VALUE_WIDTH}").view(np.uint8).reshape(n, _VALUE_WIDTH)
    except UnicodeEncodeError:
        return None
    inside = np.arange(_VALUE_WIDTH) < lengths[:, None]
    point = chars == ord(".")
    digit = (chars >= _ZERO) & (chars <= ord("9"))
    if ((inside & ~(digit | point)) | (~inside & (chars != 0))).any():
        return None
    points = point.sum(axis=1)
    rows = np.arange(n)
    if (points > 1).any() or point[:, 0].any() or point[rows, lengths - 1].any():
        return None
    mantissa = np.zeros(n, dtype=np.int64)
    for column in range(_VALUE_WIDTH):
        take = inside[:, column] & digit[:, column]
        mantissa = np.where(take, mantissa * 10 + (chars[:, column].astype(np.int64) - _ZERO), mantissa)
    decimals = np.where(points == 1, lengths - 1 - point.argmax(axis=1), 0).astype(np.int64)
    return mantissa, decimals


def _decode_item_by_item(payload: bytes) -> Envelope:
    # Slow path, taken only when some reading is malformed: find which ones, keep the rest.
    try:
        env = _loose.decode(payload)
    except _UNREADABLE as exc:
        raise EnvelopeError(f"not a version-{VERSION} envelope: {_why(exc)}") from None
    _check_header(env.v, env.gateway, env.seq, env.sent_at, len(env.readings))
    items: list[MeterReading | FrameItem | ItemError] = []
    for index, raw in enumerate(env.readings):
        try:
            items.append(_to_item(_item.decode(raw)))
        except _UNREADABLE as exc:
            items.append(ItemError(index, bytes(raw), EnvelopeError(f"reading {index}: {_why(exc)}")))
        except EnvelopeError as exc:
            items.append(ItemError(index, bytes(raw), exc))
    return Envelope(env.gateway, env.seq, env.sent_at, tuple(items), env.boot)


def decode_item(raw: bytes) -> MeterReading | FrameItem:
    """One reading or frame item on its own (a quarantined item being replayed)."""
    try:
        return _to_item(_item.decode(raw))
    except _UNREADABLE as exc:
        raise EnvelopeError(f"not a reading or frame item: {_why(exc)}") from None


def _check_header(version: int, gateway: str, seq: int, sent_at: datetime, count: int) -> None:
    if version != VERSION:
        raise EnvelopeError(f"envelope version {version} is not supported; send v={VERSION}")
    if not gateway:
        raise EnvelopeError("the envelope names no gateway")
    if seq < 0:
        raise EnvelopeError(f"seq must be a non-negative integer, got {seq}")
    if sent_at.tzinfo is None:
        raise EnvelopeError("sent_at has no UTC offset; send ISO 8601 with Z or ±hh:mm")
    if count > MAX_READINGS:
        raise EnvelopeError(f"{count} readings in one envelope; at most {MAX_READINGS}")


def _to_item(raw: _Reading) -> MeterReading | FrameItem:
    if raw.frame or raw.protocol:
        return _to_frame(raw)
    return _to_reading(raw)


def _to_frame(raw: _Reading) -> FrameItem:
    if not raw.protocol:
        raise EnvelopeError("a frame item needs its protocol (dlt645, cjt188 or dsmr)")
    if raw.time.tzinfo is None:
        raise EnvelopeError(f"frame item: time {raw.time.isoformat()} has no UTC offset")
    try:
        frame = bytes.fromhex(raw.frame)
    except ValueError:
        raise EnvelopeError(f"frame item: {raw.frame[:40]!r} is not hexadecimal") from None
    if not frame:
        raise EnvelopeError("frame item: the frame is empty")
    return FrameItem(raw.protocol, frame, raw.time, raw.meter or None)


def _to_reading(raw: _Reading) -> MeterReading:
    if not raw.meter:
        raise EnvelopeError("reading names no meter")
    if not (raw.register and raw.value and raw.unit):
        raise EnvelopeError(f"meter {raw.meter}: a reading needs register, value and unit (or a frame)")
    if raw.time.tzinfo is None:
        raise EnvelopeError(f"meter {raw.meter}: time {raw.time.isoformat()} has no UTC offset")
    try:
        value = Decimal(raw.value)
    except InvalidOperation:
        raise EnvelopeError(f"meter {raw.meter}: value {raw.value!r} is not a decimal number") from None
    if not value.is_finite():
        raise EnvelopeError(f"meter {raw.meter}: value {raw.value!r} is not finite")
    return MeterReading(raw.meter, raw.register, value, raw.unit, raw.time)


def encode(
    gateway: str, seq: int, sent_at: datetime, readings: Sequence[MeterReading | FrameItem], *, boot: str = ""
) -> bytes:
    """Encode readings and frames as a version-1 envelope (what a gateway, or the simulator, sends)."""
    body = {
        "v": VERSION,
        "gateway": gateway,
        "seq": seq,
        "sent_at": sent_at.isoformat(),
        "readings": [_reading_dict(r) if isinstance(r, MeterReading) else _frame_dict(r) for r in readings],
    }
    if boot:
        body["boot"] = boot
    return _encoder.encode(body)


def encode_reading(reading: MeterReading | FrameItem) -> bytes:
    """One reading or frame as the JSON object it takes inside an envelope."""
    return _encoder.encode(
        _reading_dict(reading) if isinstance(reading, MeterReading) else _frame_dict(reading)
    )


def _frame_dict(f: FrameItem) -> dict[str, str]:
    body = {"protocol": f.protocol, "frame": f.frame.hex(), "time": f.time.isoformat()}
    if f.meter is not None:
        body["meter"] = f.meter
    return body


def _reading_dict(r: MeterReading) -> dict[str, str]:
    return {
        "meter": r.meter,
        "register": r.register,
        "value": str(r.value),
        "unit": r.unit,
        "time": r.time.isoformat(),
    }


def describe(env: Envelope) -> dict[str, object]:
    """A JSON-ready description of an envelope (``tanhui decode --protocol json``)."""
    return {
        "protocol": "json",
        "version": VERSION,
        "gateway": env.gateway,
        "seq": env.seq,
        "sent_at": env.sent_at.isoformat(),
        "readings": [
            {
                "meter": r.meter,
                "register": r.register,
                "value": format(r.value, "f"),
                "unit": r.unit,
                "meter_time": r.time.isoformat(),
            }
            for r in env.readings
        ],
        "frames": [
            {"protocol": f.protocol, "frame": f.frame.hex(), "time": f.time.isoformat(), "meter": f.meter}
            for f in env.frames
        ],
        "errors": [{"index": e.index, "rule": e.error.code, "message": e.error.message} for e in env.errors],
    }
