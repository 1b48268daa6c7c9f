"""Quarantine: everything ingest rejects, with its raw bytes, the rule it broke and when it came."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, func, insert, select

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
