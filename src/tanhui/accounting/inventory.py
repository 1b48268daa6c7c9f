"""A community's greenhouse-gas inventory laid out as the GPC lays it out.

GPC = WRI, C40 and ICLEI, *Global Protocol for Community-Scale Greenhouse Gas Inventories*, v1.1 (2021).
The inventory has one line per (sub-sector, scope) cell of the BASIC and BASIC+ levels (GPC Table 4.1):
each line carries either a figure in kg CO2e or one of GPC's notation keys (Chapter 2, notation keys),
never both, and a data-quality mark (Chapter 5, data quality). The cells, their levels and the Chinese and
English names come from ``data/gpc/subsectors.toml``, the rest is input:

- metered household totals (:class:`MeterTotal`) fill I.1 residential buildings: grid electricity in
  scope 2, piped gas in scope 1, the T&D losses of the metered kWh in scope 3 (BASIC+) when the factor
  set carries a loss factor; metered water allocates the water utility's emissions to the cells the data
  file names (emission-factors.md §5: household water is an allocation, not a GPC line of its own);
- operator-entered activity rows (:class:`ActivityRow`, from a CSV that carries its own sources, see
  :func:`parse_activity_csv`) fill what meters do not cover or declare a notation key with a reason;
- every other cell is NE (not estimated) with the reason.

Every figure is activity × factor (GPC Chapter 2) or an operator's own figure with its
source; each line says which. The inventory records the factor set's id and content hash.
"""

from __future__ import annotations

import csv
import io
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from enum import StrEnum
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from tanhui.accounting.errors import AccountingError
from tanhui.accounting.factors import Factor, FactorSet
from tanhui.domain.quantity import Quantity

__all__ = [
    "CSV_COLUMNS",
    "ActivityRow",
    "GpcTable",
    "Inventory",
    "InventoryLine",
    "Level",
    "MeterTotal",
    "NotationKey",
    "Quality",
    "RowError",
    "SubSector",
    "build_inventory",
    "gpc_table",
    "parse_activity_csv",
    "parse_gpc_table",
    "subsectors",
]

# The GPC layout is the standard's fixed structure shipped beside the code (like a constant); it is read
# once from the repository's data directory. Everything that varies (factor sets, meter totals, activity
# rows, the period) comes in as arguments.
GPC_FILE = Path(__file__).resolve().parents[3] / "data" / "gpc" / "subsectors.toml"


class NotationKey(StrEnum):
    """GPC v1.1 Chapter 2, notation keys: why a cell carries no figure."""

    NO = "NO"  # not occurring: the activity does not happen in the community
    IE = "IE"  # included elsewhere: counted in another cell, which the explanation names
    NE = "NE"  # not estimated: occurs but was not estimated, with the reason
    C = "C"  # confidential: estimated but not disclosed


class Quality(StrEnum):
    """GPC v1.1 Chapter 5, data quality: high, medium or low quality of activity data and factors."""

    HIGH = "H"
    MEDIUM = "M"
    LOW = "L"


_RANK = {Quality.LOW: 0, Quality.MEDIUM: 1, Quality.HIGH: 2}


def _weakest(marks: Iterable[Quality]) -> Quality:
    # A line is only as good as its weakest input (the rule documented in docs/accounting.md).
    return min(marks, key=_RANK.__getitem__)


class Level(StrEnum):
    """GPC v1.1 Chapter 4: the two reporting levels; BASIC+ includes BASIC."""

    BASIC = "BASIC"
    BASIC_PLUS = "BASIC+"


@dataclass(frozen=True, slots=True)
class SubSector:
    """One GPC sub-sector (Table 3.1), e.g. ``I.1`` residential buildings in sector ``I``."""

    ref: str
    sector: str
    name_en: str
    name_zh: str


@dataclass(frozen=True, slots=True)
class InventoryLine:
    """One (sub-sector, scope) cell: a figure or a notation key, never both."""

    ref: str
    sector: str
    scope: int
    level: Level
    kg_co2e: Decimal | None
    notation: NotationKey | None
    activity: Decimal | None
    activity_unit: str
    quality: Quality | None
    source: str
    explanation: str


