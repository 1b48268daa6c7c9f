"""Readings from raw meter frames: what a forwarded DL/T 645, CJ/T 188 or DSMR frame says, in Tanhui's
vocabulary (:class:`~tanhui.domain.reading.MeterReading`).

Only cumulative registers become readings (energy in kWh, volume in m³): they are what consumption is
computed from. Instantaneous values (voltage, current, power), status bits and settlement-day snapshots
stay in the raw frame, which the store keeps in the batch archive, so nothing the meter said is lost.

Times: a DL/T 645 answer carries no time, so the gateway's read time stands for it; a CJ/T 188 answer
carries the meter's local wall time without an offset, placed in the community's zone; DSMR states the
DST flag, so its times are exact, and each M-Bus value has its own capture time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from tanhui.domain.reading import MeterReading
from tanhui.meters import cjt188, dlt645, dsmr
from tanhui.meters.errors import MeterError

# DSMR M-Bus device types (EN 13757-3 medium codes) whose value is a volume.
_VOLUME_DEVICES = {dsmr.DEVICE_GAS, dsmr.DEVICE_WATER}


class FrameError(MeterError):
    """A frame that decodes but carries no reading, or whose protocol Tanhui does not know."""

    code = "frame_error"


def readings_from_frame(protocol: str, data: bytes, *, read_at: datetime, tz: ZoneInfo) -> list[MeterReading]:
    """Decode ``data`` with ``protocol``'s codec and return its cumulative registers as readings.

    Raises the codec's own error for a frame that breaks the protocol (checksum, length, BCD ...), and
    :class:`FrameError` with code ``abnormal_answer`` for a meter's error answer (a valid frame that
    carries no reading) or ``not_a_reading`` for a request or other frame.
    """
    if protocol == "dlt645":
        return _dlt645(dlt645.decode(data), read_at)
    if protocol == "cjt188":
        return _cjt188(cjt188.decode(data), tz)
    if protocol == "dsmr":
        return _dsmr(dsmr.decode(data, tz=tz))
    raise FrameError(
        f"unknown protocol {protocol!r}; Tanhui decodes dlt645, cjt188 and dsmr", code="protocol"
    )


def _dlt645(frame: dlt645.Frame, read_at: datetime) -> list[MeterReading]:
    body = frame.body
    if isinstance(body, dlt645.AbnormalAnswer):
        raise FrameError(
            f"meter {frame.address} answered with an error: {body.serr!r}", code="abnormal_answer"
        )
    if not isinstance(body, dlt645.ReadAnswer):
        raise FrameError(f"a DL/T 645 {frame.kind} frame carries no reading", code="not_a_reading")
    return [
        MeterReading(frame.address, name, value, unit, read_at)
        for name, value, unit in dlt645.registers(frame)
        if unit == "kWh"
    ]


def _cjt188(frame: cjt188.Frame, tz: ZoneInfo) -> list[MeterReading]:
    body = frame.body
    if isinstance(body, cjt188.AbnormalAnswer):
        raise FrameError(
            f"meter {frame.address} answered with an error; status {body.status!r}", code="abnormal_answer"
        )
    if not isinstance(body, cjt188.FlowAnswer):
        raise FrameError(f"a CJ/T 188 {type(body).__name__} carries no volume reading", code="not_a_reading")
    # The unit is kept as the meter stated it; the ingest check refuses one that is not the meter's.
    return [
        MeterReading(
            frame.address,
            "volume",
            body.current.value,
            body.current.unit.symbol,
            _place(body.meter_time, tz),
        )
    ]


def _place(wall: datetime, tz: ZoneInfo) -> datetime:
    """A meter's wall-clock time (no offset) in ``tz``; refused where the zone makes it impossible or
    ambiguous (the skipped and the repeated hour of daylight saving): guessing would misplace a reading.
    China has no daylight saving, so Baoting never meets either (meter-protocols.md §7, DST)."""
    placed = wall.replace(tzinfo=tz)
    if placed.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != wall:
        raise FrameError(
            f"meter time {wall.isoformat()} does not exist in {tz.key}", code="nonexistent_local_time"
        )
    if placed.replace(fold=1).utcoffset() != placed.utcoffset():
        raise FrameError(
            f"meter time {wall.isoformat()} is ambiguous in {tz.key}", code="ambiguous_local_time"
        )
    return placed


def _dsmr(telegram: dsmr.Telegram) -> list[MeterReading]:
    out: list[MeterReading] = []
    if telegram.equipment_id and telegram.timestamp is not None:
        at = telegram.timestamp.at
        out.extend(
            MeterReading(telegram.equipment_id, name, value, unit, at)
            for name, value, unit in dsmr.registers(telegram)
            if name.startswith("energy_") and unit == "kWh"
        )
    for channel in telegram.mbus:
        if (
            channel.device_type in _VOLUME_DEVICES
            and channel.equipment_id
            and channel.value is not None
            and channel.unit is not None
            and channel.captured_at is not None
        ):
            out.append(
                MeterReading(
                    channel.equipment_id, "volume", channel.value, channel.unit, channel.captured_at.at
                )
            )
    if not out:
        raise FrameError("the telegram names no meter with a cumulative register", code="not_a_reading")
    return out
