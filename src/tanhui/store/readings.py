"""Readings: append-only register values, unique per meter, register and meter time."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, func, insert, select

from tanhui.domain.ids import CommunityId, GatewayId, MeterId
from tanhui.store.schema import ingest_batches, meters, readings


@dataclass(frozen=True, slots=True)
class StoredReading:
    meter_id: MeterId
    register: str
    meter_time: int
    value: int


def add_batch(
    conn: Connection,
    *,
    gateway_id: GatewayId,
    seq: int,
    transport: str,
    received_at: int,
    sha256: str,
    payload: bytes,
) -> int:
    """Keep the raw payload of an ingest batch; its readings point at it."""
    result = conn.execute(
        insert(ingest_batches)
        .returning(ingest_batches.c.id)
        .values(
            gateway_id=gateway_id,
            seq=seq,
            transport=transport,
            received_at=received_at,
            sha256=sha256,
            payload=payload,
        )
    )
    return int(result.scalar_one())


def existing(
    conn: Connection, keys: Iterable[tuple[MeterId, str, int]]
) -> dict[tuple[MeterId, str, int], int]:
    """The stored values of those ``(meter, register, meter_time)`` keys that already exist.

    A batch usually holds every meter of a gateway over one time window, so one query per 500 meters over
    that window (an index range scan per meter) finds them all; rows of the window that are not among
    ``keys`` are dropped here.
    """
    wanted = set(keys)
    if not wanted:
        return {}
    meter_ids = sorted({k[0] for k in wanted})
    lo = min(k[2] for k in wanted)
    hi = max(k[2] for k in wanted)
    found: dict[tuple[MeterId, str, int], int] = {}
    for start in range(0, len(meter_ids), 500):
        columns = (readings.c.meter_id, readings.c.register, readings.c.meter_time, readings.c.value)
        query = select(*columns).where(
            readings.c.meter_id.in_(meter_ids[start : start + 500]), readings.c.meter_time.between(lo, hi)
        )
        for meter_id, register, meter_time, value in conn.execute(query):
            key = (MeterId(meter_id), register, int(meter_time))
            if key in wanted:
                found[key] = int(value)
    return found


_INSERT_COLUMNS = "meter_id, register, meter_time, value, batch_id, received_at"


def add(conn: Connection, rows: Sequence[StoredReading], *, batch_id: int, received_at: int) -> None:
    """Append readings; the unique key refuses a reading stored before (the caller checks first)."""
    if not rows:
        return
    # The DB-API's own executemany: SQLAlchemy's per-row parameter processing cost more than the insert.
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    statement = f"INSERT INTO readings ({_INSERT_COLUMNS}) VALUES ({', '.join([marker] * 6)})"  # noqa: S608
    conn.exec_driver_sql(
        statement, [(r.meter_id, r.register, r.meter_time, r.value, batch_id, received_at) for r in rows]
    )


def of_meter(conn: Connection, meter_id: MeterId, register: str) -> list[tuple[int, int]]:
    """``(meter_time, value)`` of one register in meter-time order (out-of-order arrivals sorted)."""
    query = (
        select(readings.c.meter_time, readings.c.value)
        .where(readings.c.meter_id == meter_id, readings.c.register == register)
        .order_by(readings.c.meter_time)
    )
    return [(int(t), int(v)) for t, v in conn.execute(query)]


def count(conn: Connection, community_id: CommunityId | None = None) -> int:
    query = select(func.count()).select_from(readings)
    if community_id is not None:
        query = query.join(meters, meters.c.id == readings.c.meter_id).where(
            meters.c.community_id == community_id
        )
    return int(conn.execute(query).scalar_one())
