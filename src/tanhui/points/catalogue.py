"""The rewards catalogue: scenic-spot tickets and duty-free discounts offered by merchants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from tanhui.points.errors import PointsError


class RewardKind(StrEnum):
    TICKET = "ticket"  # 景区门票 scenic-spot ticket
    DISCOUNT = "discount"  # 免税购物折扣 duty-free shopping discount


@dataclass(frozen=True, slots=True)
class Reward:
    """A reward as offered: its merchant, price in points, stock, validity and terms in zh and en."""

    id: int
    merchant_id: int
    kind: RewardKind
    name_zh: str
    name_en: str
    terms_zh: str
    terms_en: str
    price_points: int
    stock: int
    valid_from: date
    valid_until: date
    voucher_ttl_seconds: int
    demo: bool
    active: bool


def check_reward(reward: Reward) -> None:
    """Refuse a reward that cannot be offered, naming the rule."""
    if reward.price_points <= 0:
        raise PointsError(f"price {reward.price_points} must be at least 1 point", code="price_invalid")
    if reward.stock < 0:
        raise PointsError(f"stock {reward.stock} must not be negative", code="stock_invalid")
    if reward.valid_until < reward.valid_from:
        raise PointsError(
            f"valid_until {reward.valid_until} is before valid_from {reward.valid_from}",
            code="validity_invalid",
        )
    if reward.voucher_ttl_seconds < 60:
        raise PointsError("a voucher must stay valid for at least 60 s", code="ttl_invalid")
    if not reward.name_zh.strip() or not reward.name_en.strip():
        raise PointsError("a reward needs a name in zh and en", code="name_missing")


def redeemable(reward: Reward, today: date) -> str | None:
    """Why ``reward`` cannot be redeemed today, or None when it can."""
    if not reward.active:
        return "reward_inactive"
    if not reward.valid_from <= today <= reward.valid_until:
        return "reward_not_valid_today"
    if reward.stock <= 0:
        return "out_of_stock"
    return None
