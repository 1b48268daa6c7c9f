"""The ledger model: TigerBeetle's rules for single, pending, post and void transfers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tanhui.points.errors import TransferRefused
from tanhui.points.ledger import (
    PENDING,
    POST_PENDING,
    VOID_PENDING,
    Account,
    AccountKind,
    Code,
    Ledger,
    Outcome,
    TransferRequest,
    replay_balances,
    transfer_id,
)

POOL, HOME, SHOP = 1, 2, 3


def ledger(pool: int = 100) -> Ledger:
    book = Ledger.of(
        [
            Account(0, AccountKind.BUDGET, False),
            Account(POOL, AccountKind.POOL, True),
            Account(HOME, AccountKind.HOUSEHOLD, True),
            Account(SHOP, AccountKind.MERCHANT, False),
        ]
    )
    book.create(TransferRequest("a" * 32, 0, POOL, pool, Code.ALLOT), now=1)
    return book


def refused(book: Ledger, request: TransferRequest, now: int = 10) -> str:
    with pytest.raises(TransferRefused) as caught:
        book.create(request, now)
    return caught.value.code


def test_ids_are_deterministic_128_bit_hex() -> None:
    assert transfer_id("issue", 7, "2026-10") == transfer_id("issue", 7, "2026-10")
    assert transfer_id("issue", 7, "2026-10") != transfer_id("issue", 7, "2026-11")
    assert len(transfer_id("x")) == 32 and int(transfer_id("x"), 16) >= 0


def test_no_overdraft_and_no_pool_overspend() -> None:
    book = ledger(pool=50)
    assert refused(book, TransferRequest("1" * 32, POOL, HOME, 51, Code.ISSUE)) == "exceeds_credits"
    book.create(TransferRequest("2" * 32, POOL, HOME, 50, Code.ISSUE), now=2)
    assert refused(book, TransferRequest("3" * 32, HOME, SHOP, 51, Code.HOLD, PENDING)) == "exceeds_credits"
    assert book.accounts[HOME].balance == 50 and book.accounts[POOL].available == 0


def test_retries_are_harmless_and_reused_ids_refused() -> None:
    book = ledger()
    request = TransferRequest("4" * 32, POOL, HOME, 30, Code.ISSUE)
    assert book.create(request, now=2)[0] is Outcome.CREATED
    assert book.create(request, now=3)[0] is Outcome.EXISTS
    assert book.accounts[HOME].balance == 30
    assert (
        refused(book, TransferRequest("4" * 32, POOL, HOME, 31, Code.ISSUE)) == "exists_with_different_fields"
    )


def test_a_hold_reserves_then_posts_once_or_voids() -> None:
    book = ledger()
    book.create(TransferRequest("5" * 32, POOL, HOME, 100, Code.ISSUE), now=2)
    book.create(TransferRequest("6" * 32, HOME, SHOP, 60, Code.HOLD, PENDING, timeout=100), now=10)
    assert (book.accounts[HOME].balance, book.accounts[HOME].available) == (100, 40)
    post = TransferRequest("7" * 32, 0, 0, 45, Code.REDEEM, POST_PENDING, pending_id="6" * 32)
    book.create(post, now=20)
    assert (book.accounts[HOME].balance, book.accounts[HOME].available) == (55, 55)
    assert book.accounts[SHOP].balance == 45
    again = TransferRequest("8" * 32, 0, 0, 0, Code.REDEEM, POST_PENDING, pending_id="6" * 32)
    assert refused(book, again) == "pending_transfer_already_posted"
    void = TransferRequest("9" * 32, 0, 0, 0, Code.RELEASE, VOID_PENDING, pending_id="6" * 32)
    assert refused(book, void) == "pending_transfer_already_posted"


def test_a_timed_out_hold_cannot_be_posted_but_can_be_voided() -> None:
    book = ledger()
    book.create(TransferRequest("5" * 32, POOL, HOME, 100, Code.ISSUE), now=2)
    book.create(TransferRequest("6" * 32, HOME, SHOP, 60, Code.HOLD, PENDING, timeout=100), now=10)
    post = TransferRequest("7" * 32, 0, 0, 0, Code.REDEEM, POST_PENDING, pending_id="6" * 32)
    assert refused(book, post, now=110) == "pending_transfer_expired"
    book.create(
        TransferRequest("9" * 32, 0, 0, 0, Code.HOLD_EXPIRED, VOID_PENDING, pending_id="6" * 32), now=111
    )
    assert refused(book, post, now=112) == "pending_transfer_expired"
    assert book.accounts[HOME].available == 100 and book.accounts[SHOP].credits_pending == 0


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (TransferRequest("b" * 32, POOL, POOL, 1, Code.ISSUE), "accounts_must_be_different"),
        (TransferRequest("b" * 32, POOL, HOME, 0, Code.ISSUE), "amount_must_not_be_zero"),
        (TransferRequest("b" * 32, POOL, 99, 1, Code.ISSUE), "credit_account_not_found"),
        (
            TransferRequest("b" * 32, POOL, HOME, 1, Code.ISSUE, timeout=5),
            "timeout_reserved_for_pending_transfer",
        ),
        (
            TransferRequest("b" * 32, 0, 0, 0, Code.REDEEM, POST_PENDING, pending_id="c" * 32),
            "pending_transfer_not_found",
        ),
        (
            TransferRequest("b" * 32, 0, 0, 0, Code.REDEEM, POST_PENDING, pending_id="a" * 32),
            "pending_transfer_not_pending",
        ),
        (TransferRequest("0" * 32, POOL, HOME, 1, Code.ISSUE), "id_must_not_be_zero"),
        (
            TransferRequest("b" * 32, POOL, HOME, 1, Code.ISSUE, flags=PENDING | POST_PENDING),
            "flags_are_mutually_exclusive",
        ),
    ],
)
def test_malformed_requests_name_their_rule(request_: TransferRequest, code: str) -> None:
    book = ledger()
    before = dict(book.accounts)
    assert refused(book, request_) == code
    assert book.accounts == before and len(book.created) == 1


def test_a_post_cannot_exceed_its_hold() -> None:
    book = ledger()
    book.create(TransferRequest("5" * 32, POOL, HOME, 100, Code.ISSUE), now=2)
    book.create(TransferRequest("6" * 32, HOME, SHOP, 60, Code.HOLD, PENDING), now=10)
    post = TransferRequest("7" * 32, 0, 0, 61, Code.REDEEM, POST_PENDING, pending_id="6" * 32)
    assert refused(book, post) == "exceeds_pending_transfer_amount"


operations = st.lists(
    st.tuples(
        st.sampled_from(["issue", "hold", "post", "void", "spend"]), st.integers(0, 80), st.integers(0, 30)
    ),
    max_size=40,
)


@given(operations)
def test_any_sequence_conserves_points_and_replays_to_the_same_balances(
    ops: list[tuple[str, int, int]],
) -> None:
    book = ledger(pool=500)
    holds: list[str] = []
    for n, (op, amount, pick) in enumerate(ops):
        tid = transfer_id("op", n)
        if op == "issue":
            request = TransferRequest(tid, POOL, HOME, amount, Code.ISSUE)
        elif op == "spend":
            request = TransferRequest(tid, HOME, SHOP, amount, Code.REDEEM)
        elif op == "hold":
            request = TransferRequest(tid, HOME, SHOP, amount, Code.HOLD, PENDING)
        else:
            if not holds:
                continue
            flags = POST_PENDING if op == "post" else VOID_PENDING
            code = Code.REDEEM if op == "post" else Code.RELEASE
            request = TransferRequest(tid, 0, 0, 0, code, flags, pending_id=holds[pick % len(holds)])
        try:
            book.create(request, now=n)
        except TransferRefused:
            continue
        if op == "hold":
            holds.append(tid)
    sums = [sum(getattr(a, f) for a in book.accounts.values()) for f in ("debits_posted", "credits_posted")]
    assert sums[0] == sums[1]
    assert sum(a.debits_pending for a in book.accounts.values()) == sum(
        a.credits_pending for a in book.accounts.values()
    )
    assert all(a.available >= 0 for a in book.accounts.values() if a.debits_must_not_exceed_credits)
    replayed = replay_balances(book.created)
    for account in book.accounts.values():
        assert replayed.get(account.id, (0, 0, 0, 0)) == (
            account.debits_pending,
            account.debits_posted,
            account.credits_pending,
            account.credits_posted,
        )
    for transfer in list(book.created):
        resubmitted = TransferRequest(
            transfer.id,
            transfer.debit_account_id,
            transfer.credit_account_id,
            transfer.amount,
            transfer.code,
            transfer.flags,
            transfer.pending_id,
            transfer.timeout,
            transfer.reference,
        )
        before = dict(book.accounts)
        assert book.create(resubmitted, now=10_000)[0] is Outcome.EXISTS
        assert book.accounts == before
