"""Insight alerts and saving tips under /api/v1: residents see and acknowledge their own household's alerts
and get their ranked tips; operators list the community's alerts with filters, acknowledge and resolve them.

A resident sees the alerts addressed to residents (their leak, unusual use) of their own household; any
other alert, including another household's, is 404. An operator reaches only their own community's
alerts. Texts come in the caller's language from ``data/insights/messages.toml``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from tanhui.domain.ids import CommunityId, HouseholdId
from tanhui.domain.roles import Role
from tanhui.insights.findings import FindingKind
from tanhui.insights.messages import MessageCatalogue, catalogue_from_toml
from tanhui.insights.tips import HouseholdProfile, rank_tips
from tanhui.jobs.insights import household_profiles, load_tips
from tanhui.settings import Settings
from tanhui.store import alerts
from tanhui.store.users import User
from tanhui.web.access import Allow, NotFound

router = APIRouter(prefix="/api/v1", tags=["insights"])

# Ids are 32-bit integer columns: anything outside is no alert (and must not reach the database driver).
_MAX_ID = 2**31 - 1
AlertId = Annotated[int, Path(ge=1, le=_MAX_ID)]

Resident = Annotated[User, Depends(Allow(Role.RESIDENT))]
ResidentOrOperator = Annotated[User, Depends(Allow(Role.RESIDENT, Role.OPERATOR))]
Operator = Annotated[User, Depends(Allow(Role.OPERATOR))]

_REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"description": "not signed in"},
    403: {"description": "your role may not do this"},
    404: {"description": "no such alert for you"},
}


class AlertOut(BaseModel):
    id: int
    kind: FindingKind
    severity: str
    audience: Literal["resident", "operator"]
    status: Literal["open", "resolved"]
    household_id: int | None
    meter_serial: str
    started_at: int = Field(description="epoch seconds when the evidence says it began")
    detected_at: int
    last_seen: int
    occurrences: int
    evidence: dict[str, Any]
    acknowledged_by: int | None
    acknowledged_at: int | None
    resolved_by: int | None
    resolved_at: int | None
    resolution: str | None
    title: str
    message: str


class ResolveIn(BaseModel):
    resolution: str = Field(min_length=1, max_length=2000, description="what was found and done")


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _now(request: Request) -> int:
    return int(request.app.state.clock().timestamp())


def _messages(request: Request) -> MessageCatalogue:
    cached = getattr(request.app.state, "insight_messages", None)
    if isinstance(cached, MessageCatalogue):
        return cached
    settings: Settings = request.app.state.settings
    loaded = catalogue_from_toml(
        (settings.data_dir / "insights" / "messages.toml").read_text(encoding="utf-8")
    )
    request.app.state.insight_messages = loaded
    return loaded


def _out(alert: alerts.Alert, messages: MessageCatalogue, locale: str) -> AlertOut:
    text = messages.render(alert.kind, locale, alert.evidence)
    return AlertOut(
        id=alert.id,
        kind=alert.kind,
        severity=alert.severity,
        audience="resident" if alert.audience == "resident" else "operator",
        status="open" if alert.status == "open" else "resolved",
        household_id=alert.household_id,
        meter_serial=alert.meter_serial,
        started_at=alert.started_at,
        detected_at=alert.detected_at,
        last_seen=alert.last_seen,
        occurrences=alert.occurrences,
        evidence=alert.evidence,
        acknowledged_by=alert.acknowledged_by,
        acknowledged_at=alert.acknowledged_at,
        resolved_by=alert.resolved_by,
        resolved_at=alert.resolved_at,
        resolution=alert.resolution,
        title=text.title,
        message=text.body,
    )


def _visible(alert: alerts.Alert | None, user: User) -> alerts.Alert:
    """The alert if ``user`` may see it; 404 otherwise (whether or not it exists)."""
    if alert is None or alert.community_id != user.community_id:
        raise NotFound()
    if user.role is Role.RESIDENT and (
        alert.household_id != user.household_id or alert.audience != "resident"
    ):
        raise NotFound()
    return alert


class TipOut(BaseModel):
    id: str
    quantity: str
    title: str
    body: str
    expected_per_year: float = Field(description="expected saving per year, in unit")
    unit: str
    expected_kg_co2e_per_year: float
    mechanism: str
    source: str


def _profiles(request: Request, community_id: CommunityId, now: int) -> dict[HouseholdId, HouseholdProfile]:
    # The community's profiles change slowly (four weeks of history): computed once per community and day.
    cache: dict[tuple[int, int], dict[HouseholdId, HouseholdProfile]] | None = getattr(
        request.app.state, "insight_profiles", None
    )
    if cache is None:
        cache = {}
        request.app.state.insight_profiles = cache
    key = (community_id, now // 86_400)
    if key not in cache:
        with _engine(request).connect() as conn:
            cache.clear()
            cache[key] = household_profiles(conn, community_id, now=now)
    return cache[key]


@router.get("/tips/mine", responses=_REFUSALS)
def my_tips(request: Request, user: Resident) -> list[TipOut]:
    """Saving tips for the signed-in resident's household, largest expected CO₂ saving first (empty until
    four weeks of readings from all its meters exist)."""
    if user.household_id is None:
        return []
    profiles = _profiles(request, user.community_id, _now(request))
    own = profiles.get(user.household_id)
    if own is None:
        return []
    settings: Settings = request.app.state.settings
    ranked = rank_tips(own, list(profiles.values()), load_tips(settings.data_dir))
    return [TipOut.model_validate(tip.as_json(user.locale)) for tip in ranked]


@router.get("/alerts/mine", responses=_REFUSALS)
def my_alerts(request: Request, user: Resident) -> list[AlertOut]:
    """The signed-in resident's household alerts (leaks, unusual use), newest first."""
    if user.household_id is None:
        return []
    messages = _messages(request)
    with _engine(request).connect() as conn:
        found = alerts.list_alerts(
            conn, user.community_id, household_id=user.household_id, audience="resident"
        )
    return [_out(a, messages, user.locale) for a in found]


