"""Simulated communities that send real meter frames, through the real ingest pipeline, on both engines.

A Baoting county (DL/T 645 electricity, CJ/T 188 water and gas) and a Dutch DSMR community (P1
telegrams with M-Bus gas and water, across the end of summer time) are onboarded and ingested without
HTTP. Without faults, accounting must reproduce the simulator's truth exactly. With every fault kind
ingest handles, its quarantine must match the simulator's labels, reason by reason and meter by meter.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from tanhui.cli.onboarding import Onboarded, onboard
from tanhui.domain.quantity import Quantity
from tanhui.ingest.pipeline import Ingestor, IngestResult
from tanhui.ingest.reasons import Reason
from tanhui.jobs.accounting import account_community
from tanhui.meters import envelope
from tanhui.settings import Settings
from tanhui.sim.county import County, build_county, envelopes, readings, truth
from tanhui.sim.faults import FaultKind, FaultRates, InjectedFault, envelopes_with_faults
from tanhui.store import footprints, registry
from tanhui.store import quarantine as quarantine_repo
from tanhui.store import readings as readings_repo
from tanhui.store.factor_files import load_factor_sets
from tanhui.store.registry import Gateway

MICRO = Decimal(1_000_000)
FACTOR_SET = "cn-mee-2023@v1"  # the DSMR demo community borrows it for now
# Across 2026-10-25, when the Netherlands leave summer time: a 25-hour day and telegrams flagged S and W.
START = date(2026, 10, 22)
MODES = ["baoting", "dsmr"]

# Every kind ingest handles today, at rates that give each a few occurrences in a small county.
RATES = FaultRates(
    bad_checksum=0.01,
    malformed_frame=0.01,
    conflicting_duplicate=0.01,
    unknown_meter=0.01,
    meter_clock_ahead=0.01,
    unit_mismatch=0.01,
    abnormal_answer=0.01,
    decreasing_register=0.01,
    gap=0.005,
    duplicate_envelope=0.15,
    out_of_order=0.15,
)
NOT_IN_DSMR = {FaultKind.UNIT_MISMATCH, FaultKind.ABNORMAL_ANSWER}
# Items per envelope: a frame per meter reading, or a P1 telegram of eight readings. Small envelopes, so
# that the per-envelope faults happen several times.
BATCH = {"baoting": 60, "dsmr": 20}
PENDING = {FaultKind.METER_REPLACED}


def _county(mode: str, households: int, days: int) -> County:
    return build_county(
        seed=23,
        households=households,
        start=START,
        days=days,
        protocol=mode,
        rollover_share=0.25,
        households_per_gateway=2,
    )


def _onboard(engine: Engine, county: County) -> tuple[Onboarded, dict[str, Gateway]]:
    onboarded = onboard(engine, county, factor_set_id=FACTOR_SET, now=0, passwords={"operator": "x"})
    gateways: dict[str, Gateway] = {}
    with engine.connect() as conn:
        for simulated in county.gateways:
            found = registry.gateway_by_name(conn, simulated.name)
            assert found is not None
            gateways[simulated.name] = found
    return onboarded, gateways


def _clock(county: County) -> Callable[[], datetime]:
    # Right after the last reading, as a gateway that forwards at once: the clock checks refuse readings
    # more than 900 s after arrival, so a later clock would hide a meter clock that runs ahead.
    arrival = county.end.astimezone(UTC) + timedelta(minutes=1)
    return lambda: arrival


def _stored(engine: Engine, onboarded: Onboarded, registers: set[str]) -> dict[tuple[str, str, int], Decimal]:
    """Every stored reading of the community as (serial, register, epoch s) → value in the meter's unit."""
    out: dict[tuple[str, str, int], Decimal] = {}
    with engine.connect() as conn:
        for meter in registry.meters_of_community(conn, onboarded.community_id):
            for register in registers:
                for at, counts in readings_repo.of_meter(conn, meter.id, register):
                    out[meter.serial, register, at] = counts * meter.resolution
    return out


def _simulated(county: County) -> dict[tuple[str, str, int], Decimal]:
    return {
        (r.meter, r.register, int(r.time.timestamp())): r.value
        for _, pairs in readings(county)
        for _, r in pairs
    }


