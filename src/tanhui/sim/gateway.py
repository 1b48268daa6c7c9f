"""What the simulated gateways put on the wire: each meter's own frame for each simulated reading.

A Baoting gateway (a concentrator) polls its meters at every reading time. DL/T 645-2007 electricity
meters answer a read of DI 00010000, forward active energy, total (meter-protocols.md §1.4). CJ/T 188-2004
water and gas meters answer a read of DI 901F: current cumulative flow in m³, the settlement-day flow and
the meter's own clock (§2.6). A DSMR gateway (a P1 reader) keeps the telegram that each household's meter
pushes at the reading time. The telegram carries import and export per tariff, the active tariff, the
actual power, and the gas (device type 3) and water (device type 7) meters on its M-Bus, each with its own
capture time (§3.3).

Frames travel as :class:`~tanhui.meters.envelope.FrameItem` in the Tanhui envelope, with the gateway's
read time; ingest decodes them with :func:`tanhui.meters.frames.readings_from_frame`. A DL/T 645 answer
carries no time, so the read time is the reading's time. CJ/T 188 and DSMR carry the meter's clock.

A read is a value first (:class:`MeterAnswer`, :class:`P1Read`) and bytes second (:func:`frame`), so that
:mod:`tanhui.sim.faults` can change a value, a unit or a clock before encoding, or damage the bytes after.
:func:`frame` writes every frame with the codec in :mod:`tanhui.meters`, so what the simulator sends is
what the codecs accept. :class:`FrameWriter` gives the same bytes about ten times faster for the frames a
county sends by the hundred thousand. The codec writes one template per meter, and the writer patches
only the fields that change between polls (value, SER, clock) and the checksum.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, TypeAlias, TypeVar
from zoneinfo import ZoneInfo

from tanhui.domain.quantity import Quantity
from tanhui.domain.reading import MeterReading
from tanhui.meters import cjt188, dlt645, dsmr
from tanhui.meters.envelope import FrameItem

if TYPE_CHECKING:  # county imports this module; the types are only needed by the type checker
    from tanhui.sim.county import County, MeterSeries, SimMeter

__all__ = [
    "CJT188_VENDORS",
    "ENERGY_IMPORT_TOTAL",
    "GAS_CHANNEL",
    "P1_REGISTERS",
    "WATER_CHANNEL",
    "Cjt188Vendor",
    "FrameWriter",
    "MbusValue",
    "MeterAnswer",
    "P1Read",
    "Read",
    "batches",
    "cjt188_vendor",
    "equipment_id",
    "frame",
    "frame_rounds",
    "item",
    "nl_tariff",
    "poll_rounds",
    "registers_of",
]

ENERGY_IMPORT_TOTAL = 0x00010000
"""DL/T 645-2007 DI 00 01 00 00: forward active energy, total, current period (meter-protocols.md §1.4)."""

# What a P1 telegram's electricity registers decode to, in tanhui.meters.dsmr.registers order: tariff 1,
# tariff 2 and their sum (the meter sends no 1-0:1.8.0 total), for import and then for export.
P1_REGISTERS = (
    "energy_import_t1",
    "energy_import_t2",
    "energy_import",
    "energy_export_t1",
    "energy_export_t2",
    "energy_export",
)

# The identification line and P1 version of the 5.0.2 telegram in meter-protocols.md §6.3.
_P1_HEADER = "XMX5LGF0000000000000"
_P1_VERSION = "50"
# M-Bus channels as in the same telegram: gas on 1, water on 2.
GAS_CHANNEL = 1
WATER_CHANNEL = 2
_DEVICE_TYPES = {GAS_CHANNEL: dsmr.DEVICE_GAS, WATER_CHANNEL: dsmr.DEVICE_WATER}

# NL time of use: tariff 1 (low) from 23:00 to 07:00 on weekdays and all weekend, tariff 2 (normal)
# otherwise (meter-protocols.md §3.3; BE numbers its tariffs the other way round). Some network operators
# also put public holidays on the low tariff; the demo does not.
_LOW_FROM_HOUR = 23
_LOW_UNTIL_HOUR = 7

_CJT188_TYPES = {Quantity.WATER: cjt188.MeterType.COLD_WATER, Quantity.GAS: cjt188.MeterType.GAS}
# What a meter answers when it cannot answer a read: DL/T 645 SERR bit 0 "other error", CJ/T 188 a
# status with the valve in fault (meter-protocols.md §1.6, §2.7).
_DLT645_ERROR = dlt645.Serr.OTHER
_CJT188_ERROR_STATUS = cjt188.Status(valve=cjt188.Valve.FAULT)
_SER_MODULUS = 256  # SER is one byte (CJ/T 188-2004, data field)
_ZERO = timedelta(0)


@dataclass(frozen=True, slots=True)
class Cjt188Vendor:
    """A CJ/T 188 meter vendor as the simulator models it: its manufacturer code and the way its frames
    differ from other vendors' (meter-protocols.md §2.1, §2.5: DI byte order, FEH wake-up bytes).
    """

    code: str
    di_order: cjt188.DiOrder
    wake_up: int


# Two invented manufacturer codes (A5–A6 of the address), one for each DI byte order found in the field,
# so that a Baoting county exercises both.
CJT188_VENDORS = (
    Cjt188Vendor("1001", cjt188.DiOrder.LOW_FIRST, 0),
    Cjt188Vendor("1002", cjt188.DiOrder.HIGH_FIRST, 2),
)
_VENDOR_BY_CODE = {vendor.code: vendor for vendor in CJT188_VENDORS}


def cjt188_vendor(address: str) -> Cjt188Vendor:
    """The vendor profile of a CJ/T 188 address (its first four digits); the first profile if unknown."""
    return _VENDOR_BY_CODE.get(address[:4], CJT188_VENDORS[0])


def equipment_id(text: str) -> str:
    """A DSMR equipment identifier as the telegram carries it: the ASCII text, hex-encoded (§3.3)."""
    return text.encode("ascii").hex().upper()


def nl_tariff(moment: datetime) -> int:
    """The DSMR tariff in force at local time ``moment`` in the Netherlands: 1 (low) or 2 (normal)."""
    low = moment.weekday() >= 5 or moment.hour >= _LOW_FROM_HOUR or moment.hour < _LOW_UNTIL_HOUR
    return 1 if low else 2


# --- reads --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MeterAnswer:
    """One meter's answer to one poll (DL/T 645, CJ/T 188, or a decoded JSON reading), before encoding.

    ``at`` is the reading time and ``counts`` the register there. ``settlement`` is the CJ/T 188
    settlement-day register. The last three fields are how a fault changes the answer: a clock
    ``clock_ahead`` fast (the CJ/T 188 meter's clock, or the gateway's read time for DL/T 645, which has no
    clock in its answer), a unit of litres where the meter counts m³, or an error answer with no reading.
    """

    meter: SimMeter
    index: int
    at: datetime
    counts: int
    settlement: int = 0
    clock_ahead: timedelta = _ZERO
    wrong_unit: bool = False
    abnormal: bool = False


@dataclass(frozen=True, slots=True)
class MbusValue:
    """One M-Bus meter's value in a P1 telegram: its channel, its register and when it was captured."""

    channel: int
    meter: SimMeter
    counts: int
    captured_at: datetime


