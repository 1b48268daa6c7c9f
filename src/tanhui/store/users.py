"""Users of the platform: residents, operators (and later merchants and verifiers)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, insert, select

from tanhui.domain.ids import CommunityId, HouseholdId, UserId
from tanhui.domain.roles import Role
from tanhui.store.schema import users


@dataclass(frozen=True, slots=True)
class User:
    id: UserId
    community_id: CommunityId
    username: str
    role: Role
    household_id: HouseholdId | None
    locale: str


def create_user(
    conn: Connection,
    *,
    community_id: CommunityId,
    username: str,
    password_hash: str,
    role: Role,
    household_id: HouseholdId | None,
    locale: str,
    now: int,
) -> UserId:
    if role is Role.RESIDENT and household_id is None:
        raise ValueError(f"resident {username} needs a household")
    result = conn.execute(
        insert(users)
        .returning(users.c.id)
        .values(
            community_id=community_id,
            username=username,
            password_hash=password_hash,
            role=role.value,
            household_id=household_id,
            locale=locale,
            created_at=now,
        )
    )
    return UserId(result.scalar_one())


def credentials(conn: Connection, username: str) -> tuple[User, str] | None:
    """The user and their stored password hash, for login."""
    row = conn.execute(select(users).where(users.c.username == username)).first()
    if row is None:
        return None
    return _user(row), row.password_hash


def get_user(conn: Connection, user_id: int) -> User | None:
    row = conn.execute(select(users).where(users.c.id == user_id)).first()
    return None if row is None else _user(row)


def _user(r: Row[Any]) -> User:
    return User(
        id=UserId(r.id),
        community_id=CommunityId(r.community_id),
        username=r.username,
        role=Role(r.role),
        household_id=None if r.household_id is None else HouseholdId(r.household_id),
        locale=r.locale,
    )
