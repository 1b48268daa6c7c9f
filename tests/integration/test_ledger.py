"""The points ledger in the real store: issuance, redemption, expiry, and the invariant check."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, text, update
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from tanhui.cli.main import app
from tanhui.domain.ids import CommunityId, UserId
from tanhui.insights.findings import Finding, FindingKind, Severity
from tanhui.jobs.issuance import issue_period
from tanhui.points import voucher as codes
from tanhui.points.catalogue import Reward, RewardKind
from tanhui.points.errors import PointsError, TransferRefused
from tanhui.points.issuance import AvoidedEmissions
from tanhui.points.ledger import AccountKind, Code, TransferRequest, transfer_id
from tanhui.points.rules import RuleSet, parse_rules
from tanhui.settings import get_settings
from tanhui.store import alerts, catalogue, ledger, vouchers
from tanhui.store.schema import points_accounts

from .conftest import NOW, World

RULES_FILE = Path(__file__).resolve().parents[2] / "data" / "points" / "rules.toml"
KEY = b"voucher-test-key"
TODAY = date(2026, 11, 18)


def rules(**changes: int) -> RuleSet:
    base = parse_rules(RULES_FILE.read_text(encoding="utf-8"))
    return replace(base, **changes)


def explicit(avoided_g: dict[int, int], *, quality: bool = True, eligible: bool = True):  # type: ignore[no-untyped-def]
    """An AvoidedSource from explicit figures (the baseline store is another issue's)."""

    def source(_conn: Connection, household_id: int, first: date, _last: date) -> AvoidedEmissions | None:
        if household_id not in avoided_g:
            return None
        return AvoidedEmissions(
            household_id, f"{first:%Y-%m}", avoided_g[household_id], quality, eligible, evidence="test"
        )

    return source


@dataclass
class Points:
    community_id: CommunityId
    merchant_id: int
    reward_id: int
    accounts: dict[int, int]  # household id -> account id


def setup_points(
    engine: Engine, world: World, *, avoided: int = 20_000, price: int = 150, stock: int = 10
) -> Points:
    """Issue ``avoided`` g CO2e worth of points (10 per kg: 200) to both households; one demo reward."""
    with engine.begin() as conn:
        summary = issue_period(
            conn,
            world.community_id,
            "2026-10",
            rules(),
            explicit(dict.fromkeys(world.households, avoided)),
            now=NOW,
        )
        assert summary.awarded == 2
        merchant = catalogue.create_merchant(
            conn,
            world.community_id,
            slug="betel-nut-valley",
            name_zh="槟榔谷（演示）",
            name_en="Betel Nut Valley (demo)",
            demo=True,
            now=NOW,
        )
        reward = catalogue.create_reward(
            conn,
            world.community_id,
            Reward(
                0,
                merchant,
                RewardKind.TICKET,
                "门票（演示）",
                "Entry ticket (demo)",
                "演示数据",
                "Demo data",
                price,
                stock,
                date(2026, 1, 1),
                date(2026, 12, 31),
                3600,
                True,
                True,
            ),
            now=NOW,
        )
        accounts = {
            h: ledger.household_account(conn, world.community_id, h, now=NOW) for h in world.households
        }
    return Points(world.community_id, merchant, reward, accounts)


def balance(engine: Engine, account: int) -> tuple[int, int]:
    with engine.connect() as conn:
        a = ledger.get_account(conn, account)
    return a.balance, a.available


def test_issuance_pays_once_per_household_and_period(engine: Engine, world: World) -> None:
    points = setup_points(engine, world)
    h1, h2 = world.households
    assert balance(engine, points.accounts[h1]) == (200, 200)
    with engine.begin() as conn:
        again = issue_period(
            conn,
            world.community_id,
            "2026-10",
            rules(points_per_kg_co2e=99),
            explicit({h1: 50_000, h2: 50_000}),
            now=NOW + 60,
        )
    assert (again.awarded, again.already_issued, again.points) == (0, 2, 0)
    assert balance(engine, points.accounts[h1]) == (200, 200)
    with engine.connect() as conn:
        assert ledger.check(conn) == []
        assert ledger.totals(conn, world.community_id).issued == 400


def test_no_points_when_data_quality_or_eligibility_fails_and_caps_apply(
    engine: Engine, world: World
) -> None:
    h1, h2 = world.households
    with engine.begin() as conn:
        bad = issue_period(
            conn, world.community_id, "2026-09", rules(), explicit({h1: 9_000}, quality=False), now=NOW
        )
        ineligible = issue_period(
            conn, world.community_id, "2026-08", rules(), explicit({h1: 9_000}, eligible=False), now=NOW
        )
        capped = issue_period(
            conn, world.community_id, "2026-07", rules(), explicit({h1: 10**9, h2: 1_000}), now=NOW
        )
    assert (bad.points, bad.reasons) == (0, {"data_quality_failed": 1})
    assert (ineligible.points, ineligible.reasons) == (0, {"baseline_not_eligible": 1})
    assert capped.points == 500 + 10 and capped.reasons == {"household_cap": 1}


def test_the_community_budget_scales_awards_and_the_pool_is_never_overspent(
    engine: Engine, world: World
) -> None:
    h1, h2 = world.households
    with engine.begin() as conn:
        summary = issue_period(
            conn,
            world.community_id,
            "2026-10",
            rules(community_budget_per_period=300),
            explicit({h1: 30_000, h2: 10_000}),
            now=NOW,
        )
        assert (summary.points, summary.pool_left) == (225 + 75, 0)
        pool = ledger.find_account(conn, world.community_id, AccountKind.POOL)
        h1_account = ledger.find_account(conn, world.community_id, AccountKind.HOUSEHOLD, h1)
        assert pool is not None and h1_account is not None
        with pytest.raises(TransferRefused) as refused:
            ledger.create_transfer(
                conn, TransferRequest(transfer_id("extra"), pool, h1_account, 1, Code.ISSUE), now=NOW
            )
    assert refused.value.code == "exceeds_credits"


def test_redeem_validate_once_cancel_and_expire(engine: Engine, world: World) -> None:
    points = setup_points(engine, world)
    h1 = world.households[0]
    with engine.begin() as conn:
        first = vouchers.redeem(
            conn,
            points.community_id,
            household_id=h1,
            reward_id=points.reward_id,
            voucher_id=0x12_3456_789A,
            key=KEY,
            now=NOW,
            today=TODAY,
        )
    assert first.state == "open" and balance(engine, points.accounts[h1]) == (200, 50)
    with engine.begin() as conn, pytest.raises(TransferRefused) as poor:
        vouchers.redeem(
            conn,
            points.community_id,
            household_id=h1,
            reward_id=points.reward_id,
            voucher_id=0x22,
            key=KEY,
            now=NOW,
            today=TODAY,
        )
    assert poor.value.code == "exceeds_credits"
    with engine.begin() as conn:
        done = vouchers.validate(
            conn,
            points.community_id,
            merchant_id=points.merchant_id,
            code=first.code,
            attempt="till-1",
            key=KEY,
            now=NOW + 10,
        )
        retry = vouchers.validate(
            conn,
            points.community_id,
            merchant_id=points.merchant_id,
            code=first.code,
            attempt="till-1",
            key=KEY,
            now=NOW + 11,
        )
    assert done.state == retry.state == "redeemed"
    assert balance(engine, points.accounts[h1]) == (50, 50)
    with engine.begin() as conn, pytest.raises(TransferRefused) as twice:
        vouchers.validate(
            conn,
            points.community_id,
            merchant_id=points.merchant_id,
            code=first.code,
            attempt="till-2",
            key=KEY,
            now=NOW + 12,
        )
    assert twice.value.code == "pending_transfer_already_posted"

    h2 = world.households[1]
    with engine.begin() as conn:
        cancelled = vouchers.redeem(
            conn,
            points.community_id,
            household_id=h2,
            reward_id=points.reward_id,
            voucher_id=0x33,
            key=KEY,
            now=NOW,
            today=TODAY,
        )
        vouchers.cancel(conn, points.community_id, household_id=h2, voucher_id=0x33, key=KEY, now=NOW + 5)
        timed_out = vouchers.redeem(
            conn,
            points.community_id,
            household_id=h2,
            reward_id=points.reward_id,
            voucher_id=0x44,
            key=KEY,
            now=NOW + 6,
            today=TODAY,
        )
    assert cancelled.code != timed_out.code
    assert balance(engine, points.accounts[h2]) == (200, 50)
    with engine.begin() as conn, pytest.raises(TransferRefused) as late:
        vouchers.validate(
            conn,
            points.community_id,
            merchant_id=points.merchant_id,
            code=timed_out.code,
            attempt="t",
            key=KEY,
            now=NOW + 6 + 3600,
        )
    assert late.value.code == "pending_transfer_expired"
    with engine.begin() as conn:
        assert vouchers.release_expired_holds(conn, points.community_id, now=NOW + 6 + 3600) == 1
        assert vouchers.get_voucher(conn, 0x44, KEY).state == "expired"  # type: ignore[union-attr]
        assert vouchers.get_voucher(conn, 0x33, KEY).state == "cancelled"  # type: ignore[union-attr]
        assert catalogue.get_reward(conn, points.community_id, points.reward_id).stock == 9  # type: ignore[union-attr]
        lines = vouchers.settlement(conn, points.merchant_id, since=NOW, until=NOW + 86400)
        assert [(line.voucher_id, line.points) for line in lines] == [(0x12_3456_789A, 150)]
        assert ledger.check(conn) == []
    assert balance(engine, points.accounts[h2]) == (200, 200)


def test_a_forged_or_foreign_code_is_not_found(engine: Engine, world: World) -> None:
    points = setup_points(engine, world)
    with engine.begin() as conn:
        issued = vouchers.redeem(
            conn,
            points.community_id,
            household_id=world.households[0],
            reward_id=points.reward_id,
            voucher_id=0x55,
            key=KEY,
            now=NOW,
            today=TODAY,
        )
        forged = codes.voucher_code(b"other key", 0x55, points.reward_id, issued.expires_at)
        for code, merchant in ((forged, points.merchant_id), (issued.code, points.merchant_id + 1)):
            with pytest.raises(PointsError) as refused:
                vouchers.validate(
                    conn, points.community_id, merchant_id=merchant, code=code, attempt="a", key=KEY, now=NOW
                )
            assert refused.value.code == "voucher_not_found"


def test_points_expire_beyond_the_window_once(engine: Engine, world: World) -> None:
    points = setup_points(engine, world)
    h1 = world.households[0]
    later = date(2029, 1, 1)
    with engine.begin() as conn:
        touched, amount = ledger.expire_points(
            conn, points.community_id, months=24, rule_version="v", as_of=later, now=NOW + 10**8
        )
        again = ledger.expire_points(
            conn, points.community_id, months=24, rule_version="v", as_of=later, now=NOW + 10**8
        )
        recent = ledger.expire_points(
            conn, points.community_id, months=24, rule_version="v", as_of=date(2026, 12, 1), now=NOW + 10
        )
    assert (touched, amount) == (2, 400) and again == (0, 0) and recent == (0, 0)
    assert balance(engine, points.accounts[h1]) == (0, 0)


@pytest.mark.parametrize("column", ["credits_posted", "debits_pending"])
def test_ledger_check_names_a_tampered_balance(
    engine: Engine, world: World, store_url: str, column: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    points = setup_points(engine, world)
    monkeypatch.setenv("TANHUI_DATABASE_URL", store_url)
    get_settings.cache_clear()
    try:
        sound = CliRunner().invoke(app, ["ledger", "check"])
        assert sound.exit_code == 0, sound.output
        with engine.begin() as conn:
            target = points.accounts[world.households[0]]
            conn.execute(
                update(points_accounts)
                .where(points_accounts.c.id == target)
                .values({column: points_accounts.c[column] + 7})
            )
        broken = CliRunner().invoke(app, ["ledger", "check"])
    finally:
        get_settings.cache_clear()
    assert broken.exit_code == 1
    assert "balance_differs_from_transfers" in broken.output and f"account {target}" in broken.output
    assert column in broken.output


def test_the_database_refuses_an_overdrawn_household(engine: Engine, world: World) -> None:
    points = setup_points(engine, world)
    target = points.accounts[world.households[0]]
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(
            text("UPDATE points_accounts SET debits_posted = credits_posted + 1 WHERE id = :id"),
            {"id": target},
        )


def test_a_household_whose_meter_has_an_open_fault_alert_earns_nothing_until_it_is_resolved(
    engine: Engine, world: World
) -> None:
    h1, h2 = world.households
    stuck = Finding(FindingKind.STUCK, "110000000001", NOW - 86_400, NOW, Severity.WARNING)
    with engine.begin() as conn:
        alert = alerts.record_finding(
            conn,
            community_id=world.community_id,
            household_id=h1,
            meter_id=world.meters["110000000001"],
            finding=stuck,
            now=NOW,
        )
        assert alert is not None
        held = issue_period(
            conn, world.community_id, "2026-09", rules(), explicit({h1: 9_000, h2: 9_000}), now=NOW
        )
        alerts.resolve(conn, alert[0], user_id=UserId(1), now=NOW + 1, resolution="meter replaced")
        later = issue_period(conn, world.community_id, "2026-10", rules(), explicit({h1: 9_000}), now=NOW + 2)
    # H1's stuck meter holds back its September points; H2 is paid; after resolution H1 is paid again.
    assert (held.points, held.reasons) == (90, {"meter_held": 1})
    assert later.points == 90 and later.reasons == {}
