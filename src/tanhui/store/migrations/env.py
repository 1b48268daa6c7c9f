"""Alembic environment: runs the migrations on the connection handed over by ``tanhui.store.migrate``."""

from __future__ import annotations

from alembic import context

from tanhui.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only the `alembic` command line takes this path
    raise RuntimeError("run migrations through `tanhui db upgrade`, which supplies the connection")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
