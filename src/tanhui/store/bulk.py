"""Bulk appends: PostgreSQL's binary COPY inside the caller's transaction, the DB-API's executemany elsewhere.

COPY goes around SQLAlchemy to the psycopg connection beneath it, in the same transaction; its errors come
back as the same exception classes SQLAlchemy's own statements raise (``IntegrityError`` for a duplicate),
so callers need not know that COPY was used.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

import psycopg
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

# PostgreSQL's binary COPY framing: an 11-byte signature, flags and header-extension length; a -1 trailer.
COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
COPY_HEADER = COPY_SIGNATURE + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
COPY_TRAILER = b"\xff\xff"


def append_rows(
    conn: Connection,
    table: str,
    columns: Sequence[str],
    types: Sequence[str],
    values: Sequence[tuple[Any, ...]],
) -> None:
    """Append ``values`` to ``table``: binary COPY on PostgreSQL (``types`` are its binary types), the
    driver's executemany elsewhere (SQLAlchemy's per-row parameter processing costs more than the insert)."""
    if not values:
        return
    names = ", ".join(columns)
    if conn.dialect.name != "postgresql":
        marks = ", ".join("?" for _ in columns)
        conn.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(values))  # noqa: S608
        return
    statement = f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)"
    with _copy(conn, statement) as copy:
        copy.set_types(list(types))
        for row in values:
            copy.write_row(row)


def append_binary(conn: Connection, table: str, columns: Sequence[str], bodies: Iterable[bytes]) -> None:
    """Append rows already in COPY's binary row format (PostgreSQL only): header, ``bodies``, trailer."""
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
    with _copy(conn, statement) as copy:
        copy.write(COPY_HEADER)
        for body in bodies:
            copy.write(body)
        copy.write(COPY_TRAILER)


@contextmanager
def _copy(conn: Connection, statement: str) -> Iterator[psycopg.Copy]:
    driver = cast(psycopg.Connection[Any], conn.connection.driver_connection)
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            yield copy
    except psycopg.Error as exc:
        raise DBAPIError.instance(statement, None, exc, psycopg.Error, dialect=conn.dialect) from exc
