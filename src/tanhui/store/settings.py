"""A user's language and privacy choices.

The language is ``users.locale`` (what the pages negotiate with); the privacy choices are one row of
``user_settings`` per user, created on the first save. Until then the defaults below apply.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, update

from tanhui.domain.ids import UserId
from tanhui.store.schema import user_settings, users

# Anonymised comparison with similar households is on until the resident turns it off: it shares no
# figure of one household with another, only aggregates of many (docs/web.md, Privacy settings).
DEFAULT_PEER_COMPARISON = True


@dataclass(frozen=True, slots=True)
class UserSettings:
    locale: str
    peer_comparison: bool


def get(conn: Connection, user_id: UserId) -> UserSettings:
    """The user's choices (defaults for a user who never saved any)."""
    row = conn.execute(
        select(users.c.locale, user_settings.c.peer_comparison)
        .select_from(users.outerjoin(user_settings, user_settings.c.user_id == users.c.id))
        .where(users.c.id == user_id)
    ).one()
    peer = DEFAULT_PEER_COMPARISON if row.peer_comparison is None else bool(row.peer_comparison)
    return UserSettings(locale=row.locale, peer_comparison=peer)


def save(conn: Connection, user_id: UserId, chosen: UserSettings, *, now: int) -> None:
    """Store the user's choices (one transaction: the caller's)."""
    conn.execute(update(users).where(users.c.id == user_id).values(locale=chosen.locale))
    done = conn.execute(
        update(user_settings)
        .where(user_settings.c.user_id == user_id)
        .values(peer_comparison=chosen.peer_comparison, updated_at=now)
    )
    if done.rowcount == 0:
        conn.execute(
            insert(user_settings).values(
                user_id=user_id, peer_comparison=chosen.peer_comparison, updated_at=now
            )
        )


def excluded_from_peer_comparison(conn: Connection, household_ids: list[int]) -> set[int]:
    """Which of ``household_ids`` have a resident who opted out of the peer comparison."""
    if not household_ids:
        return set()
    rows = conn.execute(
        select(users.c.household_id)
        .join(user_settings, user_settings.c.user_id == users.c.id)
        .where(users.c.household_id.in_(household_ids), user_settings.c.peer_comparison.is_(False))
    )
    return {int(r.household_id) for r in rows}