@dataclass(frozen=True, slots=True)
class Inventory:
    """A community's GPC inventory over ``first_day``..``last_day`` (inclusive) under one factor set."""

    community: str
    first_day: date
    last_day: date
    factor_set_id: str
    factor_set_hash: str
    regime: str
    lines: tuple[InventoryLine, ...]

    def total_kg(self, level: Level) -> Decimal:
        """Sum of the figures of ``level``'s cells; BASIC+ includes the BASIC cells (GPC Chapter 4)."""
        wanted = {Level.BASIC} if level is Level.BASIC else {Level.BASIC, Level.BASIC_PLUS}
        return sum(
            (line.kg_co2e for line in self.lines if line.level in wanted and line.kg_co2e is not None),
            Decimal(0),
        )

    def by_sector(self) -> Mapping[str, Decimal]:
        """Sum of the figures of every line per sector (``I`` .. ``V``), BASIC and BASIC+ together."""
        totals: dict[str, Decimal] = {}
        for line in self.lines:
            totals.setdefault(line.sector, Decimal(0))
            if line.kg_co2e is not None:
                totals[line.sector] += line.kg_co2e
        return MappingProxyType(totals)


# --- the GPC layout -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MeterCell:
    """Where one kind of metered data lands."""

    ref: str
    scope: int
    factor_key: str = ""


@dataclass(frozen=True, slots=True)
class WaterAllocation:
    """The cell that one component of the water factor is allocated to."""

    component: str
    ref: str
    scope: int
    explanation: str


@dataclass(frozen=True, slots=True)
class GpcTable:
    """The parsed ``data/gpc/subsectors.toml``."""

    source: str
    sectors: Mapping[str, tuple[str, str]]  # sector -> (name_en, name_zh)
    subsectors: tuple[SubSector, ...]
    cells: tuple[tuple[str, int, Level], ...]  # (ref, scope, level) in GPC order
    electricity: MeterCell
    gas: MeterCell
    td_losses: MeterCell
    water: tuple[WaterAllocation, ...]
    metered_quality: Quality
    factor_quality: Mapping[str, Quality] = field(default_factory=dict)

    def level(self, ref: str, scope: int) -> Level | None:
        """The level of cell (``ref``, ``scope``), or None when GPC has no such cell."""
        for cell_ref, cell_scope, level in self.cells:
            if cell_ref == ref and cell_scope == scope:
                return level
        return None

    def subsector(self, ref: str) -> SubSector:
        for sub in self.subsectors:
            if sub.ref == ref:
                return sub
        raise AccountingError(f"GPC has no sub-sector {ref!r}", code="unknown_subsector")


def _table_error(message: str) -> AccountingError:
    return AccountingError(f"data/gpc/subsectors.toml: {message}", code="invalid_gpc_table")


def _meter_cell(data: Mapping[str, Any], name: str) -> MeterCell:
    raw = data.get("meters", {}).get(name)
    if raw is None:
        raise _table_error(f"[meters] needs '{name}'")
    return MeterCell(str(raw["ref"]), int(raw["scope"]), str(raw.get("factor_key", "")))


def parse_gpc_table(data: Mapping[str, Any]) -> GpcTable:
    """Validate the parsed GPC layout: every meter and water cell must be a cell of the table."""
    src = data["source"]
    source = f"{src['publisher']}, {src['document']}, {src['year']} ({src['table']})"
    sectors = {str(k): (str(v["name_en"]), str(v["name_zh"])) for k, v in data["sectors"].items()}
    subs: list[SubSector] = []
    cells: list[tuple[str, int, Level]] = []
    for raw in data["subsectors"]:
        ref = str(raw["ref"])
        sector = ref.split(".", 1)[0]
        if sector not in sectors:
            raise _table_error(f"sub-sector {ref} is in no known sector")
        subs.append(SubSector(ref, sector, str(raw["name_en"]), str(raw["name_zh"])))
        for scope, level in sorted(raw["cells"].items()):
            if int(scope) not in (1, 2, 3):
                raise _table_error(f"sub-sector {ref}: scope {scope} is not 1, 2 or 3")
            cells.append((ref, int(scope), Level(level)))
    quality = data["quality"]
    table = GpcTable(
        source=source,
        sectors=MappingProxyType(sectors),
        subsectors=tuple(subs),
        cells=tuple(cells),
        electricity=_meter_cell(data, "electricity"),
        gas=_meter_cell(data, "gas"),
        td_losses=_meter_cell(data, "td_losses"),
        water=tuple(
            WaterAllocation(str(w["component"]), str(w["ref"]), int(w["scope"]), str(w["explanation"]))
            for w in data.get("water", ())
        ),
        metered_quality=Quality(quality["metered_activity"]),
        factor_quality=MappingProxyType(
            {str(k): Quality(v) for k, v in quality["factor_by_confidence"].items()}
        ),
    )
    targets = [(c.ref, c.scope) for c in (table.electricity, table.gas, table.td_losses)]
    targets += [(w.ref, w.scope) for w in table.water]
    for ref, scope in targets:
        if table.level(ref, scope) is None:
            raise _table_error(f"meter data is mapped to ({ref}, scope {scope}), which is not a GPC cell")
    if not table.water:
        raise _table_error("[[water]] needs at least one allocation")
    return table


