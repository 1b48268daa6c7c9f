"""DSMR P1 telegrams: decode, encode, and Tanhui's register names for them.

A smart meter with a DSMR P1 port (NL, BE, LU) pushes one ASCII telegram every second (DSMR 5.x) or ten
seconds (4.x). DSMR P1 Companion Standard 5.0.2, telegram representation::

    /XXX5<identification>CR LF        header: '/', manufacturer flag, baud character, free text
    CR LF                             one empty line
    <OBIS>(<value>[*<unit>])...CR LF  one COSEM object per line, some with several groups
    !<CRC>CR LF                       CRC-16/ARC over every byte from '/' up to and including '!'

:func:`decode` reads one telegram in a single pass over its lines; :func:`encode` writes a 5.0.2
telegram with a correct CRC (the simulator's side); :func:`registers` and :func:`describe` give the
values in Tanhui's vocabulary and as JSON-ready data for the CLI.

Rules that are choices, not the standard's words:

- DSMR 2.2 and 3.0 telegrams carry no CRC (``!`` then CR LF). They are accepted when nothing in them
  claims a later version: a telegram with a P1 version object (``1-3:0.2.8``, or Belgian ``0-0:96.1.4``)
  and no CRC is rejected with ``crc_missing``. Accepted CRC-less telegrams list ``no_crc`` in
  :attr:`Telegram.deviations`, so ingest can weigh them.
- The CRC is read as 1 to 4 hex digits in either case and compared as an integer: one real meter sends
  it unpadded. Both deviations are recorded (``crc_unpadded``, ``crc_lowercase``), never silently.
- Lines must end in CR LF; a bare LF or CR anywhere is ``line_ending``.
- Energy in Wh and power in W (Sagemcom T210-D-r in Austria) are scaled exactly to kWh and kW.
- The S/W flag of a time stamp selects the zone's summer or winter UTC offset; a flag the zone
  contradicts at that wall time, and a wall time that does not exist (the skipped spring hour), are
  ``timestamp`` errors. DSMR 2.2/3.0 M-Bus stamps have no flag: the earlier reading of a repeated hour
  is taken (as zoneinfo's ``fold=0``) and ``dst_flag_inferred`` is recorded.
- OBIS lines this module does not interpret are kept verbatim in :attr:`Telegram.other`.

Errors::

    TanhuiError                 (tanhui.domain.errors)
     └── MeterError             (tanhui.meters.errors)
          └── DsmrError         code: one of ERROR_CODES, naming the rule that was broken
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from tanhui.meters.crc16 import crc16_arc
from tanhui.meters.errors import MeterError

__all__ = [
    "AMSTERDAM",
    "DEVICE_GAS",
    "DEVICE_HEAT",
    "DEVICE_WATER",
    "ERROR_CODES",
    "DsmrError",
    "MbusChannel",
    "MeterTime",
    "Telegram",
    "decode",
    "describe",
    "encode",
    "parse_timestamp",
    "registers",
]

AMSTERDAM = ZoneInfo("Europe/Amsterdam")

# M-Bus device types (EN 13757-3 medium codes) as DSMR reports them on 0-n:24.1.0.
DEVICE_GAS = 3
DEVICE_HEAT = 4
DEVICE_WATER = 7

ERROR_CODES = frozenset(
    {
        "header",  # no '/' start, malformed header line, or no empty line after it
        "truncated",  # no '!', nothing after '!', or a 2.2-style gas reading without its value line
        "trailing_data",  # bytes after the final CR LF
        "crc",  # CRC mismatch
        "crc_syntax",  # '!' not followed by 1-4 hex digits
        "crc_missing",  # no CRC although the telegram names a P1 version (4.x and later)
        "line_ending",  # a bare LF or CR, or '!' not at the start of a line
        "encoding",  # a byte outside ASCII
        "obis_syntax",  # a line that is not OBIS(...)
        "value",  # a value group that does not have the expected form
        "unit",  # a unit other than the ones the object allows
        "timestamp",  # not YYMMDDhhmmssX, not a date, or contradicted by the zone
        "duplicate",  # the same object twice
        "no_mandatory_objects",  # no electricity register and no M-Bus reading
    }
)


class DsmrError(MeterError):
    """A DSMR P1 telegram (or a telegram to encode) broke a rule; ``code`` names the rule."""

    code = "dsmr"


# --- time stamps --------------------------------------------------------------------------------

_ZERO = timedelta(0)
_FIXED: dict[timedelta, timezone] = {}


def _fixed(offset: timedelta) -> timezone:
    zone = _FIXED.get(offset)
    if zone is None:
        zone = _FIXED[offset] = timezone(offset)
    return zone


def _utcoffset(moment: datetime) -> timedelta:
    offset = moment.utcoffset()
    return offset if offset is not None else _ZERO


def _hours(offset: timedelta) -> str:
    sign = "-" if offset < _ZERO else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


@lru_cache(maxsize=256)
def _season_offsets(year: int, tz: ZoneInfo) -> tuple[timedelta, timedelta]:
    # Winter is the smaller offset of the year and summer the larger, whatever zoneinfo's dst() says:
    # Europe/Dublin models winter as a negative DST, and the southern hemisphere has summer in January.
    january = _utcoffset(datetime(year, 1, 15, 12, tzinfo=tz))
    july = _utcoffset(datetime(year, 7, 15, 12, tzinfo=tz))
    return min(january, july), max(january, july)


def _wall_time(utc: datetime, tz: ZoneInfo) -> datetime:
    return utc.replace(tzinfo=UTC).astimezone(tz).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class MeterTime:
    """A meter's time stamp ``YYMMDDhhmmssX`` (DSMR P1 Companion Standard 5.0.2, TST format).

    ``at`` is the wall time the meter stated, carrying the UTC offset its S/W flag implies in the site's
    zone: ``at.isoformat()`` prints what the meter said (``2026-11-25T09:30:15+01:00``) and comparisons
    are on the instant. ``dst`` is the flag: True for S (summer time), False for W (winter time).
    """

    at: datetime
    dst: bool

    @property
    def local(self) -> datetime:
        """The meter's wall time, naive, as written in the telegram."""
        return self.at.replace(tzinfo=None)

    @property
    def stamp(self) -> str:
        """The stamp as a telegram writes it, e.g. ``261125093015W``."""
        return self.at.strftime("%y%m%d%H%M%S") + ("S" if self.dst else "W")

    @classmethod
    def of(cls, instant: datetime, tz: ZoneInfo = AMSTERDAM) -> MeterTime:
        """What a meter in ``tz`` would stamp at ``instant`` (whole seconds; stamps have no fraction)."""
        if instant.tzinfo is None:
            raise DsmrError(
                f"{instant.isoformat()} has no UTC offset; pass an aware datetime", code="timestamp"
            )
        local = instant.astimezone(tz).replace(microsecond=0)
        offset = _utcoffset(local)
        winter, _ = _season_offsets(local.year, tz)
        return cls(local.replace(tzinfo=_fixed(offset)), offset != winter)