@dataclass(frozen=True, slots=True)
class P1Read:
    """The P1 telegram of one household at one reading time (DSMR 5.0.2), before encoding.

    ``meter`` is the electricity meter, whose clock stamps the telegram at ``at``. ``import_t1`` and
    ``import_t2`` are its tariff registers in counts (export stays zero), ``tariff`` the tariff in force,
    ``power`` the mean import power over the last interval in W. ``mbus`` holds the gas and water values.
    A telegram without ``electricity`` carries only its M-Bus values, as a faulty re-sent copy may.
    """

    meter: SimMeter
    index: int
    at: datetime
    import_t1: int
    import_t2: int
    tariff: int
    power: int
    mbus: tuple[MbusValue, ...]
    electricity: bool = True


Read: TypeAlias = MeterAnswer | P1Read
"""What a gateway got from its meters for one item of an envelope."""


def poll_rounds(
    county: County, all_series: Sequence[MeterSeries]
) -> Iterator[tuple[datetime, dict[str, list[Read]]]]:
    """Every reading time with what each gateway read then: ``(time, {gateway: [read, ...]})``.

    ``all_series`` is :func:`tanhui.sim.county.series` of ``county``. Reads come in the county's meter
    order: one :class:`MeterAnswer` per meter, or in a ``dsmr`` county one :class:`P1Read` per household.
    """
    names = [gateway.name for gateway in county.gateways]
    times = county.reading_times()
    if county.protocol == "dsmr":
        yield from _p1_rounds(county, names, times, all_series)
        return
    settlement = _settlement_indices(times)
    for k, at in enumerate(times):
        by_gateway: dict[str, list[Read]] = {name: [] for name in names}
        s = settlement[k]
        for one in all_series:
            counts = one.counts
            by_gateway[one.meter.gateway].append(MeterAnswer(one.meter, k, at, counts[k], counts[s]))
        yield at, by_gateway


