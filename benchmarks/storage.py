"""Bytes on disk per stored reading on PostgreSQL, raw-payload archive included, and the write rate of add().

A simulated county is onboarded into a fresh database and its envelopes go through the real ingest
pipeline (decode, checks, duplicate detection, archive, COPY); then the compaction job packs every closed
day. Sizes are ``pg_total_relation_size`` (heap, indexes, TOAST, free-space and visibility maps) summed
over every partition, after ``CHECKPOINT`` and ``VACUUM ANALYZE``; WAL is not counted.

Two delivery patterns, since the archive compresses each envelope on its own:

- ``rounds``: every gateway sends each 15-minute round as it is read (150 readings per envelope), as a
  live MQTT or HTTP gateway does;
- ``backlog``: envelopes of up to 5,000 readings, as a gateway uploading a buffered backlog does.

The naive layout (one 116-byte row per reading) is quoted from the machine-limits note, §1.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import psycopg
from sqlalchemy import Engine, insert, text

from tanhui.cli.onboarding import onboard
from tanhui.domain.ids import MeterId
from tanhui.ingest.pipeline import Ingestor
from tanhui.jobs.compaction import compact
from tanhui.sim.county import County, build_county, envelopes
from tanhui.store import migrate, readings, registry
from tanhui.store.engine import make_engine
from tanhui.store.readings import StoredReading
from tanhui.store.schema import meters, register_codes

PG_ADMIN = "postgresql://root@127.0.0.1:5432/test"
NAIVE_BYTES_PER_READING = 115.8  # machine-limits §1: row per reading, primary key only, after CHECKPOINT
TABLES = ("readings_hot", "readings_packed", "ingest_batches", "register_codes")


@contextmanager
def pg_engine() -> Iterator[Engine]:
    """A migrated store in a database of its own, dropped afterwards."""
    name = f"tanhui_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(f"postgresql+psycopg://root@127.0.0.1:5432/{name}")
    try:
        migrate.upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sizes(engine: Engine, *, rewrite: tuple[str, ...] = ()) -> dict[str, int]:
    """Bytes on disk of each table, partitions included, after a checkpoint and a vacuum; the tables in
    ``rewrite`` are rewritten first (VACUUM FULL), so that they hold only live rows."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in rewrite:
            conn.execute(text(f"VACUUM FULL {table}"))
        conn.execute(text("CHECKPOINT"))
        conn.execute(text("VACUUM ANALYZE"))
        return {
            table: int(
                conn.execute(
                    # A plain table has no partition tree; then it is its own size.
                    text(
                        "SELECT coalesce((SELECT sum(pg_total_relation_size(relid)) "
                        "FROM pg_partition_tree(:t)), pg_total_relation_size(:t))"
                    ),
                    {"t": table},
                ).scalar_one()
            )
            for table in TABLES
        }


def storage(county: County, *, max_readings: int, pattern: str) -> list[dict[str, object]]:
    with pg_engine() as engine:
        onboard(engine, county, factor_set_id="cn-mee-2023@v1", now=0, passwords={"operator": "x"})
        end = county.end
        # As in a running installation, the monthly partitions already exist when the readings arrive
        # (the compaction job creates them ahead); a fresh database would first collect them in the
        # default partition.
        with engine.begin() as conn:
            readings.maintain_partitions(conn, now=int(county.begin.timestamp()))
        ingestor = Ingestor(engine, lambda: end.astimezone(UTC))
        with engine.connect() as conn:
            gateways = {g.name: registry.gateway_by_name(conn, g.name) for g in county.gateways}
        batches = list(envelopes(county, max_readings=max_readings))
        started = time.perf_counter()
        stored = 0
        for name, payload in batches:
            gateway = gateways[name]
            assert gateway is not None
            stored += ingestor.ingest(payload, gateway=gateway, transport="http").stored
        ingest_seconds = time.perf_counter() - started
        with engine.connect() as conn:
            assert readings.count(conn) == stored
        hot = sizes(engine)
        # A day after the last reading, every UTC day the county touched is closed.
        summary = compact(engine, now=int((end + timedelta(days=1)).timestamp()))
        assert summary.readings == stored
        after = sizes(engine)
        # Compaction recompressed the payloads ingest had stored fast: their old versions' space is free
        # for the next day's payloads, but stays in the file. The archive's live bytes, rewritten:
        live = sizes(engine, rewrite=("ingest_batches",))
        with engine.connect() as conn:
            assert readings.count(conn) == stored

    def row(name: str, size: int) -> dict[str, object]:
        return {
            "pattern": pattern,
            "name": name,
            "readings": stored,
            "bytes": size,
            "bytes_per_reading": round(size / stored, 2),
        }

    readings_after = after["readings_packed"] + live["ingest_batches"] + after["register_codes"]
    return [
        {
            **row("ingest through the pipeline", 0),
            "envelopes": len(batches),
            "seconds": round(ingest_seconds, 2),
            "readings_per_s": round(stored / ingest_seconds),
        },
        row("hot rows, before compaction", hot["readings_hot"]),
        row("packed days, after compaction", after["readings_packed"]),
        row("raw-payload archive (ingest_batches), recompressed, live rows", live["ingest_batches"]),
        # The day's payloads as ingest wrote them (zlib level 1), freed by compaction's recompression and
        # reused by the next day's: a working set of about a day, not a cost per stored reading.
        row("raw-payload archive before its rewrite (fast copies' space, reused)", after["ingest_batches"]),
        row("readings after compaction: packed + archive + register codes", readings_after),
        # Empty now, but the current month's partition keeps its pages and index for the next day's rows:
        # a working set of about a day of readings, not a cost per stored reading.
        row("hot partitions left after compaction (empty, space reused)", after["readings_hot"]),
        row("everything on disk after compaction", sum(after.values())),
        row("everything on disk after compaction, archive rewritten", sum(live.values())),
    ]


