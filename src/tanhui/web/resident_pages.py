"""The resident's own pages (phone first): export of their data, disputes, language and privacy settings."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine, select

from tanhui.domain.ids import HouseholdId
from tanhui.store import disputes, registry, settings
from tanhui.store.schema import meters
from tanhui.store.users import User
from tanhui.web import export
from tanhui.web.access import Forbidden, Resident
from tanhui.web.i18n import LOCALES
from tanhui.web.pages import LANG_COOKIE, check_csrf, render

router = APIRouter(include_in_schema=False)

# Long enough for what a resident saw and why it looks wrong, short enough to read at a desk.
MAX_MESSAGE = 2000


def _household(user: User) -> HouseholdId:
    if user.household_id is None:  # a resident always has one (store.users); be explicit anyway
        raise Forbidden()
    return user.household_id


def _export(request: Request, user: User) -> export.HouseholdExport:
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        factor_set_id = registry.get_community(conn, user.community_id).factor_set_id
        return export.household_export(
            conn, user, _household(user), factor_set_id, now=request.app.state.clock()
        )


def _attachment(name: str, day: date) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="tanhui-{name}-{day.isoformat()}"'}


@router.get("/account/export.json")
def export_json(request: Request, user: Resident) -> Response:
    data = _export(request, user)
    today = request.app.state.clock().date()
    body = json.dumps(data.json_ready(), ensure_ascii=False, indent=2)
    headers = _attachment(f"{data.data['household']['code']}.json", today)
    return Response(body, media_type="application/json; charset=utf-8", headers=headers)


@router.get("/account/export.csv")
def export_csv(request: Request, user: Resident) -> Response:
    data = _export(request, user)
    today = request.app.state.clock().date()
    # A byte-order mark so that spreadsheet programs read the UTF-8 (Chinese) text correctly.
    body = "\ufeff" + data.csv_text()
    headers = _attachment(f"{data.data['household']['code']}.csv", today)
    return Response(body, media_type="text/csv; charset=utf-8", headers=headers)


def _meters_of(request: Request, household_id: int) -> list[str]:
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        rows = conn.execute(
            select(meters.c.serial, meters.c.kind)
            .where(meters.c.household_id == household_id, meters.c.removed_on.is_(None))
            .order_by(meters.c.kind, meters.c.serial)
        )
        return [f"{r.serial}" for r in rows]


def _disputes_page(
    request: Request, user: User, *, errors: list[str], form: dict[str, str], status_code: int = 200
) -> Response:
    engine: Engine = request.app.state.engine
    household = _household(user)
    with engine.connect() as conn:
        filed = disputes.of_household(conn, household)
    return render(
        request,
        "disputes.html",
        {
            "disputes": filed,
            "meters": _meters_of(request, household),
            "errors": errors,
            "form": form,
            "today": request.app.state.clock().date().isoformat(),
            "filed": request.query_params.get("filed"),
        },
        status_code=status_code,
    )


@router.get("/account/disputes", response_class=HTMLResponse)
def disputes_page(request: Request, user: Resident) -> Response:
    return _disputes_page(request, user, errors=[], form={})


@router.post("/account/disputes", response_class=HTMLResponse)
def file_dispute(
    request: Request,
    user: Resident,
    csrf: Annotated[str, Form()],
    subject: Annotated[str, Form()] = "day",
    day: Annotated[str, Form()] = "",
    meter: Annotated[str, Form()] = "",
    message: Annotated[str, Form()] = "",
) -> Response:
    form = {"subject": subject, "day": day, "meter": meter, "message": message}
    if not check_csrf(request, csrf):
        return _disputes_page(request, user, errors=["csrf"], form=form, status_code=400)
    household = _household(user)
    today = request.app.state.clock().date()
    errors: list[str] = []
    if subject not in disputes.SUBJECTS:
        errors.append("subject")
    chosen_day: date | None = None
    try:
        chosen_day = date.fromisoformat(day)
    except ValueError:
        errors.append("day")
    if chosen_day is not None and chosen_day > today:
        errors.append("day_future")
    if subject == "reading" and meter not in _meters_of(request, household):
        errors.append("meter")
    text = message.strip()
    if not text or len(text) > MAX_MESSAGE:
        errors.append("message")
    if errors or chosen_day is None:
        return _disputes_page(request, user, errors=errors, form=form, status_code=422)
    engine: Engine = request.app.state.engine
    with engine.begin() as conn:
        disputes.file(
            conn,
            community_id=user.community_id,
            household_id=household,
            user_id=user.id,
            subject=subject,
            meter_serial=meter or None,
            day=chosen_day,
            message=text,
            now=int(request.app.state.clock().timestamp()),
        )
    return RedirectResponse("/account/disputes?filed=1", status_code=303)


@router.get("/account/settings", response_class=HTMLResponse)
def settings_page(request: Request, user: Resident) -> Response:
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        chosen = settings.get(conn, user.id)
    return render(
        request,
        "settings.html",
        {"chosen": chosen, "saved": request.query_params.get("saved"), "error": None},
    )


@router.post("/account/settings", response_class=HTMLResponse)
def save_settings(
    request: Request,
    user: Resident,
    csrf: Annotated[str, Form()],
    locale: Annotated[str, Form()] = "zh_CN",
    peer_comparison: Annotated[str | None, Form()] = None,
) -> Response:
    engine: Engine = request.app.state.engine
    if not check_csrf(request, csrf) or locale not in LOCALES:
        with engine.connect() as conn:
            chosen = settings.get(conn, user.id)
        error = "csrf" if locale in LOCALES else "locale"
        return render(
            request, "settings.html", {"chosen": chosen, "saved": None, "error": error}, status_code=400
        )
    with engine.begin() as conn:
        settings.save(
            conn,
            user.id,
            settings.UserSettings(locale=locale, peer_comparison=peer_comparison == "on"),
            now=int(request.app.state.clock().timestamp()),
        )
    response = RedirectResponse("/account/settings?saved=1", status_code=303)
    response.set_cookie(
        LANG_COOKIE,
        locale,
        max_age=365 * 86400,
        samesite="lax",
        secure=request.app.state.settings.cookie_secure,
    )
    return response
