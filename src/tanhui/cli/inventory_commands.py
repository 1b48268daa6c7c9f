"""``tanhui inventory import|show`` and ``tanhui roadmap import|show``: the GPC inventory and the roadmap.

Imports print a validation report (one line per broken rule, with the row number) and exit 2 without
storing anything when a row is wrong. ``show`` prints a table or, with ``--json``, one JSON object whose
decimals are strings.
"""

from __future__ import annotations

import json
import tomllib
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from sqlalchemy import Connection, Engine

from tanhui.accounting.factors import FactorSet
from tanhui.accounting.inventory import Inventory, Level, build_inventory, gpc_table
from tanhui.accounting.roadmap import SectorProgress, Target, parse_targets, sector_progress
from tanhui.clock import utc_now
from tanhui.insights.forecast import forecast_year_end
from tanhui.settings import get_settings
from tanhui.store import activity as activity_store
from tanhui.store import registry
from tanhui.store import roadmap as roadmap_store
from tanhui.store.activity import ImportReport
from tanhui.store.engine import make_engine
from tanhui.store.factor_files import load_factor_sets
from tanhui.store.registry import Community

inventory_app = typer.Typer(help="The community's GPC greenhouse-gas inventory.", no_args_is_help=True)
roadmap_app = typer.Typer(
    help="The county roadmap: targets, projects, progress, forecast.", no_args_is_help=True
)

CommunityOption = Annotated[str, typer.Option("--community", help="community slug")]
JsonOption = Annotated[bool, typer.Option("--json", help="one JSON object, decimals as strings")]


def _community(conn: Connection, slug: str) -> Community:
    found = registry.find_community(conn, slug)
    if found is None:
        typer.echo(f"no community {slug!r}; give --community with a registered slug", err=True)
        raise typer.Exit(2)
    return found


def _factor_set(set_id: str) -> FactorSet:
    sets = load_factor_sets(get_settings().data_dir / "factors")
    if set_id not in sets:
        typer.echo(f"unknown factor set {set_id!r}; choose one of {', '.join(sorted(sets))}", err=True)
        raise typer.Exit(2)
    return sets[set_id]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        typer.echo(f"cannot read {path}: {exc.strerror}", err=True)
        raise typer.Exit(2) from None


def _report(report: ImportReport, what: str) -> None:
    if report.ok:
        typer.echo(f"{report.filename}: {report.rows} {what} stored (import {report.import_id})")
        return
    typer.echo(f"{report.filename}: {len(report.errors)} error(s); nothing stored", err=True)
    for error in report.errors:
        typer.echo(f"  {error}", err=True)
    raise typer.Exit(2)


def _run_import(engine: Engine, slug: str, path: Path, *, roadmap: bool) -> ImportReport:
    content = _read(path)
    now = int(utc_now().timestamp())
    with engine.begin() as conn:
        community = _community(conn, slug)
        if roadmap:
            return roadmap_store.import_roadmap(conn, community.id, path.name, content, now=now)
        return activity_store.import_activity(conn, community.id, path.name, content, now=now)


@inventory_app.command("import")
def inventory_import(
    file: Annotated[Path, typer.Argument(help="activity-data CSV (UTF-8), columns in docs/accounting.md")],
    community: CommunityOption = "baoting",
) -> None:
    """Import operator activity data for the GPC inventory; any row error stores nothing (exit 2)."""
    engine = make_engine(get_settings().database_url)
    try:
        report = _run_import(engine, community, file, roadmap=False)
    finally:
        engine.dispose()
    _report(report, "rows")


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def inventory_json(inventory: Inventory) -> dict[str, Any]:
    """The inventory as JSON-ready data, decimals as strings."""
    names = {s.ref: s for s in gpc_table().subsectors}
    return {
        "community": inventory.community,
        "first_day": inventory.first_day.isoformat(),
        "last_day": inventory.last_day.isoformat(),
        "factor_set": inventory.factor_set_id,
        "factor_set_hash": inventory.factor_set_hash,
        "regime": inventory.regime,
        "total_kg_co2e": {level.value: str(inventory.total_kg(level)) for level in Level},
        "by_sector_kg_co2e": {k: str(v) for k, v in inventory.by_sector().items()},
        "lines": [
            {
                "ref": line.ref,
                "name_en": names[line.ref].name_en,
                "name_zh": names[line.ref].name_zh,
                "sector": line.sector,
                "scope": line.scope,
                "level": line.level.value,
                "kg_co2e": _text(line.kg_co2e),
                "notation": None if line.notation is None else line.notation.value,
                "activity": _text(line.activity),
                "activity_unit": line.activity_unit,
                "quality": None if line.quality is None else line.quality.value,
                "source": line.source,
                "explanation": line.explanation,
            }
            for line in inventory.lines
        ],
    }


