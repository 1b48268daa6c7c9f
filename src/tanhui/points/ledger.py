"""The double-entry points ledger, modelled on TigerBeetle's accounts and transfers.

Every movement of points is a transfer from one account (debit) to another (credit) of a positive
integer amount. Transfers are immutable; a two-phase transfer is a *pending* transfer that reserves
the amount, later resolved exactly once by a second transfer that *posts* it (all or part) or
*voids* it. Balances are the sums of transfers, never edited. Field names, flag bits and refusal
codes follow TigerBeetle (docs.tigerbeetle.com: accounts, transfers, two-phase transfers; the
``tigerbeetle`` 0.17.9 client bindings), as recorded in shared/reference/ledger.md §7.2.

:class:`Ledger` holds a working set of accounts and transfers in memory and applies requests to it
with every rule checked; the store loads the rows a batch touches (locked) into one, applies the
batch, and writes back what changed, so the rules live only here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import IntEnum, StrEnum

from tanhui.points.errors import TransferRefused

POINTS_LEDGER = 1
"""TigerBeetle's ``ledger`` field: the unit. Tanhui has one unit, the integer carbon point."""

# Transfer flag bits, as TigerBeetle numbers them (``TransferFlags``).
PENDING = 1 << 1
POST_PENDING = 1 << 2
VOID_PENDING = 1 << 3
_KNOWN_FLAGS = (0, PENDING, POST_PENDING, VOID_PENDING)


class AccountKind(StrEnum):
    """The chart of accounts (shared/reference/ledger.md §7.3)."""

    BUDGET = "budget"  # the community's source of points; its debit balance is every point ever allotted
    POOL = "pool"  # the community's issuance pool: allotted budget not yet issued; may not go below zero
    HOUSEHOLD = "household"  # a household's spendable points; may not go below zero
    MERCHANT = "merchant"  # points redeemed at a merchant, owed to it by the operator until settled
    SETTLEMENT = "settlement"  # points the operator has settled with merchants
    EXPIRED = "expired"  # sink of expired points (breakage)


LIMITED_KINDS = frozenset({AccountKind.POOL, AccountKind.HOUSEHOLD})
"""Accounts opened with ``debits_must_not_exceed_credits``: no overdraft, no pool overspend."""


class Code(IntEnum):
    """Reason codes of transfers (TigerBeetle's ``code``; shared/reference/ledger.md §7.3)."""

    ISSUE = 1  # pool -> household, for verified avoided emissions
    HOLD = 2  # household -> merchant, pending: a voucher was issued
    REDEEM = 3  # posts a hold: the merchant validated the voucher
    RELEASE = 4  # voids a hold: the resident cancelled the voucher
    EXPIRE = 5  # household -> expired: posted points reached the end of their validity
    REVERSAL = 6  # a correcting transfer that names the one it reverses in ``reference``
    ALLOT = 7  # budget -> pool: the community budget of a period
    SETTLE = 8  # merchant -> settlement: the operator paid the merchant
    HOLD_EXPIRED = 9  # voids a hold whose voucher timed out


class Outcome(StrEnum):
    CREATED = "created"
    EXISTS = "exists"  # the same id with the same fields: a harmless retry, nothing changed


@dataclass(frozen=True, slots=True)
class Account:
    """An account and its four running sums (TigerBeetle ``Account``)."""

    id: int
    kind: AccountKind
    debits_must_not_exceed_credits: bool
    debits_pending: int = 0
    debits_posted: int = 0
    credits_pending: int = 0
    credits_posted: int = 0

    @property
    def balance(self) -> int:
        """Posted credits minus posted debits: what a household owns."""
        return self.credits_posted - self.debits_posted

    @property
    def available(self) -> int:
        """Balance less pending debits: what can still be spent or reserved."""
        return self.credits_posted - self.debits_posted - self.debits_pending


@dataclass(frozen=True, slots=True)
class TransferRequest:
    """What a caller asks for. ``id`` is also the idempotency key: derive it with :func:`transfer_id`.

    For a post or void, the accounts may be left 0 (taken from the pending transfer) and a post
    amount of 0 means "the whole pending amount", as in TigerBeetle before 0.16.
    """

    id: str
    debit_account_id: int
    credit_account_id: int
    amount: int
    code: Code
    flags: int = 0
    pending_id: str | None = None
    timeout: int = 0  # seconds; pending transfers only; 0 = never times out
    reference: str = ""  # evidence: the accounting result, voucher or rule the transfer pays or applies


@dataclass(frozen=True, slots=True)
class Transfer:
    """A transfer as recorded: accounts resolved, amount final, stamped with the ledger's time."""

    id: str
    debit_account_id: int
    credit_account_id: int
    amount: int
    code: Code
    flags: int
    pending_id: str | None
    timeout: int
    reference: str
    timestamp: int

    @property
    def expires_at(self) -> int | None:
        """When a pending transfer times out (``timestamp + timeout``), if it does."""
        return self.timestamp + self.timeout if self.flags == PENDING and self.timeout else None


