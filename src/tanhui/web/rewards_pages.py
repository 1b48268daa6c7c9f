"""The resident's points pages (phone first): balance and history, the rewards catalogue and redemption,
the voucher with its QR code, alerts with acknowledge, saving tips, avoided emissions and the statement.

The household is always the session's own; a voucher of another household is 404 like a missing one.
The ledger and voucher rules are those of the API (:mod:`tanhui.web.points_api` shares its functions).
"""

from __future__ import annotations

import base64
from datetime import date, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine, select

from tanhui.domain.ids import CommunityId, HouseholdId
from tanhui.insights.tips import rank_tips
from tanhui.jobs.insights import load_tips
from tanhui.points import voucher as codes
from tanhui.points.errors import PointsError
from tanhui.points.ledger import AccountKind, Code
from tanhui.settings import Settings
from tanhui.store import alerts, baselines, catalogue, ledger, registry, vouchers
from tanhui.store.schema import households
from tanhui.store.users import User
from tanhui.web import insights_api, points_api
from tanhui.web.access import Forbidden, NotFound, Resident
from tanhui.web.pages import check_csrf, locale_of, render

router = APIRouter(include_in_schema=False)

HISTORY_ROWS = 50  # a phone screen's worth of history; the API pages through the rest


def _household(user: User) -> int:
    if user.household_id is None:
        raise Forbidden()
    return int(user.household_id)


def _key(request: Request) -> bytes:
    settings: Settings = request.app.state.settings
    return codes.key_from_secret(settings.secret_key)


def _now(request: Request) -> int:
    return int(request.app.state.clock().timestamp())


def _name(locale: str, zh: str, en: str) -> str:
    return zh if locale == "zh_CN" else en


def _month_bounds(today: date) -> tuple[date, date]:
    first = today.replace(day=1)
    return first, today


@router.get("/account/points", response_class=HTMLResponse)
def points_page(request: Request, user: Resident) -> Response:
    engine: Engine = request.app.state.engine
    household = _household(user)
    community = CommunityId(user.community_id)
    with engine.connect() as conn:
        account = ledger.find_account(conn, community, AccountKind.HOUSEHOLD, household)
        balance = None if account is None else ledger.get_account(conn, account)
        history = [] if account is None else ledger.history(conn, account, limit=HISTORY_ROWS)
        own = vouchers.household_vouchers(conn, household, _key(request))
        rewards = {r.id: r for r in catalogue.list_rewards(conn, community)}
    locale = locale_of(request, user)
    reward_names = {i: _name(locale, r.name_zh, r.name_en) for i, r in rewards.items()}
    entries = [
        {
            "when": e.transfer.timestamp,
            "direction": e.direction,
            "amount": e.transfer.amount,
            "code": Code(e.transfer.code).name.lower(),
            "pending": e.transfer.flags == 2,
        }
        for e in history
    ]
    return render(
        request,
        "points.html",
        {
            "balance": 0 if balance is None else balance.balance,
            "available": 0 if balance is None else balance.available,
            "held": 0 if balance is None else balance.debits_pending,
            "entries": entries,
            "vouchers": own,
            "reward_names": reward_names,
        },
    )


def _rewards_page(request: Request, user: User, *, error: str | None, status_code: int = 200) -> Response:
    engine: Engine = request.app.state.engine
    community = CommunityId(user.community_id)
    today = request.app.state.clock().date()
    with engine.connect() as conn:
        offered = catalogue.list_rewards(conn, community, offered_on=today)
        names = catalogue.merchant_names(conn, community)
        account = ledger.find_account(conn, community, AccountKind.HOUSEHOLD, _household(user))
        available = 0 if account is None else ledger.get_account(conn, account).available
    locale = locale_of(request, user)
    items = [
        {
            "id": r.id,
            "name": _name(locale, r.name_zh, r.name_en),
            "terms": _name(locale, r.terms_zh, r.terms_en),
            "merchant": _name(locale, *names.get(r.merchant_id, ("", "", "", True))[1:3]),
            "price": r.price_points,
            "stock": r.stock,
            "valid_until": r.valid_until,
            # Demo data when the reward or its merchant is (shared/docs/baoting.md).
            "demo": r.demo or names.get(r.merchant_id, ("", "", "", True))[3],
            "affordable": r.price_points <= available,
        }
        for r in offered
    ]
    return render(
        request,
        "rewards.html",
        {"rewards": items, "available": available, "error": error},
        status_code=status_code,
    )


@router.get("/account/rewards", response_class=HTMLResponse)
def rewards_page(request: Request, user: Resident) -> Response:
    return _rewards_page(request, user, error=None)


@router.post("/account/rewards/redeem", response_class=HTMLResponse)
def redeem(
    request: Request, user: Resident, csrf: Annotated[str, Form()], reward_id: Annotated[int, Form()] = 0
) -> Response:
    if not check_csrf(request, csrf):
        return _rewards_page(request, user, error="csrf", status_code=400)
    try:
        issued = points_api.redeem_reward(
            request.app.state.engine,
            user,
            _household(user),
            reward_id,
            key=_key(request),
            now=_now(request),
            today=request.app.state.clock().date(),
        )
    except PointsError as exc:
        return _rewards_page(request, user, error=exc.code, status_code=409)
    if issued is None:
        return _rewards_page(request, user, error="retry", status_code=503)
    return RedirectResponse(f"/account/vouchers/{issued.id:010x}", status_code=303)


