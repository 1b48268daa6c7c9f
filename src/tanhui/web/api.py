"""The JSON API under /api/v1 (OpenAPI at /api/openapi.json)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from tanhui.domain.ids import CommunityId
from tanhui.domain.quantity import Quantity
from tanhui.ingest import actions
from tanhui.ingest.pipeline import Ingestor
from tanhui.settings import Settings
from tanhui.store import quarantine, registry
from tanhui.web import account, tokens
from tanhui.web.access import (
    API_PURPOSE,
    PUBLIC,
    AuthenticatedGateway,
    NotAuthenticated,
    Operator,
    ResidentOrOperator,
    RowId,
)
from tanhui.web.signin import authenticate

router = APIRouter(prefix="/api/v1")


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int


class Me(BaseModel):
    id: int
    username: str
    role: str
    household_id: int | None
    community_id: int
    locale: str


class DayOut(BaseModel):
    day: date
    electricity_kwh: str = Field(description="decimal string")
    water_m3: str
    gas_m3: str
    kg_co2e: str
    kg_co2e_by_quantity: dict[str, str]


class AccountOut(BaseModel):
    household_id: int
    factor_set: str
    total_kg_co2e: str
    days: list[DayOut]


class CommunityOut(BaseModel):
    community_id: int
    factor_set: str
    households: int
    readings: int
    quarantined: dict[str, int]
    total_kg_co2e: str
    days: list[DayOut]


class IngestOut(BaseModel):
    stored: int
    duplicates: int
    quarantined: int
    reasons: dict[str, int]


def _day_out(day: account.AccountDay) -> DayOut:
    return DayOut(
        day=day.day,
        electricity_kwh=str(day.amounts.get(Quantity.ELECTRICITY, 0)),
        water_m3=str(day.amounts.get(Quantity.WATER, 0)),
        gas_m3=str(day.amounts.get(Quantity.GAS, 0)),
        kg_co2e=str(day.kg_co2e),
        kg_co2e_by_quantity={k.value: str(v) for k, v in day.kg_by_kind.items()},
    )


def _community_factor_set(request: Request, community_id: int) -> str:
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        return registry.get_community(conn, CommunityId(community_id)).factor_set_id


@router.post(
    "/auth/token",
    dependencies=[Depends(PUBLIC)],
    responses={401: {"description": "bad credentials"}, 429: {"description": "too many failed attempts"}},
)
def issue_token(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    """OAuth2 password flow: a username and password for a bearer token."""
    state = request.app.state
    settings: Settings = state.settings
    user = authenticate(request, form.username, form.password)
    if user is None:
        raise NotAuthenticated()
    expires = int(state.clock().timestamp()) + settings.token_ttl_seconds
    return Token(
        access_token=tokens.sign(API_PURPOSE, user.id, expires, settings.secret_key),
        expires_in=settings.token_ttl_seconds,
    )


@router.get("/me", responses={401: {"description": "not signed in"}})
def me(user: ResidentOrOperator) -> Me:
    """The caller: who they are, their role and their household."""
    return Me(
        id=user.id,
        username=user.username,
        role=user.role.value,
        household_id=user.household_id,
        community_id=user.community_id,
        locale=user.locale,
    )


@router.get(
    "/households/{household_id}/account",
    responses={401: {"description": "not signed in"}, 404: {"description": "no such household for you"}},
)
def household_account(request: Request, household_id: RowId, user: ResidentOrOperator) -> AccountOut:
    """A household's daily footprint. Residents reach only their own household (others: 404)."""
    engine: Engine = request.app.state.engine
    factor_set = _community_factor_set(request, user.community_id)
    with engine.connect() as conn:
        view = account.household_account(conn, user, household_id, factor_set)
    return AccountOut(
        household_id=view.household_id,
        factor_set=factor_set,
        total_kg_co2e=str(view.total_kg),
        days=[_day_out(d) for d in view.days],
    )


@router.get(
    "/community", responses={401: {"description": "not signed in"}, 403: {"description": "operators only"}}
)
def community(request: Request, user: Operator) -> CommunityOut:
    """The operator's community: households, readings, quarantine and daily totals."""
    engine: Engine = request.app.state.engine
    factor_set = _community_factor_set(request, user.community_id)
    with engine.connect() as conn:
        view = account.community_overview(conn, user.community_id, factor_set)
    return CommunityOut(
        community_id=view.community_id,
        factor_set=factor_set,
        households=view.households,
        readings=view.readings,
        quarantined=view.quarantined,
        total_kg_co2e=str(view.total_kg),
        days=[_day_out(d) for d in view.days],
    )


@router.post("/ingest", responses={401: {"description": "unknown gateway token"}})
async def ingest(request: Request, gateway: AuthenticatedGateway) -> IngestOut:
    """Gateways post one envelope (JSON, Tanhui envelope v1) per request; see docs/gateways.md."""
    payload = await request.body()
    ingestor: Ingestor = request.app.state.ingestor
    # The pipeline does blocking database work; run it off the event loop.
    result = await run_in_threadpool(ingestor.ingest, payload, gateway=gateway, transport="http")
    return IngestOut(
        stored=result.stored,
        duplicates=result.duplicates,
        quarantined=result.quarantined,
        reasons=result.reasons,
    )


