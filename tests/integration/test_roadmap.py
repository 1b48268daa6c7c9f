"""The county roadmap on the real store: project and measurement imports and ``tanhui roadmap show``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import typer
from sqlalchemy import Engine, MetaData, Table, func, insert, select
from typer.testing import CliRunner

from tanhui.accounting import months
from tanhui.cli.inventory_commands import roadmap_app
from tanhui.settings import get_settings
from tanhui.store import roadmap
from tanhui.store.schema import (
    consumption_months,
    footprint_months,
    inventory_imports,
    roadmap_measurements,
    roadmap_projects,
)
from tests.integration.conftest import NOW, World

DATA = Path(__file__).resolve().parents[2] / "data" / "roadmap"
runner = CliRunner()
app = typer.Typer()
app.add_typer(roadmap_app, name="roadmap")


@pytest.fixture
def cli_env(engine: Engine, world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("TANHUI_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    yield world
    get_settings.cache_clear()


def _count(engine: Engine, table: Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _footprint(engine: Engine, world: World, serial: str, household: int, kind: str, mg: int) -> None:
    # Ten days in January 2026 of ``mg`` each under the community's factor set.
    month = date(2026, 1, 1)
    days = np.full(months.days_in(month), months.NO_DATA, dtype=np.int64)
    days[:10] = mg
    with engine.begin() as conn:
        conn.execute(
            insert(footprint_months).values(
                meter_id=world.meters[serial],
                month=month,
                factor_set_id="cn-mee-2023@v1",
                factor_set_hash="sha256:test",
                household_id=world.households[household],
                kind=kind,
                co2e_mg=months.pack(days),
                total_mg=10 * mg,
                computed_at=NOW,
            )
        )


def _consumption(engine: Engine, world: World, serial: str, household: int, kind: str, micro: int) -> None:
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


def test_demo_roadmap_imports_and_shows_progress(engine: Engine, cli_env: World) -> None:
    world = cli_env
    # Measurements before their projects are refused, and nothing is stored.
    early = runner.invoke(app, ["roadmap", "import", str(DATA / "baoting-demo-measurements.csv")])
    assert early.exit_code == 2 and "is not a project" in early.output
    assert _count(engine, inventory_imports) == 0
    for name in ("baoting-demo.csv", "baoting-demo-measurements.csv"):
        result = runner.invoke(app, ["roadmap", "import", "--community", "baoting", str(DATA / name)])
        assert result.exit_code == 0, result.output
    assert (_count(engine, roadmap_projects), _count(engine, roadmap_measurements)) == (39, 6)
    # Electricity 5.306 kg/day in each household, gas 2.162 kg/day in H1, ten days:
    # (2 x 53.06 + 21.62) kg / 1000 / 2 households / 10 days x 365 = 2.331255 -> 2.331 t/household/yr.
    _footprint(engine, world, "110000000001", 0, "electricity", 5_306_000)
    _footprint(engine, world, "110000000002", 1, "electricity", 5_306_000)
    _footprint(engine, world, "310000000001", 0, "gas", 2_162_000)
    # 10 kWh a day in each household for the same ten days: 200 kWh / 2 / 10 x 365 = 3650 kWh/household.
    _consumption(engine, world, "110000000001", 0, "electricity", 10_000_000)
    _consumption(engine, world, "110000000002", 1, "electricity", 10_000_000)
    result = runner.invoke(app, ["roadmap", "show", "--year", "2026", "--today", "2026-07-01", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["projects"] == {"scenario": 24, "industry": 15}
    assert out["measures"] == {
        "residential_t_per_household": "2.331",
        "electricity_kwh_per_household": "3650.000",
    }
    sectors = {s["sector"]: s for s in out["sectors"]}
    # Energy: (3650 - 2600) / (2431 - 2600) = -6.2130...: consumption moved away from the target.
    assert sectors["energy"]["progress"] == "-6.2130"
    assert sectors["transport"]["reported_t"] == "254.7"  # 170.5 + 84.2
    assert sectors["buildings"]["reported_t"] == "159.4"  # 61.0 + 98.4
    assert sectors["resources"]["progress"] is None
    assert sectors["energy"]["sector_zh"] == "能源"
    avoided = out["avoided"]
    assert (avoided["target_t"], avoided["days_observed"], avoided["on_track"]) == ("3000", 0, False)
    assert out["avoided_series"].startswith("none yet")


def test_project_imports_are_all_or_nothing_and_update_by_code(engine: Engine, world: World) -> None:
    good = (DATA / "baoting-demo.csv").read_text(encoding="utf-8").splitlines()
    bad = good[5].replace(",transport,", ",aviation,")
    text = "\n".join([*good[:5], bad, *good[6:]]) + "\n"
    with engine.begin() as conn:
        report = roadmap.import_roadmap(conn, world.community_id, "p.csv", text.encode(), now=NOW)
    assert [(e.row, e.column) for e in report.errors] == [(6, "sector")]
    assert _count(engine, roadmap_projects) == 0
    assert _count(engine, inventory_imports) == 0
    # A second project import updates the projects it names and leaves the others.
    header = "code,name_zh,name_en,kind,sector,status,expected_t_co2e_per_year,start_date,source,note\n"
    first = header + "P1,甲,A,scenario,energy,planned,10,2026-01-01,src,\n"
    first += "P2,乙,B,industry,transport,active,5,2026-01-01,src,\n"
    second = header + "P1,甲,A,scenario,energy,active,12.5,2026-01-01,src,updated\n"
    with engine.begin() as conn:
        assert roadmap.import_roadmap(conn, world.community_id, "1.csv", first.encode(), now=NOW).ok
    with engine.begin() as conn:
        assert roadmap.import_roadmap(conn, world.community_id, "2.csv", second.encode(), now=NOW).ok
    with engine.connect() as conn:
        found = {p.code: p for p in roadmap.projects(conn, world.community_id)}
        assert roadmap.daily_avoided_kg(conn, world.community_id, "cn-mee-2023@v1", 2026) == {}
    assert (str(found["P1"].expected_t_per_year), found["P1"].status.value, found["P1"].note) == (
        "12.5",
        "active",
        "updated",
    )
    assert found["P2"].status.value == "active"


def test_the_forecast_reads_the_counted_avoided_series(engine: Engine, cli_env: World) -> None:
    world = cli_env
    # Reflected by name, as store/roadmap.py reads it: the baseline work owns the table.
    tables = MetaData()
    tables.reflect(engine, only=["baseline_fits", "avoided_daily"])
    fits, avoided = tables.tables["baseline_fits"], tables.tables["avoided_daily"]
    counted = {  # (household, day) -> kg counted
        (0, 1): 8,
        (1, 1): 2,
        (0, 2): 12,
        (0, 3): 5,
        (1, 3): 3,
    }
    with engine.begin() as conn:
        fit_ids = []
        for h in world.households:
            result = conn.execute(
                insert(fits).values(
                    household_id=h,
                    kind="electricity",
                    model="bench",
                    version="1",
                    params="{}",
                    metrics="{}",
                    train_first=date(2025, 1, 1),
                    train_last=date(2025, 12, 31),
                    eligible=True,
                    reasons="",
                    fitted_at=NOW,
                )
            )
            assert result.inserted_primary_key is not None
            fit_ids.append(result.inserted_primary_key[0])
        for (h, day), kg in counted.items():
            for factor_set, scale in (("cn-mee-2023@v1", 1), ("uk-desnz-2025@v1", 100)):
                conn.execute(
                    insert(avoided).values(
                        household_id=world.households[h],
                        day=date(2026, 1, day),
                        factor_set_id=factor_set,
                        kind="electricity",
                        fit_id=fit_ids[h],
                        model="bench",
                        model_version="1",
                        counterfactual_micro=0,
                        actual_micro=0,
                        avoided_micro=0,
                        avoided_co2e_mg=kg * scale * 2_000_000,
                        counted_co2e_mg=kg * scale * 1_000_000,
                        eligible=True,
                        computed_at=NOW,
                    )
                )
    # Days: 10, 12, 8 kg under the community's set (the uk rows are ignored): n = 3, mean 10, s^2 = 4,
    # U = 362 days left -> forecast 30 + 362 x 10 = 3650 kg; fewer than four weeks, so the 80 % band is
    # 1.2816 x s x sqrt(U (1 + U/n)) = 1.2816 x 2 x sqrt(362 x 121.667) = 537.9 kg.
    result = runner.invoke(app, ["roadmap", "show", "--year", "2026", "--today", "2026-01-03", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)["avoided"]
    assert (out["days_observed"], out["to_date_t"], out["forecast_t"]) == (3, "0.030", "3.650")
    assert (out["low_t"], out["high_t"], out["on_track"]) == ("3.112", "4.188", False)
    assert out["method"] == "mean of the known days"
