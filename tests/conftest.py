"""Shared fixtures: a fresh database per test on SQLite or the real PostgreSQL."""

from __future__ import annotations

import gc
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine

from tanhui.store import migrate
from tanhui.store.engine import make_engine

PG_ADMIN = "postgresql://root@127.0.0.1:5432/test"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A new, empty PostgreSQL database of its own, dropped afterwards."""
    name = f"tanhui_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://root@127.0.0.1:5432/{name}"
    finally:
        # A connection a test left to the garbage collector would otherwise warn (an error here) in
        # whichever later test the collector happens to run: collect this test's leftovers now.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'tanhui.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same test on both engines."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tanhui.db'}"
    else:
        yield request.getfixturevalue("pg_url")


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    """A migrated, empty store on each engine."""
    engine = make_engine(store_url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()
