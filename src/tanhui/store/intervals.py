"""Daily consumption intervals per meter and month (``consumption_months``) and their bulk reads and writes.

The accounting job derives them from readings; pricing under any factor set reads a whole community back
as one :class:`~tanhui.accounting.months.MonthTable`. On PostgreSQL that read is one binary COPY whose
fixed-width rows (every packed month is 248 bytes) become numpy columns without a Python loop per row;
SQLite reads row by row.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

import numpy as np
import psycopg
from sqlalchemy import Connection, delete, select

from tanhui.accounting import months
from tanhui.accounting.months import KINDS, MonthTable
from tanhui.accounting.pricing import total
from tanhui.domain.errors import TanhuiError
from tanhui.domain.ids import CommunityId, HouseholdId, MeterId
from tanhui.domain.quantity import Quantity
from tanhui.store import bulk
from tanhui.store.bulk import COPY_HEADER, COPY_SIGNATURE, COPY_TRAILER
from tanhui.store.schema import consumption_months, households


class IntervalsError(TanhuiError):
    """Stored intervals do not have the layout this code writes (a corrupt or foreign row)."""

    code = "intervals"


@dataclass(frozen=True, slots=True)
class MonthRow:
    """One meter's month of daily amounts, packed (accounting/months.py)."""

    meter_id: MeterId
    month: date
    household_id: HouseholdId
    kind: str
    days: bytes
    total_micro: int


def of_meters(conn: Connection, meter_ids: Sequence[MeterId]) -> list[MonthRow]:
    """Every stored month of ``meter_ids``."""
    c = consumption_months.c
    found: list[MonthRow] = []
    for start in range(0, len(meter_ids), 1000):
        chunk = list(meter_ids[start : start + 1000])
        query = select(c.meter_id, c.month, c.household_id, c.kind, c.days, c.total_micro).where(
            c.meter_id.in_(chunk)
        )
        found += [
            MonthRow(MeterId(m), month, HouseholdId(h), kind, bytes(days), int(total))
            for m, month, h, kind, days, total in conn.execute(query)
        ]
    return found


def add_history(conn: Connection, rows: Sequence[MonthRow], *, now: int) -> int:
    """Add imported daily history (billing records, a meter's daily freeze registers) to the stored months.

    Metered days always win: history only fills days the stored months have no value for, and a later
    :func:`tanhui.jobs.accounting.derive_intervals` keeps it where readings say nothing. Returns the number
    of months written."""
    stored = {(r.meter_id, r.month): r for r in of_meters(conn, sorted({r.meter_id for r in rows}))}
    merged: list[MonthRow] = []
    for row in rows:
        old = stored.get((row.meter_id, row.month))
        if old is None:
            merged.append(row)
            continue
        days = months.fill(months.unpack(row.month, old.days), months.unpack(row.month, row.days))
        merged.append(
            MonthRow(row.meter_id, row.month, row.household_id, row.kind, months.pack(days), total(days))
        )
    c = consumption_months.c
    for row in merged:
        conn.execute(delete(consumption_months).where(c.meter_id == row.meter_id, c.month == row.month))
    values = [(r.meter_id, r.month, r.household_id, r.kind, r.days, r.total_micro, now) for r in merged]
    bulk.append_rows(conn, "consumption_months", _COLUMNS, _TYPES, values)
    return len(merged)


def replace(conn: Connection, meter_ids: Sequence[MeterId], rows: Sequence[MonthRow], *, now: int) -> None:
    """Replace every stored month of ``meter_ids`` by ``rows`` (in the caller's transaction)."""
    for start in range(0, len(meter_ids), 1000):
        chunk = list(meter_ids[start : start + 1000])
        conn.execute(delete(consumption_months).where(consumption_months.c.meter_id.in_(chunk)))
    values = [(r.meter_id, r.month, r.household_id, r.kind, r.days, r.total_micro, now) for r in rows]
    bulk.append_rows(conn, "consumption_months", _COLUMNS, _TYPES, values)


