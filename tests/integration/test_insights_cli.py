"""``tanhui insights run`` and ``alerts`` against a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from tanhui.cli.insights_commands import insights_app
from tanhui.settings import get_settings

from .conftest import World
from .test_alerts_store import DAYS, END, store_readings


@pytest.fixture
def database(engine: Engine, store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("TANHUI_DATABASE_URL", store_url)
    get_settings.cache_clear()
    yield store_url
    get_settings.cache_clear()


def test_run_records_alerts_once_and_alerts_lists_them_in_english(
    database: str, engine: Engine, world: World
) -> None:
    store_readings(engine, world)
    runner = CliRunner()
    args = ["run", "--community", "baoting", "--days", str(DAYS), "--now", str(END)]
    first = runner.invoke(insights_app, args)
    assert first.exit_code == 0, first.output
    summary = json.loads(first.output)
    assert summary["alerts_created"] >= 2
    second = json.loads(runner.invoke(insights_app, args).output)
    assert second["alerts_created"] == 0
    listed = runner.invoke(
        insights_app, ["alerts", "--community", "baoting", "--locale", "en", "--kind", "leak"]
    )
    assert listed.exit_code == 0, listed.output
    [leak] = [json.loads(line) for line in listed.output.splitlines()]
    assert (leak["meter"], leak["title"], leak["status"]) == ("210000000001", "Possible water leak", "open")
    unknown = runner.invoke(insights_app, ["run", "--community", "nowhere"])
    assert unknown.exit_code == 2
