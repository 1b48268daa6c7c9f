"""The county roadmap in the store: project and measurement imports, and the measures progress uses.

Imports are all or nothing (validated in full first, written in the caller's transaction). A project
import replaces the projects whose codes it names; a measurement import replaces the measurements of
the same (project, period start).
"""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

from sqlalchemy import Connection, MetaData, Table, and_, delete, func, insert, inspect, or_, select

from tanhui.accounting import months
from tanhui.accounting.inventory import RowError
from tanhui.accounting.roadmap import (
    MEASUREMENT_COLUMNS,
    Measurement,
    Project,
    ProjectKind,
    ProjectStatus,
    Sector,
    parse_measurements_csv,
    parse_projects_csv,
)
from tanhui.domain.ids import CommunityId
from tanhui.store.activity import ImportReport, file_digest, record_import
from tanhui.store.schema import (
    consumption_months,
    footprint_months,
    households,
    roadmap_measurements,
    roadmap_projects,
)

MICRO = Decimal(1_000_000)
MG_PER_KG = Decimal(1_000_000)
MG_PER_T = Decimal(1_000_000_000)

# The daily avoided-emissions series comes from the baseline work's table (migration 0006): one row per
# household, day, factor set and quantity; ``counted_co2e_mg`` is what survives its conservative rule.
AVOIDED_TABLE = "avoided_daily"
AVOIDED_COLUMN = "counted_co2e_mg"


def _is_measurements(text: str) -> bool:
    header = next(csv.reader(io.StringIO(text.lstrip("\ufeff"))), [])
    return set(MEASUREMENT_COLUMNS) <= {h.strip() for h in header}


