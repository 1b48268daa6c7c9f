"""The append-only log of operator actions: who did what to which target, and when.

There is deliberately no update or delete here. Every operator write in the web and the command line
appends its row in the same transaction as the write itself, so an action and its record stand or fall
together (the audit log may later commit these rows to its Merkle log).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select

from tanhui.domain.ids import CommunityId, UserId
from tanhui.store.schema import operator_actions


@dataclass(frozen=True, slots=True)
class OperatorAction:
    id: int
    community_id: CommunityId
    user_id: UserId | None
    actor: str
    action: str
    target: str
    detail: dict[str, object]
    at: int


def record(
    conn: Connection,
    *,
    community_id: CommunityId,
    user_id: UserId | None,
    actor: str,
    action: str,
    target: str,
    now: int,
    detail: Mapping[str, object] | None = None,
) -> int:
    """Append one action (call it inside the transaction of the write it records)."""
    result = conn.execute(
        insert(operator_actions)
        .returning(operator_actions.c.id)
        .values(
            community_id=community_id,
            user_id=user_id,
            actor=actor,
            action=action,
            target=target[:200],
            detail=json.dumps(dict(detail or {}), ensure_ascii=False, sort_keys=True, default=str),
            at=now,
        )
    )
    return int(result.scalar_one())


def recent(conn: Connection, community_id: CommunityId, *, limit: int = 100) -> list[OperatorAction]:
    """The community's latest actions, newest first."""
    rows = conn.execute(
        select(operator_actions)
        .where(operator_actions.c.community_id == community_id)
        .order_by(operator_actions.c.id.desc())
        .limit(limit)
    )
    return [
        OperatorAction(
            id=int(r.id),
            community_id=CommunityId(r.community_id),
            user_id=None if r.user_id is None else UserId(r.user_id),
            actor=r.actor,
            action=r.action,
            target=r.target,
            detail=json.loads(r.detail),
            at=int(r.at),
        )
        for r in rows
    ]
