"""Inventory inputs in the store: operator activity imports and the metered totals of a period.

An import is all or nothing: the CSV is validated in full first (:func:`parse_activity_csv`); with any
error nothing is written, and the rows of a valid file are written inside the caller's transaction, so
a database failure half-way rolls the whole import back.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import Connection, insert, select

from tanhui.accounting import months
from tanhui.accounting.inventory import (
    ActivityRow,
    MeterTotal,
    NotationKey,
    Quality,
    RowError,
    parse_activity_csv,
)
from tanhui.domain.ids import CommunityId
from tanhui.domain.quantity import Quantity
from tanhui.store.schema import consumption_months, households, inventory_activity, inventory_imports

MICRO = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did: the rows stored, or the errors that stopped it (then nothing was stored)."""

    filename: str
    rows: int
    errors: tuple[RowError, ...]
    import_id: int | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


def file_digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def record_import(
    conn: Connection, community_id: CommunityId, kind: str, filename: str, digest: str, rows: int, now: int
) -> int | RowError:
    """Register one import, or say that the same file was already imported for the community."""
    seen = conn.execute(
        select(inventory_imports.c.id, inventory_imports.c.filename)
        .where(inventory_imports.c.community_id == community_id)
        .where(inventory_imports.c.sha256 == digest)
    ).first()
    if seen is not None:
        return RowError(
            1, "", f"this file was already imported as import {seen.id} ({seen.filename}); nothing stored"
        )
    result = conn.execute(
        insert(inventory_imports).values(
            community_id=community_id,
            kind=kind,
            filename=filename,
            sha256=digest,
            rows=rows,
            imported_at=now,
        )
    )
    assert result.inserted_primary_key is not None  # noqa: S101 - an INSERT always returns its key
    return int(result.inserted_primary_key[0])


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def import_activity(
    conn: Connection, community_id: CommunityId, filename: str, content: bytes, *, now: int
) -> ImportReport:
    """Validate and store an activity-data CSV (UTF-8) for ``community_id``; all rows or none."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        return ImportReport(filename, 0, (RowError(1, "", f"the file is not UTF-8 text ({exc.reason})"),))
    rows, errors = parse_activity_csv(text)
    if errors:
        return ImportReport(filename, 0, errors)
    import_id = record_import(conn, community_id, "activity", filename, file_digest(content), len(rows), now)
    if isinstance(import_id, RowError):
        return ImportReport(filename, 0, (import_id,))
    conn.execute(
        insert(inventory_activity),
        [
            {
                "import_id": import_id,
                "community_id": community_id,
                "row_number": r.row,
                "ref": r.ref,
                "scope": r.scope,
                "period_start": r.period_start,
                "period_end": r.period_end,
                "activity": _text(r.activity),
                "unit": r.unit,
                "factor_kg_per_unit": _text(r.factor_kg_per_unit),
                "kg_co2e": _text(r.kg_co2e),
                "notation": None if r.notation is None else r.notation.value,
                "quality": None if r.quality is None else r.quality.value,
                "factor_quality": None if r.factor_quality is None else r.factor_quality.value,
                "source": r.source,
                "note": r.note,
            }
            for r in rows
        ],
    )
    return ImportReport(filename, len(rows), (), import_id)


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def activity_rows(
    conn: Connection, community_id: CommunityId, first_day: date, last_day: date
) -> list[ActivityRow]:
    """The stored activity rows of ``community_id`` whose period overlaps ``first_day``..``last_day``."""
    t = inventory_activity
    query = (
        select(t)
        .where(t.c.community_id == community_id)
        .where(t.c.period_start <= last_day)
        .where(t.c.period_end >= first_day)
        .order_by(t.c.id)
    )
    return [
        ActivityRow(
            ref=r.ref,
            scope=r.scope,
            period_start=r.period_start,
            period_end=r.period_end,
            activity=_decimal(r.activity),
            unit=r.unit,
            factor_kg_per_unit=_decimal(r.factor_kg_per_unit),
            kg_co2e=_decimal(r.kg_co2e),
            notation=None if r.notation is None else NotationKey(r.notation),
            quality=None if r.quality is None else Quality(r.quality),
            factor_quality=None if r.factor_quality is None else Quality(r.factor_quality),
            source=r.source,
            note=r.note,
            row=r.row_number,
        )
        for r in conn.execute(query)
    ]


def meter_totals(
    conn: Connection, community_id: CommunityId, first_day: date, last_day: date
) -> list[MeterTotal]:
    """Each household's metered consumption per kind over ``first_day``..``last_day`` (inclusive).

    Read from the daily consumption intervals (``consumption_months``), which do not depend on any
    factor set; a meter counts when it has at least one day with data in the period.
    """
    c = consumption_months
    query = (
        select(c.c.household_id, c.c.kind, c.c.meter_id, c.c.month, c.c.days)
        .join(households, households.c.id == c.c.household_id)
        .where(households.c.community_id == community_id)
        .where(c.c.month >= months.month_start(first_day))
        .where(c.c.month <= last_day)
    )
    amount: dict[tuple[int, str], int] = defaultdict(int)
    meters: dict[tuple[int, str], set[int]] = defaultdict(set)
    for household_id, kind, meter_id, month, days in conn.execute(query):
        for day, value in months.daily(month, months.unpack(month, bytes(days))):
            if first_day <= day <= last_day:
                amount[household_id, kind] += value
                meters[household_id, kind].add(meter_id)
    return [
        MeterTotal(household, Quantity(kind), len(meters[household, kind]), Decimal(total) / MICRO)
        for (household, kind), total in sorted(amount.items())
    ]