@cache
def gpc_table() -> GpcTable:
    """The GPC layout shipped with Tanhui (``data/gpc/subsectors.toml``)."""
    with GPC_FILE.open("rb") as handle:
        return parse_gpc_table(tomllib.load(handle))


def subsectors() -> tuple[SubSector, ...]:
    """GPC v1.1 Table 3.1: every sub-sector of sectors I-V, with English and Chinese names."""
    return gpc_table().subsectors


# --- inputs -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MeterTotal:
    """One household's metered consumption of one kind over the inventory period."""

    household_id: int
    kind: Quantity
    meters: int
    amount: Decimal  # in the kind's accounting unit (kWh, m3)


@dataclass(frozen=True, slots=True)
class ActivityRow:
    """One operator-entered row: a figure (activity × factor, or kg) or a notation key, with its source."""

    ref: str
    scope: int
    period_start: date
    period_end: date
    activity: Decimal | None = None
    unit: str = ""
    factor_kg_per_unit: Decimal | None = None
    kg_co2e: Decimal | None = None
    notation: NotationKey | None = None
    quality: Quality | None = None  # of the activity data (or of the figure when kg_co2e is given)
    factor_quality: Quality | None = None
    source: str = ""
    note: str = ""
    row: int = 0  # line number in the imported file, for messages

    @property
    def kg(self) -> Decimal | None:
        """The row's emissions over its whole period: the given figure or activity × factor."""
        if self.kg_co2e is not None:
            return self.kg_co2e
        if self.activity is not None and self.factor_kg_per_unit is not None:
            return self.activity * self.factor_kg_per_unit
        return None

    @property
    def mark(self) -> Quality | None:
        """The row's data-quality mark: the weaker of activity and factor quality."""
        marks = [m for m in (self.quality, self.factor_quality) if m is not None]
        return _weakest(marks) if marks else None


# --- CSV import ---------------------------------------------------------------------------------------

CSV_COLUMNS = (
    "ref",
    "scope",
    "activity",
    "unit",
    "factor_kg_per_unit",
    "factor_quality",
    "kg_co2e",
    "notation",
    "quality",
    "source_publisher",
    "source_document",
    "source_year",
    "period_start",
    "period_end",
    "note",
)
_REQUIRED_COLUMNS = frozenset(CSV_COLUMNS) - {"note", "factor_quality"}
MAX_UNIT = 32  # the width of inventory_activity.unit


@dataclass(frozen=True, slots=True)
class RowError:
    """One rule a CSV row broke: the row's line number (header = 1), the column and what to do."""

    row: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"row {self.row}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


def _number(text: str, column: str, row: int, errors: list[RowError]) -> Decimal | None:
    if text == "":
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        errors.append(RowError(row, column, f"{text!r} is not a decimal number (write e.g. 1234.5)"))
        return None
    if not value.is_finite() or value < 0:
        errors.append(RowError(row, column, f"{text!r} must be a finite number >= 0"))
        return None
    return value


def _day(text: str, column: str, row: int, errors: list[RowError]) -> date | None:
    if text == "":
        errors.append(RowError(row, column, "is required (an ISO date, e.g. 2026-01-01)"))
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors.append(RowError(row, column, f"{text!r} is not an ISO date (e.g. 2026-01-01)"))
        return None


def _quality(text: str, column: str, row: int, errors: list[RowError]) -> Quality | None:
    if text == "":
        return None
    try:
        return Quality(text.upper())
    except ValueError:
        errors.append(RowError(row, column, f"{text!r} is not H, M or L (GPC Chapter 5)"))
        return None


