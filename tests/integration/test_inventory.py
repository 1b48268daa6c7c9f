"""The GPC inventory on the real store: activity import (all or nothing) and ``tanhui inventory``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import typer
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, insert, select
from typer.testing import CliRunner

from tanhui.accounting import months
from tanhui.accounting.inventory import CSV_COLUMNS, parse_activity_csv
from tanhui.cli.inventory_commands import inventory_app
from tanhui.settings import get_settings
from tanhui.store import activity
from tanhui.store.schema import consumption_months, inventory_activity, inventory_imports
from tests.integration.conftest import NOW, World

runner = CliRunner()
app = typer.Typer()
app.add_typer(inventory_app, name="inventory")
HEADER = ",".join(CSV_COLUMNS)
SRC = "Baoting transport bureau,Fuel sales survey 2026,2026"
GOOD = [
    f"II.1,1,10000,L,2.6,L,,,M,{SRC},2026-01-01,2026-12-31,diesel buses and trucks",
    f"III.1,3,,,,,5000,,L,{SRC},2026-01-01,2026-06-30,landfill in Sanya",
    "IV.1,1,,,,,,NO,,,,,2026-01-01,2026-12-31,no industrial process plant in the county",
]


def _counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(inventory_activity)).scalar_one()
        imports = conn.execute(select(func.count()).select_from(inventory_imports)).scalar_one()
    return int(rows), int(imports)


def _put_days(engine: Engine, world: World, serial: str, kind: str, household: int, micro: int) -> None:
    # Ten days in January 2026 of ``micro`` millionths of the unit each, as the daily job stores them.
    month = date(2026, 1, 1)
    days = np.full(months.days_in(month), months.NO_DATA, dtype=np.int64)
    days[:10] = micro
    with engine.begin() as conn:
        conn.execute(
            insert(consumption_months).values(
                meter_id=world.meters[serial],
                month=month,
                household_id=world.households[household],
                kind=kind,
                days=months.pack(days),
                total_micro=10 * micro,
                computed_at=NOW,
            )
        )


@pytest.fixture
def cli_env(engine: Engine, world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("TANHUI_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    yield world
    get_settings.cache_clear()


def test_import_then_show_the_inventory(engine: Engine, cli_env: World, tmp_path: Path) -> None:
    world = cli_env
    _put_days(engine, world, "110000000001", "electricity", 0, 10_000_000)  # 10 kWh/day
    _put_days(engine, world, "110000000002", "electricity", 1, 5_000_000)  # 5 kWh/day
    _put_days(engine, world, "210000000001", "water", 0, 300_000)  # 0.3 m3/day
    path = tmp_path / "activity.csv"
    path.write_text("\n".join([HEADER, *GOOD]) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["inventory", "import", "--community", "baoting", str(path)])
    assert result.exit_code == 0, result.output
    assert "3 rows stored" in result.output
    result = runner.invoke(
        app,
        [
            "inventory",
            "show",
            "--community",
            "baoting",
            "--year",
            "2026",
            "--factor-set",
            "cn-mee-2023@v1",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    lines = {(x["ref"], x["scope"]): x for x in out["lines"]}
    # Electricity: (100 + 50) kWh x 0.5306 = 79.59 kg; water: 3 m3 x 0.247 = 0.741 kg (I.2 scope 2);
    # II.1: 10000 x 2.6 = 26000; III.1: 5000. BASIC = 79.59 + 0.741 + 26000 + 5000 = 31080.331.
    assert lines["I.1", 2]["kg_co2e"] == "79.5900"
    assert lines["I.1", 2]["source"] == "meters: 2 meters in 2 households, factor set cn-mee-2023@v1"
    assert lines["I.2", 2]["activity"] == "3" and lines["I.2", 2]["activity_unit"] == "m3"
    assert lines["I.1", 1]["notation"] == "NE"  # no gas data
    assert lines["IV.1", 1]["notation"] == "NO"
    assert lines["II.1", 1]["source"] == "Baoting transport bureau, Fuel sales survey 2026, 2026"
    assert out["total_kg_co2e"]["BASIC"] == "31080.3310"
    assert out["factor_set"] == "cn-mee-2023@v1" and out["factor_set_hash"].startswith("sha256:")
    # A second import of the same file is refused: nothing is counted twice.
    again = runner.invoke(app, ["inventory", "import", "--community", "baoting", str(path)])
    assert again.exit_code == 2
    assert "already imported" in again.output
    assert _counts(engine) == (3, 1)


def test_a_bad_row_stores_nothing_and_names_the_row(engine: Engine, cli_env: World, tmp_path: Path) -> None:
    path = tmp_path / "activity.csv"
    bad = f"II.9,1,,,,,5,,H,{SRC},2026-01-01,2026-12-31,"
    path.write_text("\n".join([HEADER, GOOD[0], bad, GOOD[1]]) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["inventory", "import", "--community", "baoting", str(path)])
    assert result.exit_code == 2
    assert "row 3, column ref" in result.output
    assert "nothing stored" in result.output
    assert _counts(engine) == (0, 0)


field = st.sampled_from(["ref", "scope", "kg_co2e", "quality", "period_start", "source_publisher"])
junk = st.sampled_from(["", "X", "-1", "2026-02-30", "IX.9", "4"])


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 2), field, junk)
def test_any_row_error_stores_nothing(
    engine: Engine, world: World, where: int, column: str, value: str
) -> None:
    good = [f"II.{i + 1},1,,,,,{i + 7},,H,{SRC},2026-01-01,2026-12-31,ok" for i in range(3)]
    cells = good[where].split(",")
    cells[CSV_COLUMNS.index(column)] = value
    text = "\n".join([HEADER, *good[:where], ",".join(cells), *good[where + 1 :]]) + "\n"
    _, expected = parse_activity_csv(text)
    assume(expected)  # the junk may happen to be valid for its column ("4" as kg_co2e)
    with engine.begin() as conn:
        report = activity.import_activity(conn, world.community_id, "x.csv", text.encode(), now=NOW)
    assert report.errors == expected
    assert {e.row for e in report.errors} == {where + 2}
    assert _counts(engine) == (0, 0)


def test_stored_rows_and_meter_totals_read_back_exactly(engine: Engine, world: World) -> None:
    text = "\n".join([HEADER, GOOD[0], f"II.2,1,,,,,0.000001,,H,{SRC},2025-12-01,2026-01-31,edge"]) + "\n"
    with engine.begin() as conn:
        report = activity.import_activity(conn, world.community_id, "a.csv", text.encode(), now=NOW)
    assert report.ok and report.rows == 2
    with engine.connect() as conn:
        rows = activity.activity_rows(conn, world.community_id, date(2026, 1, 1), date(2026, 12, 31))
        none = activity.activity_rows(conn, world.community_id, date(2027, 1, 1), date(2027, 12, 31))
    assert [str(r.kg) for r in rows] == ["26000.0", "0.000001"]
    assert rows[1].period_start == date(2025, 12, 1) and none == []
    # Meter totals count only the days inside the period.
    _put_days(engine, world, "110000000001", "electricity", 0, 10_000_000)
    with engine.connect() as conn:
        whole = activity.meter_totals(conn, world.community_id, date(2026, 1, 1), date(2026, 12, 31))
        part = activity.meter_totals(conn, world.community_id, date(2026, 1, 4), date(2026, 1, 5))
        later = activity.meter_totals(conn, world.community_id, date(2026, 1, 11), date(2026, 1, 31))
    assert [(t.kind.value, t.meters, str(t.amount)) for t in whole] == [("electricity", 1, "100")]
    assert [str(t.amount) for t in part] == ["20"]
    assert later == []
