"""Frames forwarded raw, clock checks, and operator replays, through the pipeline on both engines."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import Engine, select

from tanhui.domain.quantity import Quantity
from tanhui.domain.reading import MeterReading
from tanhui.ingest.pipeline import Ingestor
from tanhui.meters import cjt188, dlt645, envelope
from tanhui.meters.envelope import FrameItem
from tanhui.store import readings, registry
from tanhui.store.schema import quarantine

from .conftest import World

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 25, 2, tzinfo=UTC)  # 10:00 in Baoting
ELECTRICITY = "110000000001"
WATER_188 = "00000012345678"


def clock() -> datetime:
    return NOW


def _reasons(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(select(quarantine.c.reason)).scalars())


def _send(engine: Engine, world: World, items: list[MeterReading | FrameItem], seq: int = 1) -> None:
    Ingestor(engine, clock).ingest(
        envelope.encode("gw-1", seq, NOW, items), gateway=world.gateway, transport="http"
    )


def _register_188_water_meter(engine: Engine, world: World) -> None:
    with engine.begin() as conn:
        registry.create_meter(
            conn,
            community_id=world.community_id,
            household_id=world.households[0],
            gateway_id=world.gateway.id,
            serial=WATER_188,
            kind=Quantity.WATER,
            protocol="cjt188",
            resolution=Decimal("0.01"),
            capacity=100_000_000,
            installed_on=date(2026, 1, 1),
        )


def test_raw_frames_are_decoded_and_stored(engine: Engine, world: World) -> None:
    _register_188_water_meter(engine, world)
    read_at = datetime(2026, 11, 25, 9, 0, 2, tzinfo=CST)
    e_frame = dlt645.encode(dlt645.read_answer(ELECTRICITY, 0x00010000, Decimal("345.67")))
    w_frame = cjt188.encode(
        cjt188.read_answer(
            0x10, WATER_188, Decimal("12.34"), Decimal("10.00"), cjt188.Unit.M3, datetime(2026, 11, 25, 9)
        )
    )
    _send(
        engine,
        world,
        [FrameItem("dlt645", e_frame, read_at, ELECTRICITY), FrameItem("cjt188", w_frame, read_at)],
    )
    assert _reasons(engine) == []
    with engine.connect() as conn:
        meter = registry.meter_by_serial(conn, world.community_id, ELECTRICITY)
        water = registry.meter_by_serial(conn, world.community_id, WATER_188)
        assert meter is not None and water is not None
        assert readings.of_meter(conn, meter.id, "energy_import") == [(int(read_at.timestamp()), 34_567)]
        # The CJ/T 188 meter's own clock (09:00 local), not the gateway's read time.
        assert readings.of_meter(conn, water.id, "volume") == [
            (int(datetime(2026, 11, 25, 9, tzinfo=CST).timestamp()), 1_234)
        ]


def test_damaged_and_error_frames_are_quarantined_with_their_reason(engine: Engine, world: World) -> None:
    read_at = datetime(2026, 11, 25, 9, tzinfo=CST)
    good = dlt645.encode(dlt645.read_answer(ELECTRICITY, 0x00010000, Decimal("1.00")))
    damaged = good[:-2] + bytes([(good[-2] + 1) % 256]) + good[-1:]
    error = dlt645.encode(dlt645.abnormal_answer(ELECTRICITY, dlt645.Serr.NO_SUCH_DATA))
    _send(
        engine,
        world,
        [
            FrameItem("dlt645", damaged, read_at),
            FrameItem("dlt645", error, read_at),
            FrameItem("dlt645", good[:5], read_at),
            FrameItem("dlt645", good, read_at, "110000000002"),  # the item names another meter
        ],
    )
    assert _reasons(engine) == ["abnormal_answer", "bad_checksum", "frame_mismatch", "malformed_frame"]
    with engine.connect() as conn:
        raws = [bytes(r) for r in conn.execute(select(quarantine.c.raw)).scalars()]
    assert all(b'"frame"' in raw for raw in raws)


def test_meter_clocks_far_from_arrival_are_quarantined(engine: Engine, world: World) -> None:
    ahead = MeterReading(ELECTRICITY, "energy_import", Decimal(1), "kWh", NOW + timedelta(hours=2))
    behind = MeterReading(ELECTRICITY, "energy_import", Decimal(1), "kWh", datetime(2000, 1, 1, tzinfo=CST))
    fine = MeterReading(ELECTRICITY, "energy_import", Decimal(1), "kWh", NOW - timedelta(days=30))
    _send(engine, world, [ahead, behind, fine])
    assert _reasons(engine) == ["meter_clock_ahead", "meter_clock_behind"]


def test_out_of_order_readings_are_accepted_and_ordered_by_meter_time(engine: Engine, world: World) -> None:
    times = [NOW - timedelta(hours=h) for h in (1, 3, 2)]
    values = {times[0]: "3.00", times[1]: "1.00", times[2]: "2.00"}
    for seq, t in enumerate(times, start=1):
        _send(
            engine, world, [MeterReading(ELECTRICITY, "energy_import", Decimal(values[t]), "kWh", t)], seq=seq
        )
    with engine.connect() as conn:
        meter = registry.meter_by_serial(conn, world.community_id, ELECTRICITY)
        assert meter is not None
        assert [v for _, v in readings.of_meter(conn, meter.id, "energy_import")] == [100, 200, 300]


def test_an_unknown_meter_is_stored_after_the_operator_registers_it_and_replays(
    engine: Engine, world: World
) -> None:
    reading = MeterReading("119999999999", "energy_import", Decimal("5.00"), "kWh", NOW - timedelta(hours=1))
    _send(engine, world, [reading])
    with engine.connect() as conn:
        raw = bytes(conn.execute(select(quarantine.c.raw)).scalar_one())
    ingestor = Ingestor(engine, clock)
    still = ingestor.replay_item(raw, gateway=world.gateway)
    assert [r.reason for r in still.rejections] == ["unknown_meter"]
    assert _reasons(engine) == ["unknown_meter"]  # nothing quarantined twice
    with engine.begin() as conn:
        registry.create_meter(
            conn,
            community_id=world.community_id,
            household_id=world.households[1],
            gateway_id=None,
            serial="119999999999",
            kind=Quantity.ELECTRICITY,
            protocol="json",
            resolution=Decimal("0.01"),
            capacity=100_000_000,
            installed_on=date(2026, 1, 1),
        )
    done = ingestor.replay_item(raw, gateway=world.gateway)
    assert (done.stored, done.quarantined) == (1, 0)


def test_a_falling_register_is_quarantined_on_either_side_of_late_readings(
    engine: Engine, world: World
) -> None:
    def at(hours: int, value: str) -> MeterReading:
        return MeterReading(ELECTRICITY, "energy_import", Decimal(value), "kWh", NOW - timedelta(hours=hours))

    _send(engine, world, [at(5, "100.00"), at(3, "110.00"), at(1, "120.00")], seq=1)
    # 04:00 lower than 05:00; 02:00 higher than 01:00 (a late reading breaking its successor); a reset.
    _send(engine, world, [at(4, "99.00"), at(2, "125.00"), at(0, "0.50")], seq=2)
    assert _reasons(engine) == ["decreasing_register"] * 3
    # A rollover is not a fall: near the top of the register, then just past zero.
    _send(engine, world, [at(30, "999999.90"), at(29, "0.10")], seq=3)
    assert _reasons(engine) == ["decreasing_register"] * 3
    with engine.connect() as conn:
        meter = registry.meter_by_serial(conn, world.community_id, ELECTRICITY)
        assert meter is not None
        assert [v for _, v in readings.of_meter(conn, meter.id, "energy_import")] == [
            99_999_990,
            10,
            10_000,
            11_000,
            12_000,
        ]
