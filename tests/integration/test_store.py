"""The same migrations build, and tear down, the store on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from tanhui.store import migrate, readings
from tanhui.store.engine import make_engine
from tanhui.store.readings import StoredReading
from tanhui.store.schema import metadata

from .conftest import NOW, World


def _partitions(engine: Engine) -> set[str]:
    """PostgreSQL lists a partition as a table of its own; schema.py declares only the parents."""
    if engine.dialect.name != "postgresql":
        return set()
    with engine.connect() as conn:
        return set(conn.execute(text("SELECT relname FROM pg_class WHERE relispartition")).scalars())


def test_migrations_build_exactly_the_schema_and_downgrade_cleanly(store_url: str) -> None:
    engine = make_engine(store_url)
    migrate.upgrade(engine)
    tables = set(inspect(engine).get_table_names()) - {"alembic_version"} - _partitions(engine)
    assert tables == set(metadata.tables)
    for name, table in metadata.tables.items():
        assert {c["name"] for c in inspect(engine).get_columns(name)} == {c.name for c in table.columns}
    migrate.downgrade(engine)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()


def test_a_reading_key_is_unique(engine: Engine, world: World) -> None:
    meter = world.meters["110000000001"]
    with engine.begin() as conn:
        batch = readings.add_batch(
            conn,
            gateway_id=world.gateway.id,
            seq=1,
            transport="http",
            received_at=NOW,
            sha256="0" * 64,
            payload=b"{}",
        )
        readings.add(conn, [StoredReading(meter, "energy_import", NOW, 5)], batch_id=batch, received_at=NOW)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        readings.add(conn, [StoredReading(meter, "energy_import", NOW, 6)], batch_id=batch, received_at=NOW)
    with engine.connect() as conn:
        assert readings.of_meter(conn, meter, "energy_import") == [(NOW, 5)]