def _check_cell(value: Mapping[str, str], row: int, table: GpcTable, errors: list[RowError]) -> int:
    ref, scope_text = value["ref"], value["scope"]
    scope = int(scope_text) if scope_text in ("1", "2", "3") else 0
    if scope == 0:
        errors.append(RowError(row, "scope", f"{scope_text!r} is not 1, 2 or 3"))
    elif table.level(ref, scope) is None:
        known = {c[0] for c in table.cells}
        rule = "is not a GPC sub-sector (e.g. II.1)" if ref not in known else f"has no scope {scope} cell"
        errors.append(RowError(row, "ref", f"{ref!r} {rule} (GPC v1.1 Table 4.1)"))
    return scope


def _check_figure(value: Mapping[str, str], row: int, errors: list[RowError]) -> None:
    # The rules of a figure row, on the raw text (the numbers themselves were checked by _number).
    kg, factor, activity = value["kg_co2e"], value["factor_kg_per_unit"], value["activity"]
    if kg and factor:
        errors.append(RowError(row, "kg_co2e", "give either kg_co2e or factor_kg_per_unit, not both"))
    elif not kg and not factor:
        errors.append(
            RowError(row, "kg_co2e", "give kg_co2e, or activity with factor_kg_per_unit, or a notation")
        )
    if factor and not activity:
        errors.append(RowError(row, "activity", "is required with factor_kg_per_unit"))
    if factor and not value["factor_quality"]:
        errors.append(RowError(row, "factor_quality", "is required with factor_kg_per_unit (H, M or L)"))
    if activity and not value["unit"]:
        errors.append(RowError(row, "unit", "is required with activity (e.g. km, t, kWh)"))
    if len(value["unit"]) > MAX_UNIT:
        errors.append(RowError(row, "unit", f"is longer than {MAX_UNIT} characters"))
    if not value["quality"]:
        errors.append(RowError(row, "quality", "is required for a figure (H, M or L, GPC Chapter 5)"))
    for column in ("source_publisher", "source_document", "source_year"):
        if not value[column]:
            errors.append(RowError(row, column, "is required: every figure names its source"))
    year = value["source_year"]
    if year and not (year.isdigit() and 1900 <= int(year) <= 2100):
        errors.append(RowError(row, "source_year", f"{year!r} is not a year"))


def _check_notation(value: Mapping[str, str], row: int, errors: list[RowError]) -> NotationKey | None:
    notation: NotationKey | None = None
    try:
        notation = NotationKey(value["notation"].upper())
    except ValueError:
        errors.append(RowError(row, "notation", f"{value['notation']!r} is not NO, IE, NE or C"))
    if value["kg_co2e"] or value["factor_kg_per_unit"] or value["activity"]:
        errors.append(
            RowError(row, "notation", "a notation row carries no activity, factor or kg_co2e (GPC Chapter 2)")
        )
    if not value["note"]:
        errors.append(RowError(row, "note", "a notation key needs its explanation (GPC Chapter 2)"))
    return notation


def _parse_row(
    raw: Mapping[str, str | None], row: int, table: GpcTable, errors: list[RowError]
) -> ActivityRow | None:
    value = {k: (raw.get(k) or "").strip() for k in CSV_COLUMNS}
    before = len(errors)
    scope = _check_cell(value, row, table, errors)
    activity = _number(value["activity"], "activity", row, errors)
    factor = _number(value["factor_kg_per_unit"], "factor_kg_per_unit", row, errors)
    kg = _number(value["kg_co2e"], "kg_co2e", row, errors)
    quality = _quality(value["quality"], "quality", row, errors)
    factor_quality = _quality(value["factor_quality"], "factor_quality", row, errors)
    start = _day(value["period_start"], "period_start", row, errors)
    end = _day(value["period_end"], "period_end", row, errors)
    if start is not None and end is not None and end < start:
        errors.append(RowError(row, "period_end", f"{end} is before period_start {start}"))
    notation = None
    if value["notation"]:
        notation = _check_notation(value, row, errors)
    else:
        _check_figure(value, row, errors)
    if len(errors) > before or start is None or end is None:
        return None
    source = ", ".join(value[c] for c in ("source_publisher", "source_document", "source_year") if value[c])
    return ActivityRow(
        ref=value["ref"],
        scope=scope,
        period_start=start,
        period_end=end,
        activity=activity,
        unit=value["unit"],
        factor_kg_per_unit=factor,
        kg_co2e=kg,
        notation=notation,
        quality=quality,
        factor_quality=factor_quality,
        source=source,
        note=value["note"],
        row=row,
    )


