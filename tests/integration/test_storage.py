"""Compact reading storage on both engines: hot rows, packed days, partitions and the payload archive."""

from __future__ import annotations

import hashlib
import json
import random
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Connection, Engine, select, text, update

from tanhui.domain.ids import MeterId
from tanhui.domain.reading import MeterReading
from tanhui.ingest.pipeline import Ingestor
from tanhui.jobs.compaction import closed_before, compact
from tanhui.meters import envelope
from tanhui.store import archive, migrate, readings
from tanhui.store.engine import make_engine
from tanhui.store.readings import ReadingConflictError, ReadingRecord, StoredReading
from tanhui.store.schema import ingest_batches, readings_hot, readings_packed

from .conftest import NOW, World

DAY = 86_400
DAY0 = NOW // DAY * DAY - 3 * DAY  # midnight UTC three days before the fixed clock (2026-11-15)
ELECTRICITY = ("110000000001", "110000000002")
WATER = ("210000000001", "210000000002")


def _store(engine: Engine, world: World, rows: list[tuple[str, str, int, int]], *, seq: int = 1) -> int:
    """Store ``(serial, register, meter_time, value)`` rows as one batch, as ingest does; the batch id."""
    payload = json.dumps([list(r) for r in rows]).encode()
    with engine.begin() as conn:
        batch = readings.add_batch(
            conn,
            gateway_id=world.gateway.id,
            seq=seq,
            transport="http",
            received_at=NOW,
            sha256=hashlib.sha256(payload).hexdigest(),
            payload=payload,
        )
        stored = [StoredReading(world.meters[s], register, t, v) for s, register, t, v in rows]
        readings.add(conn, stored, batch_id=batch, received_at=NOW)
    return batch


def _three_days(world: World) -> list[tuple[str, str, int, int]]:
    """Four meters, 15-minute readings over three closed days and part of a fourth, values growing."""
    rng = random.Random(7)
    rows = []
    for serial in ELECTRICITY + WATER:
        register = "energy_import" if serial in ELECTRICITY else "volume"
        value = rng.randrange(10**6)
        for k in range(3 * 96 + 40):
            rows.append((serial, register, DAY0 + 900 * k, value))
            value += rng.choice((0, 0, 1, 3, 17, 250))
    return rows


def _all(engine: Engine) -> list[ReadingRecord]:
    with engine.connect() as conn:
        return list(readings.scan(conn))