_STAMP_TEXT = re.compile(r"\d{12}[SW]?", re.ASCII)


def parse_timestamp(text: str, tz: ZoneInfo = AMSTERDAM) -> MeterTime:
    """Read ``YYMMDDhhmmssX`` (X = S summer, W winter; absent in DSMR 2.2/3.0) as a meter in ``tz`` means it.

    DSMR P1 Companion Standard 5.0.2, TST format. The flag decides the repeated hour at the end of DST:
    on 2026-10-25 in Europe/Amsterdam ``261025023000S`` is 00:30Z and ``261025023000W`` is 01:30Z.
    """
    if not _STAMP_TEXT.fullmatch(text):
        raise DsmrError(
            f"{text!r} is not a time stamp; expected YYMMDDhhmmssX with X = S or W", code="timestamp"
        )
    return _meter_time(text, tz)


@lru_cache(maxsize=4096)
def _meter_time(text: str, tz: ZoneInfo) -> MeterTime:
    # Cached: an M-Bus capture stamp repeats in every telegram until the next capture (5 min or 1 h).
    try:
        local = datetime(
            2000 + int(text[0:2]),
            int(text[2:4]),
            int(text[4:6]),
            int(text[6:8]),
            int(text[8:10]),
            int(text[10:12]),
        )
    except ValueError:
        raise DsmrError(
            f"{text!r} is not a calendar date and time (YYMMDDhhmmssX)", code="timestamp"
        ) from None
    winter, summer = _season_offsets(local.year, tz)
    flag = text[12:]
    if flag == "S" and summer == winter:
        raise DsmrError(
            f"{text}: flag S (summer time), but {tz} keeps {_hours(winter)} all year; check the site's zone",
            code="timestamp",
        )
    # Without a flag (DSMR 2.2/3.0) try summer first: the earlier reading of a repeated hour.
    candidates = (summer,) if flag == "S" else (winter,) if flag == "W" else (summer, winter)
    for offset in candidates:
        if _wall_time(local - offset, tz) == local:  # the zone really is at this offset then
            return MeterTime(local.replace(tzinfo=_fixed(offset)), offset != winter)
    if _wall_time(local - winter, tz) != local and _wall_time(local - summer, tz) != local:
        raise DsmrError(
            f"{text}: {local} does not exist in {tz} (the clocks skip that hour)", code="timestamp"
        )
    season = "summer" if flag == "S" else "winter"
    raise DsmrError(
        f"{text}: flag {flag} means {season} time ({_hours(candidates[0])}), but {tz} is not at that "
        f"offset at {local}; check the site's zone",
        code="timestamp",
    )