def _overlap(a: ActivityRow, b: ActivityRow) -> bool:
    return a.period_start <= b.period_end and b.period_start <= a.period_end


def _conflicts(rows: Sequence[ActivityRow]) -> list[RowError]:
    # Per cell, each notation row against each figure row: a cell rarely has more than a few of either.
    by_cell: dict[tuple[str, int], tuple[list[ActivityRow], list[ActivityRow]]] = {}
    for row in rows:
        figures, notations = by_cell.setdefault((row.ref, row.scope), ([], []))
        (figures if row.notation is None else notations).append(row)
    errors: list[RowError] = []
    for figures, notations in by_cell.values():
        for a in figures:
            for b in notations:
                if _overlap(a, b):
                    later, earlier = (a, b) if a.row > b.row else (b, a)
                    errors.append(
                        RowError(
                            later.row,
                            "notation",
                            f"cell {later.ref} scope {later.scope} has a figure and a notation key for "
                            f"overlapping periods (see row {earlier.row}); keep one",
                        )
                    )
    return sorted(errors, key=lambda e: e.row)


def parse_activity_csv(
    text: str, table: GpcTable | None = None
) -> tuple[tuple[ActivityRow, ...], tuple[RowError, ...]]:
    """Parse and validate an activity-data CSV; the rows are usable only when the errors are empty.

    Columns: :data:`CSV_COLUMNS` (``note`` and ``factor_quality`` may be absent). Each row is either a
    figure (``kg_co2e``, or ``activity`` × ``factor_kg_per_unit``) with its quality mark and source, or a
    notation key with its explanation in ``note``. A cell may not hold a figure and a notation key for
    overlapping periods.
    """
    table = table or gpc_table()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = sorted(_REQUIRED_COLUMNS - set(header))
    unknown = sorted(set(header) - set(CSV_COLUMNS))
    errors: list[RowError] = []
    if missing:
        errors.append(RowError(1, "", f"missing columns: {', '.join(missing)}"))
    if unknown:
        errors.append(
            RowError(1, "", f"unknown columns: {', '.join(unknown)} (known: {', '.join(CSV_COLUMNS)})")
        )
    if errors:
        return (), tuple(errors)
    reader.fieldnames = header
    rows: list[ActivityRow] = []
    for number, raw in enumerate(reader, start=2):
        if None in raw:
            errors.append(RowError(number, "", f"has more fields than the header's {len(header)}"))
            continue
        if not any((v or "").strip() for v in raw.values()):
            continue  # a blank line is not a row
        parsed = _parse_row(raw, number, table, errors)
        if parsed is not None:
            rows.append(parsed)
    errors += _conflicts(rows)
    if not rows and not errors:
        errors.append(RowError(1, "", "the file has no data rows"))
    return tuple(rows), tuple(errors)


# --- building the inventory ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Part:
    kg: Decimal
    activity: Decimal | None
    unit: str
    quality: Quality
    source: str
    explanation: str


def _factor_mark(factor: Factor, table: GpcTable) -> Quality:
    return table.factor_quality.get(factor.source.confidence, Quality.LOW)


def _share(row: ActivityRow, first_day: date, last_day: date) -> Decimal:
    # Share of a row's period inside the inventory period, by days: a yearly figure counts 31/365 in a
    # January inventory. GPC Chapter 5 allows scaling activity data to the inventory period.
    start, end = max(row.period_start, first_day), min(row.period_end, last_day)
    if end < start:
        return Decimal(0)
    return Decimal((end - start).days + 1) / Decimal((row.period_end - row.period_start).days + 1)


# A prorated share is rounded to a millionth (a milligram of CO2e): exact decimals keep every total equal
# to the sum of its lines in any order, which a 28-digit quotient would not.
MICRO = Decimal("0.000001")


def _prorate(value: Decimal, share: Decimal) -> Decimal:
    return value if share == 1 else (value * share).quantize(MICRO, rounding=ROUND_HALF_EVEN)


