"""Merchants, their staff and the rewards catalogue."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection, Row, insert, select

from tanhui.domain.ids import CommunityId
from tanhui.points.catalogue import Reward, RewardKind, check_reward
from tanhui.store.schema import merchant_staff, merchants, rewards


def create_merchant(
    conn: Connection,
    community_id: CommunityId,
    *,
    slug: str,
    name_zh: str,
    name_en: str,
    demo: bool,
    now: int,
) -> int:
    return int(
        conn.execute(
            insert(merchants)
            .returning(merchants.c.id)
            .values(
                community_id=community_id,
                slug=slug,
                name_zh=name_zh,
                name_en=name_en,
                demo=demo,
                created_at=now,
            )
        ).scalar_one()
    )


def find_merchant(conn: Connection, community_id: CommunityId, slug: str) -> int | None:
    found = conn.execute(
        select(merchants.c.id).where(merchants.c.community_id == community_id, merchants.c.slug == slug)
    ).scalar_one_or_none()
    return None if found is None else int(found)


def merchant_names(conn: Connection, community_id: CommunityId) -> dict[int, tuple[str, str, str, bool]]:
    """Merchant id -> (slug, name_zh, name_en, demo)."""
    return {
        r.id: (r.slug, r.name_zh, r.name_en, bool(r.demo))
        for r in conn.execute(select(merchants).where(merchants.c.community_id == community_id))
    }


def add_staff(conn: Connection, merchant_id: int, user_id: int) -> None:
    """Let a user with the merchant role validate vouchers for ``merchant_id``."""
    conn.execute(insert(merchant_staff).values(user_id=user_id, merchant_id=merchant_id))


def merchant_of(conn: Connection, user_id: int) -> int | None:
    found = conn.execute(
        select(merchant_staff.c.merchant_id).where(merchant_staff.c.user_id == user_id)
    ).scalar_one_or_none()
    return None if found is None else int(found)


def _reward(r: Row[Any]) -> Reward:
    return Reward(
        id=r.id,
        merchant_id=r.merchant_id,
        kind=RewardKind(r.kind),
        name_zh=r.name_zh,
        name_en=r.name_en,
        terms_zh=r.terms_zh,
        terms_en=r.terms_en,
        price_points=r.price_points,
        stock=r.stock,
        valid_from=r.valid_from,
        valid_until=r.valid_until,
        voucher_ttl_seconds=r.voucher_ttl_seconds,
        demo=bool(r.demo),
        active=bool(r.active),
    )


def create_reward(conn: Connection, community_id: CommunityId, reward: Reward, *, now: int) -> int:
    """Add a reward (``reward.id`` is ignored) after checking it."""
    check_reward(reward)
    owner = conn.execute(
        select(merchants.c.community_id).where(merchants.c.id == reward.merchant_id)
    ).scalar()
    if owner != community_id:
        raise LookupError(f"merchant {reward.merchant_id} is not in community {community_id}")
    return int(
        conn.execute(
            insert(rewards)
            .returning(rewards.c.id)
            .values(
                community_id=community_id,
                merchant_id=reward.merchant_id,
                kind=reward.kind.value,
                name_zh=reward.name_zh,
                name_en=reward.name_en,
                terms_zh=reward.terms_zh,
                terms_en=reward.terms_en,
                price_points=reward.price_points,
                stock=reward.stock,
                valid_from=reward.valid_from,
                valid_until=reward.valid_until,
                voucher_ttl_seconds=reward.voucher_ttl_seconds,
                demo=reward.demo,
                active=reward.active,
                created_at=now,
            )
        ).scalar_one()
    )


def list_rewards(
    conn: Connection, community_id: CommunityId, *, offered_on: date | None = None
) -> list[Reward]:
    """The catalogue; with ``offered_on``, only active rewards valid that day."""
    query = select(rewards).where(rewards.c.community_id == community_id).order_by(rewards.c.id)
    if offered_on is not None:
        query = query.where(
            rewards.c.active.is_(True),
            rewards.c.valid_from <= offered_on,
            rewards.c.valid_until >= offered_on,
        )
    return [_reward(r) for r in conn.execute(query)]


def get_reward(
    conn: Connection, community_id: CommunityId, reward_id: int, *, lock: bool = False
) -> Reward | None:
    """A reward of the community; ``lock`` holds its row until commit (stock is about to change)."""
    query = select(rewards).where(rewards.c.id == reward_id, rewards.c.community_id == community_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    return None if row is None else _reward(row)
