"""Stateful property test of the points ledger against the real store (SQLite).

Hypothesis interleaves issuance, redemption, validation, cancellation, hold time-outs, points expiry,
replays of stored transfers and the passing of time. After every step the store must agree with a
plain-integer model of what each household owns, and ``ledger.check`` must find nothing: balances
equal their transfers, all balances sum to zero, no household below zero, no pool overspent.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Connection, Engine, func, select

from tanhui.domain.ids import CommunityId
from tanhui.jobs.issuance import issue_period
from tanhui.points import expiry
from tanhui.points.catalogue import Reward, RewardKind
from tanhui.points.errors import PointsError
from tanhui.points.issuance import AvoidedEmissions
from tanhui.points.ledger import POST_PENDING, VOID_PENDING, Code, Outcome, TransferRequest
from tanhui.points.rules import parse_rules
from tanhui.store import catalogue, ledger, migrate, registry, vouchers
from tanhui.store.engine import make_engine
from tanhui.store.schema import points_accounts, points_transfers

RULES = replace(
    parse_rules(
        (Path(__file__).resolve().parents[2] / "data" / "points" / "rules.toml").read_text(encoding="utf-8")
    ),
    community_budget_per_period=400,
    household_cap_per_period=300,
)
KEY = b"stateful"
PRICE = 120
TTL = 3600
START = 1_790_000_000  # 2026-09-21
SLUGS = itertools.count()


@dataclass
class ModelVoucher:
    id: int
    household: int
    code: str
    expires_at: int
    state: str = "open"
    validated_by: str | None = None


class LedgerMachine(RuleBasedStateMachine):
    engine: Engine

    @initialize()
    def setup(self) -> None:
        self.now = START
        self.ids = itertools.count(1 + next(SLUGS) * 1000)
        with self.engine.begin() as conn:
            self.community = CommunityId(
                registry.create_community(
                    conn,
                    slug=f"c{next(self.ids)}",
                    name="C",
                    name_zh="C",
                    timezone="Asia/Shanghai",
                    factor_regime="cn",
                    factor_set_id="cn-mee-2023@v1",
                    now=START,
                )
            )
            self.households = [
                registry.create_household(
                    conn, community_id=self.community, code=f"H{i}", persons=2, enrolled_on=None, now=START
                )
                for i in range(3)
            ]
            merchant = catalogue.create_merchant(
                conn, self.community, slug="m", name_zh="商户", name_en="M", demo=True, now=START
            )
            self.merchant = merchant
            self.reward = catalogue.create_reward(
                conn,
                self.community,
                Reward(
                    0,
                    merchant,
                    RewardKind.TICKET,
                    "票",
                    "Ticket",
                    "",
                    "",
                    PRICE,
                    4,
                    date(2026, 1, 1),
                    date(2030, 12, 31),
                    TTL,
                    True,
                    True,
                ),
                now=START,
            )
        self.balance = dict.fromkeys(self.households, 0)  # posted, owned
        self.held = dict.fromkeys(self.households, 0)
        self.issued: dict[tuple[int, str], tuple[int, int]] = {}  # (household, period) -> (points, time)
        self.pool = 0
        self.allotted: set[str] = set()
        self.stock = 4
        self.vouchers: list[ModelVoucher] = []
        self.expired: set[tuple[int, int, date]] = set()

    def _conn_check(self, conn: Connection) -> None:
        assert ledger.check(conn) == []

    @rule(h=st.integers(0, 2), month=st.integers(9, 12), avoided=st.integers(-5_000, 40_000))
    def issue(self, h: int, month: int, avoided: int) -> None:
        household = self.households[h]
        period = f"2026-{month:02d}"

        def source(_c: Connection, household_id: int, first: date, _l: date) -> AvoidedEmissions | None:
            if household_id != household:
                return None
            return AvoidedEmissions(household_id, f"{first:%Y-%m}", avoided, True, True)

        with self.engine.begin() as conn:
            summary = issue_period(conn, self.community, period, RULES, source, now=self.now)
        if period not in self.allotted:
            self.allotted.add(period)
            self.pool += RULES.community_budget_per_period
        if (household, period) in self.issued:
            assert summary.points == 0
            return
        due = min(RULES.household_cap_per_period, max(0, avoided) * RULES.points_per_kg_co2e // 1000)
        paid = min(due, self.pool)
        assert summary.points == paid
        if paid:
            self.issued[(household, period)] = (paid, self.now)
            self.balance[household] += paid
            self.pool -= paid

    def _release_expired(self, household: int | None) -> None:
        for v in self.vouchers:
            if v.state == "open" and v.expires_at <= self.now and household in (None, v.household):
                v.state = "expired"
                self.held[v.household] -= PRICE
                self.stock += 1

    @rule(h=st.integers(0, 2))
    def redeem(self, h: int) -> None:
        household = self.households[h]
        voucher_id = next(self.ids)
        try:
            with self.engine.begin() as conn:
                issued = vouchers.redeem(
                    conn,
                    self.community,
                    household_id=household,
                    reward_id=self.reward,
                    voucher_id=voucher_id,
                    key=KEY,
                    now=self.now,
                    today=date(2026, 10, 1),
                )
        except PointsError as exc:
            # The refused redemption rolled back everything, the release of expired holds included.
            lapsed = [
                v
                for v in self.vouchers
                if v.state == "open" and v.household == household and v.expires_at <= self.now
            ]
            stock = self.stock + len(lapsed)
            available = self.balance[household] - self.held[household] + PRICE * len(lapsed)
            expected = "out_of_stock" if stock == 0 else "exceeds_credits"
            assert exc.code == expected and (stock == 0 or available < PRICE)
            return
        self._release_expired(household)
        assert self.stock > 0 and self.balance[household] - self.held[household] >= PRICE
        self.held[household] += PRICE
        self.stock -= 1
        self.vouchers.append(ModelVoucher(voucher_id, household, issued.code, self.now + TTL))

    @precondition(lambda self: bool(self.vouchers))
    @rule(data=st.data(), attempt=st.sampled_from(["till-a", "till-b"]))
    def validate(self, data: st.DataObject, attempt: str) -> None:
        v = data.draw(st.sampled_from(self.vouchers))
        try:
            with self.engine.begin() as conn:
                vouchers.validate(
                    conn,
                    self.community,
                    merchant_id=self.merchant,
                    code=v.code,
                    attempt=attempt,
                    key=KEY,
                    now=self.now,
                )
        except PointsError as exc:
            expected = {
                "redeemed": "pending_transfer_already_posted",
                "cancelled": "pending_transfer_already_voided",
                "expired": "pending_transfer_expired",
                "open": "pending_transfer_expired",
            }[v.state]
            assert exc.code == expected, (exc, v)
            assert v.state != "redeemed" or v.validated_by != attempt
            assert v.state != "open" or self.now >= v.expires_at
            return
        assert (v.state == "open" and self.now < v.expires_at) or v.validated_by == attempt, v
        if v.state == "open":
            v.state, v.validated_by = "redeemed", attempt
            self.held[v.household] -= PRICE
            self.balance[v.household] -= PRICE

    @precondition(lambda self: bool(self.vouchers))
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        v = data.draw(st.sampled_from(self.vouchers))
        try:
            with self.engine.begin() as conn:
                done = vouchers.cancel(
                    conn, self.community, household_id=v.household, voucher_id=v.id, key=KEY, now=self.now
                )
        except PointsError as exc:
            expected = {"redeemed": "pending_transfer_already_posted", "expired": "pending_transfer_expired"}
            assert exc.code == expected[v.state], (exc, v)
            return
        assert v.state in ("open", "cancelled") and done.state == "cancelled"
        if v.state == "open":
            v.state = "cancelled"
            self.held[v.household] -= PRICE
            self.stock += 1

    @rule(seconds=st.integers(0, 2 * TTL))
    def tick(self, seconds: int) -> None:
        self.now += seconds

    @rule()
    def release_holds(self) -> None:
        with self.engine.begin() as conn:
            released = vouchers.release_expired_holds(conn, self.community, now=self.now)
        before = sum(v.state == "expired" for v in self.vouchers)
        self._release_expired(None)
        assert released == sum(v.state == "expired" for v in self.vouchers) - before

    @rule(months=st.integers(1, 3))
    def expire_points(self, months: int) -> None:
        as_of = datetime.fromtimestamp(self.now, UTC).date()
        start = expiry.window_start(as_of, months)
        since = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp())
        with self.engine.begin() as conn:
            ledger.expire_points(
                conn, self.community, months=months, rule_version=f"m{months}", as_of=as_of, now=self.now
            )
        for household in self.households:
            if (household, months, as_of) in self.expired:
                continue
            recent = sum(p for (h, _), (p, t) in self.issued.items() if h == household and t >= since)
            amount = max(0, self.balance[household] - self.held[household] - recent)
            if amount:
                self.expired.add((household, months, as_of))
                self.balance[household] -= amount

    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        with self.engine.connect() as conn:
            mine = select(points_accounts.c.id).where(points_accounts.c.community_id == self.community)
            rows = conn.execute(
                select(points_transfers)
                .where(points_transfers.c.debit_account_id.in_(mine))
                .order_by(points_transfers.c.seq)
            ).all()
        if not rows:
            return
        r = data.draw(st.sampled_from(rows))
        resolving = r.flags in (POST_PENDING, VOID_PENDING)
        request = TransferRequest(
            id=r.id,
            debit_account_id=0 if resolving else r.debit_account_id,
            credit_account_id=0 if resolving else r.credit_account_id,
            amount=r.amount,
            code=Code(r.code),
            flags=r.flags,
            pending_id=r.pending_id,
            timeout=r.timeout,
            reference=r.reference,
        )
        with self.engine.begin() as conn:
            count = select(func.count()).select_from(points_transfers)
            before = conn.execute(select(points_accounts).order_by(points_accounts.c.id)).all()
            count_before = conn.execute(count).scalar_one()
            outcome, _ = ledger.create_transfer(conn, request, now=self.now + 1)
            after = conn.execute(select(points_accounts).order_by(points_accounts.c.id)).all()
            count_after = conn.execute(count).scalar_one()
        assert outcome is Outcome.EXISTS and before == after and count_before == count_after

    @invariant()
    def store_agrees_with_the_model(self) -> None:
        if not hasattr(self, "community"):
            return
        with self.engine.connect() as conn:
            assert ledger.check(conn) == []
            for household in self.households:
                account = ledger.find_account(conn, self.community, ledger.AccountKind.HOUSEHOLD, household)
                got = (
                    (0, 0)
                    if account is None
                    else (
                        ledger.get_account(conn, account).balance,
                        ledger.get_account(conn, account).debits_pending,
                    )
                )
                assert got == (self.balance[household], self.held[household])
                assert got[0] - got[1] >= 0
            reward = catalogue.get_reward(conn, self.community, self.reward)
            assert reward is not None and reward.stock == self.stock


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('ledger') / 'stateful.db'}")
    migrate.upgrade(engine)
    return engine


def test_any_interleaving_keeps_the_ledger_sound(store: Engine) -> None:
    LedgerMachine.engine = store
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=20, stateful_step_count=20, deadline=None, suppress_health_check=list(HealthCheck)
        ),
    )