class QuarantineOut(BaseModel):
    id: int
    received_at: datetime
    transport: str
    reason: str
    message: str
    meter: str | None
    status: str
    raw: str = Field(description="the rejected bytes: UTF-8 text when they are, else hex")
    raw_encoding: str


class ReplayOut(BaseModel):
    id: int
    accepted: bool
    stored: int
    duplicates: int
    reasons: list[str]
    messages: list[str]


class DiscardIn(BaseModel):
    note: str = Field(min_length=1, max_length=500)


class MeterIn(BaseModel):
    serial: str = Field(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z_-]+$")
    kind: Quantity
    household: str = Field(min_length=1, max_length=64, description="household code")
    protocol: str = Field(pattern=r"^(json|dlt645|cjt188|dsmr)$")
    resolution: Decimal = Field(gt=0)
    capacity: int = Field(gt=0, description="register counts at which it wraps")
    installed_on: date
    gateway: str | None = None


class MeterOut(BaseModel):
    id: int
    serial: str


def _raw_text(raw: bytes) -> tuple[str, str]:
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return raw.hex(), "hex"


@router.get(
    "/quarantine", responses={401: {"description": "not signed in"}, 403: {"description": "operators only"}}
)
def list_quarantine(
    request: Request,
    user: Operator,
    reason: str | None = None,
    status: Literal["open", "replayed", "discarded"] | None = "open",
    meter: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[QuarantineOut]:
    """Quarantined payloads and readings of the operator's community, newest first."""
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        found = quarantine.entries(
            conn,
            user.community_id,
            reason=reason,
            status=status,
            meter_serial=meter,
            limit=limit,
            offset=offset,
        )
    out = []
    for e in found:
        text, encoding = _raw_text(e.raw)
        out.append(
            QuarantineOut(
                id=e.id,
                received_at=datetime.fromtimestamp(e.received_at, UTC),
                transport=e.transport,
                reason=e.reason,
                message=e.message,
                meter=e.meter_serial,
                status=e.status,
                raw=text,
                raw_encoding=encoding,
            )
        )
    return out


_ACTION_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "not signed in"},
    403: {"description": "operators only"},
    404: {"description": "no such entry"},
    409: {"description": "not open any more"},
}


@router.post("/quarantine/{entry_id}/replay", responses=_ACTION_ERRORS)
def replay_quarantined(request: Request, entry_id: RowId, user: Operator) -> ReplayOut:
    """Run an entry through the checks again (after a fix); it closes as replayed when it passes."""
    outcome = actions.replay(
        request.app.state.engine,
        request.app.state.ingestor,
        user.community_id,
        entry_id,
        operator=user.username,
    )
    return ReplayOut(
        id=outcome.entry_id,
        accepted=outcome.accepted,
        stored=outcome.stored,
        duplicates=outcome.duplicates,
        reasons=list(outcome.reasons),
        messages=list(outcome.messages),
    )


@router.post("/quarantine/{entry_id}/discard", status_code=204, responses=_ACTION_ERRORS)
def discard_quarantined(request: Request, entry_id: RowId, body: DiscardIn, user: Operator) -> None:
    """Close an entry without storing it; the note says why."""
    actions.discard(
        request.app.state.engine, user.community_id, entry_id, operator=user.username, note=body.note
    )


@router.post("/meters", status_code=201, responses=_ACTION_ERRORS)
def register_meter(request: Request, body: MeterIn, user: Operator) -> MeterOut:
    """Register a meter for a household of the operator's community."""
    meter_id = actions.register_meter(
        request.app.state.engine,
        user.community_id,
        operator=user.username,
        serial=body.serial,
        kind=body.kind,
        household_code=body.household,
        protocol=body.protocol,
        resolution=body.resolution,
        capacity=body.capacity,
        installed_on=body.installed_on,
        gateway_name=body.gateway,
    )
    request.app.state.ingestor.forget_meters()
    return MeterOut(id=meter_id, serial=body.serial)


class ReplaceIn(BaseModel):
    replaced_on: date
    new_serial: str | None = Field(default=None, min_length=1, max_length=96, pattern=r"^[0-9A-Za-z_-]+$")
    resolution: Decimal | None = Field(default=None, gt=0)
    capacity: int | None = Field(default=None, gt=0)
    protocol: str | None = Field(default=None, pattern=r"^(json|dlt645|cjt188|dsmr)$")


@router.post("/meters/{serial}/replace", status_code=201, responses=_ACTION_ERRORS)
def replace_meter(request: Request, serial: str, body: ReplaceIn, user: Operator) -> MeterOut:
    """Replace a meter: the old one is removed that day and the new one starts from its own register."""
    meter_id = actions.replace_meter(
        request.app.state.engine,
        user.community_id,
        operator=user.username,
        serial=serial,
        replaced_on=body.replaced_on,
        new_serial=body.new_serial,
        resolution=body.resolution,
        capacity=body.capacity,
        protocol=body.protocol,
    )
    request.app.state.ingestor.forget_meters()
    return MeterOut(id=meter_id, serial=body.new_serial or serial)
