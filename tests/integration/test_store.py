"""The same migrations build, and tear down, the store on SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from tanhui.domain.ids import MeterId
from tanhui.store import migrate, readings, registry
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


def _empty_batch(conn: Connection, world: World) -> int:
    return readings.add_batch(
        conn,
        gateway_id=world.gateway.id,
        seq=1,
        transport="http",
        received_at=NOW,
        sha256="0" * 64,
        payload=b"{}",
    )


def test_a_reading_key_is_unique(engine: Engine, world: World) -> None:
    meter = world.meters["110000000001"]
    with engine.begin() as conn:
        batch = _empty_batch(conn, world)
        readings.add(conn, [StoredReading(meter, "energy_import", NOW, 5)], batch_id=batch, received_at=NOW)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        readings.add(conn, [StoredReading(meter, "energy_import", NOW, 6)], batch_id=batch, received_at=NOW)
    with engine.connect() as conn:
        assert readings.of_meter(conn, meter, "energy_import") == [(NOW, 5)]


def test_gateways_are_looked_up_by_name_many_at_once(engine: Engine, world: World) -> None:
    with engine.connect() as conn:
        found = registry.gateways_by_name(conn, ["gw-1", "gw-2", "gw-nobody", "gw-1"])
        assert found == {"gw-1": world.gateway, "gw-2": world.other_gateway}
        assert registry.gateways_by_name(conn, []) == {}
        assert registry.gateway_by_name(conn, "gw-nobody") is None
        assert registry.gateway_by_name(conn, "gw-2") == world.other_gateway


def test_the_neighbour_window_asks_each_register_only_for_its_meters(engine: Engine, world: World) -> None:
    with engine.begin() as conn:
        batch = _empty_batch(conn, world)
        codes = readings.register_code_map(conn, {"energy_import", "volume"})
        # 2,000 meters with both registers, four readings each (no foreign keys on readings).
        meter = np.repeat(np.arange(1, 2001), 8)
        code = np.tile(np.repeat([codes["energy_import"], codes["volume"]], 4), 2000)
        when = NOW + np.tile(np.arange(4) * 900, 4000)
        readings.add_columns(conn, meter, code, when, np.arange(len(meter)), np.full(len(meter), batch))
    many = list(range(1, 2001, 2))
    with engine.begin() as conn:
        m, c, t, _ = readings.window_columns(
            conn, {codes["energy_import"]: [1, 2, 3], codes["volume"]: [3, 2500]}, NOW + 900, NOW + 1800
        )
        got = sorted(zip(m.tolist(), c.tolist(), t.tolist(), strict=True))
        energy, volume = codes["energy_import"], codes["volume"]
        assert got == sorted(
            [(i, energy, NOW + d) for i in (1, 2, 3) for d in (900, 1800)]
            + [(3, volume, NOW + d) for d in (900, 1800)]
        )
        if engine.dialect.name != "postgresql":
            return
        # The partition has no statistics yet: left to itself the planner scans all of it for a thousand
        # meters, while ingest's lookups probe by key, and leave the setting as the caller had it.
        setting = "SELECT current_setting('enable_seqscan')"
        before = _seq_scans(conn)
        readings.window_columns(conn, {energy: many, volume: many}, NOW, NOW + 900)
        readings.latest_before(conn, [MeterId(i) for i in many], ["energy_import"], NOW + 900)
        assert _seq_scans(conn) == before
        assert conn.exec_driver_sql(setting).scalar_one() == "on"
        conn.exec_driver_sql(
            "SELECT * FROM readings_hot WHERE meter_id = ANY(%(ids)s::int4[]) AND register = %(code)s "
            "AND meter_time BETWEEN 0 AND %(hi)s",
            {"ids": "{" + ",".join(map(str, many)) + "}", "code": energy, "hi": NOW},
        ).all()
        assert _seq_scans(conn) > before


def _seq_scans(conn: Connection) -> int:
    """Sequential scans of readings tables this backend has counted and not yet reported (this
    transaction's and maybe earlier ones': compare two calls)."""
    return int(
        conn.exec_driver_sql(
            "SELECT coalesce(sum(seq_scan), 0) FROM pg_stat_xact_user_tables "
            "WHERE relname LIKE 'readings_hot%%' OR relname LIKE 'readings_packed%%'"
        ).scalar_one()
    )