def _hot_and_packed(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        hot = len(conn.execute(select(readings_hot.c.meter_time)).all())
        packed = len(conn.execute(select(readings_packed.c.day)).all())
    return hot, packed


def test_compaction_is_lossless_and_idempotent(engine: Engine, world: World) -> None:
    rows = _three_days(world)
    random.Random(3).shuffle(rows)  # out of order, and spread over several batches
    for i, start in enumerate(range(0, len(rows), 500), start=1):
        _store(engine, world, rows[start : start + 500], seq=i)
    before = _all(engine)
    with engine.connect() as conn:
        series = {s: readings.of_meter(conn, world.meters[s], "energy_import") for s in ELECTRICITY}
        total = readings.count(conn)
    assert len(before) == total == len(rows)

    summary = compact(engine, now=DAY0 + 3 * DAY + 11 * 3600)  # after the last reading, at 09:45

    assert summary.before == DAY0 + 3 * DAY
    assert summary.readings == 4 * 3 * 96
    assert (summary.days_written, summary.days_merged) == (4 * 3, 0)
    assert _hot_and_packed(engine) == (4 * 40, 4 * 3)
    assert _all(engine) == before
    with engine.connect() as conn:
        assert {s: readings.of_meter(conn, world.meters[s], "energy_import") for s in ELECTRICITY} == series
        assert readings.count(conn) == total
        assert readings.count(conn, world.community_id) == total

    again = compact(engine, now=DAY0 + 3 * DAY + 11 * 3600)
    assert (again.readings, again.days_written, again.days_merged) == (0, 0, 0)
    assert _all(engine) == before


def test_compaction_recompresses_the_payloads_ingest_stored_fast(engine: Engine, world: World) -> None:
    batch = _store(engine, world, [(ELECTRICITY[0], "energy_import", DAY0 + 900 * k, k) for k in range(96)])
    with engine.connect() as conn:
        payload = readings.batch_payload(conn, batch)
    assert compact(engine, now=NOW).batches_recompressed == 0  # received after the last closed day
    assert compact(engine, now=NOW + 2 * DAY).batches_recompressed == 1
    with engine.connect() as conn:
        codec = conn.execute(
            select(ingest_batches.c.payload_codec).where(ingest_batches.c.id == batch)
        ).scalar_one()
        assert readings.batch_payload(conn, batch) == payload
    assert codec in archive.CODECS and codec not in archive.FAST_CODECS


def test_only_closed_days_are_packed() -> None:
    midnight = DAY0 + DAY
    assert closed_before(midnight + 6 * 3600 - 1) == midnight - DAY
    assert closed_before(midnight + 6 * 3600) == midnight
    assert closed_before(midnight + 6 * 3600, settle=0) == midnight


def test_reads_span_hot_rows_and_packed_days(engine: Engine, world: World) -> None:
    meter = world.meters[ELECTRICITY[0]]
    _store(engine, world, [(ELECTRICITY[0], "energy_import", DAY0 + 3600 * h, 100 + h) for h in range(30)])
    compact(engine, now=DAY0 + DAY + 6 * 3600)
    assert _hot_and_packed(engine) == (6, 1)
    # A late reading for the packed day and a new one for an open day, both hot for now.
    _store(engine, world, [(ELECTRICITY[0], "energy_import", DAY0 + 1800, 100)], seq=2)
    _store(engine, world, [(ELECTRICITY[0], "energy_import", DAY0 + 3600 * 30, 130)], seq=3)
    keys = [
        (meter, "energy_import", DAY0 + 3600),  # packed
        (meter, "energy_import", DAY0 + 1800),  # hot, late
        (meter, "energy_import", DAY0 + 3600 * 29),  # hot
        (meter, "energy_import", DAY0 + 3600 * 31),  # nowhere
        (meter, "volume", DAY0 + 3600),  # another register
    ]
    with engine.connect() as conn:
        assert readings.existing(conn, keys) == {keys[0]: 101, keys[1]: 100, keys[2]: 129}
        series = readings.of_meter(conn, meter, "energy_import")
        assert readings.count(conn) == 32
    assert series[:3] == [(DAY0, 100), (DAY0 + 1800, 100), (DAY0 + 3600, 101)]
    assert [t for t, _ in series] == sorted(t for t, _ in series)
    assert len(series) == 32

    # The next run merges the late reading into its day, keeping every batch.
    before = _all(engine)
    summary = compact(engine, now=DAY0 + DAY + 6 * 3600)
    assert (summary.readings, summary.days_written, summary.days_merged) == (1, 0, 1)
    assert _all(engine) == before
    assert _hot_and_packed(engine) == (7, 1)


def test_duplicates_and_conflicts_are_still_caught_after_compaction(engine: Engine, world: World) -> None:
    ingestor = Ingestor(engine, lambda: datetime.fromtimestamp(NOW, UTC))
    t0 = datetime.fromtimestamp(DAY0, UTC)
    items = [
        MeterReading(ELECTRICITY[0], "energy_import", Decimal("100.00") + k, "kWh", t0 + timedelta(hours=k))
        for k in range(24)
    ]

    def send(batch: list[MeterReading], seq: int) -> tuple[int, int, int]:
        payload = envelope.encode("gw-1", seq, t0, batch)
        result = ingestor.ingest(payload, gateway=world.gateway, transport="mqtt")
        return result.stored, result.duplicates, result.quarantined

    assert send(items, 1) == (24, 0, 0)
    assert compact(engine, now=DAY0 + DAY + 6 * 3600).readings == 24
    assert _hot_and_packed(engine) == (0, 1)
    assert send(items, 1) == (0, 24, 0)  # redelivered
    changed = MeterReading(ELECTRICITY[0], "energy_import", Decimal("999.00"), "kWh", t0 + timedelta(hours=5))
    assert send([changed], 2) == (0, 0, 1)
    with engine.connect() as conn:
        reason = conn.execute(text("SELECT reason FROM quarantine")).scalar_one()
        assert readings.of_meter(conn, world.meters[ELECTRICITY[0]], "energy_import")[5][1] == 10_500
        assert readings.count(conn) == 24
    assert reason == "conflicting_duplicate"


def test_compaction_refuses_to_merge_a_contradiction(engine: Engine, world: World) -> None:
    """A hot reading that contradicts a packed one (only possible around ingest's check) stays put."""
    _store(engine, world, [(WATER[0], "volume", DAY0 + 60 * k, 5_000 + k) for k in range(10)])
    compact(engine, now=DAY0 + DAY + 6 * 3600)
    _store(engine, world, [(WATER[0], "volume", DAY0 + 60 * 3, 4_000)], seq=2)  # bypasses existing()
    before = _hot_and_packed(engine)
    with pytest.raises(ReadingConflictError, match="packed value 5003"):
        compact(engine, now=DAY0 + DAY + 6 * 3600)
    assert _hot_and_packed(engine) == before == (1, 1)


def test_an_identical_reading_stored_around_the_check_is_dropped_when_merged(
    engine: Engine, world: World
) -> None:
    first = _store(engine, world, [(WATER[1], "volume", DAY0 + 60 * k, 5_000 + k) for k in range(10)])
    compact(engine, now=DAY0 + DAY + 6 * 3600)
    _store(engine, world, [(WATER[1], "volume", DAY0 + 60 * 3, 5_003)], seq=2)
    summary = compact(engine, now=DAY0 + DAY + 6 * 3600)
    assert (summary.duplicates, summary.days_merged) == (1, 1)
    assert _hot_and_packed(engine) == (0, 1)
    assert {r.batch_id for r in _all(engine)} == {first}


@pytest.mark.postgres
def test_compaction_waits_for_an_ingest_between_its_check_and_its_commit(pg_url: str) -> None:
    engine = make_engine(pg_url)
    migrate.upgrade(engine)
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(compact(engine, now=NOW))
        except Exception as exc:  # handed to the test thread below
            outcome.append(exc)

    try:
        with engine.begin() as conn:
            readings.existing(conn, [(MeterId(1), "energy_import", DAY0)])
            worker = threading.Thread(target=run)
            worker.start()
            worker.join(0.5)
            assert worker.is_alive() and not outcome  # held off while this "ingest" is open
        worker.join(10)
        assert not worker.is_alive()
        assert [type(o).__name__ for o in outcome] == ["CompactionSummary"]
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_ingest_holds_compaction_off_in_every_transaction_and_savepoint_it_reads_in(pg_url: str) -> None:
    engine = make_engine(pg_url)
    migrate.upgrade(engine)
    held = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND mode = 'ShareLock' "
        "AND pid = pg_backend_pid()"
    )
    key = [(MeterId(1), "energy_import", DAY0)]
    try:
        with engine.connect() as conn:
            for _ in range(2):  # the lock is remembered per transaction, so the second one takes it again
                with conn.begin():
                    assert conn.execute(held).scalar_one() == 0
                    readings.existing(conn, key)
                    readings.existing(conn, key)
                    assert conn.execute(held).scalar_one() == 1
            with conn.begin():
                savepoint = conn.begin_nested()
                readings.existing(conn, key)
                assert conn.execute(held).scalar_one() == 1
                savepoint.rollback()  # releases the lock taken inside it
                assert conn.execute(held).scalar_one() == 0
                readings.existing(conn, key)
                assert conn.execute(held).scalar_one() == 1
    finally:
        engine.dispose()


