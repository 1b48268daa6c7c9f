"""The fault injector: its labels must say exactly what an independent look at the bytes finds.

``_observe`` decodes what was sent with the codecs alone (no ingest) and classifies every anomaly; it must
find exactly the labelled faults, kind by kind and meter by meter, while every reading delivered intact is
the simulator's.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tanhui.domain.quantity import Quantity, canonical_unit
from tanhui.domain.reading import MeterReading
from tanhui.ingest.reasons import Reason
from tanhui.meters import cjt188, dlt645, dsmr
from tanhui.meters.continuity import ContinuityError, step
from tanhui.meters.envelope import FrameItem, decode
from tanhui.meters.errors import MeterError
from tanhui.meters.frames import readings_from_frame
from tanhui.sim.county import County, SimMeter, build_county, envelopes, readings
from tanhui.sim.faults import EXPECTED_REASONS, FaultKind, FaultRates, InjectedFault, envelopes_with_faults

START = date(2026, 10, 22)
CHECKSUM = {"checksum", "crc"}
ITEM_KINDS = [
    "bad_checksum",
    "malformed_frame",
    "conflicting_duplicate",
    "unknown_meter",
    "meter_clock_ahead",
    "unit_mismatch",
    "abnormal_answer",
    "decreasing_register",
]


def _county(mode: str, households: int = 4, days: int = 3, seed: int = 8) -> County:
    return build_county(
        seed=seed,
        households=households,
        start=START,
        days=days,
        protocol=mode,
        households_per_gateway=2,
        rollover_share=0.3,
    )


Key = tuple[str, str, int]  # meter, register, epoch s


@dataclass
class Observed:
    """What the bytes show: anomalies by (kind, meter), the readings that got through, in arrival order."""

    anomalies: Counter[tuple[str, str | None]] = field(default_factory=Counter)
    delivered: dict[Key, Decimal] = field(default_factory=dict)
    lost_frames: set[tuple[str | None, int]] = field(default_factory=set)  # (item meter, item time)


def _classify(error: MeterError) -> str:
    if error.code in CHECKSUM:
        return "bad_checksum"
    return "abnormal_answer" if error.code == "abnormal_answer" else "malformed_frame"


def _observe(county: County, sent: list[tuple[str, bytes]], replaced: set[str]) -> Observed:
    out = Observed()
    seen: dict[tuple[str, int], bytes] = {}
    highest: dict[str, int] = {}
    series: dict[tuple[str, str], list[tuple[int, Decimal]]] = defaultdict(list)
    for gateway, payload in sent:
        env = decode(payload)
        if (gateway, env.seq) in seen:
            assert seen[gateway, env.seq] == payload  # a redelivery is the very same bytes
            out.anomalies["duplicate_envelope", None] += 1
            continue
        seen[gateway, env.seq] = payload
        if env.seq < highest.get(gateway, 0):
            out.anomalies["out_of_order", None] += 1
        highest[gateway] = max(highest.get(gateway, 0), env.seq)
        for item in env.items:
            assert isinstance(item, MeterReading | FrameItem)
            for reading in _decoded(county, item, out):
                _sort(county, reading, replaced, out, series)
    meters = {meter.serial: meter for meter in county.meters}
    for (serial, register), points in series.items():
        profile = meters.get(serial) or _profile(county, register)
        counts = [int(value / profile.resolution) for _, value in sorted(points)]
        for before, after in itertools.pairwise(counts):
            try:
                step(before, after, capacity=profile.capacity, max_rollover_counts=profile.capacity // 100)
            except ContinuityError:
                out.anomalies["decreasing_register", serial] += 1
    return out


def _decoded(county: County, item: MeterReading | FrameItem, out: Observed) -> list[MeterReading]:
    """The readings of one envelope item; a frame the codecs refuse is counted by what went wrong."""
    if isinstance(item, MeterReading):
        return [item]
    try:
        return readings_from_frame(item.protocol, item.frame, read_at=item.time, tz=county.tz)
    except MeterError as exc:
        out.anomalies[_classify(exc), item.meter] += 1
        out.lost_frames.add((item.meter, int(item.time.timestamp())))
        return []


def _sort(
    county: County,
    reading: MeterReading,
    replaced: set[str],
    out: Observed,
    series: dict[tuple[str, str], list[tuple[int, Decimal]]],
) -> None:
    """Count a reading as an anomaly, or keep it as delivered."""
    key = (reading.meter, reading.register, int(reading.time.timestamp()))
    if reading.meter not in replaced and reading.meter not in {m.serial for m in county.meters}:
        out.anomalies["unknown_meter", reading.meter] += 1
    elif canonical_unit(reading.unit) is None:
        out.anomalies["unit_mismatch", reading.meter] += 1
    elif reading.time > county.end + timedelta(hours=12):  # no true reading is later than the end
        out.anomalies["meter_clock_ahead", reading.meter] += 1
    elif key in out.delivered:
        assert out.delivered[key] != reading.value  # exact repeats come only as redeliveries
        out.anomalies["conflicting_duplicate", reading.meter] += 1
    else:
        out.delivered[key] = reading.value
        series[reading.meter, reading.register].append((key[2], reading.value))


def _profile(county: County, register: str) -> SimMeter:
    # A replacement meter counts like the meters of its kind (every kind has one register profile).
    kind = Quantity.ELECTRICITY if register.startswith("energy") else Quantity.WATER
    return next(meter for meter in county.meters if meter.kind is kind)


def _expected(faults: list[InjectedFault], mode: str) -> Counter[tuple[str, str | None]]:
    out: Counter[tuple[str, str | None]] = Counter()
    for fault in faults:
        if fault.kind in (FaultKind.GAP, FaultKind.METER_REPLACED):
            continue  # absences: checked on their own
        # A whole P1 telegram that does not decode shows no meter.
        whole_telegram = mode == "dsmr" and fault.register is None and fault.meter is not None
        out[fault.kind.value, None if whole_telegram else fault.meter] += 1
    return out


def _old_meter(county: County, new: str) -> SimMeter:
    """The meter a replacement took over from: the injector names it after that meter, with the second
    character of its identity (of a DSMR id's text) made 8."""

    def text(meter: SimMeter, serial: str) -> str:
        return bytes.fromhex(serial).decode("ascii") if meter.protocol == "dsmr" else serial

    for meter in county.meters:
        old_text, new_text = text(meter, meter.serial), text(meter, new)
        if len(old_text) == len(new_text) and (old_text[0], old_text[2:]) == (new_text[0], new_text[2:]):
            return meter
    raise AssertionError(f"no meter was replaced by {new}")


def _simulated(county: County) -> dict[Key, Decimal]:
    return {
        (r.meter, r.register, int(r.time.timestamp())): r.value
        for _, pairs in readings(county)
        for _, r in pairs
    }


def _check(county: County, sent: list[tuple[str, bytes]], faults: list[InjectedFault]) -> Observed:
    """Everything a label promises, and nothing it does not."""
    mode = county.protocol.value
    replaced = {f.meter for f in faults if f.kind is FaultKind.METER_REPLACED and f.meter is not None}
    observed = _observe(county, sent, replaced)
    assert observed.anomalies == _expected(faults, mode)
    for fault in faults:
        assert fault.expected_reason == EXPECTED_REASONS[fault.kind]
    # Every reading delivered intact is the simulator's, except where a label says otherwise.
    simulated = _simulated(county)
    changed = {
        (f.meter, int(f.meter_time.timestamp()))
        for f in faults
        if f.meter_time is not None and f.kind is FaultKind.DECREASING_REGISTER
    }
    for key, value in observed.delivered.items():
        if key[0] in replaced:
            continue
        assert key in simulated, key
        assert value == simulated[key] or (key[0], key[2]) in changed, key
    # Gaps: nothing at all was sent for the meter at that time.
    for fault in faults:
        if fault.kind is FaultKind.GAP:
            assert fault.meter is not None and fault.meter_time is not None
            at = int(fault.meter_time.timestamp())
            assert not any(k[0] == fault.meter and k[2] == at for k in observed.delivered)
            assert (fault.meter, at) not in observed.lost_frames
    # A reading that did not get through is accounted for by a label at its meter (or telegram) and time.
    household = {m.serial: m.household for m in county.meters}
    household.update({new: _old_meter(county, new).household for new in replaced})
    replaced_from = {  # old serial → the time its replacement starts
        _old_meter(county, f.meter).serial: int(f.meter_time.timestamp())
        for f in faults
        if f.kind is FaultKind.METER_REPLACED and f.meter is not None and f.meter_time is not None
    }
    touched: set[tuple[str, int]] = set()
    for fault in faults:
        if fault.meter is None or fault.meter_time is None:
            continue
        at = int(fault.meter_time.timestamp())
        touched.add((fault.meter, at))
        if mode == "dsmr" and fault.register is None and fault.meter in household:
            touched.update((m.serial, at) for m in county.meters if m.household == household[fault.meter])
    for serial, register, at in simulated.keys() - observed.delivered.keys():
        if serial in replaced_from and at >= replaced_from[serial]:
            continue
        assert (serial, at) in touched, (serial, register, at)
    return observed


@pytest.mark.parametrize("mode", ["json", "baoting", "dsmr"])
def test_with_no_faults_the_envelopes_are_the_clean_ones(mode: str) -> None:
    county = _county(mode)
    sent, faults = envelopes_with_faults(county, FaultRates(), max_readings=40)
    assert faults == []
    assert sent == list(envelopes(county, max_readings=40))


@pytest.mark.parametrize("mode", ["json", "baoting", "dsmr"])
def test_every_label_is_what_the_bytes_show(mode: str) -> None:
    county = _county(mode, households=6, days=4)
    rates = FaultRates.every(0.015, pending=True)
    rates = FaultRates(
        **{**_rates(rates), "duplicate_envelope": 0.2, "out_of_order": 0.2, "meter_replaced": 0.1}
    )
    sent, faults = envelopes_with_faults(county, rates, max_readings=24)
    _check(county, sent, faults)
    kinds = {fault.kind.value for fault in faults}
    not_here = {
        "json": {"bad_checksum", "malformed_frame", "abnormal_answer"},
        "baoting": set(),
        "dsmr": {"unit_mismatch", "abnormal_answer"},
    }[mode]
    assert kinds == {kind.value for kind in FaultKind} - not_here


def _rates(rates: FaultRates) -> dict[str, float]:
    return {kind.value: rates.rate(kind) for kind in FaultKind}


def test_a_bad_checksum_frame_fails_only_its_checksum() -> None:
    for mode in ("baoting", "dsmr"):
        county = _county(mode)
        sent, faults = envelopes_with_faults(county, FaultRates(bad_checksum=0.2), max_readings=1000)
        assert faults and {f.kind for f in faults} == {FaultKind.BAD_CHECKSUM}
        clean = [
            item for _, payload in envelopes(county, max_readings=1000) for item in decode(payload).frames
        ]
        damaged = [item for _, payload in sent for item in decode(payload).frames]
        assert len(damaged) == len(clean)
        failures = 0
        for before, after in zip(clean, damaged, strict=True):
            if before == after:
                continue
            failures += 1
            # One byte differs, and the codec notices it at the checksum, nowhere else.
            assert len(before.frame) == len(after.frame)
            assert sum(a != b for a, b in zip(before.frame, after.frame, strict=True)) == 1
            with pytest.raises(MeterError) as caught:
                {"dlt645": dlt645.decode, "cjt188": cjt188.decode, "dsmr": dsmr.decode}[after.protocol](
                    after.frame
                )
            assert caught.value.code in CHECKSUM
        assert failures == len(faults)


def test_a_malformed_frame_is_a_cut_frame_the_codec_refuses() -> None:
    county = _county("baoting")
    sent, faults = envelopes_with_faults(county, FaultRates(malformed_frame=0.2), max_readings=1000)
    clean = [item for _, payload in envelopes(county, max_readings=1000) for item in decode(payload).frames]
    damaged = [item for _, payload in sent for item in decode(payload).frames]
    cut = [(b, a) for b, a in zip(clean, damaged, strict=True) if b != a]
    assert len(cut) == len(faults) > 0
    for before, after in cut:
        assert before.frame.startswith(after.frame) and len(after.frame) >= len(before.frame) // 2


@pytest.mark.parametrize("mode", ["json", "baoting", "dsmr"])
def test_same_seed_same_faults_other_seed_other_faults(mode: str) -> None:
    county = _county(mode)
    rates = FaultRates.every(0.05, pending=True)
    first = envelopes_with_faults(county, rates, max_readings=30)
    assert envelopes_with_faults(county, rates, max_readings=30) == first
    assert envelopes_with_faults(county, rates, seed=county.seed, max_readings=30) == first
    assert envelopes_with_faults(county, rates, seed=county.seed + 1, max_readings=30) != first


def test_one_kinds_rate_does_not_move_another_kinds_faults() -> None:
    county = _county("baoting")
    alone = envelopes_with_faults(county, FaultRates(out_of_order=0.3), max_readings=30)[1]
    both = envelopes_with_faults(county, FaultRates(out_of_order=0.3, gap=0.05), max_readings=30)[1]
    assert alone == [f for f in both if f.kind is FaultKind.OUT_OF_ORDER]


def test_a_replaced_meter_continues_the_consumption_under_a_new_identity() -> None:
    county = _county("dsmr", days=2)
    sent, faults = envelopes_with_faults(county, FaultRates(meter_replaced=1.0), max_readings=1000)
    assert len(faults) == len(county.meters)  # every meter, once
    observed = _check(county, sent, faults)
    simulated = _simulated(county)
    for fault in faults:
        assert fault.expected_reason == "meter_replaced"
        assert fault.meter is not None and fault.meter_time is not None
        old = _old_meter(county, fault.meter)
        assert fault.meter != old.serial
        start = int(fault.meter_time.timestamp())
        new: dict[str, list[tuple[int, Decimal]]] = defaultdict(list)
        for (serial, register, at), value in observed.delivered.items():
            if serial == fault.meter:
                new[register].append((at, value))
            elif serial == old.serial:
                assert at < start  # the old meter is gone from the replacement on
        assert new
        for register, points in new.items():
            points.sort()
            assert points[0][0] == start
            assert points[0][1] <= 10  # a new meter shows at most its factory test
            # The same consumption: the new register steps as the old one would have (modulo the
            # register's capacity: the old one may have rolled over).
            # In integer counts: Decimal's % keeps the sign of the dividend.
            new_counts = [int(value / old.resolution) for _, value in points]
            old_counts = [int(simulated[old.serial, register, at] / old.resolution) for at, _ in points]
            steps_new = [(b - a) % old.capacity for a, b in itertools.pairwise(new_counts)]
            steps_old = [(b - a) % old.capacity for a, b in itertools.pairwise(old_counts)]
            assert steps_new == steps_old, register


def test_new_identities_cannot_be_mistaken_for_registered_meters() -> None:
    county = _county("baoting")
    taken = replace(county.meters[0], serial="190000000001")  # a registered meter with the stranger mark
    clash = replace(county, meters=(taken, *county.meters[1:]))
    with pytest.raises(ValueError, match="second character"):
        envelopes_with_faults(clash, FaultRates(unknown_meter=0.1))
    envelopes_with_faults(clash, FaultRates(gap=0.1))  # no new identities needed


def test_rates_are_checked() -> None:
    with pytest.raises(ValueError, match="gap"):
        FaultRates(gap=1.5)
    with pytest.raises(ValueError, match="bad_checksum"):
        FaultRates(bad_checksum=float("nan"))
    with pytest.raises(ValueError, match="sum to"):
        FaultRates(bad_checksum=0.6, unknown_meter=0.6)
    every = FaultRates.every(0.1)
    assert every.meter_replaced == 0
    assert every.gap == every.duplicate_envelope == every.bad_checksum == every.decreasing_register == 0.1
    assert FaultRates.every(0.1, pending=True).meter_replaced == 0.1


def test_expected_reasons_are_ingests_quarantine_reasons() -> None:
    # Mirrored as plain strings (the simulator must not import ingest); the kind ingest does not handle
    # yet names the reason it will need.
    pending = {FaultKind.METER_REPLACED}
    for kind, reason in EXPECTED_REASONS.items():
        if reason is not None and kind not in pending:
            assert reason in set(Reason), kind
    assert {EXPECTED_REASONS[kind] for kind in pending} == {"meter_replaced"}
    assert {kind for kind, reason in EXPECTED_REASONS.items() if reason is None} == {
        FaultKind.GAP,
        FaultKind.DUPLICATE_ENVELOPE,
        FaultKind.OUT_OF_ORDER,
    }


@settings(max_examples=15, deadline=None)
@given(
    mode=st.sampled_from(["json", "baoting", "dsmr"]),
    seed=st.integers(min_value=0, max_value=2**31),
    item_rates=st.lists(
        st.floats(min_value=0, max_value=0.1), min_size=len(ITEM_KINDS), max_size=len(ITEM_KINDS)
    ),
    gap=st.floats(min_value=0, max_value=0.1),
    envelope_rates=st.tuples(st.floats(min_value=0, max_value=0.5), st.floats(min_value=0, max_value=0.5)),
    replaced=st.floats(min_value=0, max_value=0.3),
    batch=st.integers(min_value=1, max_value=40),
)
def test_any_rates_give_labels_that_match_the_bytes(
    mode: str,
    seed: int,
    item_rates: list[float],
    gap: float,
    envelope_rates: tuple[float, float],
    replaced: float,
    batch: int,
) -> None:
    county = _county(mode, households=2, days=1, seed=seed % 1000)
    rates = FaultRates(
        **dict(zip(ITEM_KINDS, item_rates, strict=True)),
        gap=gap,
        duplicate_envelope=envelope_rates[0],
        out_of_order=envelope_rates[1],
        meter_replaced=replaced,
    )
    sent, faults = envelopes_with_faults(county, rates, seed=seed, max_readings=batch)
    _check(county, sent, faults)


def test_clock_ahead_is_past_any_arrival_in_or_right_after_the_period() -> None:
    county = _county("baoting", days=2)
    sent, faults = envelopes_with_faults(county, FaultRates(meter_clock_ahead=0.3), max_readings=1000)
    assert faults
    arrival = county.end.astimezone(UTC) + timedelta(days=1)
    later = 0
    for _, payload in sent:
        for item in decode(payload).frames:
            for reading in readings_from_frame(item.protocol, item.frame, read_at=item.time, tz=county.tz):
                if reading.time > county.end:
                    assert reading.time - arrival > timedelta(seconds=900)
                    later += 1
    assert later == len(faults)


def test_a_conflicting_copy_follows_its_original_in_the_same_envelope() -> None:
    county = _county("dsmr")
    sent, faults = envelopes_with_faults(county, FaultRates(conflicting_duplicate=0.2), max_readings=10)
    assert faults
    by_envelope = {(g, decode(p).seq): decode(p) for g, p in sent}
    for fault in faults:
        env = by_envelope[fault.gateway, fault.seq]
        values = [
            r.value
            for item in env.frames
            for r in readings_from_frame(item.protocol, item.frame, read_at=item.time, tz=county.tz)
            if r.meter == fault.meter and r.time == fault.meter_time
        ]
        assert len(values) == 2 and values[0] != values[1]
        assert values[0] == _simulated(county)[fault.meter, "volume", int(_at(fault).timestamp())]


def _at(fault: InjectedFault) -> datetime:
    assert fault.meter_time is not None
    return fault.meter_time
