"""HTTP ingest throughput into SQLite and PostgreSQL, beside a raw COPY of the same rows (the limit).

The same simulated county is onboarded into each store and its envelopes are posted, one request at a
time, to the real app served by uvicorn on loopback: decode, checks, duplicate detection and the insert
are all in the measured path. The limit is a binary COPY of exactly the rows that ingest stored into an
identical, empty readings table on the same PostgreSQL server.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import httpx
import psycopg

from tanhui.cli.onboarding import onboard
from tanhui.cli.server import BackgroundServer
from tanhui.settings import Settings
from tanhui.sim.county import County, build_county, envelopes
from tanhui.store import migrate
from tanhui.store import readings as readings_repo
from tanhui.store.engine import make_engine
from tanhui.web.app import create_app

PG_ADMIN = "postgresql://root@127.0.0.1:5432/test"


@contextmanager
def pg_database() -> Iterator[str]:
    name = f"tanhui_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def ingest_over_http(url: str, county: County) -> tuple[int, float, list[tuple[int, ...]]]:
    """Readings stored, seconds taken, and the stored rows (for the COPY comparison)."""
    settings = Settings(environment="test", database_url=url, secret_key="b" * 40)
    engine = make_engine(url)
    migrate.upgrade(engine)
    onboarded = onboard(engine, county, factor_set_id="cn-mee-2023@v1", now=0, passwords={"operator": "x"})
    server = BackgroundServer(create_app(settings, engine=engine))
    server.start()
    batches = list(envelopes(county))
    stored = 0
    try:
        with httpx.Client(base_url=server.url, timeout=300) as client:
            started = time.perf_counter()
            for gateway, payload in batches:
                response = client.post(
                    "/api/v1/ingest",
                    content=payload,
                    headers={"Authorization": f"Bearer {onboarded.gateway_tokens[gateway]}"},
                )
                response.raise_for_status()
                stored += response.json()["stored"]
            elapsed = time.perf_counter() - started
    finally:
        server.stop()
    with engine.connect() as conn:
        stored_rows = list(readings_repo.scan(conn))
    codes = {name: code for code, name in enumerate(sorted({r.register for r in stored_rows}), start=1)}
    rows: list[tuple[int, ...]] = [
        (r.meter_id, codes[r.register], r.meter_time, r.value, r.batch_id) for r in stored_rows
    ]
    engine.dispose()
    return stored, elapsed, rows


_LIMIT_COPY = (
    "COPY readings_limit (meter_id, register, meter_time, value, batch_id) FROM STDIN (FORMAT BINARY)"
)


_LIMIT_COPY = (
    "COPY readings_limit (meter_id, register, meter_time, value, batch_id) FROM STDIN (FORMAT BINARY)"
)


def raw_copy(rows: list[tuple[int, ...]]) -> float:
    """Seconds to binary-COPY ``rows`` into an empty table shaped like ``readings_hot`` (PostgreSQL)."""
    with pg_database() as name, psycopg.connect(f"postgresql://root@127.0.0.1:5432/{name}") as conn:
        conn.execute(
            "CREATE TABLE readings_limit (meter_id int4 NOT NULL, register int2 NOT NULL, "
            "meter_time int8 NOT NULL, value int8 NOT NULL, batch_id int8 NOT NULL, "
            "PRIMARY KEY (meter_id, register, meter_time))"
        )
        conn.commit()
        started = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy(_LIMIT_COPY) as copy,
        ):
            copy.set_types(["int4", "int2", "int8", "int8", "int8"])
            for row in rows:
                copy.write_row(row)
        conn.commit()
        return time.perf_counter() - started


def run(households: int = 100, days: int = 7) -> list[dict[str, object]]:
    county = build_county(seed=1, households=households, start=date(2026, 10, 1), days=days)
    results: list[dict[str, object]] = []
    n_sqlite, t_sqlite, _ = ingest_over_http(f"sqlite:////tmp/tanhui-bench-{uuid.uuid4().hex[:8]}.db", county)
    results.append(_row("HTTP ingest → SQLite", n_sqlite, t_sqlite))
    with pg_database() as name:
        n_pg, t_pg, rows = ingest_over_http(f"postgresql+psycopg://root@127.0.0.1:5432/{name}", county)
    results.append(_row("HTTP ingest → PostgreSQL", n_pg, t_pg))
    t_copy = raw_copy(rows)
    results.append(_row("raw binary COPY → PostgreSQL (limit)", len(rows), t_copy))
    limit = t_copy / len(rows)
    for result in results:
        result["share_of_copy"] = round(
            limit * int(str(result["readings"])) / float(str(result["seconds"])), 3
        )
    return results


def _row(name: str, count: int, seconds: float) -> dict[str, object]:
    return {
        "name": name,
        "readings": count,
        "seconds": round(seconds, 3),
        "readings_per_s": round(count / seconds),
    }
