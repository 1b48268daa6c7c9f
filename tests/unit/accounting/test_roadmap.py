"""The county roadmap: targets, project imports and progress (the forecast is tests/unit/insights)."""

from __future__ import annotations

import tomllib
from datetime import date
from decimal import Decimal
from pathlib import Path

from tanhui.accounting.roadmap import (
    Measurement,
    ProjectKind,
    Sector,
    parse_measurements_csv,
    parse_projects_csv,
    parse_targets,
    sector_progress,
)

DATA = Path(__file__).resolve().parents[3] / "data" / "roadmap"


def test_demo_projects_are_24_scenario_and_15_industry_and_all_labelled_demo() -> None:
    projects, errors = parse_projects_csv((DATA / "baoting-demo.csv").read_text(encoding="utf-8"))
    assert errors == ()
    assert sum(p.kind is ProjectKind.SCENARIO for p in projects) == 24
    assert sum(p.kind is ProjectKind.INDUSTRY for p in projects) == 15
    assert all(p.code.startswith("DEMO-") and "DEMO" in p.source for p in projects)
    assert {p.sector for p in projects} == set(Sector)
    codes = [p.code for p in projects]
    found, errors = parse_measurements_csv(
        (DATA / "baoting-demo-measurements.csv").read_text(encoding="utf-8"), codes
    )
    assert errors == () and len(found) == 6


def test_project_rows_are_validated_with_row_numbers() -> None:
    text = (
        "code,name_zh,name_en,kind,sector,status,expected_t_co2e_per_year,start_date,source,note\n"
        "P1,甲,A,scenario,energy,active,10,2026-01-01,src,\n"
        "P1,乙,B,factory,energy,active,10,2026-01-01,src,\n"
        "P3,丙,C,industry,water,active,-1,2026-02-30,src,\n"
        "P4,,D,industry,energy,active,1,2026-01-01,src,\n"
    )
    _, errors = parse_projects_csv(text)
    assert sorted((e.row, e.column) for e in errors) == [
        (3, "code"),
        (3, "kind"),
        (4, "expected_t_co2e_per_year"),
        (4, "sector"),
        (4, "start_date"),
        (5, "name_zh"),
    ]


def test_measurements_must_name_a_known_project() -> None:
    text = "code,period_start,period_end,avoided_t_co2e,method,source\nX,2026-01-01,2026-01-31,-2.5,m,s\n"
    _, errors = parse_measurements_csv(text, ["P1"])
    assert [(e.row, e.column) for e in errors] == [(2, "code")]
    found, errors = parse_measurements_csv(text, ["X"])
    assert errors == () and found[0].avoided_t == Decimal("-2.5")


def test_sector_progress_hand_example() -> None:
    with (DATA / "baoting-targets.toml").open("rb") as handle:
        targets = parse_targets(tomllib.load(handle))
    projects, _ = parse_projects_csv((DATA / "baoting-demo.csv").read_text(encoding="utf-8"))
    reported = [
        Measurement("DEMO-S05", date(2026, 1, 1), date(2026, 6, 30), Decimal("170.5"), "m", "s"),
        Measurement("DEMO-S04", date(2026, 1, 1), date(2026, 6, 30), Decimal("84.2"), "m", "s"),
        Measurement("DEMO-S04", date(2025, 7, 1), date(2025, 12, 31), Decimal("80"), "m", "s"),
    ]
    # Energy: base 2600, target 2431 kWh/household; measured 2515.5 -> (2515.5 - 2600)/(2431 - 2600)
    #   = -84.5 / -169 = 0.5. Transport: 170.5 + 84.2 = 254.7 t reported in 2026 (the 2025 period does
    #   not count), target 975 from base 0 -> 254.7 / 975. Resources: no water measure -> no progress.
    out = {
        p.sector: p
        for p in sector_progress(
            targets, {"electricity_kwh_per_household": Decimal("2515.5")}, projects, reported, 2026
        )
    }
    assert out[Sector.ENERGY].progress == Decimal("0.5")
    assert out[Sector.TRANSPORT].reported_t == Decimal("254.7")
    assert out[Sector.TRANSPORT].progress == Decimal("254.7") / Decimal(975)
    assert out[Sector.RESOURCES].progress is None
    assert "no data yet" in out[Sector.RESOURCES].explanation
    assert out[Sector.BUILDINGS].expected_t_per_year == Decimal(820)