@inventory_app.command("show")
def inventory_show(
    year: Annotated[int, typer.Option(help="calendar year of the inventory")],
    factor_set: Annotated[str, typer.Option("--factor-set", help="factor set id, e.g. cn-mee-2023@v1")],
    community: CommunityOption = "baoting",
    as_json: JsonOption = False,
) -> None:
    """The GPC inventory (BASIC and BASIC+) of a community for a calendar year."""
    chosen = _factor_set(factor_set)
    first, last = date(year, 1, 1), date(year, 12, 31)
    engine = make_engine(get_settings().database_url)
    try:
        with engine.connect() as conn:
            found = _community(conn, community)
            meters = activity_store.meter_totals(conn, found.id, first, last)
            rows = activity_store.activity_rows(conn, found.id, first, last)
    finally:
        engine.dispose()
    inventory = build_inventory(found.slug, first, last, chosen, meters, rows)
    if as_json:
        typer.echo(json.dumps(inventory_json(inventory), ensure_ascii=False))
        return
    typer.echo(
        f"GPC inventory of {found.slug}, {first}..{last}, factor set {chosen.id} ({chosen.content_hash})"
    )
    for line in inventory.lines:
        figure = f"{line.kg_co2e:.3f} kg" if line.kg_co2e is not None else str(line.notation)
        quality = line.quality.value if line.quality is not None else "-"
        typer.echo(
            f"{line.ref:<6} scope {line.scope}  {line.level.value:<6}  {figure:>22}  {quality}  "
            f"{line.explanation}"
        )
    for level in Level:
        typer.echo(f"total {level.value}: {inventory.total_kg(level):.3f} kg CO2e")


@roadmap_app.command("import")
def roadmap_import(
    file: Annotated[Path, typer.Argument(help="projects CSV or project-measurements CSV (UTF-8)")],
    community: CommunityOption = "baoting",
) -> None:
    """Import roadmap projects or their measurements (told apart by the header); errors store nothing."""
    engine = make_engine(get_settings().database_url)
    try:
        report = _run_import(engine, community, file, roadmap=True)
    finally:
        engine.dispose()
    _report(report, "rows")


def _targets(slug: str) -> tuple[tuple[Target, ...], Decimal, str]:
    path = get_settings().data_dir / "roadmap" / f"{slug}-targets.toml"
    if not path.exists():
        return (), Decimal(0), f"no targets file {path}"
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    avoided = data.get("avoided", {})
    source = ", ".join(str(avoided[k]) for k in ("publisher", "document", "year") if k in avoided)
    return parse_targets(data), Decimal(str(avoided.get("target_t", "0"))), source


def _progress_json(p: SectorProgress) -> dict[str, Any]:
    target = p.target
    return {
        "sector": p.sector.value,
        "sector_zh": p.sector.name_zh,
        "target": None
        if target is None
        else {
            "metric": target.metric,
            "metric_zh": target.metric_zh,
            "unit": target.unit,
            "measure": target.measure,
            "base_value": str(target.base_value),
            "base_year": target.base_year,
            "target_value": str(target.target_value),
            "target_year": target.target_year,
            "source": target.source,
        },
        "measured": _text(p.measured),
        "progress": None if p.progress is None else str(p.progress.quantize(Decimal("0.0001"))),
        "projects": p.projects,
        "active_projects": p.active_projects,
        "expected_t_per_year": str(p.expected_t_per_year),
        "reported_t": str(p.reported_t),
        "explanation": p.explanation,
    }


