"""The ingest pipeline on both engines: idempotent, and nothing dropped."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import Engine, select

from tanhui.domain.reading import MeterReading
from tanhui.ingest.pipeline import Ingestor, IngestResult
from tanhui.meters import envelope
from tanhui.store import readings
from tanhui.store.schema import ingest_batches, quarantine

from .conftest import World

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 25, 10, tzinfo=CST)


def clock() -> datetime:
    return datetime(2026, 11, 25, 3, tzinfo=UTC)


def _r(
    meter: str, value: str, *, hours: int = 0, unit: str = "kWh", register: str = "energy_import"
) -> MeterReading:
    return MeterReading(meter, register, Decimal(value), unit, T0 + timedelta(hours=hours))


def _send(
    ingestor: Ingestor, world: World, items: list[MeterReading], *, seq: int = 1, gateway: str = "gw-1"
) -> IngestResult:
    payload = envelope.encode(gateway, seq, T0, items)
    return ingestor.ingest(payload, gateway=world.gateway, transport="http")


def _quarantine(engine: Engine) -> list[tuple[str, str | None, bytes]]:
    with engine.connect() as conn:
        rows = conn.execute(select(quarantine.c.reason, quarantine.c.meter_serial, quarantine.c.raw)).all()
    return [(r.reason, r.meter_serial, bytes(r.raw)) for r in rows]


def test_good_readings_are_stored_with_their_raw_batch(engine: Engine, world: World) -> None:
    ingestor = Ingestor(engine, clock)
    result = _send(
        ingestor,
        world,
        [_r("110000000001", "100.00"), _r("210000000001", "5.500", unit="m3", register="volume")],
    )
    assert (result.stored, result.duplicates, result.quarantined) == (2, 0, 0)
    with engine.connect() as conn:
        assert readings.of_meter(conn, world.meters["110000000001"], "energy_import") == [
            (int(T0.timestamp()), 10_000)
        ]
        assert readings.of_meter(conn, world.meters["210000000001"], "volume") == [
            (int(T0.timestamp()), 5_500)
        ]
        payload = readings.batch_payload(conn, conn.execute(select(ingest_batches.c.id)).scalar_one())
    assert json.loads(payload)["gateway"] == "gw-1"


def test_a_reading_delivered_twice_is_stored_once(engine: Engine, world: World) -> None:
    ingestor = Ingestor(engine, clock)
    items = [_r("110000000001", "100.00"), _r("110000000001", "101.00", hours=1)]
    _send(ingestor, world, items, seq=1)
    again = _send(ingestor, world, items, seq=1)
    within = _send(ingestor, world, [_r("110000000002", "1.00")] * 2, seq=2)
    assert (again.stored, again.duplicates) == (0, 2)
    assert (within.stored, within.duplicates) == (1, 1)
    with engine.connect() as conn:
        assert readings.count(conn) == 3
    assert _quarantine(engine) == []


def test_same_key_with_another_value_is_quarantined_as_a_conflict(engine: Engine, world: World) -> None:
    ingestor = Ingestor(engine, clock)
    _send(ingestor, world, [_r("110000000001", "100.00")])
    result = _send(ingestor, world, [_r("110000000001", "100.50")], seq=2)
    assert result.quarantined == 1
    ((reason, serial, raw),) = _quarantine(engine)
    assert (reason, serial) == ("conflicting_duplicate", "110000000001")
    assert json.loads(raw)["value"] == "100.50"
    with engine.connect() as conn:
        assert readings.of_meter(conn, world.meters["110000000001"], "energy_import")[0][1] == 10_000


def test_every_bad_reading_lands_in_quarantine_with_its_reason(engine: Engine, world: World) -> None:
    ingestor = Ingestor(engine, clock)
    result = _send(
        ingestor,
        world,
        [
            _r("999999999999", "1.00"),  # unknown meter
            _r("110000000001", "1.00", unit="m3"),  # unit mismatch
            _r("110000000001", "1.001"),  # finer than the 0.01 kWh resolution
            _r("110000000001", "1000000.00"),  # beyond a 999,999.99 register
            _r("110000000001", "-1.00", hours=2),  # negative register
            _r("110000000002", "7.00"),  # good
        ],
    )
    assert (result.stored, result.quarantined) == (1, 5)
    reasons = sorted(reason for reason, _, _ in _quarantine(engine))
    assert reasons == sorted(
        [
            "unknown_meter",
            "unit_mismatch",
            "resolution_mismatch",
            "register_out_of_range",
            "register_out_of_range",
        ]
    )
    assert all(raw for _, _, raw in _quarantine(engine))


def test_malformed_payload_is_quarantined_whole(engine: Engine, world: World) -> None:
    ingestor = Ingestor(engine, clock)
    result = ingestor.ingest(b"\x00garbage{", gateway=world.gateway, transport="mqtt")
    assert result.quarantined == 1
    assert _quarantine(engine) == [("malformed_envelope", None, b"\x00garbage{")]


def test_an_envelope_naming_another_gateway_is_quarantined(engine: Engine, world: World) -> None:
    ingestor = Ingestor(engine, clock)
    result = _send(ingestor, world, [_r("110000000001", "1.00")], gateway="gw-2")
    assert result.stored == 0
    assert _quarantine(engine)[0][0] == "gateway_mismatch"


def test_a_meter_assigned_to_another_gateway_is_refused(engine: Engine, world: World) -> None:
    ingestor = Ingestor(engine, clock)
    payload = envelope.encode("gw-2", 1, T0, [_r("110000000001", "1.00")])
    result = ingestor.ingest(payload, gateway=world.other_gateway, transport="http")
    assert result.stored == 0
    assert _quarantine(engine)[0][:2] == ("gateway_not_allowed", "110000000001")


def test_a_redelivered_envelope_is_a_no_op_and_a_reused_sequence_is_a_replay(
    engine: Engine, world: World
) -> None:
    ingestor = Ingestor(engine, clock)
    bad_and_good = [_r("999999999999", "1.00"), _r("110000000001", "2.00")]
    first = ingestor.ingest(
        envelope.encode("gw-1", 5, T0, bad_and_good, boot="b1"), gateway=world.gateway, transport="mqtt"
    )
    again = ingestor.ingest(
        envelope.encode("gw-1", 5, T0, bad_and_good, boot="b1"), gateway=world.gateway, transport="mqtt"
    )
    assert (first.stored, first.quarantined) == (1, 1)
    assert (again.stored, again.quarantined, again.duplicates) == (0, 0, 2)
    # Other content under the same (gateway, boot, seq): a replay, kept whole in quarantine.
    other = envelope.encode("gw-1", 5, T0, [_r("110000000001", "3.00", hours=1)], boot="b1")
    replay = ingestor.ingest(other, gateway=world.gateway, transport="mqtt")
    assert (replay.stored, replay.reasons) == (0, {"replayed_sequence": 1})
    assert _quarantine(engine)[-1] == ("replayed_sequence", None, other)
    # After a reboot the gateway counts from 1 again under a new boot id: not a replay.
    rebooted = envelope.encode("gw-1", 5, T0, [_r("110000000001", "3.00", hours=1)], boot="b2")
    assert ingestor.ingest(rebooted, gateway=world.gateway, transport="mqtt").stored == 1