def _meter_parts(
    factor_set: FactorSet, totals: Sequence[MeterTotal], table: GpcTable
) -> tuple[dict[tuple[str, int], list[_Part]], dict[tuple[str, int], str]]:
    parts: dict[tuple[str, int], list[_Part]] = {}
    reasons: dict[tuple[str, int], str] = {}
    amount: dict[Quantity, Decimal] = {}
    meters: dict[Quantity, int] = {}
    households: dict[Quantity, set[int]] = {}
    for total in totals:
        amount[total.kind] = amount.get(total.kind, Decimal(0)) + total.amount
        meters[total.kind] = meters.get(total.kind, 0) + total.meters
        households.setdefault(total.kind, set()).add(total.household_id)

    def source(kind: Quantity) -> str:
        return (
            f"meters: {meters[kind]} meters in {len(households[kind])} households, factor set {factor_set.id}"
        )

    def add(cell: tuple[str, int], kind: Quantity, factor: Factor, value: Decimal, why: str) -> None:
        quality = _weakest([table.metered_quality, _factor_mark(factor, table)])
        kg = amount[kind] * value
        explanation = (
            f"{why}: {amount[kind]} {kind.unit} x {value} {factor.emission_unit}/{kind.unit} "
            f"({factor.basis_label}; {factor.source.publisher}, {factor.source.document}, "
            f"{factor.source.year})"
        )
        parts.setdefault(cell, []).append(
            _Part(kg, amount[kind], kind.unit, quality, source(kind), explanation)
        )

    elec = (table.electricity.ref, table.electricity.scope)
    gas = (table.gas.ref, table.gas.scope)
    td = (table.td_losses.ref, table.td_losses.scope)
    if Quantity.ELECTRICITY in amount:
        factor = factor_set.factor(Quantity.ELECTRICITY)
        add(elec, Quantity.ELECTRICITY, factor, factor.value, "grid electricity, location-based (GPC Ch. 6)")
        loss = factor_set.entries.get(table.td_losses.factor_key)
        if loss is not None:
            add(td, Quantity.ELECTRICITY, loss, loss.value, "T&D losses of the metered kWh (GPC Ch. 6)")
        else:
            reasons[td] = (
                f"factor set {factor_set.id} carries no T&D loss factor ('{table.td_losses.factor_key}'), "
                "so the grid losses of the metered kWh are not estimated"
            )
    else:
        reasons[elec] = reasons[td] = "no electricity meter data in the period"
    if Quantity.GAS in amount:
        factor = factor_set.factor(Quantity.GAS)
        add(
            gas,
            Quantity.GAS,
            factor,
            factor.value,
            "piped gas burned at home, stationary combustion (GPC Ch. 6)",
        )
    else:
        reasons[gas] = "no gas meter data in the period"
    if Quantity.WATER in amount:
        water = factor_set.factor(Quantity.WATER)
        allocation = {w.component: w for w in table.water}
        components = [factor_set.entry(k) for k in water.components] or [water]
        by_cell: dict[tuple[str, int], list[tuple[Factor, WaterAllocation]]] = {}
        for comp in components:
            alloc = allocation.get(comp.key, table.water[0])
            by_cell.setdefault((alloc.ref, alloc.scope), []).append((comp, alloc))
        for cell, comps in by_cell.items():
            # Components landing in one cell share the same m3: one part with their summed factor, so the
            # line's activity counts each m3 once.
            value = sum((c.value for c, _ in comps), Decimal(0))
            why = "water allocation, " + "; ".join(a.explanation for _, a in comps)
            # Cite the whole water factor when the cell takes all of it (its value is the components'
            # sum), else the weakest component in the cell.
            cited = (
                water
                if len(comps) == len(components)
                else min((c for c, _ in comps), key=lambda c: _RANK[_factor_mark(c, table)])
            )
            add(cell, Quantity.WATER, cited, value, why)
    return parts, reasons


