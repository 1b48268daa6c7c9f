"""``tanhui onboard import``: the same all-or-nothing CSV import as the operators' page."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from tanhui.cli.main import app
from tanhui.settings import get_settings
from tanhui.store import registry
from tanhui.store.schema import meters, operator_actions

from .conftest import World

HEADER = "household,persons,enrolled_on,meter,kind,protocol,resolution,capacity,installed_on,gateway\n"


@pytest.fixture
def cli_env(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TANHUI_DATABASE_URL", store_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _meters(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(meters)).scalar_one())


def test_import_is_all_or_nothing(engine: Engine, world: World, tmp_path: Path, cli_env: None) -> None:
    good = HEADER + "C-1,2,,550000000001,gas,json,0.001,100000000,2026-11-02,gw-cli\n"
    bad = good + "C-2,2,,550000000001,gas,json,0.001,100000000,2026-11-02,gw-cli\n"
    (tmp_path / "bad.csv").write_text(bad, encoding="utf-8")
    (tmp_path / "good.csv").write_text(good, encoding="utf-8")
    before = _meters(engine)
    runner = CliRunner()
    refused = runner.invoke(app, ["onboard", "import", str(tmp_path / "bad.csv"), "--json"])
    assert refused.exit_code == 1
    report = json.loads(refused.stdout)
    assert report["applied"] is False
    assert report["errors"] == [
        {"line": 3, "column": "meter", "code": "duplicate_meter", "value": "550000000001"}
    ]
    assert _meters(engine) == before
    done = runner.invoke(app, ["onboard", "import", str(tmp_path / "good.csv")])
    assert done.exit_code == 0, done.output
    assert "1 households, 1 meters, 1 gateways" in done.stdout
    token = done.stdout.split("(shown once): ")[1].strip()
    with engine.connect() as conn:
        gateway = registry.gateway_by_token(conn, token)
        assert gateway is not None and gateway.name == "gw-cli"
        logged = [
            (r.actor, r.action)
            for r in conn.execute(select(operator_actions).order_by(operator_actions.c.id))
        ]
    assert logged == [("cli", "onboarding.import_refused"), ("cli", "onboarding.import")]
    assert _meters(engine) == before + 1
    missing = runner.invoke(app, ["onboard", "import", str(tmp_path / "good.csv"), "--community", "nowhere"])
    assert missing.exit_code == 2
