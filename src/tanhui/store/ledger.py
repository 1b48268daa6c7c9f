"""The points ledger in the store: accounts, append-only transfers, and the invariant check.

Every write goes through :func:`create_transfers`, which in the caller's transaction

1. locks the accounts the batch touches (``SELECT ... FOR UPDATE`` in id order on PostgreSQL, so two
   batches never deadlock; on SQLite a no-op write first takes the database's single write lock),
2. reads, under those locks, the transfers the batch names (its own ids, the pending transfers it
   resolves and their resolutions),
3. applies the batch with :class:`tanhui.points.ledger.Ledger`, which holds every rule, and
4. inserts the new transfer rows and updates the touched balances, or writes nothing at all.

The database backs the rules up: the transfer id and ``pending_id`` are unique (one transfer per
idempotency key; a hold resolves once) and CHECK constraints refuse an overdrawn household or pool.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, bindparam, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tanhui.domain.ids import CommunityId
from tanhui.points import expiry
from tanhui.points.errors import TransferRefused
from tanhui.points.ledger import (
    LIMITED_KINDS,
    PENDING,
    POINTS_LEDGER,
    POST_PENDING,
    Account,
    AccountKind,
    Code,
    Ledger,
    Outcome,
    Transfer,
    TransferRequest,
    transfer_id,
)
from tanhui.store.schema import households, points_accounts, points_transfers

COMMUNITY_KINDS = (AccountKind.BUDGET, AccountKind.POOL, AccountKind.EXPIRED, AccountKind.SETTLEMENT)
_SUMS = ("debits_pending", "debits_posted", "credits_pending", "credits_posted")


def _account(r: Row[Any]) -> Account:
    return Account(
        id=r.id,
        kind=AccountKind(r.kind),
        debits_must_not_exceed_credits=bool(r.debits_must_not_exceed_credits),
        debits_pending=r.debits_pending,
        debits_posted=r.debits_posted,
        credits_pending=r.credits_pending,
        credits_posted=r.credits_posted,
    )


def _transfer(r: Row[Any]) -> Transfer:
    return Transfer(
        id=r.id,
        debit_account_id=r.debit_account_id,
        credit_account_id=r.credit_account_id,
        amount=r.amount,
        code=Code(r.code),
        flags=r.flags,
        pending_id=r.pending_id,
        timeout=r.timeout,
        reference=r.reference,
        timestamp=r.timestamp,
    )


def open_account(
    conn: Connection, community_id: CommunityId, kind: AccountKind, owner_id: int = 0, *, now: int
) -> int:
    """The id of the community's account of ``kind`` for ``owner_id``, opened on first use."""
    where = and_(
        points_accounts.c.community_id == community_id,
        points_accounts.c.kind == kind.value,
        points_accounts.c.owner_id == owner_id,
    )
    found = conn.execute(select(points_accounts.c.id).where(where)).scalar_one_or_none()
    if found is not None:
        return int(found)
    # Opened concurrently by two transactions: one insert wins, the other does nothing; both then read it.
    dialect_insert = sqlite_insert if conn.dialect.name == "sqlite" else pg_insert
    conn.execute(
        dialect_insert(points_accounts)
        .values(
            community_id=community_id,
            kind=kind.value,
            owner_id=owner_id,
            ledger=POINTS_LEDGER,
            debits_must_not_exceed_credits=kind in LIMITED_KINDS,
            debits_pending=0,
            debits_posted=0,
            credits_pending=0,
            credits_posted=0,
            created_at=now,
        )
        .on_conflict_do_nothing()
    )
    return int(conn.execute(select(points_accounts.c.id).where(where)).scalar_one())


def community_accounts(conn: Connection, community_id: CommunityId, *, now: int) -> dict[AccountKind, int]:
    """The community's budget, pool, expired and settlement accounts, opened on first use."""
    return {kind: open_account(conn, community_id, kind, now=now) for kind in COMMUNITY_KINDS}


