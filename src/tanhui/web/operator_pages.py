"""The operator's desk pages: CSV onboarding, gateway credentials, data health, quarantine, disputes and
the log of operator actions. Every write here appends an ``operator_actions`` row."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, File, Form, Path, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine

from tanhui.domain.ids import CommunityId
from tanhui.ingest import actions
from tanhui.ingest.pipeline import Ingestor
from tanhui.store import disputes, onboarding, operator_log, quarantine, registry
from tanhui.store.health import meter_health
from tanhui.store.readings import DAY
from tanhui.store.users import User
from tanhui.web.access import NotFound, Operator
from tanhui.web.pages import check_csrf, render

router = APIRouter(prefix="/operator", include_in_schema=False)

# The largest CSV an upload may carry: 50,000 rows of ~100 bytes (store.onboarding.MAX_ROWS) and room.
MAX_UPLOAD_BYTES = 8 * 1024 * 1024
# Health windows an operator can pick: a day, a week, a month.
HEALTH_WINDOWS = (1, 7, 30)
QUARANTINE_PAGE = 100
# Ids as the tables hold them (PostgreSQL integer and bigint): a larger number in a URL is a 422, not an
# overflow inside the driver.
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
BigRowId = Annotated[int, Path(ge=1, le=2**63 - 1)]
_NAME = re.compile(r"^[0-9A-Za-z_.-]{1,100}$")


def _now(request: Request) -> int:
    return int(request.app.state.clock().timestamp())


def _log(
    request: Request, user: User, action: str, target: str, detail: Mapping[str, object] | None = None
) -> None:
    engine: Engine = request.app.state.engine
    with engine.begin() as conn:
        operator_log.record(
            conn,
            community_id=user.community_id,
            user_id=user.id,
            actor=user.username,
            action=action,
            target=target,
            now=_now(request),
            detail=detail,
        )


def _csrf_refused(request: Request) -> Response:
    text = "CSRF check failed"
    return Response(text, status_code=400, media_type="text/plain; charset=utf-8")


# --- onboarding ---


@router.get("/onboarding", response_class=HTMLResponse)
def onboarding_page(request: Request, user: Operator) -> Response:
    return render(request, "onboarding.html", {"report": None, "columns": onboarding.COLUMNS})


@router.post("/onboarding", response_class=HTMLResponse)
async def onboarding_import(
    request: Request, user: Operator, csrf: Annotated[str, Form()], file: Annotated[UploadFile, File()]
) -> Response:
    if not check_csrf(request, csrf):
        return _csrf_refused(request)
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        report = onboarding.ImportReport(
            rows=0, errors=[onboarding.RowError(0, "", "too_large", str(MAX_UPLOAD_BYTES))]
        )
        return render(
            request, "onboarding.html", {"report": report, "columns": onboarding.COLUMNS}, status_code=413
        )
    report = onboarding.import_csv(
        request.app.state.engine,
        user.community_id,
        data,
        filename=file.filename or "upload.csv",
        actor=user.username,
        user_id=user.id,
        now=_now(request),
    )
    if report.applied:
        ingestor: Ingestor = request.app.state.ingestor
        ingestor.forget_meters()
    return render(
        request,
        "onboarding.html",
        {"report": report, "columns": onboarding.COLUMNS},
        status_code=200 if report.applied else 422,
    )


# --- gateways ---


def _gateways_page(
    request: Request, user: User, *, token: tuple[str, str] | None = None, error: str | None = None
) -> Response:
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        found = onboarding.gateways_of(conn, user.community_id)
    return render(
        request,
        "gateways.html",
        {"gateways": found, "token": token, "error": error},
        status_code=422 if error else 200,
    )


@router.get("/gateways", response_class=HTMLResponse)
def gateways_page(request: Request, user: Operator) -> Response:
    return _gateways_page(request, user)


@router.post("/gateways", response_class=HTMLResponse)
def create_gateway(
    request: Request, user: Operator, csrf: Annotated[str, Form()], name: Annotated[str, Form()] = ""
) -> Response:
    if not check_csrf(request, csrf):
        return _csrf_refused(request)
    name = name.strip()
    if not _NAME.match(name):
        return _gateways_page(request, user, error="name")
    engine: Engine = request.app.state.engine
    with engine.begin() as conn:
        if registry.gateway_by_name(conn, name) is not None:
            exists = True
        else:
            exists = False
            gateway_id, token = registry.create_gateway(
                conn, community_id=user.community_id, name=name, now=_now(request)
            )
            operator_log.record(
                conn,
                community_id=user.community_id,
                user_id=user.id,
                actor=user.username,
                action="gateway.create",
                target=name,
                now=_now(request),
                detail={"gateway": gateway_id},
            )
    if exists:
        return _gateways_page(request, user, error="exists")
    # The token is in this one response only: the store keeps its hashes, never the token itself.
    response = _gateways_page(request, user, token=(name, token))
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/gateways/{gateway_id}/rotate", response_class=HTMLResponse)
def rotate_gateway(
    request: Request, gateway_id: RowId, user: Operator, csrf: Annotated[str, Form()]
) -> Response:
    if not check_csrf(request, csrf):
        return _csrf_refused(request)
    engine: Engine = request.app.state.engine
    with engine.begin() as conn:
        token = onboarding.rotate_token(conn, user.community_id, gateway_id)
        if token is None:
            raise NotFound()
        names = {int(g.id): g.name for g in onboarding.gateways_of(conn, user.community_id)}
        operator_log.record(
            conn,
            community_id=user.community_id,
            user_id=user.id,
            actor=user.username,
            action="gateway.rotate_token",
            target=names[gateway_id],
            now=_now(request),
            detail={"gateway": gateway_id},
        )
    response = _gateways_page(request, user, token=(names[gateway_id], token))
    response.headers["Cache-Control"] = "no-store"
    return response


# --- data health and quarantine ---


@router.get("/health", response_class=HTMLResponse)
def health_page(request: Request, user: Operator, days: int = 7) -> Response:
    if days not in HEALTH_WINDOWS:
        days = 7
    state = request.app.state
    end = _now(request)
    engine: Engine = state.engine
    ingestor: Ingestor = state.ingestor
    with engine.connect() as conn:
        found = meter_health(conn, user.community_id, start=end - days * DAY, end=end, rules=ingestor.rules)
    return render(request, "health.html", {"meters": found, "days": days, "windows": HEALTH_WINDOWS})


@router.get("/quarantine", response_class=HTMLResponse)
def quarantine_page(
    request: Request,
    user: Operator,
    reason: str = "",
    status: str = "open",
    meter: str = "",
    outcome: str = "",
) -> Response:
    if status not in (*quarantine.STATUSES, "all"):
        status = "open"
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        found = quarantine.entries(
            conn,
            CommunityId(user.community_id),
            reason=reason.strip() or None,
            status=None if status == "all" else status,
            meter_serial=meter.strip() or None,
            limit=QUARANTINE_PAGE,
        )
        reasons = sorted(quarantine.count_by_reason(conn, user.community_id))
    return render(
        request,
        "quarantine.html",
        {
            "entries": found,
            "reasons": reasons,
            "statuses": (*quarantine.STATUSES, "all"),
            "filters": {"reason": reason.strip(), "status": status, "meter": meter.strip()},
            "outcome": outcome,
        },
    )


def _back_to_quarantine(outcome: str, entry_id: int) -> Response:
    return RedirectResponse(f"/operator/quarantine?outcome={outcome}-{entry_id}", status_code=303)


@router.post("/quarantine/{entry_id}/replay")
def replay_entry(
    request: Request, entry_id: BigRowId, user: Operator, csrf: Annotated[str, Form()]
) -> Response:
    if not check_csrf(request, csrf):
        return _csrf_refused(request)
    try:
        outcome = actions.replay(
            request.app.state.engine,
            request.app.state.ingestor,
            user.community_id,
            entry_id,
            operator=user.username,
        )
    except actions.ActionError as exc:
        if exc.code == "not_found":
            raise NotFound() from None
        return _back_to_quarantine(exc.code, entry_id)
    _log(
        request,
        user,
        "quarantine.replay",
        f"quarantine/{entry_id}",
        {"accepted": outcome.accepted, "stored": outcome.stored, "reasons": list(outcome.reasons)},
    )
    return _back_to_quarantine("replayed" if outcome.accepted else "refused", entry_id)


@router.post("/quarantine/{entry_id}/discard")
def discard_entry(
    request: Request,
    entry_id: BigRowId,
    user: Operator,
    csrf: Annotated[str, Form()],
    note: Annotated[str, Form()] = "",
) -> Response:
    if not check_csrf(request, csrf):
        return _csrf_refused(request)
    note = note.strip()[:500]
    if not note:
        return _back_to_quarantine("note", entry_id)
    try:
        actions.discard(
            request.app.state.engine, user.community_id, entry_id, operator=user.username, note=note
        )
    except actions.ActionError as exc:
        if exc.code == "not_found":
            raise NotFound() from None
        return _back_to_quarantine(exc.code, entry_id)
    _log(request, user, "quarantine.discard", f"quarantine/{entry_id}", {"note": note})
    return _back_to_quarantine("discarded", entry_id)


# --- disputes ---


@router.get("/disputes", response_class=HTMLResponse)
def disputes_page(request: Request, user: Operator, status: str = "open") -> Response:
    if status not in (*disputes.STATUSES, "all"):
        status = "open"
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        found = disputes.of_community(conn, user.community_id, status=None if status == "all" else status)
    return render(
        request,
        "operator_disputes.html",
        {"disputes": found, "status": status, "statuses": (*disputes.STATUSES, "all")},
    )


def _dispute_step(request: Request, user: User, dispute_id: int, step: str, text: str = "") -> Response:
    engine: Engine = request.app.state.engine
    now = _now(request)
    with engine.begin() as conn:
        found = disputes.get(conn, user.community_id, dispute_id)
        if found is None:
            raise NotFound()
        try:
            if step == "answer":
                disputes.answer(conn, dispute_id, user_id=user.id, text=text, now=now)
            else:
                disputes.close(conn, dispute_id, now=now)
        except disputes.DisputeStateError:
            return RedirectResponse("/operator/disputes?status=all", status_code=303)
        operator_log.record(
            conn,
            community_id=user.community_id,
            user_id=user.id,
            actor=user.username,
            action=f"dispute.{step}",
            target=f"dispute/{dispute_id}",
            now=now,
            detail={"household": found.household_code, **({"answer": text} if text else {})},
        )
    return RedirectResponse("/operator/disputes", status_code=303)


@router.post("/disputes/{dispute_id}/answer")
def answer_dispute(
    request: Request,
    dispute_id: RowId,
    user: Operator,
    csrf: Annotated[str, Form()],
    answer: Annotated[str, Form()] = "",
) -> Response:
    if not check_csrf(request, csrf):
        return _csrf_refused(request)
    text = answer.strip()
    if not text or len(text) > 2000:
        return RedirectResponse("/operator/disputes", status_code=303)
    return _dispute_step(request, user, dispute_id, "answer", text)


@router.post("/disputes/{dispute_id}/close")
def close_dispute(
    request: Request, dispute_id: RowId, user: Operator, csrf: Annotated[str, Form()]
) -> Response:
    if not check_csrf(request, csrf):
        return _csrf_refused(request)
    return _dispute_step(request, user, dispute_id, "close")


# --- the log ---


@router.get("/actions", response_class=HTMLResponse)
def actions_page(request: Request, user: Operator) -> Response:
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        found = operator_log.recent(conn, user.community_id, limit=200)
    return render(request, "operator_actions.html", {"actions": found})
