"""``tanhui onboard import``: households, meters and gateways from a CSV file, all or nothing.

The same check and import as the operators' onboarding page (``tanhui.store.onboarding``): every row is
validated first; one broken rule anywhere and nothing is stored, the report lists each error by line and
column, and the command exits 1. New gateways' tokens are printed once, as on the page.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tanhui.clock import utc_now
from tanhui.settings import get_settings
from tanhui.store import onboarding, registry
from tanhui.store.engine import make_engine

onboard_app = typer.Typer(help="Onboard households, meters and gateways from CSV.", no_args_is_help=True)


@onboard_app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="the CSV file")],
    community: Annotated[str, typer.Option(help="community slug")] = "baoting",
    as_json: Annotated[bool, typer.Option("--json", help="print the report as one JSON object")] = False,
) -> None:
    """Check FILE and register what it lists in one transaction; exit 1 with the report if any row fails.

    Columns: household, persons, enrolled_on, meter, kind, protocol, resolution, capacity, installed_on,
    gateway (docs/web.md, Onboarding by CSV).
    """
    engine = make_engine(get_settings().database_url)
    with engine.connect() as conn:
        found = registry.find_community(conn, community)
    if found is None:
        typer.echo(f"no community {community!r}; create it first or give --community", err=True)
        raise typer.Exit(2)
    report = onboarding.import_csv(
        engine,
        found.id,
        file.read_bytes(),
        filename=file.name,
        actor="cli",
        user_id=None,
        now=int(utc_now().timestamp()),
    )
    engine.dispose()
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "applied": report.applied,
                    "rows": report.rows,
                    "households_created": report.households_created,
                    "meters_created": report.meters_created,
                    "gateway_tokens": report.gateway_tokens,
                    "errors": [
                        {"line": e.row, "column": e.column, "code": e.code, "value": e.value}
                        for e in report.errors
                    ],
                },
                ensure_ascii=False,
            )
        )
    elif report.applied:
        typer.echo(
            f"imported {report.rows} rows: {len(report.households_created)} households, "
            f"{len(report.meters_created)} meters, {len(report.gateway_tokens)} gateways"
        )
        for name, token in sorted(report.gateway_tokens.items()):
            typer.echo(f"gateway {name} token (shown once): {token}")
    else:
        typer.echo(f"nothing imported: {len(report.errors)} errors", err=True)
        for e in report.errors:
            typer.echo(f"line {e.row}, column {e.column or '-'}: {e.code} ({e.value!r})", err=True)
    raise typer.Exit(0 if report.applied else 1)