# --- the decoded telegram -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MbusChannel:
    """One M-Bus device behind the meter (DSMR P1 Companion Standard 5.0.2, M-Bus objects 0-n:...).

    ``device_type`` is the EN 13757-3 medium (3 gas, 4 heat, 7 water); ``value`` is the last reading
    with its ``unit`` and the device's own ``captured_at`` (refreshed every 5 min in 5.x, hourly in
    4.x, so deduplicate on it, not on the telegram time). ``uncorrected`` is True when the value came
    from ``0-n:24.2.3`` (Belgian e-MUCS gas volume without temperature correction).
    """

    channel: int
    device_type: int | None = None
    equipment_id: str | None = None
    value: Decimal | None = None
    unit: str | None = None
    captured_at: MeterTime | None = None
    uncorrected: bool = False


@dataclass(frozen=True, slots=True)
class Telegram:
    """A decoded P1 telegram. Energy is in kWh and power in kW (as exact decimals); ``None`` = not sent.

    ``header`` is the identification after '/'. ``version`` is the P1 version object (``50`` = 5.0,
    ``42`` = 4.2; ``None`` for DSMR 2.2/3.0). Per-phase values are present on 4.x/5.x meters that send
    them. ``other`` keeps every line not interpreted here as (OBIS, value groups) in telegram order;
    ``deviations`` lists tolerated departures from 5.0.2 (``crc_unpadded``, ``crc_lowercase``,
    ``no_crc``, ``dst_flag_inferred``).
    """

    header: str
    version: str | None = None
    timestamp: MeterTime | None = None
    equipment_id: str | None = None
    energy_import_total: Decimal | None = None
    energy_import_t1: Decimal | None = None
    energy_import_t2: Decimal | None = None
    energy_export_total: Decimal | None = None
    energy_export_t1: Decimal | None = None
    energy_export_t2: Decimal | None = None
    tariff: int | None = None
    power_import: Decimal | None = None
    power_export: Decimal | None = None
    voltage_l1: Decimal | None = None
    voltage_l2: Decimal | None = None
    voltage_l3: Decimal | None = None
    current_l1: Decimal | None = None
    current_l2: Decimal | None = None
    current_l3: Decimal | None = None
    power_import_l1: Decimal | None = None
    power_import_l2: Decimal | None = None
    power_import_l3: Decimal | None = None
    power_export_l1: Decimal | None = None
    power_export_l2: Decimal | None = None
    power_export_l3: Decimal | None = None
    mbus: tuple[MbusChannel, ...] = ()
    other: tuple[tuple[str, str], ...] = ()
    deviations: tuple[str, ...] = ()


# --- line grammar -------------------------------------------------------------------------------

# Patterns use re.ASCII so that \d is 0-9 only: encode checks text with them before writing ASCII.
_G = r"[^()\x00-\x1f\x7f]"  # a character inside a value group: printable ASCII but parentheses
_NUMBER = r"\d+(?:\.\d+)?"
_HEADER = re.compile(r"/[A-Za-z]{3}\d[^\x00-\x1f\x7f]*", re.ASCII)  # free text may hold anything printable
_OBIS = re.compile(r"\d{1,3}-\d{1,3}:\d{1,3}\.\d{1,3}\.\d{1,3}", re.ASCII)
_GROUPS = re.compile(rf"(?:\({_G}*\))+", re.ASCII)
_RAW_LINE = re.compile(_OBIS.pattern + _GROUPS.pattern, re.ASCII)  # a line kept verbatim
_TEXT = re.compile(rf"\(({_G}*)\)", re.ASCII)
_INT = re.compile(r"\((\d{1,9})\)", re.ASCII)
_DEVICE = re.compile(r"\((\d{1,3})\)", re.ASCII)
_STAMP = re.compile(r"\((\d{12}[SW])\)", re.ASCII)
_QUANTITY = re.compile(rf"\(({_NUMBER})\*({_G}*)\)", re.ASCII)
_BARE_NUMBER = re.compile(rf"\({_NUMBER}\)", re.ASCII)
_MBUS_READING = re.compile(rf"\((\d{{12}}[SW])\)\(({_NUMBER})\*({_G}*)\)", re.ASCII)
# DSMR 2.2/3.0 gas: 0-n:24.3.0(stamp)(00)(60)(1)(0-n:24.2.1)(unit) CR LF (value), joined here.
_LEGACY_READING = re.compile(rf"\((\d{{12}})\)(?:\({_G}*\)){{4}}\(({_G}*)\)\(({_NUMBER})\)", re.ASCII)
_TAIL = re.compile(rb"([0-9A-Fa-f]{0,4})(\r\n|\n|\r)?")

_ENERGY_UNITS = {"kWh": 0, "Wh": -3}
_POWER_UNITS = {"kW": 0, "W": -3}
_MBUS_UNITS = frozenset({"m3", "GJ", "MJ", "kWh"})
_UNITS_BY_DEVICE = {
    DEVICE_GAS: frozenset({"m3"}),
    DEVICE_WATER: frozenset({"m3"}),
    DEVICE_HEAT: frozenset({"GJ", "MJ", "kWh"}),
}


