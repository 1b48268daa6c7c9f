"""Readings: append-only register values, unique per meter, register and meter time.

A reading lives in one of two tables (docs/decisions/0006-compact-readings.md):

- ``readings_hot``: one narrow row per reading, where ingest writes (binary COPY on PostgreSQL);
- ``readings_packed``: one row per meter, register and closed UTC day, written by the compaction job
  (:func:`pack`), holding that day's readings losslessly delta-encoded (:mod:`tanhui.store.packing`).

Every read here (:func:`existing`, :func:`of_meter`, :func:`count`, :func:`scan`) looks at both in one
statement, so it sees one snapshot: a day that compaction moves while it reads is never seen twice or
missed. On PostgreSQL both tables are partitioned by month (:func:`maintain_partitions`).

Ingest's check-then-insert (:func:`existing`, then :func:`add`) and compaction exclude each other with a
PostgreSQL advisory lock held until the end of the transaction: ingest takes it shared, compaction
exclusive. Without it, a reading that compaction moved between another worker's check and insert could be
stored twice, once in each table.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np
import psycopg
from numpy.typing import NDArray
from psycopg import sql
from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    Integer,
    LargeBinary,
    Select,
    any_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    literal_column,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tanhui.domain.errors import TanhuiError
from tanhui.domain.ids import CommunityId, GatewayId, MeterId
from tanhui.store import archive, bulk, packing
from tanhui.store.packing import PackedReading
from tanhui.store.schema import ingest_batches, meters, readings_hot, readings_packed, register_codes

DAY = 86_400

# Advisory lock key shared by ingest (shared) and compaction (exclusive): "tanhui.r" in ASCII.
_COMPACTION_LOCK = 0x74616E6875692E72

# Advisory lock classes of the two-int4 form (a key space apart from _COMPACTION_LOCK's bigint), held by an
# ingest transaction for what it checks (:func:`lock_for_checks`): "tg" for gateways, "tm" for meters.
_GATEWAY_LOCK = 0x7467
_METER_LOCK = 0x746D

# Partitions are kept for the current month, the one before and PARTITIONS_AHEAD after, and for any month
# up to PARTITION_HISTORY months back that holds readings (a backfill of meter history). A reading outside
# that window (a meter clock in 1980 or 2099) stays in the default partition: stored, never refused.
PARTITIONS_AHEAD = 2
PARTITION_HISTORY = 120


class ReadingConflictError(TanhuiError):
    """Two different values for the same meter, register and meter time met in the store."""

    code = "reading_conflict"


@dataclass(frozen=True, slots=True)
class StoredReading:
    meter_id: MeterId
    register: str
    meter_time: int
    value: int


@dataclass(frozen=True, slots=True)
class ReadingRecord:
    """A stored reading with the ingest batch that delivered it (its provenance)."""

    meter_id: MeterId
    register: str
    meter_time: int
    value: int
    batch_id: int


@dataclass(frozen=True, slots=True)
class PackResult:
    """What one :func:`pack` call moved from hot rows into packed days."""

    readings: int = 0
    days_written: int = 0
    days_merged: int = 0
    duplicates: int = 0


# --- raw payload archive -------------------------------------------------------------------------------


def add_batch(
    conn: Connection,
    *,
    gateway_id: GatewayId,
    seq: int,
    transport: str,
    received_at: int,
    sha256: str,
    payload: bytes,
    boot: str = "",
) -> int:
    """Keep the raw payload of an ingest batch, compressed; its readings point at it.

    ``sha256`` is the digest of ``payload`` as received (what the audit log commits to);
    :func:`batch_payload` gives back exactly those bytes. Compressed fast here; compaction recompresses
    (:func:`recompress_batches`).
    """
    return add_batches(conn, [NewBatch(gateway_id, seq, boot, transport, received_at, payload, sha256)])[0]


@dataclass(frozen=True, slots=True)
class NewBatch:
    """One ingest batch to keep (:func:`add_batches`)."""

    gateway_id: GatewayId
    seq: int
    boot: str
    transport: str
    received_at: int
    payload: bytes
    # The digest of ``payload`` as received; None: computed here.
    sha256: str | None = None


def add_batches(conn: Connection, batches: Sequence[NewBatch]) -> list[int]:
    """:func:`add_batch` for several batches in one statement; their ids, in the order given."""
    if not batches:
        return []
    # One tuple per batch, in _BATCH_COLUMNS order.
    values: list[tuple[Any, ...]] = []
    for b in batches:
        codec, data = archive.compress_fast(b.payload)
        digest = hashlib.sha256(b.payload).hexdigest() if b.sha256 is None else b.sha256
        values.append((b.gateway_id, b.seq, b.boot, b.transport, b.received_at, digest, data, codec))
    if conn.dialect.name != "postgresql":
        statement = insert(ingest_batches).returning(ingest_batches.c.id, sort_by_parameter_order=True)
        rows = [dict(zip(_BATCH_COLUMNS, v, strict=True)) for v in values]
        return [int(i) for i in conn.execute(statement, rows).scalars()]
    # PostgreSQL: the ids drawn from the table's sequence first, then one COPY (an INSERT of a worker's
    # 200 envelopes carries 1,600 parameters, each adapted and bound on its own).
    ids = [
        int(i)
        for i in conn.exec_driver_sql(
            "SELECT nextval(pg_get_serial_sequence('ingest_batches', 'id')) FROM generate_series(1, %(n)s)",
            {"n": len(values)},
        ).scalars()
    ]
    bulk.append_rows(
        conn,
        "ingest_batches",
        ["id", *_BATCH_COLUMNS],
        ["int8", "int4", "int8", "text", "text", "int8", "text", "bytea", "text"],
        [(i, *v) for i, v in zip(ids, values, strict=True)],
    )
    return ids


_BATCH_COLUMNS = [
    "gateway_id",
    "seq",
    "boot",
    "transport",
    "received_at",
    "sha256",
    "payload",
    "payload_codec",
]


def batch_payload(conn: Connection, batch_id: int) -> bytes:
    """The payload of batch ``batch_id`` byte for byte as received, checked against its SHA-256.

    Raises :class:`LookupError` for an unknown batch and :class:`tanhui.store.archive.ArchiveError` when
    the archived bytes do not restore to the recorded digest.
    """
    row = conn.execute(
        select(ingest_batches.c.payload_codec, ingest_batches.c.payload, ingest_batches.c.sha256).where(
            ingest_batches.c.id == batch_id
        )
    ).one_or_none()
    if row is None:
        raise LookupError(f"ingest batch {batch_id} does not exist")
    return archive.restore(row.payload_codec, bytes(row.payload), row.sha256)


# --- ingest --------------------------------------------------------------------------------------------


def recompress_batches(conn: Connection, *, received_before: int, limit: int = 500) -> int:
    """Recompress up to ``limit`` payloads that ingest stored fast (received before ``received_before``)
    with the archive's best codec; how many were rewritten. Each is restored and checked against its
    digest first, so a damaged payload stops the job instead of being rewritten."""
    rows = conn.execute(
        select(
            ingest_batches.c.id,
            ingest_batches.c.payload_codec,
            ingest_batches.c.payload,
            ingest_batches.c.sha256,
        )
        .where(
            ingest_batches.c.payload_codec.in_(archive.FAST_CODECS),
            ingest_batches.c.received_at < received_before,
        )
        .order_by(ingest_batches.c.id)
        .limit(limit)
    ).all()
    for batch_id, fast, data, sha256 in rows:
        codec, packed = archive.recompress(fast, bytes(data), archive.restore(fast, bytes(data), sha256))
        conn.execute(
            update(ingest_batches)
            .where(ingest_batches.c.id == batch_id, ingest_batches.c.payload_codec == fast)
            .values(payload=packed, payload_codec=codec)
        )
    return len(rows)


def envelope_digests(
    conn: Connection, keys: Iterable[tuple[GatewayId, str, int]]
) -> dict[tuple[GatewayId, str, int], str]:
    """The payload digest already recorded for each ``(gateway, boot, seq)`` among ``keys`` (if any)."""
    wanted = set(keys)
    found: dict[tuple[GatewayId, str, int], str] = {}
    if not wanted:
        return found
    # One statement for the batch: the index on (gateway, boot, seq) serves the gateway and seq lists, and
    # the few rows of other combinations are dropped here.
    query = (
        select(
            ingest_batches.c.gateway_id, ingest_batches.c.boot, ingest_batches.c.seq, ingest_batches.c.sha256
        )
        .where(_among(conn, ingest_batches.c.gateway_id, sorted({g for g, _, _ in wanted})))
        .where(ingest_batches.c.boot.in_(sorted({b for _, b, _ in wanted})))
        .where(ingest_batches.c.seq.in_(sorted({s for _, _, s in wanted})))
        .where(ingest_batches.c.transport != "replay")
    )
    for gateway_id, boot, seq, digest in conn.execute(query):
        key = (GatewayId(int(gateway_id)), str(boot), int(seq))
        if key in wanted:
            found.setdefault(key, digest)
    return found


def existing(
    conn: Connection, keys: Iterable[tuple[MeterId, str, int]]
) -> dict[tuple[MeterId, str, int], int]:
    """The stored values of those ``(meter, register, meter_time)`` keys that already exist.

    A batch usually holds every meter of a gateway over one time window, so one query per 500 meters over
    that window (an index range scan per meter in the hot rows and in the packed days) finds them all;
    readings of the window that are not among ``keys`` are dropped here. On PostgreSQL this holds off
    compaction until the caller's transaction ends, so that the answer stays true until :func:`add`.
    """
    wanted = set(keys)
    if not wanted:
        return {}
    found: dict[tuple[MeterId, str, int], int] = {}
    window = in_window(
        conn,
        {k[0] for k in wanted},
        {k[1] for k in wanted},
        min(k[2] for k in wanted),
        max(k[2] for k in wanted),
    )
    for record in window:
        key = (record.meter_id, record.register, record.meter_time)
        if key in wanted:
            found[key] = record.value
    return found


def in_window(
    conn: Connection, meter_ids: Iterable[MeterId], registers: Iterable[str], lo: int, hi: int
) -> Iterator[ReadingRecord]:
    """Stored readings of ``meter_ids`` and ``registers`` with ``lo <= meter_time <= hi``, hot and packed.

    On PostgreSQL this holds off compaction until the caller's transaction ends.
    """
    ids = sorted(set(meter_ids))
    names = sorted(set(registers))
    if not ids or not names:
        return
    _hold_off_compaction(conn)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        hot = _hot_select().where(
            _among(conn, readings_hot.c.meter_id, chunk),
            register_codes.c.name.in_(names),
            readings_hot.c.meter_time.between(lo, hi),
        )
        packed = _packed_select().where(
            _among(conn, readings_packed.c.meter_id, chunk),
            register_codes.c.name.in_(names),
            readings_packed.c.day.between(lo // DAY, hi // DAY),
        )
        for record in _records(conn.execute(union_all(hot, packed))):
            if lo <= record.meter_time <= hi:
                yield record


def latest_before(
    conn: Connection, meter_ids: Iterable[MeterId], registers: Iterable[str], before: int
) -> dict[tuple[MeterId, str], tuple[int, int]]:
    """The last stored reading before ``before`` of each of those meters' registers: (time, value).

    Hot rows first (one grouped index scan); a register with none there is looked up in its latest
    packed day, which is decoded.
    """
    ids = sorted(set(meter_ids))
    names = sorted(set(registers))
    found: dict[tuple[MeterId, str], tuple[int, int]] = {}
    if not ids or not names:
        return found
    _hold_off_compaction(conn)
    with _probing_by_key(conn):
        # On PostgreSQL the ids go as one array parameter (_among), so a chunk can be large.
        size = 5000 if conn.dialect.name == "postgresql" else 500
        for start in range(0, len(ids), size):
            chunk = ids[start : start + size]
            last_hot = (
                select(
                    readings_hot.c.meter_id,
                    readings_hot.c.register,
                    func.max(readings_hot.c.meter_time).label("t"),
                )
                .join(register_codes, register_codes.c.code == readings_hot.c.register)
                .where(
                    _among(conn, readings_hot.c.meter_id, chunk),
                    register_codes.c.name.in_(names),
                    readings_hot.c.meter_time < before,
                )
                .group_by(readings_hot.c.meter_id, readings_hot.c.register)
                .subquery()
            )
            hot = (
                select(
                    readings_hot.c.meter_id,
                    register_codes.c.name,
                    readings_hot.c.meter_time,
                    readings_hot.c.value,
                )
                .join(
                    last_hot,
                    (last_hot.c.meter_id == readings_hot.c.meter_id)
                    & (last_hot.c.register == readings_hot.c.register)
                    & (last_hot.c.t == readings_hot.c.meter_time),
                )
                .join(register_codes, register_codes.c.code == readings_hot.c.register)
            )
            for meter_id, name, t, value in conn.execute(hot):
                found[(MeterId(int(meter_id)), name)] = (int(t), int(value))
            missing = [m for m in chunk for n in names if (MeterId(m), n) not in found]
            if not missing:
                continue
            last_day = (
                select(
                    readings_packed.c.meter_id,
                    readings_packed.c.register,
                    func.max(readings_packed.c.day).label("d"),
                )
                .join(register_codes, register_codes.c.code == readings_packed.c.register)
                .where(
                    _among(conn, readings_packed.c.meter_id, sorted(set(missing))),
                    register_codes.c.name.in_(names),
                    readings_packed.c.day <= before // DAY,
                )
                .group_by(readings_packed.c.meter_id, readings_packed.c.register)
                .subquery()
            )
            packed = _packed_select().join(
                last_day,
                (last_day.c.meter_id == readings_packed.c.meter_id)
                & (last_day.c.register == readings_packed.c.register)
                & (last_day.c.d == readings_packed.c.day),
            )
            for record in _records(conn.execute(packed)):
                key = (record.meter_id, record.register)
                if record.meter_time < before and (key not in found or record.meter_time > found[key][0]):
                    found[key] = (record.meter_time, record.value)
    return found


_HOT_COLUMNS = ["meter_id", "register", "meter_time", "value", "batch_id"]
_COPY_TYPES = ["int4", "int2", "int8", "int8", "int8"]


def add(conn: Connection, rows: Sequence[StoredReading], *, batch_id: int, received_at: int) -> None:
    """Append readings of batch ``batch_id``; the hot key refuses a reading stored before.

    The caller checks first with :func:`existing` in the same transaction. A duplicate of a hot reading
    raises :class:`sqlalchemy.exc.IntegrityError` (another worker won a race; the ingest pipeline retries).
    ``received_at`` is recorded once, on the batch (:func:`add_batch`); it is accepted here for the
    callers of the row-per-reading layout.
    """
    add_many(conn, [(batch_id, rows)])


def add_many(conn: Connection, batches: Sequence[tuple[int, Sequence[StoredReading]]]) -> None:
    """Append the readings of several batches in one write (binary COPY on PostgreSQL, else executemany)."""
    if not any(rows for _, rows in batches):
        return
    _hold_off_compaction(conn)
    codes = _ensure_codes(conn, {r.register for _, rows in batches for r in rows})
    values = [
        (r.meter_id, codes[r.register], r.meter_time, r.value, batch_id)
        for batch_id, rows in batches
        for r in rows
    ]
    # In the transaction SQLAlchemy began with the advisory lock and the register codes above.
    bulk.append_rows(conn, "readings_hot", _HOT_COLUMNS, _COPY_TYPES, values)


Ints = NDArray[np.int64]

# One hot row in PostgreSQL's binary COPY format: field count, then (length, big-endian value) per column.
_HOT_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("meter_id_len", ">i4"),
        ("meter_id", ">i4"),
        ("register_len", ">i4"),
        ("register", ">i2"),
        ("meter_time_len", ">i4"),
        ("meter_time", ">i8"),
        ("value_len", ">i4"),
        ("value", ">i8"),
        ("batch_id_len", ">i4"),
        ("batch_id", ">i8"),
    ]
)


def add_columns(
    conn: Connection,
    meter_ids: Ints,
    register_codes_: Ints,
    meter_times: Ints,
    values: Ints,
    batch_ids: Ints,
) -> None:
    """:func:`add_many` for readings held as arrays (register codes from :func:`register_code_map`): on
    PostgreSQL the COPY rows are laid out by numpy in one buffer instead of one Python call per row."""
    if not len(meter_ids):
        return
    _hold_off_compaction(conn)
    if conn.dialect.name != "postgresql":
        rows = list(
            zip(
                meter_ids.tolist(),
                register_codes_.tolist(),
                meter_times.tolist(),
                values.tolist(),
                batch_ids.tolist(),
                strict=True,
            )
        )
        bulk.append_rows(conn, "readings_hot", _HOT_COLUMNS, _COPY_TYPES, rows)
        return
    table = np.empty(len(meter_ids), dtype=_HOT_ROW)
    table["fields"] = len(_HOT_COLUMNS)
    for name, column in zip(
        _HOT_COLUMNS, (meter_ids, register_codes_, meter_times, values, batch_ids), strict=True
    ):
        table[f"{name}_len"] = table.dtype[name].itemsize
        table[name] = column
    bulk.append_binary(conn, "readings_hot", _HOT_COLUMNS, [table.tobytes()])


def _window_rows(
    conn: Connection, meters_by_code: dict[int, list[int]], lo: int, hi: int
) -> tuple[list[tuple[int, ...]], list[tuple[int, int, int, bytes]]]:
    """Hot rows and packed days of :func:`window_columns`."""
    if conn.dialect.name == "postgresql":
        return _window_rows_postgresql(conn, meters_by_code, lo, hi)
    found: list[tuple[int, ...]] = []
    packed: list[tuple[int, int, int, bytes]] = []
    for code, ids in meters_by_code.items():
        for start in range(0, len(ids), 5000):
            chunk = ids[start : start + 5000]
            hot = select(
                readings_hot.c.meter_id,
                readings_hot.c.register,
                readings_hot.c.meter_time,
                readings_hot.c.value,
            ).where(
                readings_hot.c.meter_id.in_(chunk),
                readings_hot.c.register == code,
                readings_hot.c.meter_time.between(lo, hi),
            )
            days_query = select(
                readings_packed.c.meter_id,
                readings_packed.c.register,
                readings_packed.c.day,
                readings_packed.c.data,
            ).where(
                readings_packed.c.meter_id.in_(chunk),
                readings_packed.c.register == code,
                readings_packed.c.day.between(lo // DAY, hi // DAY),
            )
            found.extend(tuple(r) for r in conn.execute(hot))
            packed.extend((int(m), int(r), int(d), bytes(b)) for m, r, d, b in conn.execute(days_query))
    return found, packed


def _window_rows_postgresql(
    conn: Connection, meters_by_code: dict[int, list[int]], lo: int, hi: int
) -> tuple[list[tuple[int, ...]], list[tuple[int, int, int, bytes]]]:
    """:func:`_window_rows` in one round trip: the statements for every register sent together, straight
    from the driver (no Python object per row on the way), between switching sequential scans off and
    back (:func:`_probing_by_key` says why).

    Several statements in one request go without parameters, so the values are composed into the text
    as literals (psycopg.sql).
    """
    statements: list[sql.Composable] = [sql.SQL(_SEQSCAN_OFF)]
    days = sql.SQL("day BETWEEN {} AND {}").format(sql.Literal(int(lo) // DAY), sql.Literal(int(hi) // DAY))
    for code, ids in meters_by_code.items():
        meters = sql.SQL("meter_id = ANY({}::int4[]) AND register = {}").format(
            sql.Literal("{" + ",".join(str(int(i)) for i in ids) + "}"), sql.Literal(int(code))
        )
        statements += [
            sql.SQL(
                "SELECT meter_id, register, meter_time, value FROM readings_hot WHERE {} "
                "AND meter_time BETWEEN {} AND {}"
            ).format(meters, sql.Literal(int(lo)), sql.Literal(int(hi))),
            sql.SQL("SELECT meter_id, register, day, data FROM readings_packed WHERE {} AND {}").format(
                meters, days
            ),
        ]
    statements.append(sql.SQL(_SEQSCAN_BACK))
    driver = cast(psycopg.Connection[Any], conn.connection.driver_connection)
    found: list[tuple[int, ...]] = []
    packed: list[tuple[int, int, int, bytes]] = []
    with driver.cursor() as cursor:
        cursor.execute(sql.SQL("; ").join(statements))
        for index in range(len(statements)):
            if index:
                cursor.nextset()
            if 0 < index < len(statements) - 1:
                (found if index % 2 else packed).extend(cursor.fetchall())
    return found, packed


@contextlib.contextmanager
def _probing_by_key(conn: Connection) -> Iterator[None]:
    """Within the block, PostgreSQL plans no sequential scan where a key lookup is possible.

    Ingest looks up a few thousand meters' neighbours in a partition that may hold millions of rows. A
    partition not yet analysed (a new month, a new deployment; autovacuum analyses it only after a
    minute or more) has no statistics: the planner takes a list of thousands of meter ids to match the
    whole table and scans all of it: on the MQTT benchmark's 2.3 million rows such scans took twice as
    long as the key lookups, and the gap grows with the partition.
    """
    if conn.dialect.name != "postgresql":
        yield
        return
    conn.exec_driver_sql(_SEQSCAN_OFF)
    try:
        yield
    finally:
        conn.exec_driver_sql(_SEQSCAN_BACK)


# Sequential scans off for the rest of the transaction, the setting as it was kept aside; and back to it
# (one level: a block that switches them off does not run inside another).
_SEQSCAN_OFF = (
    "SELECT set_config('tanhui.enable_seqscan', current_setting('enable_seqscan'), true), "
    "set_config('enable_seqscan', 'off', true)"
)
_SEQSCAN_BACK = "SELECT set_config('enable_seqscan', current_setting('tanhui.enable_seqscan'), true)"


def known_register_codes(conn: Connection, names: set[str]) -> dict[str, int]:
    """The stored code of each of ``names`` that has one (a name never stored has none)."""
    return _codes(conn, names) if names else {}


def register_code_map(conn: Connection, names: set[str]) -> dict[str, int]:
    """The stored code of each register name, adding codes for names met for the first time."""
    return _ensure_codes(conn, names)


def window_columns(
    conn: Connection, meters_by_code: dict[int, Iterable[int]], lo: int, hi: int
) -> tuple[Ints, Ints, Ints, Ints]:
    """:func:`in_window` as arrays ``(meter_id, register code, meter_time, value)``, hot and packed, for
    the meters given under each register code.

    Ingest's batch checks read every stored neighbour of a batch. Each register is asked only for the
    meters that have it: a list of meters times a list of registers would make PostgreSQL look up every
    combination (an electricity meter's volume register too). On PostgreSQL the hot rows come straight
    from the driver, without a Python object per row. Holds off compaction like :func:`in_window`.
    """
    wanted = {code: sorted(set(ids)) for code, ids in sorted(meters_by_code.items())}
    wanted = {code: ids for code, ids in wanted.items() if ids}
    empty = np.zeros(0, dtype=np.int64)
    if not wanted:
        return empty, empty, empty, empty
    _hold_off_compaction(conn)
    found, packed = _window_rows(conn, wanted, lo, hi)
    for meter_id, register, day, data in packed:
        for r in packing.decode(day * DAY, data):
            if lo <= r.meter_time <= hi:
                found.append((meter_id, register, r.meter_time, r.value))
    table = np.array(found, dtype=np.int64).reshape(-1, 4)
    return table[:, 0], table[:, 1], table[:, 2], table[:, 3]


# --- reads ---------------------------------------------------------------------------------------------


def of_meter(conn: Connection, meter_id: MeterId, register: str) -> list[tuple[int, int]]:
    """``(meter_time, value)`` of one register in meter-time order (out-of-order arrivals sorted)."""
    hot = _hot_select().where(readings_hot.c.meter_id == meter_id, register_codes.c.name == register)
    packed = _packed_select().where(readings_packed.c.meter_id == meter_id, register_codes.c.name == register)
    series: list[tuple[int, int]] = []
    for record in _records(conn.execute(union_all(hot, packed))):
        series.append((record.meter_time, record.value))
    series.sort()
    return series


def count(conn: Connection, community_id: CommunityId | None = None) -> int:
    """How many readings are stored, of one community or of all."""
    hot = select(func.count()).select_from(readings_hot)
    packed = select(func.coalesce(func.sum(readings_packed.c.n), 0)).select_from(readings_packed)
    if community_id is not None:
        hot = hot.join(meters, meters.c.id == readings_hot.c.meter_id).where(
            meters.c.community_id == community_id
        )
        packed = packed.join(meters, meters.c.id == readings_packed.c.meter_id).where(
            meters.c.community_id == community_id
        )
    return int(conn.execute(select(hot.scalar_subquery() + packed.scalar_subquery())).scalar_one())


def scan(conn: Connection, meter_ids: Iterable[MeterId] | None = None) -> Iterator[ReadingRecord]:
    """Every stored reading with its batch, of ``meter_ids`` or of all meters, by meter, register, time.

    For checks and exports: it reads 500 meters at a time and decodes their packed days.
    """
    if meter_ids is None:
        ids = select(readings_hot.c.meter_id).union(select(readings_packed.c.meter_id))
        wanted = sorted(int(m) for m in conn.execute(ids).scalars())
    else:
        wanted = sorted(set(meter_ids))
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        hot = _hot_select().where(_among(conn, readings_hot.c.meter_id, chunk))
        packed = _packed_select().where(_among(conn, readings_packed.c.meter_id, chunk))
        records = list(_records(conn.execute(union_all(hot, packed))))
        records.sort(key=lambda r: (r.meter_id, r.register, r.meter_time))
        yield from records


def _hot_select() -> Select[Any]:
    # Hot rows and packed days in one result, so that one statement (one snapshot) reads both:
    # (packed?, meter, register name, time or day, value or count, batch, packed data).
    return select(
        literal_column("0").label("packed_day"),
        readings_hot.c.meter_id,
        register_codes.c.name,
        readings_hot.c.meter_time.label("t"),
        readings_hot.c.value,
        readings_hot.c.batch_id,
        sql_cast(null(), LargeBinary).label("data"),
    ).join_from(readings_hot, register_codes, register_codes.c.code == readings_hot.c.register)


def _packed_select() -> Select[Any]:
    return select(
        literal_column("1"),
        readings_packed.c.meter_id,
        register_codes.c.name,
        readings_packed.c.day,
        readings_packed.c.n,
        literal_column("0"),
        readings_packed.c.data,
    ).join_from(readings_packed, register_codes, register_codes.c.code == readings_packed.c.register)


def _records(rows: Iterable[Any]) -> Iterator[ReadingRecord]:
    for packed_day, meter_id, register, t, value, batch_id, data in rows:
        meter = MeterId(int(meter_id))
        if packed_day:
            for r in packing.decode(int(t) * DAY, bytes(data)):
                yield ReadingRecord(meter, register, r.meter_time, r.value, r.batch_id)
        else:
            yield ReadingRecord(meter, register, int(t), int(value), int(batch_id))


def _among(conn: Connection, column: ColumnElement[int], ids: Sequence[int]) -> ColumnElement[bool]:
    """``column IN ids``; on PostgreSQL as ``= ANY(array)``: one parameter, not one per id, keeps the
    statement short enough for psycopg's statement cache and saves rendering 500 placeholders."""
    if conn.dialect.name == "postgresql":
        return column == any_(literal(list(ids), ARRAY(Integer)))
    return column.in_(ids)


# --- compaction ----------------------------------------------------------------------------------------


def hot_meter_range(conn: Connection) -> tuple[int, int] | None:
    """The lowest and highest meter id with hot readings, or None when there are none."""
    lo, hi = conn.execute(select(func.min(readings_hot.c.meter_id), func.max(readings_hot.c.meter_id))).one()
    return None if lo is None else (int(lo), int(hi))


def pack(conn: Connection, *, first_meter: int, last_meter: int, before: int) -> PackResult:
    """Move the hot readings of meters ``first_meter..last_meter`` older than ``before`` into packed days.

    ``before`` should be the start of a UTC day (epoch seconds) so that only whole days move. A day that
    is already packed (a late arrival came in after the last run) is merged: decoded, joined with the new
    readings and re-encoded; a hot reading identical to a packed one (same value) is dropped as the
    duplicate it is, one with another value raises :class:`ReadingConflictError` and the transaction must
    be rolled back, leaving both where they were. Idempotent: a second call finds nothing to move.

    The hot rows are taken with ``DELETE … RETURNING``, so exactly the rows read are removed even while
    ingest goes on; every packed day is decoded again and compared before the transaction may commit.
    """
    _exclude_ingest(conn)
    moved = conn.execute(
        delete(readings_hot)
        .where(
            readings_hot.c.meter_id.between(first_meter, last_meter),
            readings_hot.c.meter_time < before,
        )
        .returning(
            readings_hot.c.meter_id,
            readings_hot.c.register,
            readings_hot.c.meter_time,
            readings_hot.c.value,
            readings_hot.c.batch_id,
        )
    ).all()
    if not moved:
        return PackResult()
    days: dict[tuple[int, int, int], dict[int, PackedReading]] = defaultdict(dict)
    for meter_id, code, meter_time, value, batch_id in moved:
        t = int(meter_time)
        days[int(meter_id), int(code), t // DAY][t] = PackedReading(t, int(value), int(batch_id))

    day_numbers = [key[2] for key in days]
    packed_before = conn.execute(
        select(
            readings_packed.c.meter_id,
            readings_packed.c.register,
            readings_packed.c.day,
            readings_packed.c.data,
        ).where(
            readings_packed.c.meter_id.between(first_meter, last_meter),
            readings_packed.c.day.between(min(day_numbers), max(day_numbers)),
        )
    ).all()
    merged: set[tuple[int, int, int]] = set()
    duplicates = 0
    for meter_id, code, day, data in packed_before:
        key = (int(meter_id), int(code), int(day))
        incoming = days.get(key)
        if incoming is None:
            continue
        merged.add(key)
        for old in packing.decode(key[2] * DAY, bytes(data)):
            new = incoming.get(old.meter_time)
            if new is not None and new.value != old.value:
                raise ReadingConflictError(
                    f"meter {key[0]} register code {key[1]} at {old.meter_time}: packed value {old.value} "
                    f"(batch {old.batch_id}) and hot value {new.value} (batch {new.batch_id}) differ; "
                    "quarantine one of them by hand, then run compaction again"
                )
            duplicates += new is not None
            incoming[old.meter_time] = old  # the first stored copy keeps its batch

    inserts: list[dict[str, object]] = []
    updates: list[dict[str, object]] = []
    for (meter_id, code, day), by_time in days.items():
        day_readings = [by_time[t] for t in sorted(by_time)]
        data = packing.encode(day * DAY, day_readings)
        if packing.decode(day * DAY, data) != day_readings:
            # Compaction deletes the rows it packs: never let a packing bug commit.
            raise packing.PackingError(f"meter {meter_id} day {day} does not decode to what was packed")
        row = {"m": meter_id, "r": code, "d": day, "n": len(day_readings), "data": data}
        (updates if (meter_id, code, day) in merged else inserts).append(row)
    if inserts:
        conn.execute(
            insert(readings_packed).values(
                meter_id=bindparam("m"),
                register=bindparam("r"),
                day=bindparam("d"),
                n=bindparam("n"),
                data=bindparam("data"),
            ),
            inserts,
        )
    if updates:
        conn.execute(
            update(readings_packed)
            .where(
                readings_packed.c.meter_id == bindparam("m"),
                readings_packed.c.register == bindparam("r"),
                readings_packed.c.day == bindparam("d"),
            )
            .values(n=bindparam("n"), data=bindparam("data")),
            updates,
        )
    return PackResult(len(moved), len(inserts), len(updates), duplicates)


# --- partitions (PostgreSQL) ---------------------------------------------------------------------------

# Partitioned table → (partition key column, seconds per unit of that column, SQL for its UTC day).
_PARTITIONED = {
    "readings_hot": ("meter_time", 1, f"meter_time / {DAY}"),
    "readings_packed": ("day", DAY, "day"),
}


def maintain_partitions(
    conn: Connection,
    *,
    now: int,
    ahead: int = PARTITIONS_AHEAD,
    history: int = PARTITION_HISTORY,
) -> list[str]:
    """Create the monthly partitions that should exist at ``now``; the names created. SQLite: none.

    Hot rows get the month of ``now`` and ``ahead`` months after: they hold only days not yet packed.
    Packed days get those, the month before, and every month up to ``history`` months back that has
    readings waiting in either default partition (a backfill), so that compaction files them by month.
    Readings waiting in a default partition for a new partition's month move into it in this transaction.

    Takes the compaction lock (ingest waits) and gives up after 10 s of waiting for table locks, so that
    ingest never queues long behind a slow reader; the next run tries again.
    """
    if conn.dialect.name != "postgresql":
        return []
    _exclude_ingest(conn)
    conn.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
    current = _month_index(now)
    window = set(range(current - history, current + ahead + 1))
    hot_months = set(range(current, current + ahead + 1))
    waiting = _waiting_months(conn, "readings_hot") | _waiting_months(conn, "readings_packed")
    wanted = {
        "readings_hot": hot_months - _attached_months(conn, "readings_hot"),
        "readings_packed": ((hot_months | {current - 1} | waiting) & window)
        - _attached_months(conn, "readings_packed"),
    }
    return [
        _create_partition(conn, parent, month)
        for parent, months in wanted.items()
        for month in sorted(months)
    ]


def drop_packed_hot_partitions(conn: Connection, *, before: int) -> list[str]:
    """Drop the hot partitions of months that end by ``before`` and hold no reading; the names dropped.

    Compaction empties a month's hot partition once all its days are packed; dropping it gives back the
    space its key index kept. A reading that arrives later for that month lands in the default partition
    and is packed by the next run. Takes the same locks as :func:`maintain_partitions`. SQLite: none.
    """
    if conn.dialect.name != "postgresql":
        return []
    _exclude_ingest(conn)
    conn.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
    dropped = []
    for month in sorted(_attached_months(conn, "readings_hot")):
        name = _partition_name("readings_hot", month)
        if (
            _month_start(month + 1) <= before
            and not conn.exec_driver_sql(
                f"SELECT EXISTS (SELECT FROM {name})"  # noqa: S608 - a name of our own making
            ).scalar_one()
        ):
            conn.exec_driver_sql(f"DROP TABLE {name}")
            dropped.append(name)
    return dropped


def partitions(conn: Connection, parent: str) -> list[str]:
    """The partitions of ``readings_hot`` or ``readings_packed`` on PostgreSQL, by name; SQLite: none."""
    if conn.dialect.name != "postgresql":
        return []
    query = (
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = CAST(%(parent)s AS regclass) ORDER BY c.relname"
    )
    return [str(name) for name in conn.exec_driver_sql(query, {"parent": parent}).scalars()]


def _attached_months(conn: Connection, parent: str) -> set[int]:
    prefix = f"{parent}_p"
    months = set()
    for name in partitions(conn, parent):
        if name.startswith(prefix):
            year, month = name.removeprefix(prefix).split("_")
            months.add(int(year) * 12 + int(month) - 1)
    return months


def _waiting_months(conn: Connection, parent: str) -> set[int]:
    day = _PARTITIONED[parent][2]
    days = conn.exec_driver_sql(f"SELECT DISTINCT {day} FROM {parent}_default").scalars()  # noqa: S608
    return {_month_index(int(day) * DAY) for day in days}


def _create_partition(conn: Connection, parent: str, month: int) -> str:
    column, seconds, _ = _PARTITIONED[parent]
    name = _partition_name(parent, month)
    lo = _month_start(month) // seconds
    hi = _month_start(month + 1) // seconds
    # Created apart and attached, rather than CREATE … PARTITION OF: the readings of that month that wait
    # in the default partition must leave it before the new bounds may be attached.
    conn.exec_driver_sql(f"CREATE TABLE {name} (LIKE {parent} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    conn.exec_driver_sql(
        f"WITH moved AS (DELETE FROM {parent}_default WHERE {column} >= {lo} AND {column} < {hi} "  # noqa: S608
        f"RETURNING *) INSERT INTO {name} SELECT * FROM moved"
    )
    conn.exec_driver_sql(f"ALTER TABLE {parent} ATTACH PARTITION {name} FOR VALUES FROM ({lo}) TO ({hi})")
    return name


def _partition_name(parent: str, month: int) -> str:
    year, month0 = divmod(month, 12)
    return f"{parent}_p{year:04d}_{month0 + 1:02d}"


def _month_index(epoch_seconds: int) -> int:
    moment = datetime.fromtimestamp(epoch_seconds, UTC)
    return moment.year * 12 + moment.month - 1


def _month_start(month: int) -> int:
    year, month0 = divmod(month, 12)
    return int(datetime(year, month0 + 1, 1, tzinfo=UTC).timestamp())


# --- locks and register codes --------------------------------------------------------------------------


def lock_for_checks(
    conn: Connection, gateway_ids: Iterable[int], meters: Iterable[tuple[int, str]] = ()
) -> None:
    """Hold ``gateway_ids`` and ``meters`` (community id, serial) until the end of the transaction.

    Ingest checks new readings against the stored ones before it writes; two workers checking readings of
    one register at once would each miss the other's uncommitted rows, and a fall between their batches
    would be stored. A meter bound to a gateway is only stored through that gateway, so holding the
    gateways of the envelopes being checked serialises exactly the batches that share such meters; a meter
    bound to no gateway is held itself. Keys are taken in one order (gateways, then meters, each sorted),
    so transactions that take all theirs at once never wait for each other in a circle. SQLite runs one
    writer at a time: nothing to do there.
    """
    if conn.dialect.name != "postgresql":
        return
    keys = [(_GATEWAY_LOCK, g) for g in sorted(set(gateway_ids))]
    keys += [(_METER_LOCK, k) for k in sorted({_meter_lock_key(c, s) for c, s in meters})]
    if not keys:
        return
    driver = cast(psycopg.Connection[Any], conn.connection.driver_connection)
    with driver.cursor() as cursor:
        # An aggregate over unnest takes the locks in the arrays' order. The compaction lock, which every
        # ingest transaction holds shared before it reads readings, comes in the same round trip, after.
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(c, k)), pg_advisory_xact_lock_shared(%s::int8) "
            "FROM unnest(%s::int4[], %s::int4[]) AS l(c, k)",
            (_COMPACTION_LOCK, [c for c, _ in keys], [k for _, k in keys]),
        )
    _held_off(conn)