@pytest.mark.parametrize("mode", MODES)
def test_frames_account_to_the_simulated_truth(engine: Engine, mode: str) -> None:
    county = _county(mode, households=4, days=5)
    factor_set = load_factor_sets(Settings().data_dir / "factors")[FACTOR_SET]
    onboarded, gateways = _onboard(engine, county)
    ingestor = Ingestor(engine, _clock(county))
    for name, payload in envelopes(county, max_readings=200):
        result = ingestor.ingest(payload, gateway=gateways[name], transport="mqtt")
        assert (result.quarantined, result.duplicates) == (0, 0), result.rejections[:1]
    simulated = _simulated(county)
    assert _stored(engine, onboarded, {register for _, register, _ in simulated}) == simulated

    with engine.begin() as conn:
        summary = account_community(conn, onboarded.community_id, factor_set, now=0)
    assert summary.rejected_steps == 0
    assert summary.rollovers >= 1  # a quarter of the meters start close to their capacity
    known = truth(county)
    with engine.connect() as conn:
        for code, household_id in onboarded.households.items():
            stored = {
                (line.day, line.kind): Decimal(line.amount_micro) / MICRO
                for line in footprints.household_days(conn, household_id, factor_set.id)
            }
            for quantity in Quantity:
                for day, amount in known.daily(code, quantity):
                    assert stored.get((day, quantity.value), Decimal(0)) == amount, (code, quantity, day)


def _expected_rejections(faults: list[InjectedFault], mode: str) -> Counter[tuple[str, str | None]]:
    # A frame that fails as a whole is quarantined under the meter its item names; a P1 telegram names
    # none, because it carries several meters.
    expected: Counter[tuple[str, str | None]] = Counter()
    for fault in faults:
        if fault.expected_reason is None:
            continue
        whole_telegram = mode == "dsmr" and fault.register is None
        expected[fault.expected_reason, None if whole_telegram else fault.meter] += 1
    return expected


@pytest.mark.parametrize("mode", MODES)
def test_quarantine_matches_the_injected_faults(engine: Engine, mode: str) -> None:
    county = _county(mode, households=6, days=6)
    sent, faults = envelopes_with_faults(county, RATES, max_readings=BATCH[mode])
    kinds = {fault.kind for fault in faults}
    assert kinds == set(FaultKind) - PENDING - (NOT_IN_DSMR if mode == "dsmr" else set())

    onboarded, gateways = _onboard(engine, county)
    ingestor = Ingestor(engine, _clock(county))
    first: dict[tuple[str, int], IngestResult] = {}
    redelivered: list[tuple[IngestResult, IngestResult]] = []
    for name, payload in sent:
        result = ingestor.ingest(payload, gateway=gateways[name], transport="mqtt")
        key = (name, envelope.decode(payload).seq)
        if key in first:
            redelivered.append((first[key], result))
        else:
            first[key] = result

    with engine.connect() as conn:
        rows = quarantine_repo.entries(conn, onboarded.community_id, status=None, limit=100_000)
    assert Counter((row.reason, row.meter_serial) for row in rows) == _expected_rejections(faults, mode)
    assert {row.reason for row in rows} <= set(Reason)

    # A redelivered envelope: every reading already stored, counted as a duplicate, nothing quarantined.
    assert len(redelivered) == sum(f.kind is FaultKind.DUPLICATE_ENVELOPE for f in faults) > 0
    for original, again in redelivered:
        assert original.stored > 0
        assert (again.stored, again.quarantined, again.duplicates) == (0, 0, original.stored)
    results = [*first.values(), *(again for _, again in redelivered)]
    assert sum(r.duplicates for r in results) == sum(original.stored for original, _ in redelivered)

    # Stored once, and only what the meters really said; every reading no fault touched is there.
    simulated = _simulated(county)
    stored = _stored(engine, onboarded, {register for _, register, _ in simulated})
    assert len(stored) == sum(r.stored for r in results)
    assert all(simulated.get(key) == value for key, value in stored.items())
    household_of = {m.serial: m.household for m in county.meters}
    touched: set[tuple[str, int]] = set()
    for fault in faults:
        if fault.meter is None or fault.meter_time is None or fault.meter not in household_of:
            continue
        at = int(fault.meter_time.timestamp())
        if mode == "dsmr" and fault.register is None:  # the whole telegram: all of the household's meters
            household = household_of[fault.meter]
            touched.update((m.serial, at) for m in county.meters if m.household == household)
        else:
            touched.add((fault.meter, at))
    missing = {key for key in simulated if key not in stored}
    assert {(serial, at) for serial, _, at in missing} <= touched
    gaps = {
        (f.meter, int(f.meter_time.timestamp())) for f in faults if f.kind is FaultKind.GAP and f.meter_time
    }
    assert gaps and not any((serial, at) in gaps for serial, _, at in stored)


def test_a_redelivered_envelope_does_not_quarantine_its_bad_frame_twice(engine: Engine) -> None:
    county = _county("baoting", households=2, days=1)
    sent, faults = envelopes_with_faults(county, FaultRates(bad_checksum=0.05), max_readings=500)
    assert any(f.kind is FaultKind.BAD_CHECKSUM for f in faults)
    _, gateways = _onboard(engine, county)
    ingestor = Ingestor(engine, _clock(county))
    name, payload = sent[0]
    first = ingestor.ingest(payload, gateway=gateways[name], transport="mqtt")
    again = ingestor.ingest(payload, gateway=gateways[name], transport="mqtt")
    assert first.quarantined > 0
    assert again.quarantined == 0