def _shown(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


_Parse = Callable[[str, str, int, ZoneInfo], Any]


def _text(obis: str, line: str, cut: int, tz: ZoneInfo) -> str | None:
    match = _TEXT.fullmatch(line, cut)
    if match is None:
        raise DsmrError(f"{obis}: {_shown(line[cut:])} is not one (text) group", code="value")
    return match[1] or None


def _int(obis: str, line: str, cut: int, tz: ZoneInfo) -> int:
    match = _INT.fullmatch(line, cut)
    if match is None:
        raise DsmrError(f"{obis}: {_shown(line[cut:])} is not one (digits) group, e.g. (0002)", code="value")
    return int(match[1])


def _stamp(obis: str, line: str, cut: int, tz: ZoneInfo) -> MeterTime:
    match = _STAMP.fullmatch(line, cut)
    if match is None:
        raise DsmrError(
            f"{obis}: {_shown(line[cut:])} is not (YYMMDDhhmmssX) with X = S or W", code="timestamp"
        )
    return _meter_time(match[1], tz)


def _quantity_error(obis: str, group: str, units: dict[str, int] | frozenset[str]) -> DsmrError:
    expected = " or ".join(sorted(units))
    if _BARE_NUMBER.fullmatch(group):
        return DsmrError(f"{obis}: {_shown(group)} has no unit; expected {expected}", code="unit")
    return DsmrError(f"{obis}: {_shown(group)} is not (number*unit) with unit {expected}", code="value")


def _quantity(units: dict[str, int]) -> _Parse:
    def parse(obis: str, line: str, cut: int, tz: ZoneInfo) -> Decimal:
        match = _QUANTITY.fullmatch(line, cut)
        if match is None:
            raise _quantity_error(obis, line[cut:], units)
        shift = units.get(match[2])
        if shift is None:
            expected = " or ".join(units)
            raise DsmrError(f"{obis}: unit {match[2]!r}, expected {expected}", code="unit")
        value = Decimal(match[1])
        return value.scaleb(shift) if shift else value  # Wh -> kWh, W -> kW: exact

    return parse


_energy = _quantity(_ENERGY_UNITS)
_power = _quantity(_POWER_UNITS)
_volts = _quantity({"V": 0})
_amps = _quantity({"A": 0})

# OBIS code -> (Telegram field, parser). DSMR P1 Companion Standard 5.0.2 object table (and 4.x).
_FIELDS: dict[str, tuple[str, _Parse]] = {
    "1-3:0.2.8": ("version", _text),
    "0-0:96.1.4": ("version", _text),  # Belgian e-MUCS sends its version here instead of 1-3:0.2.8
    "0-0:1.0.0": ("timestamp", _stamp),
    "0-0:96.1.1": ("equipment_id", _text),
    "1-0:1.8.0": ("energy_import_total", _energy),
    "1-0:1.8.1": ("energy_import_t1", _energy),
    "1-0:1.8.2": ("energy_import_t2", _energy),
    "1-0:2.8.0": ("energy_export_total", _energy),
    "1-0:2.8.1": ("energy_export_t1", _energy),
    "1-0:2.8.2": ("energy_export_t2", _energy),
    "0-0:96.14.0": ("tariff", _int),
    "1-0:1.7.0": ("power_import", _power),
    "1-0:2.7.0": ("power_export", _power),
    "1-0:32.7.0": ("voltage_l1", _volts),
    "1-0:52.7.0": ("voltage_l2", _volts),
    "1-0:72.7.0": ("voltage_l3", _volts),
    "1-0:31.7.0": ("current_l1", _amps),
    "1-0:51.7.0": ("current_l2", _amps),
    "1-0:71.7.0": ("current_l3", _amps),
    "1-0:21.7.0": ("power_import_l1", _power),
    "1-0:41.7.0": ("power_import_l2", _power),
    "1-0:61.7.0": ("power_import_l3", _power),
    "1-0:22.7.0": ("power_export_l1", _power),
    "1-0:42.7.0": ("power_export_l2", _power),
    "1-0:62.7.0": ("power_export_l3", _power),
}
_ELECTRICITY_REGISTERS = (
    "energy_import_total",
    "energy_import_t1",
    "energy_import_t2",
    "energy_export_total",
    "energy_export_t1",
    "energy_export_t2",
    "power_import",
    "power_export",
)


def _mbus_type(obis: str, line: str, cut: int, tz: ZoneInfo) -> dict[str, Any]:
    match = _DEVICE.fullmatch(line, cut)
    if match is None:
        raise DsmrError(f"{obis}: {_shown(line[cut:])} is not a device type such as (003)", code="value")
    return {"device_type": int(match[1])}


def _mbus_id(obis: str, line: str, cut: int, tz: ZoneInfo) -> dict[str, Any]:
    return {"equipment_id": _text(obis, line, cut, tz)}


def _mbus_unit(obis: str, unit: str) -> str:
    if unit not in _MBUS_UNITS:
        raise DsmrError(
            f"{obis}: unit {unit!r}, expected one of {', '.join(sorted(_MBUS_UNITS))}", code="unit"
        )
    return unit


def _mbus_reading(obis: str, line: str, cut: int, tz: ZoneInfo) -> dict[str, Any]:
    match = _MBUS_READING.fullmatch(line, cut)
    if match is None:
        group = line[cut:]
        if not _STAMP.match(group):
            raise DsmrError(f"{obis}: {_shown(group)} does not start with (YYMMDDhhmmssX)", code="timestamp")
        raise _quantity_error(obis, group[15:], _MBUS_UNITS)
    return {
        "captured_at": _meter_time(match[1], tz),
        "value": Decimal(match[2]),
        "unit": _mbus_unit(obis, match[3]),
        "uncorrected": obis.endswith("24.2.3"),
    }


def _mbus_legacy(obis: str, line: str, cut: int, tz: ZoneInfo) -> dict[str, Any]:
    match = _LEGACY_READING.fullmatch(line, cut)
    if match is None:
        raise DsmrError(
            f"{obis}: {_shown(line[cut:])} is not (YYMMDDhhmmss)(..)(..)(..)(OBIS)(unit) followed by a "
            "(value) line",
            code="value",
        )
    return {
        "captured_at": _meter_time(match[1], tz),
        "value": Decimal(match[3]),
        "unit": _mbus_unit(obis, match[2]),
    }


# M-Bus objects on channel n = 1..4: the part of the OBIS code after "0-n:".
_MBUS_FIELDS: dict[str, Callable[[str, str, int, ZoneInfo], dict[str, Any]]] = {
    "24.1.0": _mbus_type,
    "96.1.0": _mbus_id,
    "96.1.1": _mbus_id,  # Belgian e-MUCS
    "24.2.1": _mbus_reading,
    "24.2.3": _mbus_reading,  # Belgian e-MUCS gas, not temperature-corrected
    "24.3.0": _mbus_legacy,  # DSMR 2.2/3.0
}
_MbusParse = Callable[[str, str, int, ZoneInfo], dict[str, Any]]
# One lookup per line: OBIS code -> M-Bus channel and parser, for channels n = 1..4.
_MBUS_DISPATCH: dict[str, tuple[int, _MbusParse]] = {
    f"0-{n}:{suffix}": (n, parse) for n in range(1, 5) for suffix, parse in _MBUS_FIELDS.items()
}


def _is_interpreted(obis: str) -> bool:
    return obis in _FIELDS or obis in _MBUS_DISPATCH


# --- decode -------------------------------------------------------------------------------------


def decode(data: bytes, *, tz: ZoneInfo = AMSTERDAM) -> Telegram:
    """Decode one P1 telegram, from '/' to the CR LF after the CRC; raise :class:`DsmrError` otherwise.

    DSMR P1 Companion Standard 5.0.2, telegram representation and object table (4.x and 2.2/3.0 as
    described in the module docstring). Times are read in ``tz``, the site's zone.
    """
    if not data.startswith(b"/"):
        if not data:
            raise DsmrError("no bytes; a telegram starts with '/'", code="truncated")
        raise DsmrError(f"telegram starts with {bytes(data[:8])!r}, expected '/'", code="header")
    bang = data.find(b"!")
    if bang < 0:
        raise DsmrError(f"no '!' in {len(data)} bytes: the telegram is incomplete", code="truncated")
    deviations: list[str] = []
    has_crc = _check_crc(data, bang, deviations)
    try:
        text = data[:bang].decode("ascii")
    except UnicodeDecodeError as exc:
        raise DsmrError(
            f"byte 0x{data[exc.start]:02X} at offset {exc.start} is not ASCII", code="encoding"
        ) from None
    lines = _split_lines(text)
    if not has_crc:
        if "\r\n1-3:0.2.8(" in text or "\r\n0-0:96.1.4(" in text:
            raise DsmrError(
                "no CRC after '!', but the telegram names a P1 version: DSMR 4 and later must send one",
                code="crc_missing",
            )
        deviations.append("no_crc")
    fields, channels, other = _parse_lines(lines, tz, deviations)
    mbus = tuple(_channel(number, channels[number]) for number in sorted(channels))
    if not any(name in fields for name in _ELECTRICITY_REGISTERS) and not any(
        channel.value is not None for channel in mbus
    ):
        raise DsmrError(
            "no electricity register (1-0:1.8.x, 2.8.x, 1.7.0, 2.7.0) and no M-Bus reading (0-n:24.2.1)",
            code="no_mandatory_objects",
        )
    return Telegram(lines[0][1:], **fields, mbus=mbus, other=tuple(other), deviations=tuple(deviations))


def _check_crc(data: bytes, bang: int, deviations: list[str]) -> bool:
    """Check what follows '!'; return whether a CRC was there (it matched, or this raised)."""
    match = _TAIL.match(data, bang + 1)
    assert match is not None  # noqa: S101 - every part of the pattern is optional, so it always matches
    digits, end_of_line = match[1], match[2]
    if match.end() != len(data):
        if end_of_line == b"\r\n":
            raise DsmrError(
                f"{len(data) - match.end()} bytes after the end of the telegram", code="trailing_data"
            )
        raise DsmrError(
            f"'!' is followed by {bytes(data[bang + 1 : bang + 9])!r}; expected 1-4 hex digits and CR LF",
            code="crc_syntax",
        )
    if end_of_line is None:
        raise DsmrError(
            f"the telegram ends after '!{digits.decode()}' without CR LF: it is incomplete", code="truncated"
        )
    if end_of_line != b"\r\n":
        raise DsmrError(f"the CRC line ends in {end_of_line!r}, expected CR LF", code="line_ending")
    if not digits:
        return False
    computed = crc16_arc(data[: bang + 1])
    sent = int(digits, 16)
    if sent != computed:
        raise DsmrError(f"telegram says {digits.decode()}, computed {computed:04X}", code="crc")
    if len(digits) < 4:
        deviations.append("crc_unpadded")
    if digits != digits.upper():
        deviations.append("crc_lowercase")
    return True


def _split_lines(text: str) -> list[str]:
    crlf = text.count("\r\n")
    if crlf != text.count("\n") or crlf != text.count("\r"):
        for number, line in enumerate(text.split("\r\n"), start=1):
            if "\n" in line or "\r" in line:
                raise DsmrError(
                    f"line {number} {_shown(line)} contains a bare LF or CR; DSMR P1 lines end in CR LF",
                    code="line_ending",
                )
    if not text.endswith("\r\n"):
        raise DsmrError(
            "'!' does not start its own line; the line before it must end in CR LF", code="line_ending"
        )
    lines = text.split("\r\n")  # the last item is the empty string before '!'
    if not _HEADER.fullmatch(lines[0]):
        raise DsmrError(
            f"header {_shown(lines[0])} is not '/', a 3-letter manufacturer flag, a baud digit and text",
            code="header",
        )
    if len(lines) < 3 or lines[1]:
        raise DsmrError("the header line must be followed by an empty line", code="header")
    return lines


def _parse_lines(
    lines: list[str], tz: ZoneInfo, deviations: list[str]
) -> tuple[dict[str, Any], dict[int, dict[str, Any]], list[tuple[str, str]]]:
    fields: dict[str, Any] = {}
    channels: dict[int, dict[str, Any]] = {}
    other: list[tuple[str, str]] = []
    last = len(lines) - 1
    index = 2
    while index < last:
        line = lines[index]
        index += 1
        cut = line.find("(")
        if cut <= 0:
            raise DsmrError(f"line {index} {_shown(line)} is not OBIS(value)", code="obis_syntax")
        obis = line[:cut]
        spec = _FIELDS.get(obis)
        if spec is not None:
            name, parse = spec
            if name in fields:
                raise DsmrError(f"line {index}: a second {name} object ({obis})", code="duplicate")
            fields[name] = parse(obis, line, cut, tz)
            continue
        mbus = _MBUS_DISPATCH.get(obis)
        if mbus is not None:
            number, parse_mbus = mbus
            if parse_mbus is _mbus_legacy:
                if index >= last:
                    raise DsmrError(f"{obis}: the (value) line after it is missing", code="truncated")
                line += lines[index]  # DSMR 2.2/3.0 put the value on the next line
                index += 1
                if "dst_flag_inferred" not in deviations:
                    deviations.append("dst_flag_inferred")
            values = parse_mbus(obis, line, cut, tz)
            channel = channels.setdefault(number, {})
            if not channel.keys().isdisjoint(values):
                raise DsmrError(f"line {index}: channel {number} has a second {obis} value", code="duplicate")
            channel.update(values)
            continue
        if not _RAW_LINE.fullmatch(line):
            if not _OBIS.fullmatch(obis):
                raise DsmrError(f"line {index}: {obis!r} is not an OBIS code A-B:C.D.E", code="obis_syntax")
            raise DsmrError(f"line {index}: {_shown(line)} is not OBIS followed by (groups)", code="value")
        other.append((obis, line[cut:]))
    return fields, channels, other


def _channel(number: int, values: dict[str, Any]) -> MbusChannel:
    allowed = _UNITS_BY_DEVICE.get(values.get("device_type", -1))
    unit = values.get("unit")
    if allowed is not None and unit is not None and unit not in allowed:
        raise DsmrError(
            f"M-Bus channel {number}: device type {values['device_type']} reads in "
            f"{' or '.join(sorted(allowed))}, not {unit}",
            code="unit",
        )
    return MbusChannel(number, **values)


# --- encode -------------------------------------------------------------------------------------

# (OBIS, field, integer digits, decimals, unit): DSMR P1 Companion Standard 5.0.2 value formats.
_HEAD = (
    ("1-0:1.8.0", "energy_import_total", 6, 3, "kWh"),
    ("1-0:1.8.1", "energy_import_t1", 6, 3, "kWh"),
    ("1-0:1.8.2", "energy_import_t2", 6, 3, "kWh"),
    ("1-0:2.8.0", "energy_export_total", 6, 3, "kWh"),
    ("1-0:2.8.1", "energy_export_t1", 6, 3, "kWh"),
    ("1-0:2.8.2", "energy_export_t2", 6, 3, "kWh"),
)
_POWER = (("1-0:1.7.0", "power_import", 2, 3, "kW"), ("1-0:2.7.0", "power_export", 2, 3, "kW"))
_PHASES = (
    ("1-0:32.7.0", "voltage_l1", 4, 1, "V"),
    ("1-0:52.7.0", "voltage_l2", 4, 1, "V"),
    ("1-0:72.7.0", "voltage_l3", 4, 1, "V"),
    ("1-0:31.7.0", "current_l1", 3, 0, "A"),
    ("1-0:51.7.0", "current_l2", 3, 0, "A"),
    ("1-0:71.7.0", "current_l3", 3, 0, "A"),
    ("1-0:21.7.0", "power_import_l1", 2, 3, "kW"),
    ("1-0:41.7.0", "power_import_l2", 2, 3, "kW"),
    ("1-0:61.7.0", "power_import_l3", 2, 3, "kW"),
    ("1-0:22.7.0", "power_export_l1", 2, 3, "kW"),
    ("1-0:42.7.0", "power_export_l2", 2, 3, "kW"),
    ("1-0:62.7.0", "power_export_l3", 2, 3, "kW"),
)
_SAFE = re.compile(rf"{_G}*")


def encode(telegram: Telegram) -> bytes:
    """Write ``telegram`` as a DSMR 5.0.2 P1 telegram with its CRC-16/ARC (the simulator's side).

    DSMR P1 Companion Standard 5.0.2 value formats (energy 6.3 kWh, power 2.3 kW, voltage 4.1 V,
    current 3 digits A, M-Bus 5.3); a value with more decimals keeps them, a wider one keeps its digits,
    so nothing is rounded. ``other`` lines follow the actual power; raise :class:`DsmrError` for what a
    telegram cannot carry.
    """
    t = telegram
    if not t.header.isascii() or "!" in t.header or not _HEADER.fullmatch("/" + t.header):
        raise DsmrError(
            f"header {t.header!r} is not a manufacturer flag, a baud digit and text", code="header"
        )
    out = ["/" + t.header, ""]
    if t.version is not None:
        out.append(f"1-3:0.2.8({_text_out('version', t.version)})")
    if t.timestamp is not None:
        out.append(f"0-0:1.0.0({_stamp_out('timestamp', t.timestamp)})")
    if t.equipment_id is not None:
        out.append(f"0-0:96.1.1({_text_out('equipment_id', t.equipment_id)})")
    _quantities_out(out, t, _HEAD)
    if t.tariff is not None:
        out.append(f"0-0:96.14.0({_int_out('tariff', t.tariff, 4, 9)})")
    _quantities_out(out, t, _POWER)
    for obis, groups in t.other:
        out.append(_other_out(obis, groups))
    _quantities_out(out, t, _PHASES)
    for channel in t.mbus:
        out.extend(_channel_out(channel))
    body = ("\r\n".join(out) + "\r\n!").encode("ascii")
    return body + b"%04X\r\n" % crc16_arc(body)


def _number_out(what: str, value: Decimal, whole: int, places: int) -> str:
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
        raise DsmrError(f"{what}: {value!r} is not a finite, non-negative Decimal", code="value")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        places = -exponent  # keep every decimal the value has rather than round a register
    head, dot, tail = f"{value.copy_abs():.{places}f}".partition(".")
    return head.zfill(whole) + dot + tail


def _quantities_out(out: list[str], t: Telegram, table: tuple[tuple[str, str, int, int, str], ...]) -> None:
    for obis, name, whole, places, unit in table:
        value = getattr(t, name)
        if value is not None:
            out.append(f"{obis}({_number_out(name, value, whole, places)}*{unit})")


def _text_out(what: str, text: str) -> str:
    if not text or not text.isascii() or "!" in text or not _SAFE.fullmatch(text):
        raise DsmrError(
            f"{what}: {text!r} cannot be sent; use None for absent, else printable ASCII without ( ) !",
            code="value",
        )
    return text


def _int_out(what: str, value: int, width: int, most_digits: int) -> str:
    text = f"{value:0{width}d}" if isinstance(value, int) and value >= 0 else ""
    if not text or len(text) > most_digits:
        raise DsmrError(
            f"{what}: {value!r} is not a non-negative integer of at most {most_digits} digits", code="value"
        )
    return text


def _stamp_out(what: str, moment: MeterTime) -> str:
    at = moment.at
    if at.tzinfo is None or not 2000 <= at.year <= 2099 or at.microsecond:
        raise DsmrError(
            f"{what}: {at.isoformat()} must be aware, in 2000-2099 and in whole seconds", code="timestamp"
        )
    return moment.stamp


def _other_out(obis: str, groups: str) -> str:
    if not _OBIS.fullmatch(obis) or _is_interpreted(obis):
        raise DsmrError(
            f"other: {obis!r} is not an OBIS code left uninterpreted; set the Telegram field instead",
            code="obis_syntax",
        )
    if not groups.isascii() or "!" in groups or not _GROUPS.fullmatch(groups):
        raise DsmrError(f"other: {obis} {groups!r} is not (group)(group)... in printable ASCII", code="value")
    return obis + groups


def _channel_out(channel: MbusChannel) -> list[str]:
    n = channel.channel
    if not isinstance(n, int) or not 1 <= n <= 4:
        raise DsmrError(f"M-Bus channel {n!r}: DSMR has channels 1 to 4", code="value")
    lines = []
    if channel.device_type is not None:
        lines.append(f"0-{n}:24.1.0({_int_out('device_type', channel.device_type, 3, 3)})")
    ident = "" if channel.equipment_id is None else _text_out("equipment_id", channel.equipment_id)
    lines.append(f"0-{n}:96.1.0({ident})")  # always sent, so that a channel without a reading survives
    if channel.value is not None:
        if channel.captured_at is None or channel.unit is None or channel.unit not in _MBUS_UNITS:
            raise DsmrError(
                f"M-Bus channel {n}: a value needs captured_at and a unit among {sorted(_MBUS_UNITS)}",
                code="value",
            )
        obis = "24.2.3" if channel.uncorrected else "24.2.1"
        stamp = _stamp_out("captured_at", channel.captured_at)
        lines.append(f"0-{n}:{obis}({stamp})({_number_out('value', channel.value, 5, 3)}*{channel.unit})")
    return lines


# --- Tanhui's view ------------------------------------------------------------------------------

_MBUS_REGISTERS = {DEVICE_GAS: "gas_volume", DEVICE_WATER: "water_volume", DEVICE_HEAT: "heat_energy"}


def _sum(total: Decimal | None, first: Decimal | None, second: Decimal | None) -> Decimal | None:
    # The meter's own total (1-0:1.8.0) wins: a meter with tariffs 3 and 4 would not add up otherwise.
    if total is not None:
        return total
    if first is None or second is None:
        return None
    return first + second


def _electricity(t: Telegram) -> list[tuple[str, Decimal, str]]:
    candidates = (
        ("energy_import_t1", t.energy_import_t1, "kWh"),
        ("energy_import_t2", t.energy_import_t2, "kWh"),
        ("energy_import", _sum(t.energy_import_total, t.energy_import_t1, t.energy_import_t2), "kWh"),
        ("energy_export_t1", t.energy_export_t1, "kWh"),
        ("energy_export_t2", t.energy_export_t2, "kWh"),
        ("energy_export", _sum(t.energy_export_total, t.energy_export_t1, t.energy_export_t2), "kWh"),
        ("power_import", t.power_import, "kW"),
        ("power_export", t.power_export, "kW"),
    )
    return [(name, value, unit) for name, value, unit in candidates if value is not None]


def registers(telegram: Telegram) -> list[tuple[str, Decimal, str]]:
    """The telegram's registers in Tanhui's names: (name, value, unit), only those the meter sent.

    ``energy_import`` is the meter's total (1-0:1.8.0) when sent, else tariff 1 + tariff 2 (same for
    export). M-Bus readings are named by device type and keyed by channel: ``gas_volume.1``,
    ``water_volume.2``, ``heat_energy.3``; a channel of another or unknown type is left out. Tariff
    numbers mean different things per country (NL: 1 = low; BE: 1 = day), so t1/t2 stay numbered.
    """
    out = _electricity(telegram)
    for channel in telegram.mbus:
        name = _MBUS_REGISTERS.get(channel.device_type) if channel.device_type is not None else None
        if name is not None and channel.value is not None and channel.unit is not None:
            out.append((f"{name}.{channel.channel}", channel.value, channel.unit))
    return out


def describe(telegram: Telegram) -> dict[str, object]:
    """JSON-ready summary for the CLI: decimal strings, times as ISO 8601 with the meter's UTC offset."""
    t = telegram
    return {
        "protocol": "dsmr",
        "version": t.version,
        "header": t.header,
        "equipment_id": t.equipment_id,
        "meter_time": t.timestamp.at.isoformat() if t.timestamp is not None else None,
        "registers": [
            {"name": name, "value": format(value, "f"), "unit": unit} for name, value, unit in _electricity(t)
        ],
        "mbus": [
            {
                "channel": c.channel,
                "device_type": c.device_type,
                "equipment_id": c.equipment_id,
                "value": format(c.value, "f") if c.value is not None else None,
                "unit": c.unit,
                "captured_at": c.captured_at.at.isoformat() if c.captured_at is not None else None,
            }
            for c in t.mbus
        ],
        "deviations": list(t.deviations),
    }
