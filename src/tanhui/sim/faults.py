"""Faults of real meters and gateways, injected into a simulated county's envelopes and labelled.

shared/reference/meter-protocols.md §7 lists how faults show in frames and how ingest must react. This
module produces them on purpose, each at its own rate (:class:`FaultRates`, all 0 by default),
deterministically from a seed. Next to the envelopes it returns what it did: one
:class:`InjectedFault` for every reading or frame that ingest should quarantine (with the reason it should
give), and one for every fault that should cause no quarantine (a gap, a redelivered or reordered
envelope). A test can then compare ingest's quarantine with the labels, reason by reason.

Kinds, what each does to the envelopes, and the reason ingest should give:

- ``bad_checksum``: one bit flipped in a frame's data (DSMR: one digit changed) → ``bad_checksum``
- ``malformed_frame``: a frame cut short, as a serial read that ended early → ``malformed_frame``
- ``duplicate_envelope``: a whole envelope delivered twice (MQTT QoS 1, an HTTP retry) → none; its
  readings are stored once and counted as duplicates
- ``conflicting_duplicate``: a second frame for the same meter and time with another value →
  ``conflicting_duplicate``
- ``out_of_order``: two consecutive envelopes of a gateway delivered swapped → none
- ``unknown_meter``: an extra frame from a meter nobody registered → ``unknown_meter``
- ``meter_clock_ahead``: the meter's clock far ahead (CJ/T 188 real time, a DSMR M-Bus capture time; for
  DL/T 645, whose answer carries no time, the gateway's read time) → ``meter_clock_ahead``
- ``unit_mismatch``: CJ/T 188 unit code L instead of m³ (JSON: unit ``L``) → ``unit_mismatch``
- ``abnormal_answer``: a DL/T 645 D1H or CJ/T 188 C1H error answer instead of a reading → ``abnormal_answer``
- ``gap``: a meter's readings missing for 2 to 6 reading times → none
- ``decreasing_register``: a register lower than the one delivered before it → ``decreasing_register``
- ``meter_replaced``: from some reading time on, a new meter (new identity, register near 0) →
  ``meter_replaced``

Ingest does not handle the last one yet (its reason does not exist in ``tanhui.ingest.reasons``: a
replacement meter's readings are quarantined as ``unknown_meter`` until an operator records the
replacement): it comes only behind its own rate. Reason codes are plain strings here, mirrored from
ingest, because the simulator must not import an edge package.

A label names the gateway, the envelope's ``seq``, the meter, and the reading time of the fault (the
simulated time, not the skewed clock). It also names the register when the fault concerns one decoded
reading rather than a whole frame. A DSMR telegram carries several readings, so a fault is applied where
it yields exactly one quarantine per label. A bad checksum, a cut or an error answer concerns the whole
frame. A conflict, a clock or a decreasing register concerns one M-Bus channel. An unknown telegram gets
one label per reading it carries.

Faults remove or damage only the readings they hit. Every reading delivered intact is the simulator's
reading, so :func:`tanhui.sim.county.truth` stays exact for meters no fault touched. A damaged or missing
reading makes the truth inexact for that meter, as in the field. Each delivered reading carries at most
one fault. A conflicting copy always follows its original in the same envelope, so the original is the
one stored. A redelivered envelope carries no item faults: whether ingest should quarantine a frame a
second time when its envelope comes again is a property of ingest (§8.3), not of the fault.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol

from tanhui.domain.quantity import Quantity
from tanhui.domain.reading import MeterReading
from tanhui.meters.envelope import FrameItem, encode
from tanhui.sim import gateway as wire
from tanhui.sim.county import County, MeterSeries, SimMeter, series
from tanhui.sim.gateway import MbusValue, MeterAnswer, P1Read, Read

__all__ = [
    "EXPECTED_REASONS",
    "FaultKind",
    "FaultRates",
    "InjectedFault",
    "envelopes_with_faults",
]


class FaultKind(StrEnum):
    """The kinds of fault the simulator injects (meter-protocols.md §7)."""

    BAD_CHECKSUM = "bad_checksum"
    MALFORMED_FRAME = "malformed_frame"
    DUPLICATE_ENVELOPE = "duplicate_envelope"
    CONFLICTING_DUPLICATE = "conflicting_duplicate"
    OUT_OF_ORDER = "out_of_order"
    UNKNOWN_METER = "unknown_meter"
    METER_CLOCK_AHEAD = "meter_clock_ahead"
    UNIT_MISMATCH = "unit_mismatch"
    ABNORMAL_ANSWER = "abnormal_answer"
    GAP = "gap"
    DECREASING_REGISTER = "decreasing_register"
    METER_REPLACED = "meter_replaced"


EXPECTED_REASONS: Mapping[FaultKind, str | None] = MappingProxyType(
    {
        FaultKind.BAD_CHECKSUM: "bad_checksum",
        FaultKind.MALFORMED_FRAME: "malformed_frame",
        FaultKind.DUPLICATE_ENVELOPE: None,
        FaultKind.CONFLICTING_DUPLICATE: "conflicting_duplicate",
        FaultKind.OUT_OF_ORDER: None,
        FaultKind.UNKNOWN_METER: "unknown_meter",
        FaultKind.METER_CLOCK_AHEAD: "meter_clock_ahead",
        FaultKind.UNIT_MISMATCH: "unit_mismatch",
        FaultKind.ABNORMAL_ANSWER: "abnormal_answer",
        FaultKind.GAP: None,
        FaultKind.DECREASING_REGISTER: "decreasing_register",
        FaultKind.METER_REPLACED: "meter_replaced",
    }
)
"""The quarantine reason ingest should give each kind (None: stored, or absent, without quarantine)."""

# Faults that hit one read (a frame or decoded reading), in the order their rates are stacked.
_ITEM_KINDS = (
    FaultKind.BAD_CHECKSUM,
    FaultKind.MALFORMED_FRAME,
    FaultKind.CONFLICTING_DUPLICATE,
    FaultKind.UNKNOWN_METER,
    FaultKind.METER_CLOCK_AHEAD,
    FaultKind.UNIT_MISMATCH,
    FaultKind.ABNORMAL_ANSWER,
    FaultKind.DECREASING_REGISTER,
)
_FRAME_KINDS = (FaultKind.BAD_CHECKSUM, FaultKind.MALFORMED_FRAME)
# What each way of sending can show. A DSMR telegram has no error answer and no unit code to get wrong
# (a wrong M-Bus unit fails the codec, a malformed frame); a DL/T 645 energy DI fixes its unit to kWh.
_APPLICABLE: Mapping[str, frozenset[FaultKind]] = {
    "dlt645": frozenset(_ITEM_KINDS) - {FaultKind.UNIT_MISMATCH},
    "cjt188": frozenset(_ITEM_KINDS),
    "dsmr": frozenset(_ITEM_KINDS) - {FaultKind.UNIT_MISMATCH, FaultKind.ABNORMAL_ANSWER},
    "json": frozenset(_ITEM_KINDS) - {*_FRAME_KINDS, FaultKind.ABNORMAL_ANSWER},
}
_PENDING = frozenset({FaultKind.METER_REPLACED})

# A gap lasts this many reading times (assumption: a concentrator or P1 reader offline for a few hours,
# meter-protocols.md §7 "Gaps").
_GAP_LENGTH = (2, 6)
# A replacement meter starts with at most 10 units on its register, from its factory test (assumption).
_NEW_METER_UNITS = 10
# New identities put a digit registered meters never have in the second character of the meter's
# identity (its first stays, so a JSON serial keeps its kind prefix): 8 for a replacement meter, 9 for a
# stranger.
_REPLACEMENT_DIGIT = "8"
_STRANGER_DIGIT = "9"


@dataclass(frozen=True, slots=True)
class FaultRates:
    """How often each kind of fault happens; every rate is a probability in [0, 1], 0 by default.

    Per delivered item (a frame or decoded reading): ``bad_checksum``, ``malformed_frame``,
    ``conflicting_duplicate``, ``unknown_meter``, ``meter_clock_ahead``, ``unit_mismatch``,
    ``abnormal_answer``, ``decreasing_register``; an item takes at most one of them, so they may sum to 1
    at most, and a kind that cannot happen to an item (see the module docstring) is skipped for it. Per item,
    the chance that a gap starts there: ``gap``. Per envelope: ``duplicate_envelope`` and ``out_of_order``
    (swapped with the gateway's next envelope). Per meter over the whole period: ``meter_replaced``.
    """

    bad_checksum: float = 0.0
    malformed_frame: float = 0.0
    duplicate_envelope: float = 0.0
    conflicting_duplicate: float = 0.0
    out_of_order: float = 0.0
    unknown_meter: float = 0.0
    meter_clock_ahead: float = 0.0
    unit_mismatch: float = 0.0
    abnormal_answer: float = 0.0
    gap: float = 0.0
    decreasing_register: float = 0.0
    meter_replaced: float = 0.0

    def __post_init__(self) -> None:
        for spec in fields(self):
            rate = getattr(self, spec.name)
            if not (isinstance(rate, int | float) and math.isfinite(rate) and 0.0 <= rate <= 1.0):
                raise ValueError(f"fault rate {spec.name} must be a number in [0, 1], got {rate!r}")
        per_item = sum(self.rate(kind) for kind in _ITEM_KINDS)
        if per_item > 1.0:
            raise ValueError(
                f"the per-item rates ({', '.join(_ITEM_KINDS)}) sum to {per_item}; an item takes at most "
                "one fault, so they must sum to 1 at most"
            )

    def rate(self, kind: FaultKind) -> float:
        """The rate of ``kind``."""
        value: float = getattr(self, kind.value)
        return value

    @classmethod
    def every(cls, rate: float, *, pending: bool = False) -> FaultRates:
        """Every kind at ``rate``. The kind ingest does not handle yet (``meter_replaced``) stays at 0
        unless ``pending``.
        """
        return cls(**{kind.value: rate for kind in FaultKind if pending or kind not in _PENDING})


@dataclass(frozen=True, slots=True)
class InjectedFault:
    """One fault as injected: where it went, and the quarantine reason ingest should give (None: none).

    ``seq`` is the envelope's sequence number at ``gateway``. ``meter`` and ``meter_time`` name the
    reading (the simulated reading time, however the fault skewed a clock); ``register`` is set when the
    fault concerns one decoded reading rather than a whole frame. Envelope-level faults name no meter.
    """

    kind: FaultKind
    gateway: str
    seq: int
    meter: str | None
    meter_time: datetime | None
    expected_reason: str | None
    register: str | None = None


@dataclass(frozen=True, slots=True)
class _Label:
    kind: FaultKind
    meter: str | None
    meter_time: datetime | None
    register: str | None = None


@dataclass(slots=True)
class _Slot:
    """One place in an envelope: the read sent there (None: missing), or the damaged item sent instead."""

    read: Read | None
    damaged: FrameItem | None = None
    labels: list[_Label] = field(default_factory=list)


@dataclass(slots=True)
class _Envelope:
    gateway: str
    seq: int
    sent_at: datetime
    slots: list[_Slot]
    duplicated: bool = False
    late: bool = False  # delivered after the gateway's next envelope


@dataclass(frozen=True, slots=True)
class _Replacement:
    """A meter replaced at reading ``index``: the new meter and how its register relates to the old."""

    index: int
    meter: SimMeter
    start: int
    old: MeterSeries

    def counts(self, old_counts: int, old_series: Sequence[int], start: int | None = None) -> int:
        """The new meter's register when the old one would show ``old_counts``."""
        capacity = self.meter.capacity
        since = (old_counts - old_series[self.index]) % capacity
        return ((self.start if start is None else start) + since) % capacity


def envelopes_with_faults(
    county: County, rates: FaultRates, *, seed: int | None = None, max_readings: int = 5000
) -> tuple[list[tuple[str, bytes]], list[InjectedFault]]:
    """The county's envelopes in delivery order, with faults injected at ``rates``, and their labels.

    With every rate 0 the envelopes are exactly :func:`tanhui.sim.county.envelopes`. ``seed`` defaults
    to the county's seed; the same county, rates and seed give the same bytes and labels. Conflicting
    copies and unknown meters' frames are added to the envelope they belong to, so such an envelope can
    hold a few more than ``max_readings`` items.
    """
    base = county.seed if seed is None else seed

    def stream(stage: str) -> random.Random:
        # One stream per stage, so that one kind's rate does not move another kind's faults. Simulation
        # noise, not cryptography.
        return random.Random(f"tanhui.sim/{base}/faults/{stage}")  # noqa: S311

    if rates.meter_replaced > 0 or rates.unknown_meter > 0:
        _check_identities(county)
    all_series = series(county)
    plan = _replacements(county, all_series, rates.meter_replaced, stream("replaced"))
    names = [gateway.name for gateway in county.gateways]
    slot_rounds = _slot_rounds(county, all_series, plan, rates.gap, stream("gaps"))
    envelopes = [
        _Envelope(name, seq, sent_at, slots)
        for name, seq, sent_at, slots in wire.batches(names, slot_rounds, max_readings)
    ]
    duplicates = stream("duplicates")
    for envelope in envelopes:
        envelope.duplicated = rates.duplicate_envelope > 0 and duplicates.random() < rates.duplicate_envelope
    _fault_items(county, envelopes, rates, stream("items"))
    delivery = _delivery_order(envelopes, names, rates.out_of_order, stream("order"))
    return _encode(county, envelopes, delivery)


def _replacements(
    county: County, all_series: Sequence[MeterSeries], rate: float, rng: random.Random
) -> dict[str, _Replacement]:
    plan: dict[str, _Replacement] = {}
    if rate <= 0:
        return plan
    for one in all_series:
        if rng.random() < rate:
            index = rng.randint(1, county.reading_count - 1)
            start = rng.randint(0, _NEW_METER_UNITS * one.meter.counts_per_unit)
            serial = _variant(one.meter, _REPLACEMENT_DIGIT)
            plan[one.meter.serial] = _Replacement(
                index, replace(one.meter, serial=serial, initial=start), start, one
            )
    return plan


def _identity_text(meter: SimMeter) -> str:
    return bytes.fromhex(meter.serial).decode("ascii") if meter.protocol == "dsmr" else meter.serial


def _check_identities(county: County) -> None:
    # New meters are told from registered ones by the second character of their identity; a registered
    # meter with that character would make a stranger or a replacement look registered. Registered
    # identities differ in some character, and a replacement keeps all but the second, so replacements
    # differ from each other too.
    marked = (_REPLACEMENT_DIGIT, _STRANGER_DIGIT)
    for meter in county.meters:
        text = _identity_text(meter)
        if len(text) < 2 or text[1] in marked:
            raise ValueError(
                f"meter {meter.serial}: the fault injector names new meters with {' or '.join(marked)} as "
                "the second character of their identity; give registered meters other identities"
            )


def _variant(meter: SimMeter, digit: str, rng: random.Random | None = None) -> str:
    """Another identity in the meter's protocol: its first character, ``digit``, then its own remaining
    characters (a replacement) or random digits (``rng``: a stranger)."""
    text = _identity_text(meter)
    rest = text[2:] if rng is None else "".join(rng.choices("0123456789", k=len(text) - 2))
    new = text[0] + digit + rest
    return wire.equipment_id(new) if meter.protocol == "dsmr" else new


def _replaced(read: Read, plan: Mapping[str, _Replacement]) -> tuple[Read, list[_Label]]:
    """``read`` as the meters in place at its time give it, with a label where a new meter starts."""
    labels: list[_Label] = []

    def swap(meter: SimMeter) -> _Replacement | None:
        change = plan.get(meter.serial)
        if change is None or read.index < change.index:
            return None
        if read.index == change.index:
            labels.append(_Label(FaultKind.METER_REPLACED, change.meter.serial, read.at))
        return change

    if isinstance(read, MeterAnswer):
        change = swap(read.meter)
        if change is None:
            return read, labels
        old = change.old.counts
        counts = change.counts(read.counts, old)
        # The settlement snapshot belongs to the new meter only if it was taken after the change.
        settled = (read.settlement - old[change.index]) % read.meter.capacity
        consumed = (read.counts - old[change.index]) % read.meter.capacity
        settlement = change.counts(read.settlement, old) if settled <= consumed else change.start
        return replace(read, meter=change.meter, counts=counts, settlement=settlement), labels
    mbus = []
    for value in read.mbus:
        channel_change = swap(value.meter)
        if channel_change is None:
            mbus.append(value)
            continue
        counts = channel_change.counts(value.counts, channel_change.old.counts)
        mbus.append(replace(value, meter=channel_change.meter, counts=counts))
    read = replace(read, mbus=tuple(mbus))
    change = swap(read.meter)
    if change is not None and change.old.tariffs is not None:
        t1, t2 = change.old.tariffs
        first, second = change.meter.tariff_split(change.start)
        read = replace(
            read,
            meter=change.meter,
            import_t1=change.counts(read.import_t1, t1, first),
            import_t2=change.counts(read.import_t2, t2, second),
        )
    return read, labels


def _meters_of(read: Read) -> list[SimMeter]:
    if isinstance(read, MeterAnswer):
        return [read.meter]
    return [read.meter, *(value.meter for value in read.mbus)]


def _slot_rounds(
    county: County,
    all_series: Sequence[MeterSeries],
    plan: Mapping[str, _Replacement],
    rate: float,
    rng: random.Random,
) -> list[tuple[datetime, dict[str, list[_Slot]]]]:
    """Every round of reads as slots, the meters replaced as planned and gaps left empty."""
    remaining: dict[tuple[str, int], int] = {}  # gap reading times still to miss, per gateway position
    rounds: list[tuple[datetime, dict[str, list[_Slot]]]] = []
    for at, by_gateway in wire.poll_rounds(county, all_series):
        slots: dict[str, list[_Slot]] = {}
        for name, reads in by_gateway.items():
            out = slots[name] = []
            for position, polled in enumerate(reads):
                read, labels = _replaced(polled, plan)
                key = (name, position)  # the same meter (or household) every round
                missing = remaining.get(key, 0) > 0
                if missing:
                    remaining[key] -= 1
                elif rate > 0 and rng.random() < rate:
                    missing = True
                    remaining[key] = rng.randint(*_GAP_LENGTH) - 1
                if missing:
                    labels.extend(_Label(FaultKind.GAP, meter.serial, at) for meter in _meters_of(read))
                    out.append(_Slot(None, labels=labels))
                else:
                    out.append(_Slot(read, labels=labels))
        rounds.append((at, slots))
    return rounds


def _fault_items(
    county: County, envelopes: Sequence[_Envelope], rates: FaultRates, rng: random.Random
) -> None:
    """Apply the per-item faults, envelope by envelope (a gateway's envelopes are in time order)."""
    last_good: dict[str, int] = {}  # each meter's last register delivered (and so stored), in counts
    active = [kind for kind in _ITEM_KINDS if rates.rate(kind) > 0]
    for envelope in envelopes:
        result: list[_Slot] = []
        for slot in envelope.slots:
            read = slot.read
            kind = None
            if read is not None and active and not envelope.duplicated:
                kind = _draw(read, active, rates, last_good, rng)
            if read is None or kind is None:
                if read is not None:
                    _remember(read, last_good)
                result.append(slot)
                continue
            result.extend(_FAULTS[kind](county, slot, read, last_good, rng))
        envelope.slots = result


def _protocol(read: Read) -> str:
    return "dsmr" if isinstance(read, P1Read) else read.meter.protocol


def _draw(
    read: Read,
    active: Sequence[FaultKind],
    rates: FaultRates,
    last_good: Mapping[str, int],
    rng: random.Random,
) -> FaultKind | None:
    allowed = _APPLICABLE[_protocol(read)]
    u = rng.random()
    total = 0.0
    for kind in active:
        if kind not in allowed or not _possible(kind, read, last_good):
            continue
        total += rates.rate(kind)
        if u < total:
            return kind
    return None


def _possible(kind: FaultKind, read: Read, last_good: Mapping[str, int]) -> bool:
    if kind is FaultKind.UNIT_MISMATCH:
        # Litres instead of m³: only a volume meter can state it.
        return isinstance(read, MeterAnswer) and read.meter.kind is not Quantity.ELECTRICITY
    if kind is FaultKind.DECREASING_REGISTER:
        return bool(_decreasable(read, last_good))
    return True


def _decreasable(read: Read, last_good: Mapping[str, int]) -> list[SimMeter]:
    # A register can be shown lower than the last one delivered only if that one is above zero.
    if isinstance(read, MeterAnswer):
        return [read.meter] if last_good.get(read.meter.serial, 0) > 0 else []
    return [value.meter for value in read.mbus if last_good.get(value.meter.serial, 0) > 0]


def _remember(read: Read, last_good: dict[str, int]) -> None:
    if isinstance(read, MeterAnswer):
        last_good[read.meter.serial] = read.counts
    else:
        for value in read.mbus:
            last_good[value.meter.serial] = value.counts


def _label(kind: FaultKind, meter: SimMeter, at: datetime, *, whole_frame: bool = False) -> _Label:
    return _Label(kind, meter.serial, at, None if whole_frame else meter.kind.register)


class _Fault(Protocol):
    def __call__(
        self, county: County, slot: _Slot, read: Read, last_good: dict[str, int], rng: random.Random
    ) -> list[_Slot]: ...


def _damaged_frame(
    kind: FaultKind,
) -> _Fault:
    def apply(
        county: County, slot: _Slot, read: Read, last_good: dict[str, int], rng: random.Random
    ) -> list[_Slot]:
        sent = wire.item(read, county.tz)
        assert isinstance(sent, FrameItem)  # noqa: S101 - _APPLICABLE keeps frame faults to frames
        damage = _flip if kind is FaultKind.BAD_CHECKSUM else _truncate
        slot.labels.append(_label(kind, read.meter, read.at, whole_frame=True))
        return [_Slot(read, replace(sent, frame=damage(sent.frame, _protocol(read), rng)), slot.labels)]

    return apply


def _add_conflict(
    county: County, slot: _Slot, read: Read, last_good: dict[str, int], rng: random.Random
) -> list[_Slot]:
    _remember(read, last_good)  # the original goes first and is the one stored
    copy, meter = _conflicting(read, rng)
    return [slot, _Slot(copy, labels=[_label(FaultKind.CONFLICTING_DUPLICATE, meter, read.at)])]


def _add_stranger(
    county: County, slot: _Slot, read: Read, last_good: dict[str, int], rng: random.Random
) -> list[_Slot]:
    _remember(read, last_good)
    stranger = _stranger(read, rng)
    found = [
        _Label(FaultKind.UNKNOWN_METER, serial, read.at, register)
        for serial, register in wire.registers_of(stranger)
    ]
    return [slot, _Slot(stranger, labels=found)]


def _clock_ahead(
    county: County, slot: _Slot, read: Read, last_good: dict[str, int], rng: random.Random
) -> list[_Slot]:
    # Ahead by the whole period plus at least two days, so the reading is more than a day later than any
    # arrival inside the period or on the day after it (a live gateway, or a replay right after the period),
    # far beyond ingest's tolerance of minutes.
    ahead = timedelta(days=rng.randint(county.days + 2, county.days + 366))
    if isinstance(read, MeterAnswer):
        slot.labels.append(_label(FaultKind.METER_CLOCK_AHEAD, read.meter, read.at))
        return [_Slot(replace(read, clock_ahead=ahead), labels=slot.labels)]
    # A DSMR telegram: one M-Bus meter's clock, so that one reading is affected.
    index = rng.randrange(len(read.mbus))
    channel = read.mbus[index]
    slot.labels.append(_label(FaultKind.METER_CLOCK_AHEAD, channel.meter, read.at))
    skewed = _with_channel(read, index, replace(channel, captured_at=channel.captured_at + ahead))
    return [_Slot(skewed, labels=slot.labels)]


def _litres(
    county: County, slot: _Slot, read: Read, last_good: dict[str, int], rng: random.Random
) -> list[_Slot]:
    assert isinstance(read, MeterAnswer)  # noqa: S101 - _possible allows it for answers only
    slot.labels.append(_label(FaultKind.UNIT_MISMATCH, read.meter, read.at))
    return [_Slot(replace(read, wrong_unit=True), labels=slot.labels)]


def _error_answer(
    county: County, slot: _Slot, read: Read, last_good: dict[str, int], rng: random.Random
) -> list[_Slot]:
    assert isinstance(read, MeterAnswer)  # noqa: S101 - _APPLICABLE allows it for answers only
    slot.labels.append(_label(FaultKind.ABNORMAL_ANSWER, read.meter, read.at, whole_frame=True))
    return [_Slot(replace(read, abnormal=True), labels=slot.labels)]


def _decrease(
    county: County, slot: _Slot, read: Read, last_good: dict[str, int], rng: random.Random
) -> list[_Slot]:
    # Below the last register delivered by at most one unit: far more than a rollover could explain. It is
    # delivered and stored, so it is the register the next decrease must go below.
    meter = rng.choice(_decreasable(read, last_good))
    lower = max(0, last_good[meter.serial] - rng.randint(1, meter.counts_per_unit))
    last_good[meter.serial] = lower
    slot.labels.append(_label(FaultKind.DECREASING_REGISTER, meter, read.at))
    if isinstance(read, MeterAnswer):
        return [_Slot(replace(read, counts=lower), labels=slot.labels)]
    index = next(i for i, value in enumerate(read.mbus) if value.meter == meter)
    return [_Slot(_with_channel(read, index, replace(read.mbus[index], counts=lower)), labels=slot.labels)]


_FAULTS: Mapping[FaultKind, _Fault] = {
    FaultKind.BAD_CHECKSUM: _damaged_frame(FaultKind.BAD_CHECKSUM),
    FaultKind.MALFORMED_FRAME: _damaged_frame(FaultKind.MALFORMED_FRAME),
    FaultKind.CONFLICTING_DUPLICATE: _add_conflict,
    FaultKind.UNKNOWN_METER: _add_stranger,
    FaultKind.METER_CLOCK_AHEAD: _clock_ahead,
    FaultKind.UNIT_MISMATCH: _litres,
    FaultKind.ABNORMAL_ANSWER: _error_answer,
    FaultKind.DECREASING_REGISTER: _decrease,
}
"""What each per-item fault does: the slots that replace a slot once the fault has happened to it."""


def _with_channel(read: P1Read, index: int, value: MbusValue) -> P1Read:
    mbus = list(read.mbus)
    mbus[index] = value
    return replace(read, mbus=tuple(mbus))


def _conflicting(read: Read, rng: random.Random) -> tuple[Read, SimMeter]:
    """A second read of the same meter and time with another value, and the meter it concerns."""
    if isinstance(read, MeterAnswer):
        meter = read.meter
        counts = (read.counts + rng.randint(1, meter.counts_per_unit)) % meter.capacity
        return replace(read, counts=counts), meter
    # A telegram sent again with one M-Bus value changed, and nothing else (so one reading conflicts).
    channel = rng.choice(read.mbus)
    meter = channel.meter
    counts = (channel.counts + rng.randint(1, meter.counts_per_unit)) % meter.capacity
    return replace(read, electricity=False, mbus=(replace(channel, counts=counts),)), meter


def _stranger(read: Read, rng: random.Random) -> Read:
    """The same read from meters nobody registered (a neighbour's meter the gateway also hears)."""
    if isinstance(read, MeterAnswer):
        return replace(read, meter=replace(read.meter, serial=_variant(read.meter, _STRANGER_DIGIT, rng)))
    mbus = tuple(
        replace(value, meter=replace(value.meter, serial=_variant(value.meter, _STRANGER_DIGIT, rng)))
        for value in read.mbus
    )
    return replace(
        read, meter=replace(read.meter, serial=_variant(read.meter, _STRANGER_DIGIT, rng)), mbus=mbus
    )


def _flip(frame: bytes, protocol: str, rng: random.Random) -> bytes:
    """``frame`` with one data byte changed, which its checksum (sum mod 256, CRC-16) always detects."""
    data = bytearray(frame)
    if protocol == "dsmr":
        # One digit of a value for another digit: the text stays a well-formed telegram, so only the
        # CRC-16/ARC, which catches every error within 16 bits, can tell (meter-protocols.md §3.2).
        bang = data.index(b"!")
        digits = [i for i in range(data.index(b"\r\n"), bang) if 0x30 <= data[i] <= 0x39]
        where = rng.choice(digits)
        data[where] = 0x30 + (data[where] - 0x30 + rng.randint(1, 9)) % 10
        return bytes(data)
    # DL/T 645: 68 A0..A5 68 C L DATA; CJ/T 188: 68 T A0..A6 C L DATA (meter-protocols.md §1.2, §2.2).
    # A bit flipped in DATA leaves the framing intact, so decoding reaches the checksum.
    start = data.index(0x68)
    length_at = start + (9 if protocol == "dlt645" else 10)
    where = rng.randrange(length_at + 1, length_at + 1 + data[length_at])
    data[where] ^= 1 << rng.randrange(8)
    return bytes(data)


def _truncate(frame: bytes, protocol: str, rng: random.Random) -> bytes:
    """``frame`` cut after at least half of it: a read that ended early (meter-protocols.md §7)."""
    return frame[: rng.randint(len(frame) // 2, len(frame) - 1)]


def _delivery_order(
    envelopes: Sequence[_Envelope], names: Sequence[str], rate: float, rng: random.Random
) -> list[int]:
    """Indices of ``envelopes`` in delivery order, with some pairs of a gateway's envelopes swapped."""
    order = list(range(len(envelopes)))
    if rate <= 0:
        return order
    position = {index: index for index in order}
    for name in names:
        mine = [i for i, envelope in enumerate(envelopes) if envelope.gateway == name]
        j = 0
        while j < len(mine) - 1:
            if rng.random() >= rate:
                j += 1
                continue
            early, late = mine[j + 1], mine[j]
            a, b = position[late], position[early]
            order[a], order[b] = early, late
            position[late], position[early] = b, a
            envelopes[late].late = True
            j += 2  # a swapped envelope is not swapped again
    return order


def _encode(
    county: County, envelopes: Sequence[_Envelope], delivery: Sequence[int]
) -> tuple[list[tuple[str, bytes]], list[InjectedFault]]:
    write = wire.FrameWriter(county.tz).item
    sent: list[tuple[str, bytes]] = []
    faults: list[InjectedFault] = []

    def fault(kind: FaultKind, envelope: _Envelope, label: _Label | None = None) -> InjectedFault:
        reason = EXPECTED_REASONS[kind]
        if label is None:
            return InjectedFault(kind, envelope.gateway, envelope.seq, None, None, reason)
        return InjectedFault(
            kind, envelope.gateway, envelope.seq, label.meter, label.meter_time, reason, label.register
        )

    for index in delivery:
        envelope = envelopes[index]
        items: list[MeterReading | FrameItem] = []
        for slot in envelope.slots:
            if slot.damaged is not None:
                items.append(slot.damaged)
            elif slot.read is not None:
                items.append(write(slot.read))
            faults.extend(fault(label.kind, envelope, label) for label in slot.labels)
        payload = encode(envelope.gateway, envelope.seq, envelope.sent_at, items)
        sent.append((envelope.gateway, payload))
        if envelope.late:
            faults.append(fault(FaultKind.OUT_OF_ORDER, envelope))
        if envelope.duplicated:
            sent.append((envelope.gateway, payload))
            faults.append(fault(FaultKind.DUPLICATE_ENVELOPE, envelope))
    return sent, faults
