"""``tanhui health``: data health per meter, for operators at a terminal.

A table worst completeness first (serial, kind, household, last seen, completeness, gaps, open
quarantine), or with ``--json`` one object per line, the same objects as ``GET /api/v1/meters/health``.
An unknown community exits 2.

``register(app)`` adds the command to the main ``tanhui`` application.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from tanhui.clock import utc_now
from tanhui.ingest.rules import IngestRules
from tanhui.settings import get_settings
from tanhui.store import registry
from tanhui.store.engine import make_engine
from tanhui.store.health import MeterHealth, meter_health
from tanhui.store.readings import DAY
from tanhui.web.health_api import MAX_DAYS, health_out

_HEADER = ("serial", "kind", "household", "last seen (UTC)", "complete", "gaps", "open quarantine")


def health(
    community: Annotated[str, typer.Option(help="community slug")] = "baoting",
    days: Annotated[int, typer.Option(min=1, max=MAX_DAYS, help="window length in days, ending now")] = 7,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """Data health per meter over the last DAYS days: last seen, completeness, gaps, quarantine."""
    engine = make_engine(get_settings().database_url)
    try:
        with engine.connect() as conn:
            found = registry.find_community(conn, community)
            if found is None:
                typer.echo(f"no community {community!r}; give --community with a registered slug", err=True)
                raise typer.Exit(2)
            end = int(utc_now().timestamp())
            rows = meter_health(conn, found.id, start=end - days * DAY, end=end, rules=IngestRules.load())
    finally:
        engine.dispose()
    if as_json:
        for h in rows:
            typer.echo(health_out(h).model_dump_json())
        return
    table = [_HEADER, *(_row(h) for h in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(_HEADER))]
    for row in table:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _row(h: MeterHealth) -> tuple[str, ...]:
    last_seen = (
        "never"
        if h.last_seen is None
        else datetime.fromtimestamp(h.last_seen, UTC).strftime("%Y-%m-%d %H:%M")
    )
    silent = sum(g.seconds for g in h.gaps) / 3600
    gaps = f"{len(h.gaps)} ({silent:.1f} h)" if h.gaps else "0"
    return (
        h.serial,
        h.kind.value,
        h.household or "-",
        last_seen,
        f"{h.completeness * 100:.1f} %",
        gaps,
        str(h.quarantined_open),
    )


def register(app: typer.Typer) -> None:
    """Add ``health`` to ``app`` (the ``tanhui`` command)."""
    app.command("health")(health)
