"""The community inventory in the GPC layout, as PDF (through HTML), CSV and XLSX.

The inventory itself is built by :func:`tanhui.accounting.inventory.build_inventory` (GPC v1.1, 2021):
one line per (sub-sector, scope) cell of BASIC and BASIC+, each a figure or a notation key, with a
data-quality mark. This module reads its inputs from the store (metered consumption per household and
kind, operator-entered activity rows) and lays the result out:

- PDF: tables by sector (I Stationary energy ... V AFOLU) and scope, notation keys and quality marks,
  BASIC and BASIC+ totals (GPC Section 4.3), the factor set with its content hash, and the sources;
- CSV: one row per line, machine-readable headers, decimals as plain strings (never floats);
- XLSX: a ``lines`` sheet (the CSV's rows, figures as exact decimals) and a ``sources`` sheet (period,
  factor set, hash, totals and every source cited).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import Connection

from tanhui.accounting.factors import FactorSet
from tanhui.accounting.footprint import decimal_text
from tanhui.accounting.inventory import (
    Inventory,
    InventoryLine,
    Level,
    MeterTotal,
    build_inventory,
    gpc_table,
)
from tanhui.domain.ids import CommunityId
from tanhui.domain.quantity import Quantity
from tanhui.reports.rendering import html_to_pdf, render_html
from tanhui.reports.usage import community_by_slug, consumption
from tanhui.store import activity

CSV_HEADER = (
    "community",
    "first_day",
    "last_day",
    "factor_set_id",
    "factor_set_hash",
    "ref",
    "sector",
    "subsector_en",
    "subsector_zh",
    "scope",
    "level",
    "kg_co2e",
    "notation",
    "activity",
    "activity_unit",
    "quality",
    "source",
    "explanation",
)


@dataclass(frozen=True, slots=True)
class SectorBlock:
    """One GPC sector's lines, for the tables of the PDF."""

    sector: str
    name_en: str
    name_zh: str
    lines: tuple[InventoryLine, ...]
    total_kg: Decimal

    @property
    def notes(self) -> tuple[str, ...]:
        """The distinct explanations of the sector's notation-key lines, each printed once under the table.

        Many cells share one reason (no data for the cell in the period); a note per reason keeps the
        table readable and the page count down.
        """
        return tuple(dict.fromkeys(x.explanation for x in self.lines if x.notation is not None))

    def note_of(self, line: InventoryLine) -> int:
        """The 1-based number of ``line``'s note (notation-key lines only)."""
        return self.notes.index(line.explanation) + 1


def year_bounds(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year, 12, 31)


def load_inventory(
    conn: Connection, *, community: str, first_day: date, last_day: date, factor_set: FactorSet
) -> Inventory:
    """The GPC inventory of community ``community`` (slug) over the period, from the store."""
    found = community_by_slug(conn, community)
    data = consumption(conn, found, first=first_day, last=last_day)
    amounts: dict[tuple[int, Quantity], Decimal] = defaultdict(Decimal)
    meters: dict[tuple[int, Quantity], set[int]] = defaultdict(set)
    for item in data.usage:
        key = (int(item.household_id), item.quantity)
        amounts[key] += item.amount
        meters[key].add(int(item.meter_id))
    totals = [
        MeterTotal(household_id=household, kind=kind, meters=len(meters[household, kind]), amount=amount)
        for (household, kind), amount in sorted(amounts.items(), key=lambda kv: (kv[0][0], kv[0][1].value))
    ]
    rows = activity.activity_rows(conn, CommunityId(found.id), first_day, last_day)
    return build_inventory(found.name, first_day, last_day, factor_set, totals, rows)


def sector_blocks(inventory: Inventory) -> tuple[SectorBlock, ...]:
    """The inventory's lines grouped by sector in GPC order (I ... V), each with its total."""
    table = gpc_table()
    grouped: dict[str, list[InventoryLine]] = defaultdict(list)
    for line in inventory.lines:
        grouped[line.sector].append(line)
    totals = inventory.by_sector()
    return tuple(
        SectorBlock(sector, name_en, name_zh, tuple(grouped[sector]), totals.get(sector, Decimal(0)))
        for sector, (name_en, name_zh) in table.sectors.items()
        if grouped.get(sector)
    )