def busy_gateways(conn: Connection, gateway_ids: Iterable[int]) -> set[int]:
    """Take the check lock (:func:`lock_for_checks`) of each gateway that no other transaction holds, without
    waiting; the ids of those another transaction holds. None is busy on SQLite."""
    wanted = sorted(set(gateway_ids))
    if conn.dialect.name != "postgresql" or not wanted:
        return set()
    driver = cast(psycopg.Connection[Any], conn.connection.driver_connection)
    with driver.cursor() as cursor:
        rows = cursor.execute(
            "SELECT g FROM unnest(%s::int4[]) AS g WHERE NOT pg_try_advisory_xact_lock(%s, g)",
            (wanted, _GATEWAY_LOCK),
        ).fetchall()
    return {int(g) for (g,) in rows}


def _meter_lock_key(community_id: int, serial: str) -> int:
    digest = hashlib.blake2b(f"{community_id}/{serial}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


def _hold_off_compaction(conn: Connection) -> None:
    """Take the compaction lock shared, once per transaction: an ingest batch reads and writes readings
    several times, and each request would be a round trip for a lock it already holds."""
    if conn.dialect.name != "postgresql":
        return
    held = conn.info.get(_HELD_OFF)
    if held is not None and held is _innermost(conn):
        return
    conn.execute(select(func.pg_advisory_xact_lock_shared(_COMPACTION_LOCK)))
    _held_off(conn)


def _innermost(conn: Connection) -> object:
    # The innermost transaction: a lock taken in a savepoint that rolls back is released with it.
    return conn.get_nested_transaction() or conn.get_transaction()


def _held_off(conn: Connection) -> None:
    """Remember that the current transaction holds the compaction lock shared."""
    transaction = _innermost(conn)
    if transaction is not None:
        conn.info[_HELD_OFF] = transaction


# The key under which a connection's ``info`` remembers the transaction holding the compaction lock.
_HELD_OFF = "tanhui.readings.compaction_held_off_in"


def _exclude_ingest(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(_COMPACTION_LOCK)))


def _codes(conn: Connection, names: Iterable[str]) -> dict[str, int]:
    query = select(register_codes.c.name, register_codes.c.code).where(register_codes.c.name.in_(set(names)))
    return {name: int(code) for name, code in conn.execute(query)}


def _ensure_codes(conn: Connection, names: set[str]) -> dict[str, int]:
    codes = _codes(conn, names)
    missing = sorted(names - codes.keys())
    if missing:
        # Concurrent workers may meet the same new register: the second waits for the first and skips.
        statement = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(register_codes)
        conn.execute(statement.on_conflict_do_nothing(), [{"name": name} for name in missing])
        codes = _codes(conn, names)
    return codes
