"""The merchant's counter (desk or tablet): validate a voucher by camera or typed code, the vouchers
validated lately, and the settlement of a month as CSV or PDF.

A merchant user reaches only the vouchers of the merchant they are staff of (``catalogue.merchant_of``);
a code of another merchant's voucher is refused as unknown, exactly as the API does.
"""

from __future__ import annotations

import secrets
from datetime import UTC, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Engine

from tanhui.domain.ids import CommunityId
from tanhui.points import voucher as codes
from tanhui.points.errors import PointsError
from tanhui.points.rules import period_bounds
from tanhui.points.settlement import settlement_csv, settlement_html
from tanhui.settings import Settings
from tanhui.store import catalogue, vouchers
from tanhui.store.users import User
from tanhui.web import points_api
from tanhui.web.access import MERCHANT, NotFound
from tanhui.web.pages import check_csrf, locale_of, render

router = APIRouter(include_in_schema=False)
Merchant = Annotated[User, Depends(MERCHANT)]

RECENT_DAYS = 31  # the counter's history: about a month of validations, the settlement period


def _merchant(request: Request, user: User) -> int | None:
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        return catalogue.merchant_of(conn, user.id)


def _page(
    request: Request,
    user: User,
    *,
    result: vouchers.Voucher | None = None,
    error: str | None = None,
    code: str = "",
    status_code: int = 200,
) -> Response:
    merchant_id = _merchant(request, user)
    now = request.app.state.clock()
    name = ""
    recent: list[object] = []
    if merchant_id is not None:
        engine: Engine = request.app.state.engine
        since = int((now - timedelta(days=RECENT_DAYS)).timestamp())
        with engine.connect() as conn:
            recent = list(
                reversed(vouchers.settlement(conn, merchant_id, since=since, until=int(now.timestamp()) + 1))
            )
            names = catalogue.merchant_names(conn, CommunityId(user.community_id))
        _, zh, en, _ = names.get(merchant_id, ("", "", "", True))
        name = zh if locale_of(request, user) == "zh_CN" else en
    month = now.astimezone(UTC).strftime("%Y-%m")
    return render(
        request,
        "merchant.html",
        {
            "merchant_name": name,
            "linked": merchant_id is not None,
            "result": result,
            "error": error,
            "code": code,
            "attempt": secrets.token_hex(16),
            "recent": recent,
            "months": [month, (now.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")],
        },
        status_code=status_code,
    )


@router.get("/merchant", response_class=HTMLResponse)
def counter(request: Request, user: Merchant) -> Response:
    return _page(request, user)


@router.post("/merchant/validate", response_class=HTMLResponse)
def validate(
    request: Request,
    user: Merchant,
    csrf: Annotated[str, Form()],
    code: Annotated[str, Form()] = "",
    attempt: Annotated[str, Form()] = "",
) -> Response:
    typed = code.strip().upper()
    if not check_csrf(request, csrf):
        return _page(request, user, error="csrf", code=typed, status_code=400)
    merchant_id = _merchant(request, user)
    if merchant_id is None:
        return _page(request, user, error="not_merchant_staff", code=typed, status_code=403)
    if not 16 <= len(typed) <= 32:
        return _page(request, user, error="voucher_not_found", code=typed, status_code=422)
    settings: Settings = request.app.state.settings
    try:
        done = points_api.validate_code(
            request.app.state.engine,
            user,
            merchant_id,
            typed,
            # The form's own id makes a double-submitted form one validation, as Idempotency-Key does.
            attempt=attempt[:100] or secrets.token_hex(16),
            key=codes.key_from_secret(settings.secret_key),
            now=int(request.app.state.clock().timestamp()),
        )
    except PointsError as exc:
        return _page(request, user, error=exc.code, code=typed, status_code=409)
    return _page(request, user, result=done)


@router.get("/merchant/settlement")
def settlement(request: Request, user: Merchant, period: str = "", output: str = "csv") -> Response:
    merchant_id = _merchant(request, user)
    if merchant_id is None:
        raise NotFound()
    try:
        since, until = period_bounds(period)
    except PointsError:
        raise NotFound() from None
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        lines = vouchers.settlement(conn, merchant_id, since=since, until=until)
        _, name_zh, name_en, _ = catalogue.merchant_names(conn, CommunityId(user.community_id))[merchant_id]
    name = f"settlement-{merchant_id}-{period}"
    if output == "pdf":
        from tanhui.reports.rendering import html_to_pdf  # noqa: PLC0415 - WeasyPrint loads slowly

        return Response(
            html_to_pdf(settlement_html(name_zh, name_en, period, lines)),
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'},
        )
    return Response(
        settlement_csv(lines),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )
