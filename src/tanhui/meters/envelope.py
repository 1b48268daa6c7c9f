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

import msgspec

from tanhui.domain.reading import MeterReading
from tanhui.meters.errors import MeterError

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


def decode(payload: bytes) -> Envelope:
    """Decode an envelope; raise :class:`EnvelopeError` naming the rule when it is unusable."""
    try:
        env = _strict.decode(payload)
    except msgspec.DecodeError:
        return _decode_item_by_item(payload)
    _check_header(env.v, env.gateway, env.seq, env.sent_at, len(env.readings))
    items: list[MeterReading | FrameItem | ItemError] = []
    for index, raw in enumerate(env.readings):
        try:
            items.append(_to_item(raw))
        except EnvelopeError as exc:
            items.append(ItemError(index, _encoder.encode(raw), exc))
    return Envelope(env.gateway, env.seq, env.sent_at, tuple(items), env.boot)


def _decode_item_by_item(payload: bytes) -> Envelope:
    # Slow path, taken only when some reading is malformed: find which ones, keep the rest.
    try:
        env = _loose.decode(payload)
    except msgspec.DecodeError as exc:
        raise EnvelopeError(f"not a version-{VERSION} envelope: {exc}") from None
    _check_header(env.v, env.gateway, env.seq, env.sent_at, len(env.readings))
    items: list[MeterReading | FrameItem | ItemError] = []
    for index, raw in enumerate(env.readings):
        try:
            items.append(_to_item(_item.decode(raw)))
        except msgspec.DecodeError as exc:
            items.append(ItemError(index, bytes(raw), EnvelopeError(f"reading {index}: {exc}")))
        except EnvelopeError as exc:
            items.append(ItemError(index, bytes(raw), exc))
    return Envelope(env.gateway, env.seq, env.sent_at, tuple(items), env.boot)


def decode_item(raw: bytes) -> MeterReading | FrameItem:
    """One reading or frame item on its own (a quarantined item being replayed)."""
    try:
        return _to_item(_item.decode(raw))
    except msgspec.DecodeError as exc:
        raise EnvelopeError(f"not a reading or frame item: {exc}") from None


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
