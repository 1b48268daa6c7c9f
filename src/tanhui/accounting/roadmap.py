"""The county's carbon-neutrality roadmap: sectors, targets, projects and progress measured from data.

Baoting's roadmap covers four sectors (energy 能源, buildings 建筑, transport 交通, resources 资源) with
24 scenario projects and 15 industry projects, and the platform is expected to avoid about 3,000 t CO2e
a year (Hainan Daily, December 2025; shared/docs/baoting.md). Targets are data (``data/roadmap/``), the
projects and their reported measurements come from operator CSV imports, and progress is measured from
data: each target names the measure it is judged by (metered household footprint per household, water
per household, avoided tonnes reported by the sector's projects).

The year-end forecast of avoided emissions against the 3,000 t target is :mod:`tanhui.insights.forecast`
(one forecaster for every daily series, with its band measured by backtest).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar

from tanhui.accounting.errors import AccountingError
from tanhui.accounting.inventory import RowError

__all__ = [
    "MEASUREMENT_COLUMNS",
    "PROJECT_COLUMNS",
    "Measurement",
    "Project",
    "ProjectKind",
    "ProjectStatus",
    "Sector",
    "SectorProgress",
    "Target",
    "parse_measurements_csv",
    "parse_projects_csv",
    "parse_targets",
    "sector_progress",
]


class Sector(StrEnum):
    """The four sectors of the county roadmap."""

    ENERGY = "energy"
    BUILDINGS = "buildings"
    TRANSPORT = "transport"
    RESOURCES = "resources"

    @property
    def name_zh(self) -> str:
        return _SECTOR_ZH[self]


_SECTOR_ZH = {
    Sector.ENERGY: "能源",
    Sector.BUILDINGS: "建筑",
    Sector.TRANSPORT: "交通",
    Sector.RESOURCES: "资源",
}


class ProjectKind(StrEnum):
    SCENARIO = "scenario"  # 场景项目: a low-carbon scenario the county runs (e.g. a solar-storage site)
    INDUSTRY = "industry"  # 产业项目: an enterprise or industrial project


class ProjectStatus(StrEnum):
    PLANNED = "planned"
    ACTIVE = "active"
    COMPLETED = "completed"
    SUSPENDED = "suspended"


@dataclass(frozen=True, slots=True)
class Target:
    """One sector target: move ``measure`` from the base value to the target value by the target year."""

    sector: Sector
    metric: str
    metric_zh: str
    unit: str
    measure: str  # the key of the measured value progress is judged by (see sector_progress)
    base_value: Decimal
    base_year: int
    target_value: Decimal
    target_year: int
    source: str


@dataclass(frozen=True, slots=True)
class Project:
    code: str
    name_zh: str
    name_en: str
    kind: ProjectKind
    sector: Sector
    status: ProjectStatus
    expected_t_per_year: Decimal
    start_date: date
    source: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class Measurement:
    """Avoided emissions a project reports for a period, with how they were measured."""

    code: str
    period_start: date
    period_end: date
    avoided_t: Decimal
    method: str
    source: str


@dataclass(frozen=True, slots=True)
class SectorProgress:
    sector: Sector
    target: Target | None
    measured: Decimal | None  # the target's measure in the year, None when there is no data
    progress: Decimal | None  # 0 at the base value, 1 at the target value
    projects: int
    active_projects: int
    expected_t_per_year: Decimal  # sum over the sector's planned, active and completed projects
    reported_t: Decimal  # avoided tonnes the sector's projects reported for periods in the year
    explanation: str


E = TypeVar("E", bound=StrEnum)


# --- targets (data file) ------------------------------------------------------------------------------


def _dec(value: Any, where: str) -> Decimal:
    if isinstance(value, float):
        raise AccountingError(f"{where}: write {value!r} as a string", code="invalid_roadmap")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise AccountingError(f"{where}: {value!r} is not a decimal", code="invalid_roadmap") from None


def parse_targets(data: Mapping[str, Any]) -> tuple[Target, ...]:
    """Validate the parsed targets file (``data/roadmap/<community>-targets.toml``)."""
    targets: list[Target] = []
    for index, raw in enumerate(data.get("targets", ())):
        where = f"target {index}"
        try:
            sector = Sector(raw["sector"])
            source = ", ".join(str(raw[k]) for k in ("publisher", "document", "year"))
            target = Target(
                sector=sector,
                metric=str(raw["metric"]),
                metric_zh=str(raw.get("metric_zh", "")),
                unit=str(raw["unit"]),
                measure=str(raw["measure"]),
                base_value=_dec(raw["base_value"], where),
                base_year=int(raw["base_year"]),
                target_value=_dec(raw["target_value"], where),
                target_year=int(raw["target_year"]),
                source=source,
            )
        except (KeyError, ValueError) as exc:
            raise AccountingError(f"{where}: missing or invalid {exc}", code="invalid_roadmap") from None
        if target.target_year < target.base_year:
            raise AccountingError(f"{where}: target year before base year", code="invalid_roadmap")
        targets.append(target)
    return tuple(targets)


# --- CSV imports --------------------------------------------------------------------------------------

PROJECT_COLUMNS = (
    "code",
    "name_zh",
    "name_en",
    "kind",
    "sector",
    "status",
    "expected_t_co2e_per_year",
    "start_date",
    "source",
    "note",
)
MEASUREMENT_COLUMNS = ("code", "period_start", "period_end", "avoided_t_co2e", "method", "source")


def _rows(
    text: str, columns: Sequence[str], optional: frozenset[str]
) -> tuple[list[tuple[int, dict[str, str]]], list[RowError]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = sorted(set(columns) - optional - set(header))
    unknown = sorted(set(header) - set(columns))
    errors: list[RowError] = []
    if missing:
        errors.append(RowError(1, "", f"missing columns: {', '.join(missing)}"))
    if unknown:
        errors.append(RowError(1, "", f"unknown columns: {', '.join(unknown)} (known: {', '.join(columns)})"))
    if errors:
        return [], errors
    reader.fieldnames = header
    rows: list[tuple[int, dict[str, str]]] = []
    for number, raw in enumerate(reader, start=2):
        if None in raw:
            errors.append(RowError(number, "", f"has more fields than the header's {len(header)}"))
            continue
        value = {c: (raw.get(c) or "").strip() for c in columns}
        if any(value.values()):
            rows.append((number, value))
    if not rows and not errors:
        errors.append(RowError(1, "", "the file has no data rows"))
    return rows, errors


def _field_errors(value: Mapping[str, str], row: int, required: Iterable[str]) -> list[RowError]:
    return [RowError(row, c, "is required") for c in required if not value[c]]


def _number(text: str, column: str, row: int, errors: list[RowError], *, signed: bool = False) -> Decimal:
    try:
        number = Decimal(text)
    except InvalidOperation:
        errors.append(RowError(row, column, f"{text!r} is not a decimal number"))
        return Decimal(0)
    if not number.is_finite() or (number < 0 and not signed):
        errors.append(
            RowError(row, column, f"{text!r} must be a finite number" + ("" if signed else " >= 0"))
        )
    return number


def _date(text: str, column: str, row: int, errors: list[RowError]) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors.append(RowError(row, column, f"{text!r} is not an ISO date (e.g. 2026-01-01)"))
        return date.min


def _enum(kind: type[E], text: str, column: str, row: int, errors: list[RowError]) -> E | None:
    try:
        return kind(text.lower())
    except ValueError:
        allowed = ", ".join(str(k) for k in kind)
        errors.append(RowError(row, column, f"{text!r} is not one of {allowed}"))
        return None


def parse_projects_csv(text: str) -> tuple[tuple[Project, ...], tuple[RowError, ...]]:
    """Parse and validate a roadmap projects CSV (:data:`PROJECT_COLUMNS`); usable only without errors."""
    rows, errors = _rows(text, PROJECT_COLUMNS, frozenset({"note"}))
    projects: list[Project] = []
    seen: dict[str, int] = {}
    for number, value in rows:
        before = len(errors)
        errors += _field_errors(value, number, (c for c in PROJECT_COLUMNS if c != "note"))
        if len(errors) > before:
            continue
        if value["code"] in seen:
            errors.append(RowError(number, "code", f"{value['code']!r} repeats row {seen[value['code']]}"))
        seen.setdefault(value["code"], number)
        kind = _enum(ProjectKind, value["kind"], "kind", number, errors)
        sector = _enum(Sector, value["sector"], "sector", number, errors)
        status = _enum(ProjectStatus, value["status"], "status", number, errors)
        expected = _number(value["expected_t_co2e_per_year"], "expected_t_co2e_per_year", number, errors)
        start = _date(value["start_date"], "start_date", number, errors)
        if len(errors) > before or kind is None or sector is None or status is None:
            continue
        projects.append(
            Project(
                value["code"],
                value["name_zh"],
                value["name_en"],
                kind,
                sector,
                status,
                expected,
                start,
                value["source"],
                value["note"],
            )
        )
    return tuple(projects), tuple(errors)


def parse_measurements_csv(
    text: str, known_codes: Iterable[str]
) -> tuple[tuple[Measurement, ...], tuple[RowError, ...]]:
    """Parse project measurements (:data:`MEASUREMENT_COLUMNS`); each must name a known project code.

    Avoided tonnes may be negative (a project that emitted more than its baseline reports that too).
    """
    codes = set(known_codes)
    rows, errors = _rows(text, MEASUREMENT_COLUMNS, frozenset())
    out: list[Measurement] = []
    seen: dict[tuple[str, date], int] = {}
    for number, value in rows:
        before = len(errors)
        errors += _field_errors(value, number, MEASUREMENT_COLUMNS)
        if len(errors) > before:
            continue
        if value["code"] not in codes:
            errors.append(RowError(number, "code", f"{value['code']!r} is not a project; import it first"))
        start = _date(value["period_start"], "period_start", number, errors)
        end = _date(value["period_end"], "period_end", number, errors)
        avoided = _number(value["avoided_t_co2e"], "avoided_t_co2e", number, errors, signed=True)
        if len(errors) == before and end < start:
            errors.append(RowError(number, "period_end", f"{end} is before period_start {start}"))
        key = (value["code"], start)
        if key in seen:
            errors.append(RowError(number, "period_start", f"repeats row {seen[key]} for the same project"))
        seen.setdefault(key, number)
        if len(errors) == before:
            out.append(Measurement(value["code"], start, end, avoided, value["method"], value["source"]))
    return tuple(out), tuple(errors)


# --- progress -----------------------------------------------------------------------------------------

COUNTED = frozenset({ProjectStatus.PLANNED, ProjectStatus.ACTIVE, ProjectStatus.COMPLETED})


def sector_progress(
    targets: Sequence[Target],
    measures: Mapping[str, Decimal],
    projects: Sequence[Project],
    measurements: Sequence[Measurement],
    year: int,
) -> tuple[SectorProgress, ...]:
    """Per sector: its target, the measured value of the target's measure and the way travelled.

    ``measures`` holds the values measured from data for the year (e.g. ``residential_t_per_household``
    from the metered footprint); the edge computes them. ``reported_avoided_t`` (the sum of the sector's
    project measurements whose period ends in ``year``) is also available to targets as
    ``reported_avoided_t:<sector>``. Progress = (measured − base) / (target − base): 0 at the base, 1 at
    the target, beyond 1 when exceeded, negative when moving away.
    """
    out: list[SectorProgress] = []
    by_code = {p.code: p for p in projects}
    for sector in Sector:
        mine = [p for p in projects if p.sector is sector]
        reported = sum(
            (
                m.avoided_t
                for m in measurements
                if m.period_end.year == year and m.code in by_code and by_code[m.code].sector is sector
            ),
            Decimal(0),
        )
        values = dict(measures)
        values[f"reported_avoided_t:{sector}"] = reported
        target = next((t for t in targets if t.sector is sector), None)
        measured = None if target is None else values.get(target.measure)
        progress: Decimal | None = None
        if target is None:
            why = "no target for this sector"
        elif measured is None:
            why = f"no data yet for measure {target.measure!r} in {year}"
        elif target.target_value == target.base_value:
            why = "target equals base value: progress is not defined"
        else:
            progress = (measured - target.base_value) / (target.target_value - target.base_value)
            why = (
                f"({measured} - {target.base_value}) / ({target.target_value} - {target.base_value}) "
                f"{target.unit}, base {target.base_year}, target {target.target_year}"
            )
        out.append(
            SectorProgress(
                sector=sector,
                target=target,
                measured=measured,
                progress=progress,
                projects=len(mine),
                active_projects=sum(1 for p in mine if p.status is ProjectStatus.ACTIVE),
                expected_t_per_year=sum(
                    (p.expected_t_per_year for p in mine if p.status in COUNTED), Decimal(0)
                ),
                reported_t=reported,
                explanation=why,
            )
        )
    return tuple(out)