def test_batches_kept_together_get_their_ids_in_the_order_given(engine: Engine, world: World) -> None:
    payloads = [f"envelope {k}".encode() * (k + 1) for k in range(5)]
    with engine.begin() as conn:
        ids = readings.add_batches(
            conn,
            [
                readings.NewBatch(world.gateway.id, 10 - k, f"boot-{k}", "mqtt", NOW + k, payload)
                for k, payload in enumerate(payloads)
            ],
        )
    assert len(set(ids)) == len(payloads)
    with engine.connect() as conn:
        for k, (batch_id, payload) in enumerate(zip(ids, payloads, strict=True)):
            row = conn.execute(
                select(ingest_batches.c.seq, ingest_batches.c.boot, ingest_batches.c.sha256).where(
                    ingest_batches.c.id == batch_id
                )
            ).one()
            assert tuple(row) == (10 - k, f"boot-{k}", hashlib.sha256(payload).hexdigest())
            assert readings.batch_payload(conn, batch_id) == payload
    # A later single batch gets a fresh id, whichever way the earlier ones were numbered.
    with engine.begin() as conn:
        later = readings.add_batch(
            conn,
            gateway_id=world.gateway.id,
            seq=11,
            transport="http",
            received_at=NOW,
            sha256=hashlib.sha256(b"x").hexdigest(),
            payload=b"x",
        )
    assert later not in ids


