"""The footprint per meter and month (``footprint_months``): bulk writes, and the account's read side.

Reads join each month's footprint with the consumption it priced (``consumption_months``) and unpack both
into per-day lines; a household or community view sums its meters day by day.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, Select, and_, delete, func, select

from tanhui.accounting import months
from tanhui.accounting.months import KINDS, MonthTable
from tanhui.domain.ids import CommunityId, HouseholdId
from tanhui.domain.quantity import Quantity
from tanhui.store import bulk
from tanhui.store.schema import consumption_months, footprint_months, households


@dataclass(frozen=True, slots=True)
class DayLine:
    """One day and one quantity: consumption in millionths of its unit, emissions in mg."""

    day: date
    kind: str
    amount_micro: int
    co2e_mg: int


_COLUMNS = [
    "meter_id",
    "month",
    "factor_set_id",
    "factor_set_hash",
    "household_id",
    "kind",
    "co2e_mg",
    "total_mg",
    "computed_at",
]
_TYPES = ["int4", "date", "text", "text", "int4", "text", "bytea", "int8", "int8"]


def replace_community(
    conn: Connection,
    community_id: CommunityId,
    factor_set_id: str,
    factor_set_hash: str,
    tables: Sequence[MonthTable],
    *,
    now: int,
) -> None:
    """Replace the community's footprint under ``factor_set_id`` by ``tables`` (mg per day), in the
    caller's transaction. PostgreSQL takes them as one binary COPY built from the columns, with no Python
    loop per row; other engines row by row."""
    members = select(households.c.id).where(households.c.community_id == community_id)
    conn.execute(
        delete(footprint_months)
        .where(footprint_months.c.factor_set_id == factor_set_id)
        .where(footprint_months.c.household_id.in_(members))
    )
    if not any(len(t) for t in tables):
        return
    if conn.dialect.name != "postgresql":
        values = [
            (
                int(table.meter_id[i]),
                table.first_day(i),
                factor_set_id,
                factor_set_hash,
                int(table.household_id[i]),
                KINDS[int(table.kind[i])].value,
                months.pack(table.values[i]),
                int(total),
                now,
            )
            for table in tables
            for i, total in enumerate(table.totals())
        ]
        bulk.append_rows(conn, "footprint_months", _COLUMNS, _TYPES, values)
        return

    def bodies() -> Iterator[bytes]:
        for table in tables:
            totals = table.totals()
            for code, kind in enumerate(KINDS):
                rows = table.kind == code
                if rows.any():
                    yield _copy_rows(
                        table.take(rows), totals[rows], factor_set_id, factor_set_hash, kind, now
                    )

    bulk.append_binary(conn, "footprint_months", _COLUMNS, bodies())


def _copy_rows(
    table: MonthTable, totals: npt.NDArray[np.int64], set_id: str, set_hash: str, kind: Quantity, now: int
) -> bytes:
    # Within one quantity every row has the same width (the text columns are the same strings), so the
    # rows are one numpy structured array in the column order of _COLUMNS.
    texts = {"set": set_id.encode(), "hash": set_hash.encode(), "kind": kind.value.encode()}
    fields: list[tuple[str, str, tuple[int, ...]] | tuple[str, str]] = [("fields", ">i2")]
    layout = [
        ("meter_id", ">i4"),
        ("month", ">i4"),
        ("set", f"S{len(texts['set'])}"),
        ("hash", f"S{len(texts['hash'])}"),
        ("household_id", ">i4"),
        ("kind", f"S{len(texts['kind'])}"),
        ("co2e_mg", "<i8"),
        ("total_mg", ">i8"),
        ("computed_at", ">i8"),
    ]
    for name, dtype in layout:
        fields.append((f"{name}_len", ">i4"))
        fields.append((name, dtype, (months.SLOTS,)) if name == "co2e_mg" else (name, dtype))
    rows = np.zeros(len(table), dtype=np.dtype(fields))
    rows["fields"] = len(layout)
    for name, dtype in layout:
        rows[f"{name}_len"] = months.PACKED_BYTES if name == "co2e_mg" else np.dtype(dtype).itemsize
    rows["meter_id"] = table.meter_id
    rows["month"] = table.month
    rows["set"] = texts["set"]
    rows["hash"] = texts["hash"]
    rows["household_id"] = table.household_id
    rows["kind"] = texts["kind"]
    rows["co2e_mg"] = table.values
    rows["total_mg"] = totals
    rows["computed_at"] = now
    return rows.tobytes()


def _joined(factor_set_id: str) -> Select[date, str, bytes, bytes]:
    f, c = footprint_months.c, consumption_months.c
    return (
        select(f.month, f.kind, c.days, f.co2e_mg)
        .join(consumption_months, and_(c.meter_id == f.meter_id, c.month == f.month))
        .where(f.factor_set_id == factor_set_id)
    )


def _day_lines(conn: Connection, query: Select[date, str, bytes, bytes], since: date | None) -> list[DayLine]:
    amounts: defaultdict[tuple[date, str], int] = defaultdict(int)
    co2e: defaultdict[tuple[date, str], int] = defaultdict(int)
    for month, kind, days, mg in conn.execute(query):
        for day, value in months.daily(month, months.unpack(month, bytes(days))):
            amounts[day, kind] += value
        for day, value in months.daily(month, months.unpack(month, bytes(mg))):
            co2e[day, kind] += value
    return [
        DayLine(day, kind, amounts[day, kind], co2e[day, kind])
        for day, kind in sorted(co2e)
        if since is None or day >= since
    ]


def household_days(
    conn: Connection, household_id: HouseholdId, factor_set_id: str, *, since: date | None = None
) -> list[DayLine]:
    """The household's footprint per day and quantity, summed over its meters, in day order."""
    query = _joined(factor_set_id).where(footprint_months.c.household_id == household_id)
    if since is not None:
        query = query.where(footprint_months.c.month >= months.month_start(since))
    return _day_lines(conn, query, since)