def _own_voucher(request: Request, user: User, voucher_id: str) -> vouchers.Voucher:
    try:
        number = int(voucher_id, 16)
    except ValueError:
        raise NotFound() from None
    if not 0 < number < 2**codes.ID_BITS:
        raise NotFound()
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        found = vouchers.get_voucher(conn, number, _key(request))
    if found is None or found.household_id != _household(user):
        raise NotFound()
    return found


@router.get("/account/vouchers/{voucher_id}", response_class=HTMLResponse)
def voucher_page(request: Request, user: Resident, voucher_id: str) -> Response:
    found = _own_voucher(request, user, voucher_id)
    engine: Engine = request.app.state.engine
    community = CommunityId(user.community_id)
    with engine.connect() as conn:
        reward = catalogue.get_reward(conn, community, found.reward_id)
        names = catalogue.merchant_names(conn, community)
    locale = locale_of(request, user)
    merchant = names.get(found.merchant_id, ("", "", "", True))
    png = base64.b64encode(codes.qr_png(found.code)).decode("ascii")
    return render(
        request,
        "voucher.html",
        {
            "voucher": found,
            "hex_id": f"{found.id:010x}",
            "reward": "" if reward is None else _name(locale, reward.name_zh, reward.name_en),
            "merchant": _name(locale, merchant[1], merchant[2]),
            "qr_png": png,
            "error": request.query_params.get("error"),
        },
    )


@router.post("/account/vouchers/{voucher_id}/cancel", response_class=HTMLResponse)
def cancel_voucher(
    request: Request, user: Resident, voucher_id: str, csrf: Annotated[str, Form()]
) -> Response:
    found = _own_voucher(request, user, voucher_id)
    target = f"/account/vouchers/{found.id:010x}"
    if not check_csrf(request, csrf):
        return RedirectResponse(f"{target}?error=csrf", status_code=303)
    engine: Engine = request.app.state.engine
    try:
        with engine.begin() as conn:
            vouchers.cancel(
                conn,
                CommunityId(user.community_id),
                household_id=_household(user),
                voucher_id=found.id,
                key=_key(request),
                now=_now(request),
            )
    except PointsError as exc:
        return RedirectResponse(f"{target}?error={exc.code}", status_code=303)
    return RedirectResponse(target, status_code=303)


@router.get("/account/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, user: Resident) -> Response:
    engine: Engine = request.app.state.engine
    household = HouseholdId(_household(user))
    locale = locale_of(request, user)
    messages = insights_api._messages(request)
    with engine.connect() as conn:
        found = alerts.list_alerts(conn, user.community_id, household_id=household, audience="resident")
    shown = [{"alert": a, "text": messages.render(a.kind, locale, a.evidence)} for a in found]
    tips: list[dict[str, Any]] = []
    profiles = insights_api._profiles(request, user.community_id, _now(request))
    own = profiles.get(household)
    if own is not None:
        settings: Settings = request.app.state.settings
        ranked = rank_tips(own, list(profiles.values()), load_tips(settings.data_dir))
        tips = [tip.as_json(locale) for tip in ranked]
    return render(request, "alerts.html", {"alerts": shown, "tips": tips})


@router.post("/account/alerts/{alert_id}/acknowledge", response_class=HTMLResponse)
def acknowledge(request: Request, user: Resident, alert_id: int, csrf: Annotated[str, Form()]) -> Response:
    if not check_csrf(request, csrf):
        return Response("CSRF check failed", status_code=400)
    engine: Engine = request.app.state.engine
    with engine.begin() as conn:
        found = alerts.get(conn, alert_id) if 0 < alert_id < 2**31 else None
        if (
            found is None
            or found.community_id != user.community_id
            or found.household_id != user.household_id
            or found.audience != "resident"
        ):
            raise NotFound()
        alerts.acknowledge(conn, alert_id, user_id=user.id, now=_now(request))
    return RedirectResponse("/account/alerts", status_code=303)


@router.get("/account/avoided", response_class=HTMLResponse)
def avoided_page(request: Request, user: Resident) -> Response:
    """This month's avoided emissions (against the household's baseline) beside its footprint."""
    engine: Engine = request.app.state.engine
    household = _household(user)
    today = request.app.state.clock().date()
    first, last = _month_bounds(today)
    with engine.connect() as conn:
        factor_set_id = registry.get_community(conn, user.community_id).factor_set_id
        found = baselines.household_avoided(conn, household, factor_set_id, first, last)
        code = conn.execute(select(households.c.code).where(households.c.id == household)).scalar_one()
    previous = (first - timedelta(days=1)).strftime("%Y-%m")
    return render(
        request,
        "avoided.html",
        {
            "avoided": found,
            "first": first,
            "last": last,
            "household_code": code,
            "months": [today.strftime("%Y-%m"), previous],
        },
    )


@router.get("/account/statement")
def statement(request: Request, user: Resident, month: str = "", output: str = "pdf") -> Response:
    """The household's monthly statement (the reports package), as the API serves it to the household."""
    from tanhui.web.reports_api import household_statement  # noqa: PLC0415 - loads WeasyPrint lazily

    try:
        date.fromisoformat(f"{month}-01")
    except ValueError:
        raise NotFound() from None
    lang: Literal["zh-CN", "en"] = "zh-CN" if locale_of(request, user) == "zh_CN" else "en"
    kind: Literal["pdf", "html"] = "html" if output == "html" else "pdf"
    return household_statement(request, _household(user), user, month, kind, lang)