@pytest.mark.parametrize("size", [0, 1, 300, 5_000, 100_000])
def test_a_batch_payload_comes_back_byte_for_byte(engine: Engine, world: World, size: int) -> None:
    rng = random.Random(size)
    items = [
        MeterReading(
            f"1100{rng.randrange(10**8):08d}",
            "energy_import",
            Decimal(rng.randrange(10**8)) / 100,
            "kWh",
            datetime.fromtimestamp(DAY0 + 900 * k, UTC),
        )
        for k in range(size // 150)
    ]
    payload = envelope.encode("gw-1", 1, datetime.fromtimestamp(DAY0, UTC), items) if size else b""
    with engine.begin() as conn:
        batch = readings.add_batch(
            conn,
            gateway_id=world.gateway.id,
            seq=1,
            transport="http",
            received_at=NOW,
            sha256=hashlib.sha256(payload).hexdigest(),
            payload=payload,
        )
    with engine.connect() as conn:
        stored, codec = conn.execute(
            select(ingest_batches.c.payload, ingest_batches.c.payload_codec).where(
                ingest_batches.c.id == batch
            )
        ).one()
        assert readings.batch_payload(conn, batch) == payload
    assert codec == archive.ZSTD_DICT_V1_FAST  # ingest compresses fast; compaction recompresses
    with engine.begin() as conn:
        assert readings.recompress_batches(conn, received_before=NOW) == 0  # not yet old enough
        assert readings.recompress_batches(conn, received_before=NOW + 1) == 1
        assert readings.recompress_batches(conn, received_before=NOW + 1) == 0
    with engine.connect() as conn:
        best, codec = conn.execute(
            select(ingest_batches.c.payload, ingest_batches.c.payload_codec).where(
                ingest_batches.c.id == batch
            )
        ).one()
        assert readings.batch_payload(conn, batch) == payload
    assert codec in (archive.ZLIB_DICT_V1, archive.XZ, archive.ZSTD_DICT_V1)
    assert len(best) <= len(stored)
    if size >= 5_000:
        assert len(best) < len(payload) / 5


def test_an_altered_archive_or_unknown_batch_is_reported(engine: Engine, world: World) -> None:
    batch = _store(engine, world, [(ELECTRICITY[0], "energy_import", DAY0, 1)])
    with engine.begin() as conn:
        payload = readings.batch_payload(conn, batch)
        codec, forged = archive.compress(payload.replace(b"1]", b"2]"))
        conn.execute(
            update(ingest_batches)
            .where(ingest_batches.c.id == batch)
            .values(payload=forged, payload_codec=codec)
        )
    with engine.connect() as conn:
        with pytest.raises(archive.ArchiveError, match="the archive was altered"):
            readings.batch_payload(conn, batch)
        with pytest.raises(LookupError, match="batch 999"):
            readings.batch_payload(conn, 999)


def test_readings_far_in_the_past_or_future_are_stored(engine: Engine, world: World) -> None:
    meter = world.meters[ELECTRICITY[1]]
    past = int(datetime(1980, 1, 1, 12, tzinfo=UTC).timestamp())
    future = int(datetime(2099, 12, 31, 12, tzinfo=UTC).timestamp())
    _store(engine, world, [(ELECTRICITY[1], "energy_import", t, v) for t, v in ((past, 1), (future, 9))])
    compact(engine, now=NOW)  # packs 1980 (a closed day), keeps 2099 hot
    assert _hot_and_packed(engine) == (1, 1)
    with engine.connect() as conn:
        assert readings.of_meter(conn, meter, "energy_import") == [(past, 1), (future, 9)]
        if engine.dialect.name == "postgresql":
            assert _partition_of(conn, "readings_hot", "meter_time", future) == "readings_hot_default"
            assert _partition_of(conn, "readings_packed", "day", past // DAY) == "readings_packed_default"


def test_partitions_come_with_their_month_and_go_once_it_is_packed(engine: Engine, world: World) -> None:
    november = int(datetime(2026, 11, 18, tzinfo=UTC).timestamp())
    december = int(datetime(2026, 12, 3, tzinfo=UTC).timestamp())
    meter = world.meters[ELECTRICITY[0]]
    _store(engine, world, [(ELECTRICITY[0], "energy_import", december + 900 * k, 5 + k) for k in range(2)])
    with engine.begin() as conn:
        assert readings.partitions(conn, "readings_hot") == (
            ["readings_hot_default"] if engine.dialect.name == "postgresql" else []
        )
        created = readings.maintain_partitions(conn, now=november)
    _store(engine, world, [(ELECTRICITY[0], "energy_import", december + 1800, 7)], seq=2)
    expected = [(december, 5), (december + 900, 6), (december + 1800, 7)]
    with engine.begin() as conn:
        assert readings.of_meter(conn, meter, "energy_import") == expected
        if engine.dialect.name == "postgresql":
            assert created == [
                "readings_hot_p2026_11",
                "readings_hot_p2026_12",
                "readings_hot_p2027_01",
                "readings_packed_p2026_10",
                "readings_packed_p2026_11",
                "readings_packed_p2026_12",
                "readings_packed_p2027_01",
            ]
            # The two readings that waited in the default partition moved; the third went straight there.
            assert _partitions_holding(conn, "readings_hot") == {"readings_hot_p2026_12": 3}
            assert readings.maintain_partitions(conn, now=november) == []
        else:
            assert created == []  # one plain table each

    # In January, November and December are packed: their hot partitions go, the packed ones stay.
    summary = compact(engine, now=int(datetime(2027, 1, 2, 12, tzinfo=UTC).timestamp()))
    with engine.connect() as conn:
        assert readings.of_meter(conn, meter, "energy_import") == expected
        if engine.dialect.name == "postgresql":
            assert summary.partitions_dropped == ("readings_hot_p2026_11", "readings_hot_p2026_12")
            assert _partitions_holding(conn, "readings_packed") == {"readings_packed_p2026_12": 1}
        else:
            assert summary.partitions_dropped == summary.partitions_created == ()


def _partitions_holding(conn: Connection, table: str) -> dict[str, int]:
    query = text(f"SELECT tableoid::regclass::text, count(*) FROM {table} GROUP BY 1")  # noqa: S608
    return {str(name): int(n) for name, n in conn.execute(query)}


def _partition_of(conn: Connection, table: str, column: str, value: int) -> str:
    query = text(f"SELECT tableoid::regclass::text FROM {table} WHERE {column} = :v")  # noqa: S608
    return str(conn.execute(query, {"v": value}).scalar_one())


def test_the_migration_carries_readings_and_payloads_both_ways(engine: Engine, world: World) -> None:
    rows = _three_days(world)
    for i, start in enumerate(range(0, len(rows), 700), start=1):
        _store(engine, world, rows[start : start + 700], seq=i)
    compact(engine, now=DAY0 + 4 * DAY + 7 * 3600)
    with engine.connect() as conn:
        payloads = {
            b: readings.batch_payload(conn, b) for b in conn.execute(select(ingest_batches.c.id)).scalars()
        }
    before = _all(engine)

    migrate.downgrade(engine, "0002")
    with engine.connect() as conn:
        old = conn.execute(
            text("SELECT meter_id, register, meter_time, value, batch_id, received_at FROM readings")
        ).all()
        raw = dict(conn.execute(text("SELECT id, payload FROM ingest_batches")).all())
    assert sorted(old) == sorted(
        (r.meter_id, r.register, r.meter_time, r.value, r.batch_id, NOW) for r in before
    )
    assert {b: bytes(p) for b, p in raw.items()} == payloads

    migrate.upgrade(engine)
    assert _all(engine) == before
    with engine.connect() as conn:
        assert {b: readings.batch_payload(conn, b) for b in payloads} == payloads
        assert readings.of_meter(conn, MeterId(world.meters[WATER[0]]), "volume")[0][0] == DAY0