def sources(inventory: Inventory, factor_set: FactorSet) -> tuple[str, ...]:
    """Every source, once: the GPC layout's, then the factor set's factors', then the lines' own."""
    cited = [gpc_table().source]
    for factor in factor_set.entries.values():
        src = factor.source
        text = f"{src.publisher}, {src.document}, {src.year}" + (f" ({src.table})" if src.table else "")
        if text not in cited:
            cited.append(text)
    for line in inventory.lines:
        for part in line.source.split("; "):
            if part and part not in cited:
                cited.append(part)
    return tuple(cited)


def _names() -> dict[str, tuple[str, str]]:
    return {s.ref: (s.name_en, s.name_zh) for s in gpc_table().subsectors}


def _text(value: Decimal | None) -> str:
    return "" if value is None else decimal_text(value)


def _row(inventory: Inventory, line: InventoryLine, names: dict[str, tuple[str, str]]) -> list[str]:
    name_en, name_zh = names.get(line.ref, ("", ""))
    return [
        inventory.community,
        inventory.first_day.isoformat(),
        inventory.last_day.isoformat(),
        inventory.factor_set_id,
        inventory.factor_set_hash,
        line.ref,
        line.sector,
        name_en,
        name_zh,
        str(line.scope),
        line.level.value,
        _text(line.kg_co2e),
        "" if line.notation is None else line.notation.value,
        _text(line.activity),
        line.activity_unit,
        "" if line.quality is None else line.quality.value,
        line.source,
        line.explanation,
    ]


def inventory_csv(inventory: Inventory) -> bytes:
    """One row per GPC line (UTF-8, header first); figures as plain decimal strings."""
    names = _names()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for line in inventory.lines:
        writer.writerow(_row(inventory, line, names))
    return buffer.getvalue().encode("utf-8")


def inventory_xlsx(inventory: Inventory, factor_set: FactorSet, *, generated_on: date) -> bytes:
    """A workbook with a ``lines`` sheet and a ``sources`` sheet (period, factor set, totals, sources)."""
    names = _names()
    book = Workbook()
    lines = book.active
    lines.title = "lines"
    lines.append(list(CSV_HEADER))
    numeric = {CSV_HEADER.index("kg_co2e"), CSV_HEADER.index("activity"), CSV_HEADER.index("scope")}
    for line in inventory.lines:
        row: list[object] = list(_row(inventory, line, names))
        for index in numeric:
            # openpyxl writes a Decimal with its exact digits, so the sheet keeps the figure unrounded.
            row[index] = Decimal(str(row[index])) if row[index] != "" else None
        lines.append(row)
    for cell in lines[1]:
        cell.font = Font(bold=True)
    lines.freeze_panes = "A2"
    meta = book.create_sheet("sources")
    meta.append(["key", "value"])
    for key, value in (
        ("community", inventory.community),
        ("first_day", inventory.first_day.isoformat()),
        ("last_day", inventory.last_day.isoformat()),
        ("factor_set_id", inventory.factor_set_id),
        ("factor_set_hash", inventory.factor_set_hash),
        ("regime", inventory.regime),
        ("total_kg_co2e_basic", inventory.total_kg(Level.BASIC)),
        ("total_kg_co2e_basic_plus", inventory.total_kg(Level.BASIC_PLUS)),
        ("generated_on", generated_on.isoformat()),
    ):
        meta.append([key, value])
    for index, source in enumerate(sources(inventory, factor_set), start=1):
        meta.append([f"source_{index}", source])
    for cell in meta[1]:
        cell.font = Font(bold=True)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def inventory_html(
    inventory: Inventory, factor_set: FactorSet, locale: str, *, generated_on: date, community_zh: str = ""
) -> str:
    """The inventory as an HTML document in ``locale`` (the PDF's source)."""
    return render_html(
        "inventory.html",
        locale,
        inventory=inventory,
        blocks=sector_blocks(inventory),
        sources=sources(inventory, factor_set),
        names=_names(),
        basic=inventory.total_kg(Level.BASIC),
        basic_plus=inventory.total_kg(Level.BASIC_PLUS),
        community_zh=community_zh,
        generated_on=generated_on,
    )


def inventory_pdf(
    inventory: Inventory, factor_set: FactorSet, locale: str, *, generated_on: date, community_zh: str = ""
) -> bytes:
    """The inventory on A4 pages."""
    html = inventory_html(inventory, factor_set, locale, generated_on=generated_on, community_zh=community_zh)
    return html_to_pdf(html)