def _settlement_indices(times: Sequence[datetime]) -> list[int]:
    # CJ/T 188 meters keep the register of their last settlement day (DI 8103; the 1st of the month here,
    # at local midnight). Before the first one inside the period the simulator has no earlier register, so
    # the initial register stands in for the last settlement.
    out: list[int] = []
    last = 0
    for k, moment in enumerate(times):
        if moment.day == 1 and (moment.hour, moment.minute, moment.second) == (0, 0, 0):
            last = k
        out.append(last)
    return out


def _p1_rounds(
    county: County, names: Sequence[str], times: Sequence[datetime], all_series: Sequence[MeterSeries]
) -> Iterator[tuple[datetime, dict[str, list[Read]]]]:
    by_household: dict[str, list[MeterSeries]] = {}
    for one in all_series:
        by_household.setdefault(one.meter.household, []).append(one)
    households = []
    for members in by_household.values():
        kinds = {one.meter.kind: one for one in members}
        electricity = kinds[Quantity.ELECTRICITY]
        if electricity.tariffs is None:
            raise ValueError(f"meter {electricity.meter.serial} is not a DSMR meter with tariff registers")
        channels = ((GAS_CHANNEL, kinds[Quantity.GAS]), (WATER_CHANNEL, kinds[Quantity.WATER]))
        households.append((electricity, electricity.tariffs, channels))
    seconds = int(county.interval.total_seconds())
    for k, at in enumerate(times):
        by_gateway: dict[str, list[Read]] = {name: [] for name in names}
        tariff = nl_tariff(at)
        # Mean power over the interval that ends now (the first reading looks at the one that follows).
        before, after = (k - 1, k) if k else (0, 1)
        for electricity, (t1, t2), channels in households:
            meter = electricity.meter
            counts = electricity.counts
            # Counts of 0.001 kWh are Wh; Wh per interval to W.
            power = round((counts[after] - counts[before]) * 3600 / seconds)
            mbus = tuple(MbusValue(number, one.meter, one.counts[k], at) for number, one in channels)
            read = P1Read(meter, k, at, t1[k], t2[k], tariff, power, mbus)
            by_gateway[meter.gateway].append(read)
        yield at, by_gateway


# --- encoding -----------------------------------------------------------------------------------


def frame(read: Read, tz: ZoneInfo) -> bytes:
    """The bytes the meter sent for ``read``, written by the protocol's codec; ``tz`` is the site's zone.

    DL/T 645-2007 read answer for DI 00010000 (C = 91H) or abnormal answer (D1H); CJ/T 188-2004 answer to
    DI 901F (C = 81H, L = 16H) or abnormal answer (C1H); DSMR P1 5.0.2 telegram with its CRC-16.
    """
    if isinstance(read, P1Read):
        return dsmr.encode(_telegram(read, tz))
    meter = read.meter
    if meter.protocol == "dlt645":
        # Meters answer with 0 to 4 FEH wake-up bytes, varying by vendor (meter-protocols.md §1.2).
        wake_up = int(meter.serial) % (dlt645.MAX_WAKE_UP + 1)
        if read.abnormal:
            return dlt645.encode(dlt645.abnormal_answer(meter.serial, _DLT645_ERROR), wake_up=wake_up)
        energy = dlt645.read_answer(meter.serial, ENERGY_IMPORT_TOTAL, meter.value(read.counts))
        return dlt645.encode(energy, wake_up=wake_up)
    if meter.protocol == "cjt188":
        vendor = cjt188_vendor(meter.serial)
        meter_type = _CJT188_TYPES[meter.kind]
        ser = read.index % _SER_MODULUS
        if read.abnormal:
            error = cjt188.abnormal_answer(meter_type, meter.serial, ser=ser, status=_CJT188_ERROR_STATUS)
            return cjt188.encode(error, wake_up=vendor.wake_up)
        # The meter's clock is local wall time without an offset (CJ/T 188-2004, real time field).
        clock = (read.at + read.clock_ahead).astimezone(tz).replace(tzinfo=None)
        answer = cjt188.read_answer(
            meter_type,
            meter.serial,
            meter.value(read.counts),
            meter.value(read.settlement),
            cjt188.Unit.L if read.wrong_unit else cjt188.Unit.M3,
            clock,
            ser=ser,
            di_order=vendor.di_order,
        )
        return cjt188.encode(answer, wake_up=vendor.wake_up)
    raise ValueError(f"meter {meter.serial} speaks {meter.protocol!r}, which has no frame; use item()")