def find_account(
    conn: Connection, community_id: CommunityId, kind: AccountKind, owner_id: int = 0
) -> int | None:
    """The account's id if it has been opened."""
    found = conn.execute(
        select(points_accounts.c.id).where(
            points_accounts.c.community_id == community_id,
            points_accounts.c.kind == kind.value,
            points_accounts.c.owner_id == owner_id,
        )
    ).scalar_one_or_none()
    return None if found is None else int(found)


def get_account(conn: Connection, account_id: int) -> Account:
    return _account(conn.execute(select(points_accounts).where(points_accounts.c.id == account_id)).one())


def _take_write_lock(conn: Connection) -> None:
    # SQLite has one writer: a write as the first statement makes this transaction that writer now (the
    # driver's implicit BEGIN precedes it and waits out the busy timeout), so the reads below cannot go
    # stale before the writes. PostgreSQL locks the rows themselves instead.
    if conn.dialect.name == "sqlite":
        conn.execute(text("UPDATE points_accounts SET ledger = ledger WHERE 0 = 1"))


def _chunks(values: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _transfers_where(conn: Connection, column: Any, values: Iterable[str]) -> list[Transfer]:
    wanted = sorted(set(values))
    found: list[Transfer] = []
    for chunk in _chunks(wanted):
        found.extend(_transfer(r) for r in conn.execute(select(points_transfers).where(column.in_(chunk))))
    return found


_PG_INSERT = text(
    "INSERT INTO points_transfers (id, debit_account_id, credit_account_id, amount, pending_id, ledger, "
    "code, flags, timeout, reference, timestamp) "
    "SELECT * FROM unnest(CAST(:id AS varchar[]), CAST(:debit AS int[]), CAST(:credit AS int[]), "
    "CAST(:amount AS bigint[]), CAST(:pending AS varchar[]), CAST(:ledger AS smallint[]), "
    "CAST(:code AS smallint[]), CAST(:flags AS smallint[]), CAST(:timeout AS int[]), "
    "CAST(:reference AS varchar[]), CAST(:ts AS bigint[]))"
)
_PG_UPDATE = text(
    "UPDATE points_accounts AS a SET debits_pending = n.dp, debits_posted = n.dd, credits_pending = n.cp, "
    "credits_posted = n.cc FROM unnest(CAST(:id AS int[]), CAST(:dp AS bigint[]), CAST(:dd AS bigint[]), "
    "CAST(:cp AS bigint[]), CAST(:cc AS bigint[])) AS n(id, dp, dd, cp, cc) WHERE a.id = n.id"
)


def _write(conn: Connection, created: list[Transfer], changed: list[Account]) -> None:
    """Insert the new transfers and store the changed balances.

    On PostgreSQL each is one statement over arrays (``unnest``), whatever the batch size: a statement
    per row (executemany) or a compiled multi-row VALUES cost five to ten times more per transfer.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(
            _PG_INSERT,
            {
                "id": [t.id for t in created],
                "debit": [t.debit_account_id for t in created],
                "credit": [t.credit_account_id for t in created],
                "amount": [t.amount for t in created],
                "pending": [t.pending_id for t in created],
                "ledger": [POINTS_LEDGER] * len(created),
                "code": [int(t.code) for t in created],
                "flags": [t.flags for t in created],
                "timeout": [t.timeout for t in created],
                "reference": [t.reference for t in created],
                "ts": [t.timestamp for t in created],
            },
        )
        conn.execute(
            _PG_UPDATE,
            {
                "id": [a.id for a in changed],
                "dp": [a.debits_pending for a in changed],
                "dd": [a.debits_posted for a in changed],
                "cp": [a.credits_pending for a in changed],
                "cc": [a.credits_posted for a in changed],
            },
        )
        return
    conn.execute(
        insert(points_transfers),
        [
            {
                "id": t.id,
                "debit_account_id": t.debit_account_id,
                "credit_account_id": t.credit_account_id,
                "amount": t.amount,
                "pending_id": t.pending_id,
                "ledger": POINTS_LEDGER,
                "code": int(t.code),
                "flags": t.flags,
                "timeout": t.timeout,
                "reference": t.reference,
                "timestamp": t.timestamp,
            }
            for t in created
        ],
    )
    conn.execute(
        update(points_accounts)
        .where(points_accounts.c.id == bindparam("account_id"))
        .values({name: bindparam(f"new_{name}") for name in _SUMS}),
        [{"account_id": a.id, **{f"new_{name}": getattr(a, name) for name in _SUMS}} for a in changed],
    )


def create_transfers(
    conn: Connection, requests: Sequence[TransferRequest], *, now: int
) -> list[tuple[Outcome, Transfer]]:
    """Apply ``requests`` atomically, in order, at ledger time ``now``.

    Returns each request's outcome (created, or exists for a harmless retry). If any request is refused,
    :class:`TransferRefused` names it and its rule, and nothing is written.
    """
    if not requests:
        return []
    _take_write_lock(conn)
    pending_ids = [r.pending_id for r in requests if r.pending_id is not None]
    # Pending transfers are immutable, so they can be read before the locks to learn their accounts.
    pending = _transfers_where(conn, points_transfers.c.id, pending_ids)
    account_ids = {r.debit_account_id for r in requests} | {r.credit_account_id for r in requests}
    account_ids |= {p.debit_account_id for p in pending} | {p.credit_account_id for p in pending}
    account_ids.discard(0)
    locked = conn.execute(
        select(points_accounts)
        .where(points_accounts.c.id.in_(sorted(account_ids)))
        .order_by(points_accounts.c.id)
        .with_for_update()
    ).all()
    # Read under the locks: any transfer touching these accounts has committed or waits for us.
    known = _transfers_where(conn, points_transfers.c.id, [r.id for r in requests])
    resolutions = _transfers_where(conn, points_transfers.c.pending_id, pending_ids)
    loaded = {r.id: _account(r) for r in locked}
    ledger = Ledger.of(loaded.values(), [*pending, *known, *resolutions])
    outcomes: list[tuple[Outcome, Transfer]] = []
    for index, request in enumerate(requests):
        try:
            outcomes.append(ledger.create(request, now))
        except TransferRefused as exc:
            prefix = f"transfer {index + 1} of {len(requests)} ({request.id}): " if len(requests) > 1 else ""
            raise TransferRefused(prefix + exc.message, code=exc.code) from None
    if ledger.created:
        _write(conn, ledger.created, [a for a in ledger.accounts.values() if a != loaded[a.id]])
    return outcomes


def create_transfer(conn: Connection, request: TransferRequest, *, now: int) -> tuple[Outcome, Transfer]:
    """One transfer; see :func:`create_transfers`."""
    return create_transfers(conn, [request], now=now)[0]


def get_transfer(conn: Connection, transfer_id_: str) -> Transfer | None:
    row = conn.execute(select(points_transfers).where(points_transfers.c.id == transfer_id_)).first()
    return None if row is None else _transfer(row)


def resolution_of(conn: Connection, pending_id: str) -> Transfer | None:
    """The post or void that resolved a pending transfer, if any."""
    row = conn.execute(select(points_transfers).where(points_transfers.c.pending_id == pending_id)).first()
    return None if row is None else _transfer(row)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    seq: int
    transfer: Transfer
    direction: str  # "in" (credit) or "out" (debit)


def history(
    conn: Connection, account_id: int, *, limit: int = 100, before: int | None = None
) -> list[HistoryEntry]:
    """An account's transfers, newest first (every hold, post, void, issuance and expiry)."""
    query = (
        select(points_transfers)
        .where(
            (points_transfers.c.debit_account_id == account_id)
            | (points_transfers.c.credit_account_id == account_id)
        )
        .order_by(points_transfers.c.seq.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(points_transfers.c.seq < before)
    return [
        HistoryEntry(r.seq, _transfer(r), "in" if r.credit_account_id == account_id else "out")
        for r in conn.execute(query)
    ]


def expire_points(
    conn: Connection, community_id: CommunityId, *, months: int, rule_version: str, as_of: date, now: int
) -> tuple[int, int]:
    """Expire, per household, posted points above those issued within ``months`` (expiry.py).

    Each expiry's id is derived from (account, rule version, date), so a rerun the same day is a no-op.
    Returns (households touched, points expired).
    """
    expired = open_account(conn, community_id, AccountKind.EXPIRED, now=now)
    start = expiry.window_start(as_of, months)
    since = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp())
    issued_recently = (
        select(
            points_transfers.c.credit_account_id.label("account_id"),
            func.sum(points_transfers.c.amount).label("issued"),
        )
        .where(points_transfers.c.code == int(Code.ISSUE), points_transfers.c.timestamp >= since)
        .group_by(points_transfers.c.credit_account_id)
        .subquery()
    )
    rows = conn.execute(
        select(points_accounts, func.coalesce(issued_recently.c.issued, 0).label("issued"))
        .outerjoin(issued_recently, issued_recently.c.account_id == points_accounts.c.id)
        .where(
            points_accounts.c.community_id == community_id,
            points_accounts.c.kind == AccountKind.HOUSEHOLD.value,
        )
        .order_by(points_accounts.c.id)
    ).all()
    requests = []
    for r in rows:
        amount = expiry.expiring(_account(r).available, int(r.issued))
        expire_id = transfer_id("expire", r.id, rule_version, as_of.isoformat())
        # One expiry per household, rule and day: a rerun that day keeps what the first run decided.
        if amount and get_transfer(conn, expire_id) is None:
            requests.append(
                TransferRequest(
                    id=expire_id,
                    debit_account_id=r.id,
                    credit_account_id=expired,
                    amount=amount,
                    code=Code.EXPIRE,
                    reference=f"rules:{rule_version};as_of:{as_of.isoformat()}",
                )
            )
    # Available points are read before the lock; a batch refused because a hold came in between is
    # simply rerun, and its ids make the rerun safe.
    outcomes = create_transfers(conn, requests, now=now)
    created = [t for outcome, t in outcomes if outcome is Outcome.CREATED]
    return len(created), sum(t.amount for t in created)


def household_account(conn: Connection, community_id: CommunityId, household_id: int, *, now: int) -> int:
    """The household's points account, opened on first use (the household must be in the community)."""
    belongs = conn.execute(
        select(households.c.id).where(
            households.c.id == household_id, households.c.community_id == community_id
        )
    ).first()
    if belongs is None:
        raise LookupError(f"household {household_id} is not in community {community_id}")
    return open_account(conn, community_id, AccountKind.HOUSEHOLD, household_id, now=now)


@dataclass(frozen=True, slots=True)
class Totals:
    issued: int
    redeemed: int
    held: int
    expired: int


def totals(conn: Connection, community_id: CommunityId) -> Totals:
    """Points issued, redeemed (posted), held (pending now) and expired in a community."""
    rows = conn.execute(
        select(points_transfers.c.code, func.sum(points_transfers.c.amount))
        .join(points_accounts, points_accounts.c.id == points_transfers.c.debit_account_id)
        .where(
            points_accounts.c.community_id == community_id,
            points_transfers.c.flags.in_((0, POST_PENDING)),
        )
        .group_by(points_transfers.c.code)
    ).all()
    by = {int(code): int(total) for code, total in rows}
    held = conn.execute(
        select(func.coalesce(func.sum(points_accounts.c.debits_pending), 0)).where(
            points_accounts.c.community_id == community_id,
            points_accounts.c.kind == AccountKind.HOUSEHOLD.value,
        )
    ).scalar_one()
    return Totals(
        issued=by.get(int(Code.ISSUE), 0),
        redeemed=by.get(int(Code.REDEEM), 0),
        held=int(held),
        expired=by.get(int(Code.EXPIRE), 0),
    )


@dataclass(frozen=True, slots=True)
class Violation:
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.message}"


def _replayed(conn: Connection) -> dict[int, list[int]]:
    """Each account's four sums recomputed from the transfers alone (ledger.replay_balances, in SQL)."""
    t = points_transfers
    resolution = points_transfers.alias("resolution")
    sums: dict[int, list[int]] = {}
    posted = t.c.flags.in_((0, POST_PENDING))
    open_hold = and_(t.c.flags == PENDING, resolution.c.id.is_(None))
    for index, side, where in (
        (0, t.c.debit_account_id, open_hold),
        (1, t.c.debit_account_id, posted),
        (2, t.c.credit_account_id, open_hold),
        (3, t.c.credit_account_id, posted),
    ):
        query = (
            select(side, func.sum(t.c.amount))
            .select_from(t.outerjoin(resolution, resolution.c.pending_id == t.c.id))
            .where(where)
            .group_by(side)
        )
        for account_id, total in conn.execute(query):
            sums.setdefault(int(account_id), [0, 0, 0, 0])[index] = int(total)
    return sums


def check(conn: Connection) -> list[Violation]:
    """Every broken ledger invariant, most fundamental first; an empty list means the ledger is sound.

    1. each account's sums equal those replayed from the transfers (balances change only by transfers),
    2. per ledger, posted debits equal posted credits and pending debits equal pending credits (the sum
       of all balances is zero),
    3. no household below zero and no pool overspent (pending holds count against the balance),
    4. every post or void names a pending transfer, and households and pools keep their limit flag.
    """
    violations: list[Violation] = []
    replayed = _replayed(conn)
    accounts = [
        (_account(r), r.owner_id)
        for r in conn.execute(select(points_accounts).order_by(points_accounts.c.id))
    ]
    for account, owner in accounts:
        expected = replayed.pop(account.id, [0, 0, 0, 0])
        stored = [getattr(account, name) for name in _SUMS]
        for name, have, want in zip(_SUMS, stored, expected, strict=True):
            if have != want:
                violations.append(
                    Violation(
                        "balance_differs_from_transfers",
                        f"{account.kind.value} account {account.id} (owner {owner}): {name} is {have}, "
                        f"its transfers give {want}",
                    )
                )
    for account_id in sorted(replayed):
        violations.append(
            Violation("transfer_without_account", f"transfers name missing account {account_id}")
        )
    totals_ = [sum(getattr(a, name) for a, _ in accounts) for name in _SUMS]
    if totals_[1] != totals_[3] or totals_[0] != totals_[2]:
        violations.append(
            Violation(
                "balances_do_not_sum_to_zero",
                f"posted debits {totals_[1]} vs credits {totals_[3]}; pending debits {totals_[0]} "
                f"vs credits {totals_[2]}",
            )
        )
    for account, owner in accounts:
        if account.kind in LIMITED_KINDS and not account.debits_must_not_exceed_credits:
            violations.append(
                Violation("limit_flag_missing", f"{account.kind.value} account {account.id} may be overdrawn")
            )
        if account.kind in LIMITED_KINDS and account.available < 0:
            rule = "household_below_zero" if account.kind is AccountKind.HOUSEHOLD else "pool_overspent"
            violations.append(
                Violation(
                    rule, f"{account.kind.value} account {account.id} (owner {owner}) has {account.available}"
                )
            )
    held = points_transfers.alias("held")
    orphans = conn.execute(
        select(points_transfers.c.id)
        .select_from(points_transfers.outerjoin(held, held.c.id == points_transfers.c.pending_id))
        .where(points_transfers.c.pending_id.is_not(None), (held.c.id.is_(None)) | (held.c.flags != PENDING))
        .order_by(points_transfers.c.seq)
        .limit(10)
    ).scalars()
    violations.extend(
        Violation("resolution_without_pending_transfer", f"transfer {orphan} resolves no pending transfer")
        for orphan in orphans
    )
    return violations
