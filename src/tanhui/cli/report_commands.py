"""``tanhui report statement|inventory|project``: write the reports to files.

Each command reads the database named by ``TANHUI_DATABASE_URL`` and the factor sets under
``<data_dir>/factors``, and writes one file. Bad input (unknown household, month without accounted
data, unknown factor set) exits 2 naming the rule, as the other hand-check commands do.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from tanhui.accounting.factors import FactorSet
from tanhui.clock import utc_now
from tanhui.domain.errors import TanhuiError
from tanhui.ingest.rules import IngestRules
from tanhui.reports.gpc import inventory_csv, inventory_pdf, inventory_xlsx, load_inventory, year_bounds
from tanhui.reports.project import load_project, project_html, project_pdf
from tanhui.reports.statement import DEFAULT_EU_SET, load_statement, statement_html, statement_pdf
from tanhui.reports.translation import locale_of
from tanhui.reports.usage import community_by_slug
from tanhui.settings import get_settings
from tanhui.store.engine import make_engine
from tanhui.store.factor_files import load_factor_sets

report_app = typer.Typer(
    help="Reports: household statement, GPC community inventory, ISO 14064-2 project report.",
    no_args_is_help=True,
)


class StatementFormat(StrEnum):
    HTML = "html"
    PDF = "pdf"


class InventoryFormat(StrEnum):
    PDF = "pdf"
    CSV = "csv"
    XLSX = "xlsx"


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(2)


def _factor_set(sets: dict[str, FactorSet], set_id: str, regime: str) -> FactorSet:
    found = sets.get(set_id)
    if found is None:
        raise _fail(f"unknown factor set {set_id!r}; choose one of {', '.join(sorted(sets))}")
    if found.regime != regime:
        raise _fail(f"factor set {set_id} is a {found.regime} set; this side needs a {regime} set")
    return found


def _write(out: Path, body: bytes) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(body)
    typer.echo(f"wrote {out} ({len(body)} bytes)")


@report_app.command("statement")
def statement(
    household: Annotated[str, typer.Option(help="household code, e.g. H1")],
    month: Annotated[str, typer.Option(help="calendar month, YYYY-MM")],
    out: Annotated[Path, typer.Option(help="file to write")],
    output_format: Annotated[StatementFormat, typer.Option("--format", help="html or pdf")] = (
        StatementFormat.PDF
    ),
    lang: Annotated[str, typer.Option(help="zh-CN or en")] = "zh-CN",
    community: Annotated[str, typer.Option(help="community slug")] = "baoting",
    cn_set: Annotated[
        str | None, typer.Option(help="Chinese factor set (default: the community's own)")
    ] = None,
    eu_set: Annotated[str, typer.Option(help="European factor set")] = DEFAULT_EU_SET,
) -> None:
    """A household's monthly statement: footprint per meter and day under a Chinese and a European set."""
    settings = get_settings()
    sets = load_factor_sets(settings.data_dir / "factors")
    engine = make_engine(settings.database_url)
    try:
        locale = locale_of(lang)
        with engine.connect() as conn:
            chosen_cn = cn_set or community_by_slug(conn, community).factor_set_id
            found = load_statement(
                conn,
                community=community,
                household=household,
                month=month,
                cn=_factor_set(sets, chosen_cn, "cn"),
                eu=_factor_set(sets, eu_set, "eu"),
                generated_on=utc_now().date(),
            )
    except TanhuiError as exc:
        raise _fail(exc.diagnostics()) from None
    finally:
        engine.dispose()
    if output_format is StatementFormat.HTML:
        _write(out, statement_html(found, locale).encode("utf-8"))
    else:
        _write(out, statement_pdf(found, locale))


@report_app.command("inventory")
def inventory(
    year: Annotated[int, typer.Option(help="calendar year of the inventory")],
    factor_set: Annotated[str, typer.Option("--factor-set", help="factor set id, e.g. cn-mee-2023@v1")],
    out: Annotated[Path, typer.Option(help="file to write")],
    output_format: Annotated[InventoryFormat, typer.Option("--format", help="pdf, csv or xlsx")] = (
        InventoryFormat.PDF
    ),
    community: Annotated[str, typer.Option(help="community slug")] = "baoting",
    lang: Annotated[str, typer.Option(help="zh-CN or en (PDF only)")] = "zh-CN",
) -> None:
    """The community's GPC inventory (BASIC and BASIC+) for a calendar year."""
    settings = get_settings()
    sets = load_factor_sets(settings.data_dir / "factors")
    chosen = sets.get(factor_set)
    if chosen is None:
        raise _fail(f"unknown factor set {factor_set!r}; choose one of {', '.join(sorted(sets))}")
    first, last = year_bounds(year)
    engine = make_engine(settings.database_url)
    today = utc_now().date()
    try:
        locale = locale_of(lang)
        with engine.connect() as conn:
            found = community_by_slug(conn, community)
            built = load_inventory(
                conn, community=community, first_day=first, last_day=last, factor_set=chosen
            )
    except TanhuiError as exc:
        raise _fail(exc.diagnostics()) from None
    finally:
        engine.dispose()
    if output_format is InventoryFormat.CSV:
        _write(out, inventory_csv(built))
    elif output_format is InventoryFormat.XLSX:
        _write(out, inventory_xlsx(built, chosen, generated_on=today))
    else:
        _write(out, inventory_pdf(built, chosen, locale, generated_on=today, community_zh=found.name_zh))


@report_app.command("project")
def project(
    year: Annotated[int, typer.Option(help="calendar year of the report")],
    out: Annotated[Path, typer.Option(help="file to write")],
    output_format: Annotated[StatementFormat, typer.Option("--format", help="pdf or html")] = (
        StatementFormat.PDF
    ),
    community: Annotated[str, typer.Option(help="community slug")] = "baoting",
    factor_set: Annotated[
        str | None, typer.Option("--factor-set", help="factor set id (default: the community's own)")
    ] = None,
    lang: Annotated[str, typer.Option(help="zh-CN or en")] = "zh-CN",
) -> None:
    """An ISO 14064-2-style project report: boundary, baseline, monitoring, quantification, data."""
    settings = get_settings()
    sets = load_factor_sets(settings.data_dir / "factors")
    first, last = year_bounds(year)
    engine = make_engine(settings.database_url)
    try:
        locale = locale_of(lang)
        with engine.connect() as conn:
            chosen_id = factor_set or community_by_slug(conn, community).factor_set_id
            chosen = sets.get(chosen_id)
            if chosen is None:
                raise _fail(f"unknown factor set {chosen_id!r}; choose one of {', '.join(sorted(sets))}")
            found = load_project(
                conn,
                community=community,
                first_day=first,
                last_day=last,
                factor_set=chosen,
                rules=IngestRules.load(),
                generated_on=utc_now().date(),
            )
    except TanhuiError as exc:
        raise _fail(exc.diagnostics()) from None
    finally:
        engine.dispose()
    if output_format is StatementFormat.HTML:
        _write(out, project_html(found, locale).encode("utf-8"))
    else:
        _write(out, project_pdf(found, locale))
