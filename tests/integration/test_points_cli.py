"""The points commands on SQLite: merchants, catalogue, issuance, validation, settlement, expiry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from tanhui.cli.main import app
from tanhui.cli.points_commands import demo_points
from tanhui.clock import utc_now
from tanhui.points import voucher as codes
from tanhui.settings import get_settings
from tanhui.store import catalogue, ledger, vouchers

from .conftest import NOW, World

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
DATA = Path(__file__).resolve().parents[2] / "data"


@pytest.fixture
def cli(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("TANHUI_DATABASE_URL", store_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_the_points_commands(cli: CliRunner, engine: Engine, world: World, tmp_path: Path) -> None:
    def run(*args: str) -> tuple[int, str]:
        result = cli.invoke(app, list(args))
        return result.exit_code, result.output

    assert run("merchants", "add", "shop", "--name-zh", "商店（演示）", "--name-en", "Shop (demo)")[0] == 0
    code, out = run(
        "catalogue",
        "add",
        "--merchant",
        "shop",
        "--kind",
        "discount",
        "--name-zh",
        "折扣（演示）",
        "--name-en",
        "Discount (demo)",
        "--price",
        "100",
        "--stock",
        "3",
        "--valid-from",
        "2026-01-01",
        "--valid-until",
        "2030-12-31",
    )
    assert code == 0, out
    listed = [json.loads(line) for line in run("catalogue", "list", "--json")[1].splitlines()]
    assert [(r["name_en"], r["price_points"], r["demo"]) for r in listed] == [("Discount (demo)", 100, True)]
    assert (
        run(
            "catalogue",
            "add",
            "--merchant",
            "nobody",
            "--kind",
            "ticket",
            "--name-zh",
            "x",
            "--name-en",
            "x",
            "--price",
            "1",
            "--stock",
            "1",
            "--valid-from",
            "2026-01-01",
            "--valid-until",
            "2026-02-01",
        )[0]
        == 2
    )

    code, out = run("points", "issue", "--community", "baoting", "--period", "2026-09")
    assert code == 0, out  # from the baseline store, which has no avoided emissions for these households
    assert (json.loads(out)["households"], json.loads(out)["points"]) == (0, 0)

    avoided = tmp_path / "avoided.csv"
    avoided.write_text(
        "household,avoided_g_co2e,data_quality_ok,baseline_eligible\nH1,15000,true,true\n"
        "H2,15000,true,false\n",
        encoding="utf-8",
    )
    code, out = run(
        "points", "issue", "--community", "baoting", "--period", "2026-10", "--avoided", str(avoided)
    )
    assert code == 0, out
    summary = json.loads(out)
    assert (summary["awarded"], summary["points"], summary["reasons"]) == (
        1,
        150,
        {"baseline_not_eligible": 1},
    )
    again = json.loads(
        run("points", "issue", "--community", "baoting", "--period", "2026-10", "--avoided", str(avoided))[1]
    )
    assert (again["awarded"], again["already_issued"]) == (0, 1)
    assert (
        run("points", "issue", "--community", "baoting", "--period", "2026-13", "--avoided", str(avoided))[0]
        == 2
    )

    key = codes.key_from_secret(get_settings().secret_key)
    with engine.begin() as conn:
        merchant = catalogue.find_merchant(conn, world.community_id, "shop")
        reward = catalogue.list_rewards(conn, world.community_id)[0]
        voucher = vouchers.redeem(
            conn,
            world.community_id,
            household_id=world.households[0],
            reward_id=reward.id,
            voucher_id=0xBEEF,
            key=key,
            # As of the clock the CLI validates by: a fixed day here expired a week after it was written.
            now=int(utc_now().timestamp()),
            today=utc_now().date(),
        )
    assert merchant is not None
    code, out = run("vouchers", "validate", voucher.code, "--merchant", "shop")
    assert code == 0 and "100 points" in out
    code, out = run("vouchers", "validate", voucher.code, "--merchant", "shop")
    assert code == 1 and "pending_transfer_already_posted" in out
    assert run("vouchers", "validate", "AAAA-AAAA-AAAA-AAAA", "--merchant", "shop")[0] == 1

    code, out = run(
        "points",
        "settlement",
        "--community",
        "baoting",
        "--merchant",
        "shop",
        "--period",
        utc_now().strftime("%Y-%m"),
        "--pdf",
        str(tmp_path / "settlement.pdf"),
    )
    assert code == 0 and out.splitlines()[-1].startswith("total,,,,100")
    assert (tmp_path / "settlement.pdf").read_bytes().startswith(b"%PDF")
    code, out = run("points", "expire", "--community", "baoting", "--as-of", "2030-01-01")
    assert code == 0 and json.loads(out)["points_expired"] == 50
    code, out = run("ledger", "check")
    assert code == 0 and out.startswith("ledger sound")


def test_demo_points_seed_a_labelled_catalogue_and_redeem(engine: Engine, world: World) -> None:
    h1, h2 = world.households
    kwargs = {
        "period": "2026-10",
        "avoided_g": {h1: 40_000, h2: 9_000},
        "data_dir": DATA,
        "secret_key": "s",
        "now": NOW,
        "today": date(2026, 11, 18),
        "redeem_every": 1,
    }
    with engine.begin() as conn:
        first = demo_points(conn, world.community_id, **kwargs)  # type: ignore[arg-type]
        second = demo_points(conn, world.community_id, **kwargs)  # type: ignore[arg-type]
        rewards = catalogue.list_rewards(conn, world.community_id)
        assert ledger.check(conn) == []
    # Both households afford the cheapest demo reward (30 points): two vouchers, the second validated.
    assert (first.issued, first.redeemed, first.held, first.vouchers) == (490, 30, 30, 2)
    assert second == first.__class__(490, 30, 30, 0, first.merchants)
    assert len(rewards) == 3 and all(r.demo and "demo" in r.name_en for r in rewards)
