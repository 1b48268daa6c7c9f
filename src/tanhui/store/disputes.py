"""Residents' disputes of a reading or of a day's figure, and the operators' answers.

A dispute is open when filed, answered when an operator has written an answer, and closed when the
operator closes it (with or without an answer). Residents see their own household's disputes only; the
web layer checks that, this module takes the household as given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from tanhui.domain.ids import CommunityId, HouseholdId, UserId
from tanhui.store.schema import disputes, households, users

STATUSES = ("open", "answered", "closed")
SUBJECTS = ("reading", "day")


class DisputeStateError(Exception):
    """The dispute is not in a state that allows this step (e.g. answering a closed one)."""


@dataclass(frozen=True, slots=True)
class Dispute:
    id: int
    community_id: CommunityId
    household_id: HouseholdId
    household_code: str
    filed_by: str
    subject: str
    meter_serial: str | None
    day: date
    message: str
    status: str
    answer: str | None
    created_at: int
    answered_at: int | None
    closed_at: int | None


def file(
    conn: Connection,
    *,
    community_id: CommunityId,
    household_id: HouseholdId,
    user_id: UserId,
    subject: str,
    meter_serial: str | None,
    day: date,
    message: str,
    now: int,
) -> int:
    """Record a new open dispute and return its id."""
    if subject not in SUBJECTS:
        raise ValueError(f"subject must be one of {SUBJECTS}, not {subject!r}")
    result = conn.execute(
        insert(disputes)
        .returning(disputes.c.id)
        .values(
            community_id=community_id,
            household_id=household_id,
            filed_by=user_id,
            subject=subject,
            meter_serial=meter_serial if subject == "reading" else None,
            day=day,
            message=message,
            status="open",
            created_at=now,
        )
    )
    return int(result.scalar_one())


def _query() -> Any:
    return select(
        disputes, households.c.code.label("household_code"), users.c.username.label("filer")
    ).select_from(
        disputes.join(households, households.c.id == disputes.c.household_id).join(
            users, users.c.id == disputes.c.filed_by
        )
    )


def _dispute(r: Row[Any]) -> Dispute:
    return Dispute(
        id=int(r.id),
        community_id=CommunityId(r.community_id),
        household_id=HouseholdId(r.household_id),
        household_code=r.household_code,
        filed_by=r.filer,
        subject=r.subject,
        meter_serial=r.meter_serial,
        day=r.day,
        message=r.message,
        status=r.status,
        answer=r.answer,
        created_at=int(r.created_at),
        answered_at=None if r.answered_at is None else int(r.answered_at),
        closed_at=None if r.closed_at is None else int(r.closed_at),
    )


def of_household(conn: Connection, household_id: HouseholdId) -> list[Dispute]:
    """A household's disputes, newest first."""
    rows = conn.execute(
        _query().where(disputes.c.household_id == household_id).order_by(disputes.c.id.desc())
    )
    return [_dispute(r) for r in rows]


def of_community(conn: Connection, community_id: CommunityId, *, status: str | None = None) -> list[Dispute]:
    """A community's disputes, oldest open first (the queue an operator works through)."""
    query = _query().where(disputes.c.community_id == community_id)
    if status is not None:
        query = query.where(disputes.c.status == status)
    rows = conn.execute(query.order_by(disputes.c.id))
    return [_dispute(r) for r in rows]


def get(conn: Connection, community_id: CommunityId, dispute_id: int) -> Dispute | None:
    """One dispute of the community, or None (also for another community's dispute)."""
    row = conn.execute(
        _query().where(disputes.c.id == dispute_id, disputes.c.community_id == community_id)
    ).first()
    return None if row is None else _dispute(row)


def answer(conn: Connection, dispute_id: int, *, user_id: UserId, text: str, now: int) -> None:
    """Write (or rewrite) the operator's answer; refused once the dispute is closed."""
    done = conn.execute(
        update(disputes)
        .where(disputes.c.id == dispute_id, disputes.c.status != "closed")
        .values(answer=text, answered_by=user_id, answered_at=now, status="answered")
    )
    if done.rowcount != 1:
        raise DisputeStateError(f"dispute {dispute_id} is closed and takes no more answers")


def close(conn: Connection, dispute_id: int, *, now: int) -> None:
    """Close a dispute; refused when it is closed already (a second click)."""
    done = conn.execute(
        update(disputes)
        .where(disputes.c.id == dispute_id, disputes.c.status != "closed")
        .values(status="closed", closed_at=now)
    )
    if done.rowcount != 1:
        raise DisputeStateError(f"dispute {dispute_id} is already closed")
