"""Insight alerts: detector findings turned into deduplicated alerts with acknowledgement and resolution.

At most one open alert per meter and kind (a partial unique index enforces it, so two job runs racing
cannot both insert): a repeated finding updates ``last_seen`` and ``occurrences``. An alert is acknowledged
(someone has seen it: who and when) and, separately, resolved (it is over: who, when, how). A finding that
was already seen before the last resolution of its meter and kind does not reopen it.

:func:`held_meters` is what points issuance consults: a meter with an open *fault* alert (stuck, flat zero,
sudden drop, reverse flow, clock jump) has readings that cannot be trusted, so they earn no points until an
operator resolves the alert. Leaks and unusual use are the household's consumption, not the meter's fault,
and hold nothing back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from tanhui.domain.errors import TanhuiError
from tanhui.domain.ids import CommunityId, HouseholdId, MeterId, UserId
from tanhui.insights.findings import Finding, FindingKind
from tanhui.store.schema import insight_alerts, meters

__all__ = [
    "Alert",
    "AlertNotFoundError",
    "AlertStateError",
    "acknowledge",
    "audience_of",
    "get",
    "held_meters",
    "list_alerts",
    "record_finding",
    "resolve",
]


class AlertNotFoundError(TanhuiError):
    code = "alert_not_found"


class AlertStateError(TanhuiError):
    code = "alert_state"


@dataclass(frozen=True, slots=True)
class Alert:
    id: int
    community_id: CommunityId
    household_id: HouseholdId | None
    meter_id: MeterId
    meter_serial: str
    kind: FindingKind
    severity: str
    audience: str
    status: str
    started_at: int
    detected_at: int
    last_seen: int
    occurrences: int
    evidence: dict[str, Any]
    acknowledged_by: UserId | None
    acknowledged_at: int | None
    resolved_by: UserId | None
    resolved_at: int | None
    resolution: str | None


def audience_of(kind: FindingKind) -> str:
    """Residents hear about their own consumption (leaks, unusual use); operators about meter faults."""
    return "operator" if kind.is_meter_fault else "resident"


def record_finding(
    conn: Connection,
    *,
    community_id: CommunityId,
    household_id: HouseholdId | None,
    meter_id: MeterId,
    finding: Finding,
    now: int,
) -> tuple[int, bool] | None:
    """Open an alert for ``finding`` or refresh the open one of its meter and kind.

    Returns ``(alert id, created)``, or None when the finding predates the last resolution of the same
    meter and kind (the episode an operator already closed).
    """
    kind = finding.kind.value
    resolved = conn.execute(
        select(func.max(insight_alerts.c.resolved_at)).where(
            insight_alerts.c.meter_id == meter_id,
            insight_alerts.c.kind == kind,
            insight_alerts.c.status == "resolved",
        )
    ).scalar_one()
    if resolved is not None and finding.detected_at <= resolved:
        return None
    for _ in range(2):
        open_id = conn.execute(
            select(insight_alerts.c.id).where(
                insight_alerts.c.meter_id == meter_id,
                insight_alerts.c.kind == kind,
                insight_alerts.c.status == "open",
            )
        ).scalar_one_or_none()
        if open_id is not None:
            conn.execute(
                update(insight_alerts)
                .where(insight_alerts.c.id == open_id)
                .values(
                    last_seen=func.max(insight_alerts.c.last_seen, finding.detected_at)
                    if conn.dialect.name == "sqlite"
                    else func.greatest(insight_alerts.c.last_seen, finding.detected_at),
                    occurrences=insight_alerts.c.occurrences + 1,
                    evidence=json.dumps(finding.evidence, sort_keys=True),
                    severity=finding.severity.value,
                )
            )
            return int(open_id), False
        try:
            with conn.begin_nested():
                new_id = conn.execute(
                    insert(insight_alerts)
                    .returning(insight_alerts.c.id)
                    .values(
                        community_id=community_id,
                        household_id=household_id,
                        meter_id=meter_id,
                        kind=kind,
                        severity=finding.severity.value,
                        audience=audience_of(finding.kind),
                        status="open",
                        started_at=finding.start,
                        detected_at=finding.detected_at,
                        last_seen=finding.detected_at,
                        occurrences=1,
                        evidence=json.dumps(finding.evidence, sort_keys=True),
                        created_at=now,
                    )
                ).scalar_one()
            return int(new_id), True
        except IntegrityError:
            continue  # another run opened it between our select and insert: refresh that one
    raise AlertStateError(f"could not record {kind} on meter {meter_id}: the open alert keeps changing")


def _select() -> Any:
    return select(insight_alerts, meters.c.serial).join(meters, meters.c.id == insight_alerts.c.meter_id)


def _alert(row: Row[Any]) -> Alert:
    return Alert(
        id=int(row.id),
        community_id=CommunityId(row.community_id),
        household_id=None if row.household_id is None else HouseholdId(row.household_id),
        meter_id=MeterId(row.meter_id),
        meter_serial=row.serial,
        kind=FindingKind(row.kind),
        severity=row.severity,
        audience=row.audience,
        status=row.status,
        started_at=int(row.started_at),
        detected_at=int(row.detected_at),
        last_seen=int(row.last_seen),
        occurrences=int(row.occurrences),
        evidence=json.loads(row.evidence),
        acknowledged_by=None if row.acknowledged_by is None else UserId(row.acknowledged_by),
        acknowledged_at=row.acknowledged_at,
        resolved_by=None if row.resolved_by is None else UserId(row.resolved_by),
        resolved_at=row.resolved_at,
        resolution=row.resolution,
    )


def get(conn: Connection, alert_id: int) -> Alert | None:
    row = conn.execute(_select().where(insight_alerts.c.id == alert_id)).first()
    return None if row is None else _alert(row)


def list_alerts(
    conn: Connection,
    community_id: CommunityId,
    *,
    status: str | None = None,
    kind: FindingKind | None = None,
    audience: str | None = None,
    household_id: HouseholdId | None = None,
    limit: int = 500,
) -> list[Alert]:
    """A community's alerts, newest detection first, filtered by any of the arguments given."""
    query = _select().where(insight_alerts.c.community_id == community_id)
    if status is not None:
        query = query.where(insight_alerts.c.status == status)
    if kind is not None:
        query = query.where(insight_alerts.c.kind == kind.value)
    if audience is not None:
        query = query.where(insight_alerts.c.audience == audience)
    if household_id is not None:
        query = query.where(insight_alerts.c.household_id == household_id)
    query = query.order_by(insight_alerts.c.detected_at.desc(), insight_alerts.c.id.desc()).limit(limit)
    return [_alert(row) for row in conn.execute(query)]