def import_roadmap(
    conn: Connection, community_id: CommunityId, filename: str, content: bytes, *, now: int
) -> ImportReport:
    """Import a projects CSV or a measurements CSV (told apart by the header); all rows or none."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        return ImportReport(filename, 0, (RowError(1, "", f"the file is not UTF-8 text ({exc.reason})"),))
    if _is_measurements(text):
        return _import_measurements(conn, community_id, filename, content, text, now)
    projects_found, errors = parse_projects_csv(text)
    if errors:
        return ImportReport(filename, 0, errors)
    import_id = record_import(
        conn, community_id, "projects", filename, file_digest(content), len(projects_found), now
    )
    if isinstance(import_id, RowError):
        return ImportReport(filename, 0, (import_id,))
    t = roadmap_projects
    conn.execute(
        delete(t)
        .where(t.c.community_id == community_id)
        .where(t.c.code.in_([p.code for p in projects_found]))
    )
    conn.execute(
        insert(t),
        [
            {
                "community_id": community_id,
                "code": p.code,
                "import_id": import_id,
                "name_zh": p.name_zh,
                "name_en": p.name_en,
                "kind": p.kind.value,
                "sector": p.sector.value,
                "status": p.status.value,
                "expected_t_per_year": str(p.expected_t_per_year),
                "start_date": p.start_date,
                "source": p.source,
                "note": p.note,
            }
            for p in projects_found
        ],
    )
    return ImportReport(filename, len(projects_found), (), import_id)


def _import_measurements(
    conn: Connection, community_id: CommunityId, filename: str, content: bytes, text: str, now: int
) -> ImportReport:
    codes = [p.code for p in projects(conn, community_id)]
    found, errors = parse_measurements_csv(text, codes)
    if errors:
        return ImportReport(filename, 0, errors)
    import_id = record_import(
        conn, community_id, "measurements", filename, file_digest(content), len(found), now
    )
    if isinstance(import_id, RowError):
        return ImportReport(filename, 0, (import_id,))
    t = roadmap_measurements
    keys = [and_(t.c.code == m.code, t.c.period_start == m.period_start) for m in found]
    conn.execute(delete(t).where(t.c.community_id == community_id).where(or_(*keys)))
    conn.execute(
        insert(t),
        [
            {
                "community_id": community_id,
                "code": m.code,
                "period_start": m.period_start,
                "period_end": m.period_end,
                "import_id": import_id,
                "avoided_t": str(m.avoided_t),
                "method": m.method,
                "source": m.source,
            }
            for m in found
        ],
    )
    return ImportReport(filename, len(found), (), import_id)


def projects(conn: Connection, community_id: CommunityId) -> list[Project]:
    t = roadmap_projects
    rows = conn.execute(select(t).where(t.c.community_id == community_id).order_by(t.c.code))
    return [
        Project(
            r.code,
            r.name_zh,
            r.name_en,
            ProjectKind(r.kind),
            Sector(r.sector),
            ProjectStatus(r.status),
            Decimal(r.expected_t_per_year),
            r.start_date,
            r.source,
            r.note,
        )
        for r in rows
    ]


def measurements(conn: Connection, community_id: CommunityId, year: int) -> list[Measurement]:
    """The project measurements whose period ends in ``year``."""
    t = roadmap_measurements
    query = (
        select(t)
        .where(t.c.community_id == community_id)
        .where(t.c.period_end >= date(year, 1, 1))
        .where(t.c.period_end <= date(year, 12, 31))
        .order_by(t.c.code, t.c.period_start)
    )
    return [
        Measurement(r.code, r.period_start, r.period_end, Decimal(r.avoided_t), r.method, r.source)
        for r in conn.execute(query)
    ]


def _per_household_year(
    conn: Connection,
    table: Table,
    column: str,
    community_id: CommunityId,
    kinds: tuple[str, ...],
    year: int,
    factor_set_id: str | None = None,
) -> tuple[int, int, int]:
    """(sum of the packed per-day values, households with data, distinct days with data) in ``year``."""
    query = (
        select(table.c.household_id, table.c.month, table.c[column])
        .join(households, households.c.id == table.c.household_id)
        .where(households.c.community_id == community_id)
        .where(table.c.kind.in_(kinds))
        .where(table.c.month >= date(year, 1, 1))
        .where(table.c.month <= date(year, 12, 31))
    )
    if factor_set_id is not None:
        query = query.where(table.c.factor_set_id == factor_set_id)
    total = 0
    homes: set[int] = set()
    days: set[date] = set()
    for household_id, month, packed in conn.execute(query):
        for day, value in months.daily(month, months.unpack(month, bytes(packed))):
            total += value
            homes.add(household_id)
            days.add(day)
    return total, len(homes), len(days)


def metered_measures(
    conn: Connection, community_id: CommunityId, factor_set_id: str, year: int
) -> dict[str, Decimal]:
    """Per-household measures of ``year`` from the metered data, annualised over the days with data.

    ``residential_t_per_household``: electricity + gas t CO2e under ``factor_set_id``
    (``footprint_months``); ``electricity_kwh_per_household`` and ``water_m3_per_household``: kWh and m3
    (``consumption_months``). Each is total /
    households with data / days with data × days in the year, so a part year compares with a yearly
    target. A measure without data is absent.
    """
    days_in_year = Decimal((date(year + 1, 1, 1) - date(year, 1, 1)).days)
    out: dict[str, Decimal] = {}
    for key, found, scale in (
        (
            "residential_t_per_household",
            _per_household_year(
                conn, footprint_months, "co2e_mg", community_id, ("electricity", "gas"), year, factor_set_id
            ),
            MG_PER_T,
        ),
        (
            "electricity_kwh_per_household",
            _per_household_year(conn, consumption_months, "days", community_id, ("electricity",), year),
            MICRO,
        ),
        (
            "water_m3_per_household",
            _per_household_year(conn, consumption_months, "days", community_id, ("water",), year),
            MICRO,
        ),
    ):
        total, homes, days = found
        if homes and days:
            value = Decimal(total) / scale / homes / days * days_in_year
            out[key] = value.quantize(Decimal("0.001"))
    return out


def daily_avoided_kg(
    conn: Connection, community_id: CommunityId, factor_set_id: str, year: int
) -> dict[date, Decimal]:
    """The community's avoided emissions per day of ``year`` (kg) under ``factor_set_id``.

    Sums ``avoided_daily.counted_co2e_mg`` (the baseline work's result after its conservative rule) over
    the community's households. The table is read by name so that this module does not depend on the
    baseline's schema beyond those columns; without the table (or them) the series is empty.
    """
    if not inspect(conn).has_table(AVOIDED_TABLE):
        return {}
    table = Table(AVOIDED_TABLE, MetaData(), autoload_with=conn)
    if not {"household_id", "day", "factor_set_id", AVOIDED_COLUMN} <= set(table.c.keys()):
        return {}
    query = (
        select(table.c.day, func.sum(table.c[AVOIDED_COLUMN]))
        .join(households, households.c.id == table.c.household_id)
        .where(households.c.community_id == community_id)
        .where(table.c.factor_set_id == factor_set_id)
        .where(table.c.day >= date(year, 1, 1))
        .where(table.c.day <= date(year, 12, 31))
        .group_by(table.c.day)
    )
    return {d: Decimal(int(mg)) / MG_PER_KG for d, mg in conn.execute(query)}
