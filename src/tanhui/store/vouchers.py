"""Vouchers: redeem (a pending hold), validate (post), cancel (void), and holds that time out (void).

A voucher's state is never stored: it is read from the transfer that resolved its hold (none: open;
post: redeemed; void with RELEASE: cancelled; void with HOLD_EXPIRED: expired). Stock goes down with
the hold and back up with a void, in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, Row, and_, insert, select, update

from tanhui.domain.ids import CommunityId
from tanhui.points import voucher as codes
from tanhui.points.catalogue import redeemable
from tanhui.points.errors import PointsError, TransferRefused, VoucherError
from tanhui.points.ledger import (
    PENDING,
    POST_PENDING,
    VOID_PENDING,
    AccountKind,
    Code,
    Outcome,
    TransferRequest,
    transfer_id,
)
from tanhui.points.settlement import SettlementLine
from tanhui.store import catalogue, ledger
from tanhui.store.schema import merchants, points_transfers, rewards, vouchers


@dataclass(frozen=True, slots=True)
class Voucher:
    id: int
    code: str
    reward_id: int
    household_id: int
    merchant_id: int
    points: int
    created_at: int
    expires_at: int
    hold_transfer_id: str
    state: str  # open, redeemed, cancelled, expired
    resolved_at: int | None


def _state(resolution_flags: int | None, resolution_code: int | None) -> str:
    if resolution_flags is None:
        return "open"
    if resolution_flags == POST_PENDING:
        return "redeemed"
    return "expired" if resolution_code == Code.HOLD_EXPIRED else "cancelled"


def _voucher_query() -> Any:
    resolution = points_transfers.alias("resolution")
    return select(
        vouchers,
        resolution.c.flags.label("resolution_flags"),
        resolution.c.code.label("resolution_code"),
        resolution.c.timestamp.label("resolved_at"),
    ).select_from(vouchers.outerjoin(resolution, resolution.c.pending_id == vouchers.c.hold_transfer_id))


def _voucher(r: Row[Any], key: bytes) -> Voucher:
    return Voucher(
        id=r.id,
        code=codes.voucher_code(key, r.id, r.reward_id, r.expires_at),
        reward_id=r.reward_id,
        household_id=r.household_id,
        merchant_id=r.merchant_id,
        points=r.points,
        created_at=r.created_at,
        expires_at=r.expires_at,
        hold_transfer_id=r.hold_transfer_id,
        state=_state(r.resolution_flags, r.resolution_code),
        resolved_at=r.resolved_at,
    )


def get_voucher(conn: Connection, voucher_id: int, key: bytes) -> Voucher | None:
    row = conn.execute(_voucher_query().where(vouchers.c.id == voucher_id)).first()
    return None if row is None else _voucher(row, key)


def household_vouchers(conn: Connection, household_id: int, key: bytes, *, limit: int = 50) -> list[Voucher]:
    rows = conn.execute(
        _voucher_query()
        .where(vouchers.c.household_id == household_id)
        .order_by(vouchers.c.created_at.desc())
        .limit(limit)
    )
    return [_voucher(r, key) for r in rows]


def redeem(
    conn: Connection,
    community_id: CommunityId,
    *,
    household_id: int,
    reward_id: int,
    voucher_id: int,
    key: bytes,
    now: int,
    today: date,
) -> Voucher:
    """Turn points into a voucher: a pending hold household -> merchant for the reward's price.

    ``voucher_id`` is a fresh random 40-bit number from the caller. Refused with ``exceeds_credits``
    when the household lacks the points, or with the catalogue's reason; nothing is written then.
    """
    account = ledger.household_account(conn, community_id, household_id, now=now)
    release_expired_holds(conn, community_id, now=now, account_id=account)
    # Locks are taken accounts first, reward row second, in every action (redeem, cancel, time-out), so
    # that two of them never wait on each other; the stock is then taken by a conditional update.
    reward = catalogue.get_reward(conn, community_id, reward_id)
    if reward is None:
        raise PointsError(f"no reward {reward_id}", code="reward_not_found")
    why_not = redeemable(reward, today)
    if why_not is not None:
        raise PointsError(f"reward {reward_id} cannot be redeemed: {why_not}", code=why_not)
    merchant = ledger.open_account(conn, community_id, AccountKind.MERCHANT, reward.merchant_id, now=now)
    hold = TransferRequest(
        id=transfer_id("hold", voucher_id),
        debit_account_id=account,
        credit_account_id=merchant,
        amount=reward.price_points,
        code=Code.HOLD,
        flags=PENDING,
        timeout=reward.voucher_ttl_seconds,
        reference=f"voucher:{voucher_id};reward:{reward_id}",
    )
    ledger.create_transfer(conn, hold, now=now)
    taken = conn.execute(
        update(rewards)
        .where(rewards.c.id == reward_id, rewards.c.stock > 0)
        .values(stock=rewards.c.stock - 1)
    )
    if taken.rowcount != 1:  # the last one went to a concurrent redemption; the caller rolls back the hold
        raise PointsError(f"reward {reward_id} cannot be redeemed: out_of_stock", code="out_of_stock")
    expires_at = now + reward.voucher_ttl_seconds
    conn.execute(
        insert(vouchers).values(
            id=voucher_id,
            community_id=community_id,
            reward_id=reward_id,
            household_id=household_id,
            merchant_id=reward.merchant_id,
            hold_transfer_id=hold.id,
            points=reward.price_points,
            created_at=now,
            expires_at=expires_at,
        )
    )
    found = get_voucher(conn, voucher_id, key)
    assert found is not None  # noqa: S101 - inserted just above in this transaction
    return found


def validate(
    conn: Connection,
    community_id: CommunityId,
    *,
    merchant_id: int,
    code: str,
    attempt: str,
    key: bytes,
    now: int,
) -> Voucher:
    """A merchant accepts a voucher: its hold is posted. Exactly one validation of a voucher succeeds.

    ``attempt`` names this validation (the till's request id): a retry with the same attempt returns
    the same success; any other attempt on a redeemed voucher is refused with
    ``pending_transfer_already_posted``. A code of another merchant's voucher is "not found".
    """
    voucher_id, tag = codes.parse_code(code)
    found = conn.execute(
        select(vouchers).where(
            vouchers.c.id == voucher_id,
            vouchers.c.community_id == community_id,
            vouchers.c.merchant_id == merchant_id,
        )
    ).first()
    if found is None or not codes.verify_tag(key, voucher_id, tag, found.reward_id, found.expires_at):
        raise VoucherError("no such voucher for this merchant", code="voucher_not_found")
    ledger.create_transfer(
        conn,
        TransferRequest(
            id=transfer_id("post", voucher_id, attempt),
            debit_account_id=0,
            credit_account_id=0,
            amount=0,
            code=Code.REDEEM,
            flags=POST_PENDING,
            pending_id=found.hold_transfer_id,
            reference=f"voucher:{voucher_id}",
        ),
        now=now,
    )
    result = get_voucher(conn, voucher_id, key)
    assert result is not None  # noqa: S101 - read just above
    return result


def _void(conn: Connection, voucher_id: int, hold_id: str, reward_id: int, code: Code, now: int) -> bool:
    # Cancel and time-out get different ids, so a cancel after the time-out is refused as expired.
    outcome, _ = ledger.create_transfer(
        conn,
        TransferRequest(
            id=transfer_id("void" if code is Code.RELEASE else "hold-expired", voucher_id),
            debit_account_id=0,
            credit_account_id=0,
            amount=0,
            code=code,
            flags=VOID_PENDING,
            pending_id=hold_id,
            reference=f"voucher:{voucher_id}",
        ),
        now=now,
    )
    if outcome is Outcome.CREATED:
        conn.execute(update(rewards).where(rewards.c.id == reward_id).values(stock=rewards.c.stock + 1))
        return True
    return False


def cancel(
    conn: Connection, community_id: CommunityId, *, household_id: int, voucher_id: int, key: bytes, now: int
) -> Voucher:
    """The resident cancels an open voucher: its hold is voided and the points return."""
    found = conn.execute(
        select(vouchers).where(
            vouchers.c.id == voucher_id,
            vouchers.c.community_id == community_id,
            vouchers.c.household_id == household_id,
        )
    ).first()
    if found is None:
        raise VoucherError(f"no voucher {voucher_id} of this household", code="voucher_not_found")
    _void(conn, voucher_id, found.hold_transfer_id, found.reward_id, Code.RELEASE, now)
    result = get_voucher(conn, voucher_id, key)
    assert result is not None  # noqa: S101 - read just above
    return result


def release_expired_holds(
    conn: Connection, community_id: CommunityId, *, now: int, account_id: int | None = None, limit: int = 1000
) -> int:
    """Void holds whose vouchers have timed out (code HOLD_EXPIRED), returning their points.

    Ledger time decides: a hold has expired when ``now`` reaches ``created_at + timeout``, the same rule
    :class:`tanhui.points.ledger.Ledger` applies to a late validation. Returns how many were voided.
    """
    resolution = points_transfers.alias("resolution")
    query = (
        select(vouchers.c.id, vouchers.c.hold_transfer_id, vouchers.c.reward_id)
        .select_from(vouchers.outerjoin(resolution, resolution.c.pending_id == vouchers.c.hold_transfer_id))
        .where(
            vouchers.c.community_id == community_id, vouchers.c.expires_at <= now, resolution.c.id.is_(None)
        )
        .order_by(vouchers.c.id)
        .limit(limit)
    )
    if account_id is not None:
        hold = points_transfers.alias("hold")
        query = query.join(
            hold, and_(hold.c.id == vouchers.c.hold_transfer_id, hold.c.debit_account_id == account_id)
        )
    voided = 0
    for voucher_id, hold_id, reward_id in conn.execute(query).all():
        # A refused transfer writes nothing, so no savepoint is needed to go on after one.
        try:
            voided += _void(conn, voucher_id, hold_id, reward_id, Code.HOLD_EXPIRED, now)
        except TransferRefused as exc:
            # Validated or cancelled a moment ago by another transaction: nothing left to release.
            if not exc.code.startswith("pending_transfer_already"):
                raise
    return voided


def settlement(conn: Connection, merchant_id: int, *, since: int, until: int) -> list[SettlementLine]:
    """The merchant's redeemed vouchers validated in ``[since, until)`` (ledger time), oldest first."""
    post = points_transfers.alias("post")
    rows = conn.execute(
        select(
            vouchers.c.id,
            vouchers.c.reward_id,
            rewards.c.name_zh,
            rewards.c.name_en,
            post.c.amount,
            post.c.timestamp,
        )
        .select_from(
            vouchers.join(post, post.c.pending_id == vouchers.c.hold_transfer_id).join(
                rewards, rewards.c.id == vouchers.c.reward_id
            )
        )
        .where(
            vouchers.c.merchant_id == merchant_id,
            post.c.flags == POST_PENDING,
            post.c.timestamp >= since,
            post.c.timestamp < until,
        )
        .order_by(post.c.timestamp, vouchers.c.id)
    )
    return [SettlementLine(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]


def merchant_community(conn: Connection, merchant_id: int) -> CommunityId:
    return CommunityId(
        conn.execute(select(merchants.c.community_id).where(merchants.c.id == merchant_id)).scalar_one()
    )
