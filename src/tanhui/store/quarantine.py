"""Quarantine: everything ingest rejects, with its raw bytes, the rule it broke and when it came."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update

from tanhui.domain.ids import CommunityId, GatewayId
from tanhui.store.schema import quarantine


@dataclass(frozen=True, slots=True)
class Rejection:
    """One rejected payload or reading, before it is stored."""

    reason: str
    message: str
    raw: bytes
    meter_serial: str | None = None


def put(
    conn: Connection,
    rejections: Sequence[Rejection],
    *,
    community_id: CommunityId | None,
    gateway_id: GatewayId | None,
    transport: str,
    received_at: int,
) -> None:
    """Store rejections; they stay ``open`` until an operator fixes and replays or discards them."""
    if not rejections:
        return
    conn.execute(
        insert(quarantine),
        [
            {
                "community_id": community_id,
                "gateway_id": gateway_id,
                "transport": transport,
                "received_at": received_at,
                "reason": r.reason,
                "message": r.message,
                "meter_serial": r.meter_serial,
                "raw": r.raw,
                "status": "open",
            }
            for r in rejections
        ],
    )


def count_by_reason(conn: Connection, community_id: CommunityId | None = None) -> dict[str, int]:
    query = select(quarantine.c.reason, func.count()).group_by(quarantine.c.reason)
    if community_id is not None:
        query = query.where(quarantine.c.community_id == community_id)
    return {reason: int(n) for reason, n in conn.execute(query)}


@dataclass(frozen=True, slots=True)
class Entry:
    """A quarantined payload or reading as operators see it."""

    id: int
    community_id: CommunityId | None
    gateway_id: GatewayId | None
    transport: str
    received_at: int
    reason: str
    message: str
    meter_serial: str | None
    raw: bytes
    status: str


STATUSES = ("open", "replayed", "discarded")


def _entry(r: Row[Any]) -> Entry:
    return Entry(
        id=int(r.id),
        community_id=None if r.community_id is None else CommunityId(r.community_id),
        gateway_id=None if r.gateway_id is None else GatewayId(r.gateway_id),
        transport=r.transport,
        received_at=int(r.received_at),
        reason=r.reason,
        message=r.message,
        meter_serial=r.meter_serial,
        raw=bytes(r.raw),
        status=r.status,
    )


def entries(
    conn: Connection,
    community_id: CommunityId,
    *,
    reason: str | None = None,
    status: str | None = "open",
    meter_serial: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Entry]:
    """Quarantine entries of a community, newest first, filtered."""
    query = select(quarantine).where(quarantine.c.community_id == community_id)
    if reason is not None:
        query = query.where(quarantine.c.reason == reason)
    if status is not None:
        query = query.where(quarantine.c.status == status)
    if meter_serial is not None:
        query = query.where(quarantine.c.meter_serial == meter_serial)
    query = query.order_by(quarantine.c.id.desc()).limit(limit).offset(offset)
    return [_entry(r) for r in conn.execute(query)]


def get(conn: Connection, entry_id: int) -> Entry | None:
    row = conn.execute(select(quarantine).where(quarantine.c.id == entry_id)).first()
    return None if row is None else _entry(row)


def resolve(conn: Connection, entry_id: int, status: str) -> bool:
    """Close an open entry as ``replayed`` or ``discarded``; False if it was not open (a second click)."""
    if status not in STATUSES[1:]:
        raise ValueError(f"status must be one of {STATUSES[1:]}, not {status!r}")
    done = conn.execute(
        update(quarantine)
        .where(quarantine.c.id == entry_id, quarantine.c.status == "open")
        .values(status=status)
    )
    return done.rowcount == 1