_COLUMNS = ["meter_id", "month", "household_id", "kind", "days", "total_micro", "computed_at"]
_TYPES = ["int4", "date", "int4", "text", "bytea", "int8", "int8"]


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


_KIND_CODE = "CASE c.kind " + " ".join(f"WHEN '{q.value}' THEN {i}" for i, q in enumerate(KINDS)) + " END"
# One COPY row: field count, then (length, value) per field; integers big-endian, the packed days as stored.
_TABLE_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("meter_len", ">i4"),
        ("meter_id", ">i4"),
        ("household_len", ">i4"),
        ("household_id", ">i4"),
        ("month_len", ">i4"),
        ("month", ">i4"),
        ("kind_len", ">i4"),
        ("kind", ">i4"),
        ("days_len", ">i4"),
        ("days", "<i8", (months.SLOTS,)),
    ]
)


def tables_of_community(
    conn: Connection, community_id: CommunityId, *, chunk_rows: int = 32_768
) -> Iterator[MonthTable]:
    """Every stored month of the community's meters, as tables of at most ``chunk_rows`` rows, in no
    particular order. On PostgreSQL the COPY stream is parsed as it arrives, so a county never sits in
    memory twice and pricing works on arrays that stay in the processor's cache."""
    if conn.dialect.name != "postgresql":
        rows = of_community(conn, community_id)
        for start in range(0, len(rows), chunk_rows):
            part = rows[start : start + chunk_rows]
            yield MonthTable(
                np.array([r.meter_id for r in part], dtype=np.int64),
                np.array([r.household_id for r in part], dtype=np.int64),
                np.array([months.month_number(r.month) for r in part], dtype=np.int64),
                np.array([KINDS.index(Quantity(r.kind)) for r in part], dtype=np.int64),
                np.vstack([months.unpack(r.month, r.days) for r in part]),
            )
        return
    statement = (
        "COPY (SELECT c.meter_id, c.household_id, c.month - DATE '2000-01-01', "  # noqa: S608 - an int id
        f"({_KIND_CODE})::int4, c.days FROM consumption_months c "
        f"JOIN households h ON h.id = c.household_id WHERE h.community_id = {int(community_id)}"
        ") TO STDOUT (FORMAT BINARY)"
    )
    driver = cast(psycopg.Connection[Any], conn.connection.driver_connection)
    chunk_bytes = chunk_rows * _TABLE_ROW.itemsize
    pending = bytearray()
    started = False
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for block in copy:
            pending += block
            if not started:
                if len(pending) < len(COPY_HEADER):
                    continue
                if not pending.startswith(COPY_SIGNATURE):
                    raise IntervalsError("consumption_months: the COPY stream has no binary header")
                del pending[: len(COPY_HEADER)]
                started = True
            while len(pending) >= chunk_bytes + len(COPY_TRAILER):
                yield _parse(bytes(pending[:chunk_bytes]))
                del pending[:chunk_bytes]
    if not started or not pending.endswith(COPY_TRAILER):
        raise IntervalsError("consumption_months: the COPY stream ended without its trailer")
    del pending[-len(COPY_TRAILER) :]
    if pending:
        yield _parse(bytes(pending))


def _parse(body: bytes) -> MonthTable:
    if len(body) % _TABLE_ROW.itemsize:
        raise IntervalsError("consumption_months: the COPY stream does not have the fixed row layout")
    rows = np.frombuffer(body, dtype=_TABLE_ROW)
    lengths = (rows["meter_len"], rows["household_len"], rows["month_len"], rows["kind_len"])
    if (
        (rows["fields"] != 5).any()
        or any((n != 4).any() for n in lengths)
        or (rows["days_len"] != months.PACKED_BYTES).any()
    ):
        raise IntervalsError("consumption_months: a stored month is not 31 packed days")
    return MonthTable(
        rows["meter_id"].astype(np.int64),
        rows["household_id"].astype(np.int64),
        rows["month"].astype(np.int64),
        rows["kind"].astype(np.int64),
        rows["days"].astype(np.int64),
    )
