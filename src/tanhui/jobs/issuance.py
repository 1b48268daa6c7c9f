"""The issuance job: verified avoided emissions of a period become points, once per household and period.

Per community and month it

1. allots the month's budget to the issuance pool (budget -> pool, one transfer per community and month),
2. asks the :class:`AvoidedSource` for each household's verified avoided emissions, and pays nothing to a
   household while one of its meters has an open fault alert (``store.alerts.held_meters``),
3. turns them into awards with the rule set (tanhui.points.issuance), scaled to what is left in the pool,
4. posts the awards as one atomic batch pool -> household.

Every transfer id is derived from (community or household, period), so a rerun, even under changed
rules or after a crash between steps, never pays a household twice for the same month.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Protocol

from sqlalchemy import Connection, select

from tanhui.domain.ids import CommunityId
from tanhui.points.issuance import AvoidedEmissions, awards
from tanhui.points.ledger import AccountKind, Code, Outcome, TransferRequest, transfer_id
from tanhui.points.rules import RuleSet, parse_period
from tanhui.store import alerts, ledger
from tanhui.store.baselines import household_avoided
from tanhui.store.schema import households, meters


class AvoidedSource(Protocol):
    """Verified avoided emissions of one household over ``[first, last]``, or None when there are none."""

    def __call__(
        self, conn: Connection, household_id: int, first: date, last: date, /
    ) -> AvoidedEmissions | None: ...


@dataclass(frozen=True, slots=True)
class IssuanceSummary:
    period: str
    rules: str
    households: int
    awarded: int  # households paid in this run
    already_issued: int  # households paid by an earlier run
    points: int
    pool_left: int
    reasons: dict[str, int] = field(default_factory=dict)


def issuance_id(household_account: int, period: str) -> str:
    """The id of a household's issuance for a period: one per household and period, whatever the rules."""
    return transfer_id("issue", household_account, period)


def issue_period(
    conn: Connection,
    community_id: CommunityId,
    period: str,
    rules: RuleSet,
    source: AvoidedSource,
    *,
    now: int,
) -> IssuanceSummary:
    """Issue a community's points for ``period`` (``YYYY-MM``); safe to run again."""
    first, last = parse_period(period)
    accounts = ledger.community_accounts(conn, community_id, now=now)
    ledger.create_transfer(
        conn,
        TransferRequest(
            id=transfer_id("allot", community_id, period),
            debit_account_id=accounts[AccountKind.BUDGET],
            credit_account_id=accounts[AccountKind.POOL],
            amount=rules.community_budget_per_period,
            code=Code.ALLOT,
            reference=f"rules:{rules.version}",
        ),
        now=now,
    )
    household_ids = conn.execute(
        select(households.c.id).where(households.c.community_id == community_id).order_by(households.c.id)
    ).scalars()
    inputs: list[AvoidedEmissions] = []
    account_of: dict[int, int] = {}
    already = 0
    held_meters = alerts.held_meters(conn, community_id)
    held = set(
        conn.execute(select(meters.c.household_id).where(meters.c.id.in_(sorted(held_meters)))).scalars()
    )
    for household_id in household_ids:
        account = ledger.open_account(conn, community_id, AccountKind.HOUSEHOLD, household_id, now=now)
        if ledger.get_transfer(conn, issuance_id(account, period)) is not None:
            already += 1
            continue
        avoided = source(conn, household_id, first, last)
        if avoided is not None:
            if household_id in held:
                avoided = replace(avoided, meter_held=True)
            inputs.append(avoided)
            account_of[household_id] = account
    pool = accounts[AccountKind.POOL]
    results = awards(rules, inputs, ledger.get_account(conn, pool).available)
    reasons: dict[str, int] = {}
    for award in results:
        for reason in award.reasons:
            reasons[reason] = reasons.get(reason, 0) + 1
    requests = [
        TransferRequest(
            id=issuance_id(account_of[a.household_id], period),
            debit_account_id=pool,
            credit_account_id=account_of[a.household_id],
            amount=a.points,
            code=Code.ISSUE,
            reference=f"rules:{rules.version};period:{period};{a.evidence}"[:200],
        )
        for a in results
        if a.points > 0
    ]
    outcomes = ledger.create_transfers(conn, requests, now=now)
    created = [t for outcome, t in outcomes if outcome is Outcome.CREATED]
    return IssuanceSummary(
        period=period,
        rules=rules.version,
        households=len(inputs) + already,
        awarded=len(created),
        already_issued=already,
        points=sum(t.amount for t in created),
        pool_left=ledger.get_account(conn, pool).available,
        reasons=reasons,
    )


def baseline_source(factor_set_id: str) -> AvoidedSource:
    """Verified avoided emissions from the baseline store (``tanhui.store.baselines.household_avoided``).

    Its ``avoided_g_co2e`` counts only eligible days, rounded down; ``data_quality_ok`` asks for rows on
    at least 90 % of the period's days; ``evidence`` names the baseline fits used.
    """

    def source(conn: Connection, household_id: int, first: date, last: date) -> AvoidedEmissions | None:
        found = household_avoided(conn, household_id, factor_set_id, first, last)
        if found is None:
            return None
        return AvoidedEmissions(
            household_id=household_id,
            period=f"{first:%Y-%m}",
            avoided_g_co2e=found.avoided_g_co2e,
            data_quality_ok=found.data_quality_ok,
            baseline_eligible=found.baseline_eligible,
            evidence=found.evidence,
        )

    return source
