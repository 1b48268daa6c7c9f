"""Daily consumption intervals per meter and month (``consumption_months``) and their bulk writes.

The accounting job derives them from readings; pricing under any factor set reads them back. PostgreSQL
takes the rows by binary COPY, SQLite by executemany; both read them back in one query per community.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

import psycopg
from sqlalchemy import Connection, delete, select
from sqlalchemy.exc import DBAPIError

from tanhui.domain.ids import CommunityId, HouseholdId, MeterId
from tanhui.store.schema import consumption_months, households


@dataclass(frozen=True, slots=True)
class MonthRow:
    """One meter's month of daily amounts, packed (accounting/months.py)."""

    meter_id: MeterId
    month: date
    household_id: HouseholdId
    kind: str
    days: bytes
    total_micro: int


def replace(conn: Connection, meter_ids: Sequence[MeterId], rows: Sequence[MonthRow], *, now: int) -> None:
    """Replace every stored month of ``meter_ids`` by ``rows`` (in the caller's transaction)."""
    for start in range(0, len(meter_ids), 1000):
        chunk = list(meter_ids[start : start + 1000])
        conn.execute(delete(consumption_months).where(consumption_months.c.meter_id.in_(chunk)))
    values = [(r.meter_id, r.month, r.household_id, r.kind, r.days, r.total_micro, now) for r in rows]
    copy_rows(conn, "consumption_months", _COLUMNS, _TYPES, values)


_COLUMNS = ["meter_id", "month", "household_id", "kind", "days", "total_micro", "computed_at"]
_TYPES = ["int4", "date", "int4", "text", "bytea", "int8", "int8"]


def copy_rows(
    conn: Connection, table: str, columns: list[str], types: list[str], values: Sequence[tuple[Any, ...]]
) -> None:
    """Append ``values`` to ``table``: binary COPY on PostgreSQL, the driver's executemany elsewhere."""
    if not values:
        return
    names = ", ".join(columns)
    if conn.dialect.name != "postgresql":
        marks = ", ".join("?" for _ in columns)
        conn.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(values))  # noqa: S608
        return
    statement = f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)"
    driver = cast(psycopg.Connection[Any], conn.connection.driver_connection)
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            copy.set_types(types)
            for row in values:
                copy.write_row(row)
    except psycopg.Error as exc:
        raise DBAPIError.instance(statement, None, exc, psycopg.Error, dialect=conn.dialect) from exc


def of_community(conn: Connection, community_id: CommunityId) -> list[MonthRow]:
    """Every stored month of the community's meters, in meter and month order."""
    c = consumption_months.c
    query = (
        select(c.meter_id, c.month, c.household_id, c.kind, c.days, c.total_micro)
        .join(households, households.c.id == c.household_id)
        .where(households.c.community_id == community_id)
        .order_by(c.meter_id, c.month)
    )
    return [
        MonthRow(MeterId(m), month, HouseholdId(h), kind, bytes(days), int(total))
        for m, month, h, kind, days, total in conn.execute(query)
    ]