def community_days(conn: Connection, community_id: CommunityId, factor_set_id: str) -> list[DayLine]:
    """The community's footprint per day and quantity, summed over every household's meters."""
    members = select(households.c.id).where(households.c.community_id == community_id)
    query = _joined(factor_set_id).where(footprint_months.c.household_id.in_(members))
    return _day_lines(conn, query, None)


def community_total_mg(conn: Connection, community_id: CommunityId, factor_set_id: str) -> int:
    """The community's whole footprint under ``factor_set_id``, in mg (from the stored month totals)."""
    members = select(households.c.id).where(households.c.community_id == community_id)
    query = (
        select(func.coalesce(func.sum(footprint_months.c.total_mg), 0))
        .where(footprint_months.c.factor_set_id == factor_set_id)
        .where(footprint_months.c.household_id.in_(members))
    )
    return int(conn.execute(query).scalar_one())


def month_totals_by_household(
    conn: Connection, community_id: CommunityId, factor_set_id: str, month: date, *, persons: int
) -> dict[HouseholdId, int]:
    """Each household of ``persons`` people in the community: its footprint (mg) in ``month``."""
    query = (
        select(footprint_months.c.household_id, func.sum(footprint_months.c.total_mg))
        .join(households, households.c.id == footprint_months.c.household_id)
        .where(households.c.community_id == community_id, households.c.persons == persons)
        .where(footprint_months.c.factor_set_id == factor_set_id)
        .where(footprint_months.c.month == months.month_start(month))
        .group_by(footprint_months.c.household_id)
    )
    return {HouseholdId(int(h)): int(mg) for h, mg in conn.execute(query)}


def household_community(conn: Connection, household_id: int) -> CommunityId | None:
    row = conn.execute(select(households.c.community_id).where(households.c.id == household_id)).first()
    return None if row is None else CommunityId(row.community_id)


def household_count(conn: Connection, community_id: CommunityId) -> int:
    query = select(func.count()).select_from(households).where(households.c.community_id == community_id)
    return int(conn.execute(query).scalar_one())