def _telegram(read: P1Read, tz: ZoneInfo) -> dsmr.Telegram:
    meter = read.meter
    stamp = dsmr.MeterTime.of(read.at, tz)
    channels = tuple(
        dsmr.MbusChannel(
            channel=value.channel,
            device_type=_DEVICE_TYPES[value.channel],
            equipment_id=value.meter.serial,
            value=value.meter.value(value.counts),
            unit="m3",
            captured_at=stamp if value.captured_at == read.at else dsmr.MeterTime.of(value.captured_at, tz),
        )
        for value in read.mbus
    )
    if not read.electricity:
        return dsmr.Telegram(
            header=_P1_HEADER,
            version=_P1_VERSION,
            timestamp=stamp,
            equipment_id=meter.serial,
            mbus=channels,
        )
    zero = meter.value(0)
    return dsmr.Telegram(
        header=_P1_HEADER,
        version=_P1_VERSION,
        timestamp=stamp,
        equipment_id=meter.serial,
        energy_import_t1=meter.value(read.import_t1),
        energy_import_t2=meter.value(read.import_t2),
        energy_export_t1=zero,
        energy_export_t2=zero,
        tariff=read.tariff,
        power_import=Decimal(read.power).scaleb(-3),
        power_export=zero,
        mbus=channels,
    )


def item(read: Read, tz: ZoneInfo) -> MeterReading | FrameItem:
    """``read`` as the gateway puts it in an envelope: a reading (``json`` meters) or a frame item.

    A frame item names the meter it polled (DL/T 645, CJ/T 188); a P1 telegram names none, because it
    carries several meters. The item's time is the gateway's read time.
    """
    if isinstance(read, P1Read):
        return FrameItem("dsmr", frame(read, tz), read.at)
    meter = read.meter
    if meter.protocol == "json":
        unit = "L" if read.wrong_unit else meter.unit
        register = meter.kind.register
        return MeterReading(
            meter.serial, register, meter.value(read.counts), unit, read.at + read.clock_ahead
        )
    # Only a DL/T 645 answer takes its time from the gateway, so only there does a clock fault move it.
    read_at = read.at + read.clock_ahead if meter.protocol == "dlt645" else read.at
    return FrameItem(meter.protocol, frame(read, tz), read_at, meter.serial)