def transfer_id(*parts: object) -> str:
    """A deterministic 128-bit transfer id (32 hex digits) from the business event that causes it.

    The same event always gives the same id, so a retried issuance or validation is a no-op
    (shared/reference/ledger.md §7.1: IDs derived from the event, never random per attempt).
    """
    text = "\x1f".join(str(p) for p in ("tanhui/points/v1", *parts))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _refuse(code: str, message: str) -> TransferRefused:
    return TransferRefused(message, code=code)


def _same(request: TransferRequest, stored: Transfer) -> bool:
    """Whether a retried request asks for exactly what ``stored`` recorded (accounts/amount 0 = any)."""
    return (
        request.flags == stored.flags
        and request.code == stored.code
        and request.pending_id == stored.pending_id
        and request.timeout == stored.timeout
        and request.reference == stored.reference
        and request.debit_account_id in (0, stored.debit_account_id)
        and request.credit_account_id in (0, stored.credit_account_id)
        and (
            request.amount == stored.amount
            or (request.amount == 0 and stored.flags in (POST_PENDING, VOID_PENDING))
        )
    )


@dataclass
class Ledger:
    """A working set of accounts and transfers, and the rules that change it.

    ``resolutions`` maps a pending transfer's id to the id of the transfer that posted or voided it.
    Requests change the set only when every rule holds; a refused request changes nothing.
    """

    accounts: dict[int, Account] = field(default_factory=dict)
    transfers: dict[str, Transfer] = field(default_factory=dict)
    resolutions: dict[str, str] = field(default_factory=dict)
    created: list[Transfer] = field(default_factory=list)

    @classmethod
    def of(
        cls,
        accounts: Iterable[Account],
        transfers: Iterable[Transfer] = (),
        resolved: Mapping[str, str] | None = None,
    ) -> Ledger:
        """A working set holding ``accounts`` and ``transfers`` (loaded from the store)."""
        found = list(transfers)
        derived = {t.pending_id: t.id for t in found if t.pending_id is not None}
        return cls(
            accounts={a.id: a for a in accounts},
            transfers={t.id: t for t in found},
            resolutions={**derived, **(resolved or {})},
        )

    def create(self, request: TransferRequest, now: int) -> tuple[Outcome, Transfer]:
        """Apply one request at ledger time ``now``, or raise :class:`TransferRefused` changing nothing."""
        existing = self.transfers.get(request.id)
        if existing is not None:
            if _same(request, existing):
                return Outcome.EXISTS, existing
            raise _refuse(
                "exists_with_different_fields",
                f"transfer {request.id} already exists with other fields; a new event needs a new id",
            )
        if not request.id or set(request.id) == {"0"}:
            raise _refuse("id_must_not_be_zero", "a transfer needs a non-zero id")
        if request.flags not in _KNOWN_FLAGS:
            raise _refuse(
                "flags_are_mutually_exclusive", f"flags {request.flags} are not one of {_KNOWN_FLAGS}"
            )
        if request.amount < 0:
            raise _refuse("amount_must_not_be_negative", f"amount {request.amount} is negative")
        if request.timeout < 0 or (request.timeout and request.flags != PENDING):
            raise _refuse(
                "timeout_reserved_for_pending_transfer", "only a pending transfer may have a timeout"
            )
        if request.flags in (POST_PENDING, VOID_PENDING):
            transfer, changed = self._resolve(request, now)
        else:
            transfer, changed = self._single_or_pending(request, now)
        for account in changed:
            self.accounts[account.id] = account
        self.transfers[transfer.id] = transfer
        if transfer.pending_id is not None:
            self.resolutions[transfer.pending_id] = transfer.id
        self.created.append(transfer)
        return Outcome.CREATED, transfer

    def _account(self, account_id: int, side: str) -> Account:
        found = self.accounts.get(account_id)
        if found is None:
            raise _refuse(f"{side}_account_not_found", f"no {side} account {account_id}")
        return found

    def _single_or_pending(self, request: TransferRequest, now: int) -> tuple[Transfer, list[Account]]:
        if request.pending_id is not None:
            raise _refuse("pending_id_must_be_zero", "only a post or void names a pending transfer")
        if request.amount == 0:
            raise _refuse("amount_must_not_be_zero", "a transfer moves at least one point")
        if request.debit_account_id == request.credit_account_id:
            raise _refuse("accounts_must_be_different", f"account {request.debit_account_id} on both sides")
        debit = self._account(request.debit_account_id, "debit")
        credit = self._account(request.credit_account_id, "credit")
        amount = request.amount
        if (
            debit.debits_must_not_exceed_credits
            and debit.debits_posted + debit.debits_pending + amount > debit.credits_posted
        ):
            raise _refuse(
                "exceeds_credits",
                f"{debit.kind.value} account {debit.id} has {debit.available} points available, "
                f"{amount} asked",
            )
        if request.flags == PENDING:
            debit = replace(debit, debits_pending=debit.debits_pending + amount)
            credit = replace(credit, credits_pending=credit.credits_pending + amount)
        else:
            debit = replace(debit, debits_posted=debit.debits_posted + amount)
            credit = replace(credit, credits_posted=credit.credits_posted + amount)
        transfer = Transfer(
            id=request.id,
            debit_account_id=debit.id,
            credit_account_id=credit.id,
            amount=amount,
            code=request.code,
            flags=request.flags,
            pending_id=None,
            timeout=request.timeout,
            reference=request.reference,
            timestamp=now,
        )
        return transfer, [debit, credit]

    def _resolve(self, request: TransferRequest, now: int) -> tuple[Transfer, list[Account]]:
        if request.pending_id is None:
            raise _refuse("pending_id_must_not_be_zero", "a post or void must name its pending transfer")
        pending = self.transfers.get(request.pending_id)
        if pending is None:
            raise _refuse("pending_transfer_not_found", f"no pending transfer {request.pending_id}")
        if pending.flags != PENDING:
            raise _refuse("pending_transfer_not_pending", f"transfer {pending.id} is not a pending transfer")
        resolved_by = self.resolutions.get(pending.id)
        if resolved_by is not None:
            resolution = self.transfers.get(resolved_by)
            if resolution is not None and resolution.code == Code.HOLD_EXPIRED:
                raise _refuse("pending_transfer_expired", f"pending transfer {pending.id} has expired")
            if resolution is not None and resolution.flags == VOID_PENDING:
                raise _refuse("pending_transfer_already_voided", f"pending transfer {pending.id} was voided")
            raise _refuse("pending_transfer_already_posted", f"pending transfer {pending.id} was posted")
        if request.debit_account_id not in (0, pending.debit_account_id) or request.credit_account_id not in (
            0,
            pending.credit_account_id,
        ):
            raise _refuse(
                "pending_transfer_has_different_accounts",
                f"pending transfer {pending.id} moves "
                f"{pending.debit_account_id} -> {pending.credit_account_id}",
            )
        expires_at = pending.expires_at
        if request.flags == POST_PENDING and expires_at is not None and now >= expires_at:
            raise _refuse(
                "pending_transfer_expired", f"pending transfer {pending.id} expired at {expires_at}"
            )
        if request.flags == POST_PENDING:
            posted = request.amount or pending.amount
            if posted > pending.amount:
                raise _refuse(
                    "exceeds_pending_transfer_amount",
                    f"post of {posted} exceeds the pending {pending.amount}",
                )
        else:
            if request.amount not in (0, pending.amount):
                raise _refuse(
                    "pending_transfer_has_different_amount",
                    f"a void releases the whole pending {pending.amount}, not {request.amount}",
                )
            posted = 0
        debit = self._account(pending.debit_account_id, "debit")
        credit = self._account(pending.credit_account_id, "credit")
        debit = replace(
            debit,
            debits_pending=debit.debits_pending - pending.amount,
            debits_posted=debit.debits_posted + posted,
        )
        credit = replace(
            credit,
            credits_pending=credit.credits_pending - pending.amount,
            credits_posted=credit.credits_posted + posted,
        )
        transfer = Transfer(
            id=request.id,
            debit_account_id=debit.id,
            credit_account_id=credit.id,
            # A void records the amount it released; the posted fields only move by ``posted``.
            amount=posted if request.flags == POST_PENDING else pending.amount,
            code=request.code,
            flags=request.flags,
            pending_id=pending.id,
            timeout=0,
            reference=request.reference,
            timestamp=now,
        )
        return transfer, [debit, credit]


def replay_balances(transfers: Iterable[Transfer]) -> dict[int, tuple[int, int, int, int]]:
    """Each account's (debits_pending, debits_posted, credits_pending, credits_posted) from its transfers.

    What a verifier computes from the transfer log alone; it must equal the stored account rows.
    """
    sums: dict[int, list[int]] = {}
    pending_amounts: dict[str, Transfer] = {}

    def add(account: int, index: int, amount: int) -> None:
        sums.setdefault(account, [0, 0, 0, 0])[index] += amount

    for t in transfers:
        if t.flags == PENDING:
            pending_amounts[t.id] = t
            add(t.debit_account_id, 0, t.amount)
            add(t.credit_account_id, 2, t.amount)
            continue
        if t.flags in (POST_PENDING, VOID_PENDING) and t.pending_id is not None:
            held = pending_amounts[t.pending_id]
            add(t.debit_account_id, 0, -held.amount)
            add(t.credit_account_id, 2, -held.amount)
            if t.flags == VOID_PENDING:
                continue
        add(t.debit_account_id, 1, t.amount)
        add(t.credit_account_id, 3, t.amount)
    return {k: (v[0], v[1], v[2], v[3]) for k, v in sums.items()}
