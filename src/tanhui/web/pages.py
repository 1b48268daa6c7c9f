"""Server-rendered pages: login, the resident's carbon account, the operator's community view."""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine

from tanhui.domain.ids import CommunityId
from tanhui.domain.quantity import Quantity
from tanhui.domain.roles import Role
from tanhui.settings import Settings
from tanhui.store import registry
from tanhui.store.users import User
from tanhui.web import account, tokens
from tanhui.web.access import (
    PUBLIC,
    SESSION_COOKIE,
    SESSION_PURPOSE,
    Anyone,
    Operator,
    ResidentOrOperator,
)
from tanhui.web.i18n import LOCALES, Formatter, negotiate, translations
from tanhui.web.signin import TooManyAttempts, authenticate

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))

CSRF_COOKIE = "tanhui_csrf"
LANG_COOKIE = "tanhui_lang"


def locale_of(request: Request, user: User | None = None) -> str:
    return negotiate(
        request.cookies.get(LANG_COOKIE),
        user.locale if user else None,
        request.headers.get("accept-language"),
    )


def render(request: Request, template: str, context: dict[str, Any], *, status_code: int = 200) -> Response:
    user: User | None = getattr(request.state, "user", None)
    locale = locale_of(request, user)
    catalogue = translations(locale)
    csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = templates.TemplateResponse(
        request,
        template,
        {
            "_": catalogue.gettext,
            "locale": locale,
            "html_lang": "zh-CN" if locale == "zh_CN" else "en",
            "locales": LOCALES,
            "fmt": Formatter(locale),
            "moment": _moments(request, user, locale),
            "user": user,
            "csrf": csrf,
            **context,
        },
        status_code=status_code,
    )
    settings: Settings = request.app.state.settings
    response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict", secure=settings.cookie_secure)
    return response


def _moments(request: Request, user: User | None, locale: str) -> Callable[[int | None], str]:
    """Epoch seconds as a date and time in the viewer's locale, on the community's clock."""
    zones: list[ZoneInfo] = []

    def moment(epoch: int | None) -> str:
        if epoch is None:
            return "–"
        if not zones:
            zone = "Asia/Shanghai"  # Baoting's zone, for pages shown before anyone signs in
            if user is not None:
                engine: Engine = request.app.state.engine
                with engine.connect() as conn:
                    zone = registry.get_community(conn, user.community_id).timezone
            zones.append(ZoneInfo(zone))
        when = datetime.fromtimestamp(epoch, UTC)
        return format_datetime(when, format="short", tzinfo=zones[0], locale=locale)

    return moment


def check_csrf(request: Request, token: str) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie, token)


def _safe_next(target: str | None) -> str:
    # Only same-site paths: an open redirect after login would hand phishers a trusted link.
    if not target or not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
        return "/"
    return target


HOMES = {
    Role.RESIDENT: "/account",
    Role.OPERATOR: "/community",
    Role.MERCHANT: "/merchant",
    Role.VERIFIER: "/verifier",
}


def home_of(role: Role) -> str:
    """The page each role starts on after signing in."""
    return HOMES[role]


@router.get("/", response_class=HTMLResponse)
def home(user: Anyone) -> Response:
    if user is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(home_of(user.role), status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, user: Anyone, next: str | None = None) -> Response:
    return render(request, "login.html", {"next": _safe_next(next), "error": None})


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    user: Anyone,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    if not check_csrf(request, csrf):
        return render(request, "login.html", {"next": _safe_next(next), "error": "csrf"}, status_code=400)
    state = request.app.state
    settings: Settings = state.settings
    try:
        account_user = authenticate(request, username, password)
    except TooManyAttempts as exc:
        response = render(
            request, "login.html", {"next": _safe_next(next), "error": "locked"}, status_code=429
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if account_user is None:
        return render(
            request, "login.html", {"next": _safe_next(next), "error": "credentials"}, status_code=401
        )
    expires = int(state.clock().timestamp()) + settings.session_ttl_seconds
    target = _safe_next(next)
    if target == "/":
        target = home_of(account_user.role)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        tokens.sign(SESSION_PURPOSE, account_user.id, expires, settings.secret_key),
        max_age=settings.session_ttl_seconds,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
    )
    return response


@router.post("/logout", dependencies=[Depends(PUBLIC)])
def logout(request: Request, csrf: Annotated[str, Form()]) -> Response:
    if not check_csrf(request, csrf):
        return Response("CSRF check failed", status_code=400)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/lang/{locale}", dependencies=[Depends(PUBLIC)])
def switch_language(request: Request, locale: str, next: str | None = None) -> Response:
    response = RedirectResponse(_safe_next(next), status_code=303)
    if locale in LOCALES:
        settings: Settings = request.app.state.settings
        response.set_cookie(
            LANG_COOKIE, locale, max_age=365 * 86400, samesite="lax", secure=settings.cookie_secure
        )
    return response


def _chart_series(days: list[account.AccountDay]) -> dict[str, Any]:
    def kg(day: account.AccountDay, q: Quantity) -> float:
        return round(float(day.kg_by_kind.get(q, Decimal(0))), 3)

    return {
        "days": [d.day.isoformat() for d in days],
        "electricity": [kg(d, Quantity.ELECTRICITY) for d in days],
        "water": [kg(d, Quantity.WATER) for d in days],
        "gas": [kg(d, Quantity.GAS) for d in days],
    }


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, user: ResidentOrOperator, household: int | None = None) -> Response:
    engine: Engine = request.app.state.engine
    household_id = household if household is not None else user.household_id
    if household_id is None:
        # An operator has no household of their own: their start page is the community.
        return RedirectResponse("/community", status_code=303)
    with engine.connect() as conn:
        factor_set_id = registry.get_community(conn, user.community_id).factor_set_id
        view = account.household_account(conn, user, household_id, factor_set_id)
        peers = account.peer_comparison(conn, view, CommunityId(user.community_id), factor_set_id)
    factor_set = request.app.state.factor_sets[factor_set_id]
    recent = view.days[-30:]
    return render(
        request,
        "account.html",
        {
            "account": view,
            "peers": peers,
            "recent": list(reversed(recent)),
            "today": view.days[-1] if view.days else None,
            "chart": json.dumps(_chart_series(recent)),
            "factor_set": factor_set,
            "Quantity": Quantity,
        },
    )


@router.get("/community", response_class=HTMLResponse)
def community_page(request: Request, user: Operator) -> Response:
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        community = registry.get_community(conn, user.community_id)
        view = account.community_overview(conn, user.community_id, community.factor_set_id)
    return render(
        request,
        "community.html",
        {
            "community": community,
            "view": view,
            "chart": json.dumps(_chart_series(view.days)),
            "factor_set": request.app.state.factor_sets[community.factor_set_id],
            "Quantity": Quantity,
        },
    )