# Packed BCD of 0..99, one byte per two digits (DL/T 645-2007 and CJ/T 188-2004, data format).
_BCD = bytes((n // 10) << 4 | n % 10 for n in range(100))
_BCD_LIMIT = 10**8  # a four-byte XXXXXX.XX register holds 8 digits
# Bytes from the first 68H to the end of a DL/T 645 energy answer (68 A×6 68 C L, DI and value, CS 16)
# and of a CJ/T 188 DI 901F answer (68 T A×7 C L, 22 data bytes, CS 16): meter-protocols.md §1.2, §2.6.
_DLT645_ANSWER = 10 + 8 + 2
_CJT188_ANSWER = 11 + cjt188.FLOW_ANSWER_LENGTH + 2


def _bcd4(counts: int) -> bytes:
    return bytes(
        (
            _BCD[counts % 100],
            _BCD[counts // 100 % 100],
            _BCD[counts // 10_000 % 100],
            _BCD[counts // 1_000_000 % 100],
        )
    )


class FrameWriter:
    """Writes reads as :func:`item` does, byte for byte, but fast: for a county's hundreds of thousands.

    The codec encodes one answer per meter as a template. A DL/T 645 energy answer then differs only in
    its four value bytes (each +33H). A CJ/T 188 DI 901F answer differs in SER, the two registers and
    the meter's clock. Those fields and the sum-mod-256 checksum are written into a copy of the template.
    Error answers, a wrong unit and DSMR telegrams go through the codec as in :func:`item`.
    """

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self._templates: dict[str, bytes] = {}

    def item(self, read: Read) -> MeterReading | FrameItem:
        """``read`` as :func:`item` encodes it."""
        if isinstance(read, MeterAnswer) and read.meter.protocol in ("dlt645", "cjt188"):
            meter = read.meter
            read_at = read.at + read.clock_ahead if meter.protocol == "dlt645" else read.at
            return FrameItem(meter.protocol, self.frame(read), read_at, meter.serial)
        return item(read, self.tz)

    def frame(self, read: Read) -> bytes:
        """``read`` as :func:`frame` encodes it."""
        if isinstance(read, P1Read) or read.abnormal or read.wrong_unit:
            return frame(read, self.tz)
        meter = read.meter
        if not (0 <= read.counts < _BCD_LIMIT and 0 <= read.settlement < _BCD_LIMIT):
            return frame(read, self.tz)  # out of the register's range: let the codec say so
        template = self._templates.get(meter.serial)
        if template is None:
            template = self._templates[meter.serial] = self._template(read)
        data = bytearray(template)
        if meter.protocol == "dlt645":
            data[-6:-2] = bytes((byte + dlt645.DATA_OFFSET) & 0xFF for byte in _bcd4(read.counts))
            data[-2] = sum(data[-_DLT645_ANSWER:-2]) & 0xFF
            return bytes(data)
        clock = (read.at + read.clock_ahead).astimezone(self.tz)
        if clock.microsecond or not 1000 <= clock.year <= 9999:
            return frame(read, self.tz)  # a time the field cannot hold: let the codec say so
        data[-22] = read.index % _SER_MODULUS
        data[-21:-17] = _bcd4(read.counts)
        data[-16:-12] = _bcd4(read.settlement)
        data[-11:-4] = bytes(
            (
                _BCD[clock.second],
                _BCD[clock.minute],
                _BCD[clock.hour],
                _BCD[clock.day],
                _BCD[clock.month],
                _BCD[clock.year % 100],
                _BCD[clock.year // 100],
            )
        )
        data[-2] = sum(data[-_CJT188_ANSWER:-2]) & 0xFF
        return bytes(data)

    def _template(self, read: MeterAnswer) -> bytes:
        # The meter's answer with zero registers, encoded by the codec: address, control code, length,
        # DI (in the vendor's byte order), units and status as the codec lays them out.
        return frame(MeterAnswer(read.meter, 0, read.at, 0, 0), self.tz)


def registers_of(read: Read) -> list[tuple[str, str]]:
    """The (meter, register) pairs ingest decodes from ``read``'s item, in decoding order.

    Mirrors :func:`tanhui.meters.frames.readings_from_frame`: an error answer decodes to none.
    """
    if isinstance(read, MeterAnswer):
        return [] if read.abnormal else [(read.meter.serial, read.meter.kind.register)]
    out = [(read.meter.serial, name) for name in P1_REGISTERS] if read.electricity else []
    out.extend((value.meter.serial, value.meter.kind.register) for value in read.mbus)
    return out


def frame_rounds(
    county: County, all_series: Sequence[MeterSeries]
) -> Iterator[tuple[datetime, dict[str, list[MeterReading | FrameItem]]]]:
    """:func:`poll_rounds` encoded as the gateways send them (see :func:`item`)."""
    write = FrameWriter(county.tz).item
    for at, by_gateway in poll_rounds(county, all_series):
        yield at, {name: [write(read) for read in reads] for name, reads in by_gateway.items()}


# --- batching -----------------------------------------------------------------------------------

T = TypeVar("T")


def batches(
    names: Sequence[str], rounds: Iterable[tuple[datetime, Mapping[str, Sequence[T]]]], max_items: int
) -> Iterator[tuple[str, int, datetime, list[T]]]:
    """Group each gateway's items into envelopes: ``(gateway, seq, sent_at, items)`` in sending order.

    A gateway collects whole rounds and sends before the next round would take it past ``max_items``
    items (a round larger than that is split); ``seq`` counts 1, 2, 3… per gateway and ``sent_at`` is the
    time of the latest round inside. Envelopes sent at the same time come in gateway order; the last
    partial batch of every gateway is sent at the end.
    """
    if max_items < 1:
        raise ValueError(f"max_items must be at least 1, got {max_items}")
    pending: dict[str, list[T]] = {name: [] for name in names}
    latest: dict[str, datetime] = {}
    seq = dict.fromkeys(names, 0)

    def send(name: str, batch: list[T]) -> tuple[str, int, datetime, list[T]]:
        seq[name] += 1
        return name, seq[name], latest[name], batch

    for moment, by_gateway in rounds:
        for name in names:
            batch, this_round = pending[name], by_gateway.get(name, ())
            if batch and len(batch) + len(this_round) > max_items:
                yield send(name, batch)
                batch = pending[name] = []
            if this_round:
                batch.extend(this_round)
                latest[name] = moment
            while len(batch) >= max_items:
                yield send(name, batch[:max_items])
                batch = pending[name] = batch[max_items:]
    for name in names:
        if pending[name]:
            yield send(name, pending[name])