@router.get("/alerts", responses=_REFUSALS)
def community_alerts(
    request: Request,
    user: Operator,
    status: Annotated[Literal["open", "resolved"] | None, Query()] = None,
    kind: Annotated[FindingKind | None, Query()] = None,
    audience: Annotated[Literal["resident", "operator"] | None, Query()] = None,
    household_id: Annotated[int | None, Query(ge=1, le=_MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[AlertOut]:
    """The operator's community alerts, newest first, filtered by status, kind, audience or household."""
    messages = _messages(request)
    with _engine(request).connect() as conn:
        found = alerts.list_alerts(
            conn,
            user.community_id,
            status=status,
            kind=kind,
            audience=audience,
            household_id=None if household_id is None else HouseholdId(household_id),
            limit=limit,
        )
    return [_out(a, messages, user.locale) for a in found]


@router.post("/alerts/{alert_id}/acknowledge", responses=_REFUSALS)
def acknowledge_alert(request: Request, alert_id: AlertId, user: ResidentOrOperator) -> AlertOut:
    """Say you have seen the alert (a resident: only their own household's)."""
    with _engine(request).begin() as conn:
        _visible(alerts.get(conn, alert_id), user)
        updated = alerts.acknowledge(conn, alert_id, user_id=user.id, now=_now(request))
    return _out(updated, _messages(request), user.locale)


@router.post("/alerts/{alert_id}/resolve", responses={**_REFUSALS, 409: {"description": "already resolved"}})
def resolve_alert(request: Request, alert_id: AlertId, body: ResolveIn, user: Operator) -> AlertOut:
    """Close the alert with what was done; a held meter's readings count for points again."""
    with _engine(request).begin() as conn:
        _visible(alerts.get(conn, alert_id), user)
        try:
            updated = alerts.resolve(
                conn, alert_id, user_id=user.id, now=_now(request), resolution=body.resolution
            )
        except alerts.AlertStateError as exc:
            raise HTTPException(409, detail={"code": exc.code, "message": exc.message}) from None
    return _out(updated, _messages(request), user.locale)