def acknowledge(conn: Connection, alert_id: int, *, user_id: UserId, now: int) -> Alert:
    """Record that ``user_id`` has seen the alert; the first acknowledgement stands."""
    alert = get(conn, alert_id)
    if alert is None:
        raise AlertNotFoundError(f"no alert {alert_id}")
    if alert.acknowledged_at is None:
        conn.execute(
            update(insight_alerts)
            .where(insight_alerts.c.id == alert_id, insight_alerts.c.acknowledged_at.is_(None))
            .values(acknowledged_by=user_id, acknowledged_at=now)
        )
    found = get(conn, alert_id)
    assert found is not None  # noqa: S101 - read back in the same transaction
    return found


def resolve(conn: Connection, alert_id: int, *, user_id: UserId, now: int, resolution: str) -> Alert:
    """Close an open alert, saying how it was resolved (which releases a held meter)."""
    alert = get(conn, alert_id)
    if alert is None:
        raise AlertNotFoundError(f"no alert {alert_id}")
    if alert.status != "open":
        raise AlertStateError(f"alert {alert_id} is already {alert.status}; a new finding opens a new alert")
    if not resolution.strip():
        raise AlertStateError(f"alert {alert_id}: say how it was resolved (e.g. 'meter replaced')")
    conn.execute(
        update(insight_alerts)
        .where(insight_alerts.c.id == alert_id)
        .values(
            status="resolved",
            resolved_by=user_id,
            resolved_at=now,
            resolution=resolution.strip(),
            acknowledged_by=func.coalesce(insight_alerts.c.acknowledged_by, user_id),
            acknowledged_at=func.coalesce(insight_alerts.c.acknowledged_at, now),
        )
    )
    found = get(conn, alert_id)
    assert found is not None  # noqa: S101 - read back in the same transaction
    return found


def held_meters(conn: Connection, community_id: CommunityId) -> set[MeterId]:
    """Meters whose readings are held back from points: those with an open meter-fault alert."""
    faults = [kind.value for kind in FindingKind if kind.is_meter_fault]
    rows = conn.execute(
        select(insight_alerts.c.meter_id)
        .where(
            insight_alerts.c.community_id == community_id,
            insight_alerts.c.status == "open",
            insight_alerts.c.kind.in_(faults),
        )
        .distinct()
    )
    return {MeterId(row.meter_id) for row in rows}
