"""The county roadmap: targets, project imports, progress and the year-end forecast."""

from __future__ import annotations

import tomllib
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tanhui.accounting.roadmap import (
    Measurement,
    ProjectKind,
    Sector,
    forecast_year_end,
    parse_measurements_csv,
    parse_projects_csv,
    parse_targets,
    sector_progress,
)

DATA = Path(__file__).resolve().parents[3] / "data" / "roadmap"
JAN1 = date(2026, 1, 1)
TOL = Decimal("0.001")


def test_forecast_hand_example() -> None:
    # 2026 has 365 days. Observed Jan 1-4: 8, 10, 12, 10 kg -> n = 4, to date 40 kg, mean 10 kg/day.
    # U = 365 - 4 = 361; forecast = 40 + 361 x 10 = 3650 kg = 3.650 t (>= 3 t target: on track).
    # s^2 = ((-2)^2 + 0 + 2^2 + 0) / 3 = 8/3; half-width = 1.959964 x sqrt(8/3 x 361 x (1 + 361/4))
    #     = 1.959964 x sqrt(87843.33) = 580.9015 kg -> interval 3.069 .. 4.231 t.
    series = {JAN1 + timedelta(days=i): Decimal(v) for i, v in enumerate([8, 10, 12, 10])}
    f = forecast_year_end(series, 2026, date(2026, 1, 4), Decimal(3))
    assert (f.days_observed, f.to_date_t, f.forecast_t) == (4, Decimal("0.040"), Decimal("3.650"))
    assert (f.low_t, f.high_t) == (Decimal("3.069"), Decimal("4.231"))
    assert f.on_track
    assert not forecast_year_end(series, 2026, date(2026, 1, 4), Decimal(4)).on_track


def test_forecast_edges() -> None:
    assert forecast_year_end({}, 2026, date(2026, 3, 1), Decimal(3000)).forecast_t == 0
    one = forecast_year_end({JAN1: Decimal(5)}, 2026, JAN1, Decimal(1))
    assert (one.forecast_t, one.low_t, one.high_t) == (Decimal("1.825"), None, None)
    # Days after "today" and outside the year are ignored.
    series = {JAN1: Decimal(5), date(2026, 6, 1): Decimal(500), date(2025, 12, 31): Decimal(99)}
    assert forecast_year_end(series, 2026, JAN1, Decimal(1)).forecast_t == Decimal("1.825")


daily = st.decimals(min_value=-200, max_value=2000, places=3, allow_nan=False, allow_infinity=False)


@st.composite
def series(draw: st.DrawFn) -> tuple[dict[date, Decimal], date]:
    values = draw(st.lists(daily, min_size=2, max_size=120))
    return {JAN1 + timedelta(days=i): v for i, v in enumerate(values)}, JAN1 + timedelta(days=len(values) - 1)


@settings(max_examples=80, deadline=None)
@given(series())
def test_forecast_is_days_in_year_times_mean_and_the_interval_holds_it(
    data: tuple[dict[date, Decimal], date],
) -> None:
    observed, today = data
    f = forecast_year_end(observed, 2026, today, Decimal(3000))
    mean = sum(observed.values(), Decimal(0)) / len(observed)
    assert abs(f.forecast_t - mean * 365 / 1000) <= TOL
    assert f.low_t is not None and f.high_t is not None
    assert f.low_t <= f.forecast_t <= f.high_t
    assert abs((f.high_t - f.forecast_t) - (f.forecast_t - f.low_t)) <= 2 * TOL


@settings(max_examples=80, deadline=None)
@given(series())
def test_a_day_at_the_mean_keeps_the_forecast_and_never_widens_the_interval(
    data: tuple[dict[date, Decimal], date],
) -> None:
    observed, today = data
    before = forecast_year_end(observed, 2026, today, Decimal(3000))
    mean = sum(observed.values(), Decimal(0)) / len(observed)
    more = {**observed, today + timedelta(days=1): mean}
    after = forecast_year_end(more, 2026, today + timedelta(days=1), Decimal(3000))
    assert abs(after.forecast_t - before.forecast_t) <= TOL
    assert before.low_t is not None and before.high_t is not None
    assert after.low_t is not None and after.high_t is not None
    assert after.high_t - after.low_t <= before.high_t - before.low_t + 2 * TOL


@settings(max_examples=40, deadline=None)
@given(daily, st.integers(2, 200))
def test_a_constant_series_has_no_spread(value: Decimal, days: int) -> None:
    observed = {JAN1 + timedelta(days=i): value for i in range(days)}
    f = forecast_year_end(observed, 2026, JAN1 + timedelta(days=days - 1), Decimal(0))
    assert f.low_t == f.forecast_t == f.high_t == (value * 365 / 1000).quantize(TOL)


def test_a_complete_year_forecasts_what_was_observed() -> None:
    observed = {JAN1 + timedelta(days=i): Decimal(i % 7) for i in range(365)}
    f = forecast_year_end(observed, 2026, date(2026, 12, 31), Decimal(1))
    assert f.forecast_t == f.to_date_t == f.low_t == f.high_t


@given(series(), st.integers(2, 5))
@settings(max_examples=40, deadline=None)
def test_scaling_the_series_scales_the_forecast(data: tuple[dict[date, Decimal], date], k: int) -> None:
    observed, today = data
    assume(len(observed) >= 2)
    base = forecast_year_end(observed, 2026, today, Decimal(0))
    scaled = forecast_year_end({d: v * k for d, v in observed.items()}, 2026, today, Decimal(0))
    assert abs(scaled.forecast_t - base.forecast_t * k) <= k * TOL


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