def _forecast_json(
    series: dict[date, Decimal], year: int, as_of: date, target_t: Decimal, source: str
) -> dict[str, Any]:
    """The avoided-emissions forecast to year end (insights.forecast), in tonnes, against the target."""
    observed = {d: float(v) for d, v in series.items() if d.year == year and d <= as_of}
    target_kg = target_t * KG_PER_T
    base: dict[str, Any] = {
        "year": year,
        "today": as_of.isoformat(),
        "days_observed": len(observed),
        "target_t": str(target_t),
        "target_source": source,
    }
    try:
        f = forecast_year_end(observed, year, as_of)
    except ValueError as exc:
        zero = str(Decimal(0).quantize(MILLI))
        return base | {
            "to_date_t": zero,
            "forecast_t": zero,
            "low_t": None,
            "high_t": None,
            "on_track": False,
            "reaches_target": "unlikely",
            "method": "none",
            "band": str(exc),
        }
    return base | {
        "to_date_t": _tonnes(f.to_date),
        "forecast_t": _tonnes(f.point),
        "low_t": _tonnes(f.low),
        "high_t": _tonnes(f.high),
        "on_track": f.point >= target_kg,
        "reaches_target": f.reaches(target_kg),
        "method": f.method,
        "band": f.band,
    }


KG_PER_T = Decimal(1000)
MILLI = Decimal("0.001")


def _tonnes(kg: Decimal) -> str:
    return str((kg / KG_PER_T).quantize(MILLI))


@roadmap_app.command("show")
def roadmap_show(
    year: Annotated[int, typer.Option(help="calendar year")],
    community: CommunityOption = "baoting",
    today: Annotated[
        str | None, typer.Option(help="as-of date (ISO); default today in the community")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Targets and progress per roadmap sector, project counts, and the avoided-emissions forecast."""
    targets, target_t, target_source = _targets(community)
    engine = make_engine(get_settings().database_url)
    try:
        with engine.connect() as conn:
            found = _community(conn, community)
            projects = roadmap_store.projects(conn, found.id)
            reported = roadmap_store.measurements(conn, found.id, year)
            measures = roadmap_store.metered_measures(conn, found.id, found.factor_set_id, year)
            series = roadmap_store.daily_avoided_kg(conn, found.id, found.factor_set_id, year)
    finally:
        engine.dispose()
    try:
        as_of = date.fromisoformat(today) if today else utc_now().astimezone(ZoneInfo(found.timezone)).date()
    except ValueError:
        typer.echo(f"--today {today!r} is not an ISO date (e.g. 2026-06-30)", err=True)
        raise typer.Exit(2) from None
    progress = sector_progress(targets, measures, projects, reported, year)
    forecast = _forecast_json(series, year, as_of, target_t, target_source)
    kinds = {k: sum(1 for p in projects if p.kind.value == k) for k in ("scenario", "industry")}
    if as_json:
        out = {
            "community": found.slug,
            "year": year,
            "factor_set": found.factor_set_id,
            "projects": kinds,
            "measures": {k: str(v) for k, v in measures.items()},
            "sectors": [_progress_json(p) for p in progress],
            "avoided": forecast,
            "avoided_series": "avoided_daily (counted_co2e_mg)"
            if series
            else "none yet: no avoided_daily rows",
        }
        typer.echo(json.dumps(out, ensure_ascii=False))
        return
    typer.echo(
        f"Roadmap of {found.slug}, {year}: {kinds['scenario']} scenario and "
        f"{kinds['industry']} industry projects"
    )
    for p in progress:
        share = "-" if p.progress is None else f"{p.progress * 100:.1f} %"
        typer.echo(
            f"{p.sector.value:<10} {p.sector.name_zh}  progress {share:>8}  projects {p.projects} "
            f"(active {p.active_projects}), expected {p.expected_t_per_year} t/yr, reported {p.reported_t} t"
            f"  [{p.explanation}]"
        )
    interval = "unknown" if forecast["low_t"] is None else f"{forecast['low_t']} .. {forecast['high_t']}"
    typer.echo(
        f"avoided {year}: {forecast['to_date_t']} t to {forecast['today']} "
        f"({forecast['days_observed']} days), "
        f"forecast {forecast['forecast_t']} t (80 % {interval}; {forecast['band']}), "
        f"target {forecast['target_t']} t: reaching it is {forecast['reaches_target']}"
    )
