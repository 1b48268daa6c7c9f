"""The database engine of one ``tanhui`` command, disposed when the command ends however it ends.

A command run in-process (tests, ``typer.testing.CliRunner``) would otherwise leave its pooled
connections to be closed by the garbage collector, after the database may be gone.
"""

from __future__ import annotations

import click
from sqlalchemy import Engine

from tanhui.settings import get_settings
from tanhui.store.engine import make_engine


def command_engine(url: str | None = None) -> Engine:
    """An engine for ``url`` (default: ``TANHUI_DATABASE_URL``), disposed when the running command closes."""
    engine = make_engine(url if url is not None else get_settings().database_url)
    context = click.get_current_context(silent=True)
    if context is not None:
        context.call_on_close(engine.dispose)
    return engine