def _line(
    cell: tuple[str, int],
    level: Level,
    table: GpcTable,
    parts: Sequence[_Part],
    notes: Sequence[ActivityRow],
    reason: str,
) -> InventoryLine:
    ref, scope = cell
    sector = table.subsector(ref).sector
    if parts:
        units = {p.unit for p in parts}
        activities = [p.activity for p in parts]
        same_unit = len(units) == 1 and all(a is not None for a in activities)
        activity = sum((a for a in activities if a is not None), Decimal(0)) if same_unit else None
        explanation = "; ".join(p.explanation for p in parts)
        if notes:
            # A figure wins over a notation key declared for another part of the period.
            explanation += "; also declared " + ", ".join(f"{n.notation} ({n.note})" for n in notes)
        return InventoryLine(
            ref=ref,
            sector=sector,
            scope=scope,
            level=level,
            kg_co2e=sum((p.kg for p in parts), Decimal(0)),
            notation=None,
            activity=activity,
            activity_unit=units.pop() if same_unit else "",
            quality=_weakest(p.quality for p in parts),
            source="; ".join(dict.fromkeys(p.source for p in parts)),
            explanation=explanation,
        )
    if notes:
        # The latest declaration for the cell stands (a later file corrects an earlier one).
        last = max(notes, key=lambda n: (n.period_end, n.row))
        return InventoryLine(
            ref,
            sector,
            scope,
            level,
            None,
            last.notation or NotationKey.NE,
            None,
            "",
            None,
            last.source or "operator",
            last.note,
        )
    return InventoryLine(
        ref=ref,
        sector=sector,
        scope=scope,
        level=level,
        kg_co2e=None,
        notation=NotationKey.NE,
        activity=None,
        activity_unit="",
        quality=None,
        source="",
        explanation=reason
        or "not estimated: no metered or operator-entered data for this cell in the period "
        "(an operator may declare NO, IE or C with its reason by CSV import)",
    )


def build_inventory(
    community: str,
    first_day: date,
    last_day: date,
    factor_set: FactorSet,
    meter_totals: Iterable[MeterTotal],
    activity: Iterable[ActivityRow] = (),
    table: GpcTable | None = None,
) -> Inventory:
    """The GPC inventory of ``community`` over ``first_day``..``last_day`` (inclusive).

    Every BASIC and BASIC+ cell of the GPC layout gets exactly one line: the sum of the metered and
    operator-entered figures that fall in it (activity × factor, GPC Chapter 2; rows whose period
    extends beyond the inventory's count in proportion of days), else the operator's notation key, else
    NE with the reason. Quality: the weakest mark of the figures in the line (GPC Chapter 5).
    """
    if last_day < first_day:
        raise AccountingError(
            f"inventory period ends {last_day} before it starts {first_day}", code="invalid_period"
        )
    table = table or gpc_table()
    parts, reasons = _meter_parts(factor_set, list(meter_totals), table)
    notes: dict[tuple[str, int], list[ActivityRow]] = {}
    for row in activity:
        cell = (row.ref, row.scope)
        if table.level(*cell) is None:
            raise AccountingError(f"activity row {row.row}: {cell} is not a GPC cell", code="unknown_cell")
        share = _share(row, first_day, last_day)
        if share == 0:
            continue
        if row.notation is not None:
            notes.setdefault(cell, []).append(row)
            continue
        kg = row.kg
        mark = row.mark
        if kg is None or mark is None:
            raise AccountingError(f"activity row {row.row} has no figure and no quality mark", code="bad_row")
        how = (
            f"{row.activity} {row.unit} x {row.factor_kg_per_unit} kg CO2e/{row.unit}"
            if row.kg_co2e is None
            else f"operator figure {row.kg_co2e} kg CO2e"
        )
        if share != 1:
            how += f" x {share:.4f} of the row's period {row.period_start}..{row.period_end}"
        parts.setdefault(cell, []).append(
            _Part(
                kg=_prorate(kg, share),
                activity=None if row.activity is None else _prorate(row.activity, share),
                unit=row.unit,
                quality=mark,
                source=row.source,
                explanation=how + (f" ({row.note})" if row.note else ""),
            )
        )
    lines = tuple(
        _line(
            (ref, scope),
            level,
            table,
            parts.get((ref, scope), ()),
            notes.get((ref, scope), ()),
            reasons.get((ref, scope), ""),
        )
        for ref, scope, level in table.cells
    )
    return Inventory(
        community=community,
        first_day=first_day,
        last_day=last_day,
        factor_set_id=factor_set.id,
        factor_set_hash=factor_set.content_hash,
        regime=factor_set.regime,
        lines=lines,
    )
