"""Readings: append-only register values, unique per meter, register and meter time."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, and_, func, insert, or_, select

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

    One range query per meter over the unique index, so a batch costs as many index scans as it has
    meters, not readings.
    """
    spans: dict[tuple[MeterId, str], tuple[int, int]] = {}
    for meter_id, register, t in keys:
        lo, hi = spans.get((meter_id, register), (t, t))
        spans[(meter_id, register)] = (min(lo, t), max(hi, t))
    found: dict[tuple[MeterId, str, int], int] = {}
    items = list(spans.items())
    for start in range(0, len(items), 500):
        chunk = items[start : start + 500]
        condition = [
            and_(
                readings.c.meter_id == meter_id,
                readings.c.register == register,
                readings.c.meter_time.between(lo, hi),
            )
            for (meter_id, register), (lo, hi) in chunk
        ]
        query = select(
            readings.c.meter_id, readings.c.register, readings.c.meter_time, readings.c.value
        ).where(or_(*condition))
        for row in conn.execute(query):
            found[(MeterId(row.meter_id), row.register, int(row.meter_time))] = int(row.value)
    return found


def add(conn: Connection, rows: Sequence[StoredReading], *, batch_id: int, received_at: int) -> None:
    if not rows:
        return
    conn.execute(
        insert(readings),
        [
            {
                "meter_id": r.meter_id,
                "register": r.register,
                "meter_time": r.meter_time,
                "value": r.value,
                "batch_id": batch_id,
                "received_at": received_at,
            }
            for r in rows
        ],
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
