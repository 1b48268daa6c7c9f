"""Onboarding by CSV: households, meters and gateways checked row by row, then stored all at once or not
at all; and the gateway credentials operators issue and rotate.

The CSV has one row per meter (a row with an empty ``meter`` registers a household alone). Households and
gateways named in it are created when the community does not have them yet, and reused when it does::

    household,persons,enrolled_on,meter,kind,protocol,resolution,capacity,installed_on,gateway
    BT-0001,3,2026-11-01,110000000001,electricity,dlt645,0.01,100000000,2026-11-01,gw-bt-01

A refused import stores nothing but its validation report (``onboarding_imports``), so operators can
see what was tried; an applied one also appends an ``operator_actions`` row in the same transaction.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy import Connection, Engine, func, insert, select, update

from tanhui.domain import mosquitto_password
from tanhui.domain.ids import CommunityId, GatewayId, HouseholdId, UserId
from tanhui.domain.quantity import Quantity
from tanhui.meters.protocols import PROTOCOLS
from tanhui.store import operator_log, registry
from tanhui.store.schema import gateways, households, meters, onboarding_imports

COLUMNS = (
    "household",
    "persons",
    "enrolled_on",
    "meter",
    "kind",
    "protocol",
    "resolution",
    "capacity",
    "installed_on",
    "gateway",
)
REQUIRED_COLUMNS = ("household", "persons")
# A county's worth of meters in a few files (Baoting: ~55k households, docs/architecture.md); a bound on
# the work and memory one upload may ask for.
MAX_ROWS = 50_000
# The most people the registry accepts in one household; larger rows are more likely a typo.
MAX_PERSONS = 30
_CODE = re.compile(r"^[0-9A-Za-z_-]{1,64}$")
_SERIAL = re.compile(r"^[0-9A-Za-z_-]{1,96}$")
_GATEWAY = re.compile(r"^[0-9A-Za-z_.-]{1,100}$")


@dataclass(frozen=True, slots=True)
class RowError:
    """One broken rule: ``row`` is the line number in the file (the header is line 1)."""

    row: int
    column: str
    code: str
    value: str


@dataclass(frozen=True, slots=True)
class _MeterRow:
    serial: str
    kind: Quantity
    protocol: str
    resolution: Decimal
    capacity: int
    installed_on: date
    gateway: str | None


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    household: str
    persons: int
    enrolled_on: date | None
    meter: _MeterRow | None


@dataclass(slots=True)
class ImportReport:
    """What an import did, or why it did nothing."""

    rows: int
    errors: list[RowError] = field(default_factory=list)
    households_created: list[str] = field(default_factory=list)
    meters_created: list[str] = field(default_factory=list)
    gateway_tokens: dict[str, str] = field(default_factory=dict)
    import_id: int | None = None

    @property
    def applied(self) -> bool:
        return not self.errors


def _text(raw: dict[str, str | None], column: str) -> str:
    value = raw.get(column)
    return value.strip() if isinstance(value, str) else ""


def _parse_row(line: int, raw: dict[str, str | None], errors: list[RowError]) -> _Row | None:
    before = len(errors)

    def fail(column: str, code: str) -> None:
        errors.append(RowError(line, column, code, _text(raw, column)[:100]))

    household = _text(raw, "household")
    if not household:
        fail("household", "required")
    elif not _CODE.match(household):
        fail("household", "bad_code")
    persons = _integer(raw, "persons", fail)
    if persons is not None and not 1 <= persons <= MAX_PERSONS:
        fail("persons", "out_of_range")
    enrolled_on = _date(raw, "enrolled_on", fail, required=False)
    meter: _MeterRow | None = None
    if _text(raw, "meter"):
        meter = _parse_meter(raw, fail)
    else:
        for column in ("kind", "resolution", "capacity", "installed_on", "gateway"):
            if _text(raw, column):
                fail(column, "needs_meter")
    if len(errors) != before or persons is None:
        return None
    return _Row(line, household, persons, enrolled_on, meter)


def _parse_meter(raw: dict[str, str | None], fail: Callable[[str, str], None]) -> _MeterRow | None:
    ok = True

    def broken(column: str, code: str) -> None:
        nonlocal ok
        ok = False
        fail(column, code)

    serial = _text(raw, "meter")
    if not _SERIAL.match(serial):
        broken("meter", "bad_serial")
    kind_text = _text(raw, "kind")
    kind = Quantity(kind_text) if kind_text in {q.value for q in Quantity} else None
    if kind is None:
        broken("kind", "required" if not kind_text else "bad_kind")
    protocol = _text(raw, "protocol") or "json"
    if protocol not in PROTOCOLS:
        broken("protocol", "bad_protocol")
    resolution: Decimal | None = None
    try:
        resolution = Decimal(_text(raw, "resolution"))
    except InvalidOperation:
        broken("resolution", "required" if not _text(raw, "resolution") else "bad_decimal")
    if resolution is not None and (not resolution.is_finite() or resolution <= 0):
        broken("resolution", "not_positive")
    capacity = _integer(raw, "capacity", broken)
    if capacity is not None and capacity <= 0:
        broken("capacity", "not_positive")
    installed_on = _date(raw, "installed_on", broken, required=True)
    gateway = _text(raw, "gateway") or None
    if gateway is not None and not _GATEWAY.match(gateway):
        broken("gateway", "bad_gateway")
    if not ok or kind is None or resolution is None or capacity is None or installed_on is None:
        return None
    return _MeterRow(serial, kind, protocol, resolution, capacity, installed_on, gateway)


def _integer(raw: dict[str, str | None], column: str, fail: Callable[[str, str], None]) -> int | None:
    text = _text(raw, column)
    try:
        return int(text)
    except ValueError:
        fail(column, "required" if not text else "bad_integer")
        return None


def _date(
    raw: dict[str, str | None], column: str, fail: Callable[[str, str], None], *, required: bool
) -> date | None:
    text = _text(raw, column)
    if not text:
        if required:
            fail(column, "required")
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(column, "bad_date")
        return None


def parse(data: bytes) -> tuple[list[_Row], list[RowError], int]:
    """The rows of ``data`` that pass the per-row rules, every broken rule, and the number of data rows."""
    errors: list[RowError] = []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [RowError(1, "", "not_utf8", "")], 0
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        return [], [RowError(1, "", "empty", "")], 0
    reader.fieldnames = header
    for column in REQUIRED_COLUMNS:
        if column not in header:
            errors.append(RowError(1, column, "missing_column", ""))
    for column in header:
        if column not in COLUMNS:
            errors.append(RowError(1, column, "unknown_column", column[:100]))
    if errors:
        return [], errors, 0
    rows: list[_Row] = []
    count = 0
    for raw in reader:
        count += 1
        if count > MAX_ROWS:
            return [], [RowError(reader.line_num, "", "too_many_rows", str(MAX_ROWS))], count
        if not any((v or "").strip() for v in raw.values() if isinstance(v, str)):
            count -= 1  # a blank line is no row
            continue
        if None in raw:
            errors.append(RowError(reader.line_num, "", "extra_cells", ""))
            continue
        parsed = _parse_row(reader.line_num, raw, errors)
        if parsed is not None:
            rows.append(parsed)
    return rows, errors, count


def _check_against_registry(conn: Connection, community_id: CommunityId, rows: list[_Row]) -> list[RowError]:
    """Rules across rows and against what the community already has."""
    errors: list[RowError] = []
    persons_seen: dict[str, int] = {}
    meters_seen: dict[str, int] = {}
    gateways_ok: dict[str, bool] = {}
    for row in rows:
        first = persons_seen.setdefault(row.household, row.persons)
        if first != row.persons:
            errors.append(RowError(row.line, "persons", "conflicting_persons", str(row.persons)))
        existing = registry.household_by_code(conn, community_id, row.household)
        if existing is not None:
            size = conn.execute(select(households.c.persons).where(households.c.id == existing)).scalar_one()
            if int(size) != row.persons:
                errors.append(RowError(row.line, "persons", "household_differs", str(row.persons)))
        meter = row.meter
        if meter is None:
            continue
        if meter.serial in meters_seen:
            errors.append(RowError(row.line, "meter", "duplicate_meter", meter.serial))
        meters_seen.setdefault(meter.serial, row.line)
        if registry.meter_by_serial(conn, community_id, meter.serial) is not None:
            errors.append(RowError(row.line, "meter", "meter_exists", meter.serial))
        if meter.gateway is not None:
            if meter.gateway not in gateways_ok:
                found = registry.gateway_by_name(conn, meter.gateway)
                gateways_ok[meter.gateway] = found is None or found.community_id == community_id
            if not gateways_ok[meter.gateway]:
                errors.append(RowError(row.line, "gateway", "gateway_elsewhere", meter.gateway))
    return errors


def import_csv(
    engine: Engine,
    community_id: CommunityId,
    data: bytes,
    *,
    filename: str,
    actor: str,
    user_id: UserId | None,
    now: int,
) -> ImportReport:
    """Check ``data`` and, when every row passes, store it in one transaction; else store nothing.

    Either way the attempt and its report are recorded in ``onboarding_imports``.
    """
    rows, errors, count = parse(data)
    report = ImportReport(rows=count, errors=errors)
    if not errors and count == 0:
        report.errors.append(RowError(1, "", "no_rows", ""))
    with engine.begin() as conn:
        if not report.errors:
            report.errors.extend(_check_against_registry(conn, community_id, rows))
        if not report.errors:
            _apply(conn, community_id, rows, report, now=now)
        report.errors.sort(key=lambda e: (e.row, COLUMNS.index(e.column) if e.column in COLUMNS else -1))
        report.import_id = int(
            conn.execute(
                insert(onboarding_imports)
                .returning(onboarding_imports.c.id)
                .values(
                    community_id=community_id,
                    actor=actor,
                    filename=filename[:200],
                    sha256=hashlib.sha256(data).hexdigest(),
                    rows=count,
                    applied=report.applied,
                    households_created=len(report.households_created),
                    meters_created=len(report.meters_created),
                    gateways_created=len(report.gateway_tokens),
                    errors=json.dumps(
                        [
                            {"row": e.row, "column": e.column, "code": e.code, "value": e.value}
                            for e in report.errors
                        ],
                        ensure_ascii=False,
                    ),
                    at=now,
                )
            ).scalar_one()
        )
        operator_log.record(
            conn,
            community_id=community_id,
            user_id=user_id,
            actor=actor,
            action="onboarding.import" if report.applied else "onboarding.import_refused",
            target=filename[:200],
            now=now,
            detail={
                "import": report.import_id,
                "rows": count,
                "errors": len(report.errors),
                "households": len(report.households_created),
                "meters": len(report.meters_created),
                "gateways": sorted(report.gateway_tokens),
            },
        )
    return report


def _apply(
    conn: Connection, community_id: CommunityId, rows: list[_Row], report: ImportReport, *, now: int
) -> None:
    household_ids: dict[str, HouseholdId] = {}
    gateway_ids: dict[str, GatewayId] = {}
    for row in rows:
        household = household_ids.get(row.household)
        if household is None:
            household = registry.household_by_code(conn, community_id, row.household)
            if household is None:
                household = registry.create_household(
                    conn,
                    community_id=community_id,
                    code=row.household,
                    persons=row.persons,
                    enrolled_on=row.enrolled_on,
                    now=now,
                )
                report.households_created.append(row.household)
            household_ids[row.household] = household
        meter = row.meter
        if meter is None:
            continue
        gateway_id: GatewayId | None = None
        if meter.gateway is not None:
            gateway_id = gateway_ids.get(meter.gateway)
            if gateway_id is None:
                found = registry.gateway_by_name(conn, meter.gateway)
                if found is None:
                    gateway_id, token = registry.create_gateway(
                        conn, community_id=community_id, name=meter.gateway, now=now
                    )
                    report.gateway_tokens[meter.gateway] = token
                else:
                    gateway_id = found.id
                gateway_ids[meter.gateway] = gateway_id
        registry.create_meter(
            conn,
            community_id=community_id,
            household_id=household,
            gateway_id=gateway_id,
            serial=meter.serial,
            kind=meter.kind,
            protocol=meter.protocol,
            resolution=meter.resolution,
            capacity=meter.capacity,
            installed_on=meter.installed_on,
        )
        report.meters_created.append(meter.serial)


@dataclass(frozen=True, slots=True)
class GatewayRow:
    id: GatewayId
    name: str
    created_at: int
    last_seq: int | None
    meters: int
    broker_ready: bool


def gateways_of(conn: Connection, community_id: CommunityId) -> list[GatewayRow]:
    """The community's gateways by name, with how many meters each forwards."""
    counts = (
        select(meters.c.gateway_id, func.count().label("n"))
        .where(meters.c.removed_on.is_(None))
        .group_by(meters.c.gateway_id)
        .subquery()
    )
    rows = conn.execute(
        select(gateways, func.coalesce(counts.c.n, 0).label("n"))
        .select_from(gateways.outerjoin(counts, counts.c.gateway_id == gateways.c.id))
        .where(gateways.c.community_id == community_id)
        .order_by(gateways.c.name)
    )
    return [
        GatewayRow(
            GatewayId(r.id), r.name, int(r.created_at), r.last_seq, int(r.n), r.mqtt_password_hash is not None
        )
        for r in rows
    ]


def rotate_token(conn: Connection, community_id: CommunityId, gateway_id: int) -> str | None:
    """Give a gateway of the community a new token (HTTP bearer and MQTT password); None if no such gateway.

    The old token stops working at once; the new one is returned to be shown once and never stored.
    """
    token = secrets.token_urlsafe(32)
    mqtt_hash = mosquitto_password.password_hash(token, secrets.token_bytes(mosquitto_password.SALT_BYTES))
    done = conn.execute(
        update(gateways)
        .where(gateways.c.id == gateway_id, gateways.c.community_id == community_id)
        .values(token_sha256=registry.token_digest(token), mqtt_password_hash=mqtt_hash)
    )
    return token if done.rowcount == 1 else None
