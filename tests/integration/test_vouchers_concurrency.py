"""Double spending is impossible: the same voucher validated from many connections at once on PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import Engine

from tanhui.points.errors import PointsError
from tanhui.store import ledger, vouchers
from tanhui.store.engine import make_engine

from .conftest import NOW, World
from .test_ledger import KEY, TODAY, setup_points

THREADS = 12

pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("store_url", ["postgres"], indirect=True)]


def _race(engine: Engine, action: object) -> Counter[str]:
    """Run ``action(conn, i)`` from THREADS threads, each on its own connection, released together."""
    barrier = threading.Barrier(THREADS)
    results: Counter[str] = Counter()
    lock = threading.Lock()

    def worker(i: int) -> None:
        barrier.wait()
        try:
            with engine.begin() as conn:
                action(conn, i)  # type: ignore[operator]
            outcome = "ok"
        except PointsError as exc:
            outcome = exc.code
        with lock:
            results[outcome] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_one_voucher_validated_from_many_connections_succeeds_once(
    engine: Engine, world: World, store_url: str
) -> None:
    points = setup_points(engine, world)
    with engine.begin() as conn:
        voucher = vouchers.redeem(
            conn,
            points.community_id,
            household_id=world.households[0],
            reward_id=points.reward_id,
            voucher_id=0xABCDE,
            key=KEY,
            now=NOW,
            today=TODAY,
        )
    racing = make_engine(store_url)  # a pool of its own: every thread holds a separate connection
    try:
        results = _race(
            racing,
            lambda conn, i: vouchers.validate(
                conn,
                points.community_id,
                merchant_id=points.merchant_id,
                code=voucher.code,
                attempt=f"till-{i}",
                key=KEY,
                now=NOW + 1,
            ),
        )
    finally:
        racing.dispose()
    assert results == Counter({"ok": 1, "pending_transfer_already_posted": THREADS - 1})
    with engine.connect() as conn:
        assert ledger.check(conn) == []
        account = ledger.get_account(conn, points.accounts[world.households[0]])
    assert (account.balance, account.debits_pending) == (50, 0)


def test_concurrent_redemptions_never_overdraw_a_household(
    engine: Engine, world: World, store_url: str
) -> None:
    points = setup_points(engine, world, stock=THREADS)
    racing = make_engine(store_url)
    try:
        results = _race(
            racing,
            lambda conn, i: vouchers.redeem(
                conn,
                points.community_id,
                household_id=world.households[1],
                reward_id=points.reward_id,
                voucher_id=0x1000 + i,
                key=KEY,
                now=NOW,
                today=TODAY,
            ),
        )
    finally:
        racing.dispose()
    assert results == Counter({"ok": 1, "exceeds_credits": THREADS - 1})
    with engine.connect() as conn:
        assert ledger.check(conn) == []
        assert ledger.get_account(conn, points.accounts[world.households[1]]).available == 50


def test_validations_racing_cancellations_resolve_the_hold_once(
    engine: Engine, world: World, store_url: str
) -> None:
    points = setup_points(engine, world)
    with engine.begin() as conn:
        voucher = vouchers.redeem(
            conn,
            points.community_id,
            household_id=world.households[0],
            reward_id=points.reward_id,
            voucher_id=0xCAFE,
            key=KEY,
            now=NOW,
            today=TODAY,
        )

    def act(conn: object, i: int) -> None:
        if i % 2:
            vouchers.validate(
                conn,
                points.community_id,
                merchant_id=points.merchant_id,  # type: ignore[arg-type]
                code=voucher.code,
                attempt=f"till-{i}",
                key=KEY,
                now=NOW + 1,
            )
        else:
            vouchers.cancel(
                conn,
                points.community_id,
                household_id=world.households[0],  # type: ignore[arg-type]
                voucher_id=0xCAFE,
                key=KEY,
                now=NOW + 1,
            )

    racing = make_engine(store_url)
    try:
        results = _race(racing, act)
    finally:
        racing.dispose()
    with engine.connect() as conn:
        final = vouchers.get_voucher(conn, 0xCAFE, KEY)
        assert ledger.check(conn) == []
        account = ledger.get_account(conn, points.accounts[world.households[0]])
    assert final is not None
    if final.state == "redeemed":  # one till won; every cancel and every other till was refused
        assert (
            results == Counter({"ok": 1, "pending_transfer_already_posted": THREADS - 1})
            and account.balance == 50
        )
    else:  # the cancel won (repeating it is harmless); every till was refused
        assert final.state == "cancelled" and results["ok"] == THREADS // 2
        assert results["pending_transfer_already_voided"] == THREADS // 2 and account.available == 200