def write_rate(rows: int = 200_000, per_call: int = 5_000) -> list[dict[str, object]]:
    """Rows/s of ``readings.add`` (binary COPY) and of the DB-API ``executemany`` it replaced, same table.

    Time-ordered rows as a fleet reports (every meter at t, then t + 15 min), ``per_call`` rows per call
    and one transaction per call with its batch row, as the pipeline does.
    """
    meter_count = 10_000
    start = 1_790_000_000
    batch_rows = [
        StoredReading(MeterId(m), "energy_import", start + 900 * k, 1_000 + k)
        for k in range(rows // meter_count)
        for m in range(1, meter_count + 1)
    ]
    results = []
    for method in ("copy", "executemany"):
        with pg_engine() as engine:
            with engine.begin() as conn:
                cid = registry.create_community(
                    conn,
                    slug="bench",
                    name="bench",
                    name_zh="bench",
                    timezone="UTC",
                    factor_regime="cn",
                    factor_set_id="cn-mee-2023@v1",
                    now=0,
                )
                gid, _ = registry.create_gateway(conn, community_id=cid, name="bench-gw", now=0)
                conn.execute(
                    insert(meters),
                    [
                        {
                            "community_id": cid,
                            "serial": f"{m:012d}",
                            "kind": "electricity",
                            "protocol": "json",
                            "unit": "kWh",
                            "resolution": "0.01",
                            "capacity": 10**8,
                            "installed_on": date(2026, 1, 1),
                        }
                        for m in range(meter_count)
                    ],
                )
                code = conn.execute(
                    insert(register_codes).values(name="energy_import").returning(register_codes.c.code)
                ).scalar_one()
            started = time.perf_counter()
            for i in range(0, len(batch_rows), per_call):
                with engine.begin() as conn:
                    batch = readings.add_batch(
                        conn,
                        gateway_id=gid,
                        seq=i,
                        transport="http",
                        received_at=0,
                        sha256="0" * 64,
                        payload=b"{}",
                    )
                    chunk = batch_rows[i : i + per_call]
                    if method == "copy":
                        readings.add(conn, chunk, batch_id=batch, received_at=0)
                    else:
                        conn.exec_driver_sql(
                            "INSERT INTO readings_hot (meter_id, register, meter_time, value, batch_id) "
                            "VALUES (%s, %s, %s, %s, %s)",
                            [(r.meter_id, code, r.meter_time, r.value, batch) for r in chunk],
                        )
            seconds = time.perf_counter() - started
        results.append(
            {
                "name": "readings.add (binary COPY)"
                if method == "copy"
                else "DB-API executemany INSERT (the previous add)",
                "rows": len(batch_rows),
                "rows_per_call": per_call,
                "seconds": round(seconds, 3),
                "rows_per_s": round(len(batch_rows) / seconds),
            }
        )
    return results


def run(households: int = 500, days: int = 2) -> list[dict[str, object]]:
    """Storage per reading for both delivery patterns, the naive layout for comparison, and write rates."""
    county = build_county(
        seed=1, households=households, start=date(2026, 10, 1), days=days, interval=timedelta(minutes=15)
    )
    results = storage(county, max_readings=3 * 50, pattern="rounds")
    results += storage(county, max_readings=5_000, pattern="backlog")
    results.append(
        {
            "pattern": "quoted",
            "name": "naive row per reading (machine-limits §1)",
            "bytes_per_reading": NAIVE_BYTES_PER_READING,
        }
    )
    results += write_rate()
    return results


if __name__ == "__main__":
    started = datetime.now(UTC)
    for result in run():
        print(result)
    print(f"took {(datetime.now(UTC) - started).total_seconds():.0f} s")
