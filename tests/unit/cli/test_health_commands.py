"""`tanhui health`: a table worst completeness first, or one JSON object per meter per line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tanhui.cli import health_commands
from tanhui.cli.health_commands import register
from tanhui.domain.quantity import Quantity
from tanhui.domain.reading import MeterReading
from tanhui.ingest.pipeline import Ingestor
from tanhui.meters import envelope
from tanhui.settings import get_settings
from tanhui.store import migrate, registry
from tanhui.store.engine import make_engine

NOW = datetime(2026, 11, 25, 2, tzinfo=UTC)
runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Tanhui, as the main application registers the commands."""

    register(app)
    return app


@pytest.fixture(autouse=True)
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """One household with an hourly electricity meter silent for five hours and a gas meter never heard."""
    url = f"sqlite:///{tmp_path / 'tanhui.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        cid = registry.create_community(
            conn,
            slug="baoting",
            name="Baoting",
            name_zh="保亭",
            timezone="Asia/Shanghai",
            factor_regime="cn",
            factor_set_id="cn-mee-2023@v1",
            now=0,
        )
        household = registry.create_household(
            conn, community_id=cid, code="H1", persons=2, enrolled_on=None, now=0
        )
        gateway_id, _ = registry.create_gateway(conn, community_id=cid, name="gw-1", now=0)
        for serial, kind in (("110000000001", Quantity.ELECTRICITY), ("310000000001", Quantity.GAS)):
            registry.create_meter(
                conn,
                community_id=cid,
                household_id=household,
                gateway_id=gateway_id,
                serial=serial,
                kind=kind,
                protocol="json",
                resolution=Decimal("0.01"),
                capacity=100_000_000,
                installed_on=date(2026, 1, 1),
            )
        gateway = registry.gateway_by_name(conn, "gw-1")
    assert gateway is not None
    # The last 24 hours, less the five from 10 to 6 hours ago.
    hours = [h for h in range(24, 0, -1) if not 6 <= h < 11]
    batch = [
        MeterReading("110000000001", "energy_import", Decimal(100 - h), "kWh", NOW - timedelta(hours=h))
        for h in hours
    ]
    result = Ingestor(engine, lambda: NOW).ingest(
        envelope.encode("gw-1", 1, NOW, batch), gateway=gateway, transport="http"
    )
    assert result.stored == len(hours) == 19
    engine.dispose()
    monkeypatch.setenv("TANHUI_DATABASE_URL", url)
    monkeypatch.setattr(health_commands, "utc_now", lambda: NOW)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_the_table_puts_the_worst_meter_first() -> None:
    result = runner.invoke(_app(), ["health", "--days", "1"])
    assert result.exit_code == 0, result.output
    header, gas, electricity = result.output.splitlines()
    assert header.split() == [
        "serial",
        "kind",
        "household",
        "last",
        "seen",
        "(UTC)",
        "complete",
        "gaps",
        "open",
        "quarantine",
    ]
    assert gas.split() == ["310000000001", "gas", "H1", "never", "0.0", "%", "1", "(24.0", "h)", "0"]
    # Last reading an hour ago; 19 of 24 hours; one silence from 11 to 5 hours ago.
    assert electricity.split() == [
        "110000000001",
        "electricity",
        "H1",
        "2026-11-25",
        "01:00",
        "79.2",
        "%",
        "1",
        "(6.0",
        "h)",
        "0",
    ]


def test_json_prints_one_object_per_meter_per_line() -> None:
    result = runner.invoke(_app(), ["health", "--community", "baoting", "--days", "1", "--json"])
    assert result.exit_code == 0, result.output
    gas, electricity = (json.loads(line) for line in result.output.splitlines())
    assert gas["serial"] == "310000000001" and gas["last_seen"] is None
    assert electricity == {
        "serial": "110000000001",
        "kind": "electricity",
        "household": "H1",
        "last_seen": "2026-11-25T01:00:00Z",
        "readings": 19,
        "expected": 24,
        "completeness": 0.792,
        "gaps": [{"after": "2026-11-24T15:00:00Z", "before": "2026-11-24T21:00:00Z", "hours": 6.0}],
        "quarantined_open": 0,
        "quarantined_total": 0,
    }


def test_the_window_defaults_to_seven_days() -> None:
    result = runner.invoke(_app(), ["health", "--json"])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["expected"] for line in result.output.splitlines()] == [168, 168]


def test_an_unknown_community_exits_2_naming_it() -> None:
    result = runner.invoke(_app(), ["health", "--community", "nowhere"])
    assert result.exit_code == 2
    assert "no community 'nowhere'" in result.output


@pytest.mark.parametrize("days", ["0", "367"])
def test_the_window_is_one_to_366_days(days: str) -> None:
    result = runner.invoke(_app(), ["health", "--days", days])
    assert result.exit_code == 2
