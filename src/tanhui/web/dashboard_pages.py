"""The operator's desk pages: the community dashboard (progress to the avoided-emissions target with the
year-end forecast and its band, the four roadmap sectors, participation, open alerts), the rewards
catalogue with adding a reward (each change in the operator action log), and reports to download.

The dashboard reads what ``tanhui roadmap show`` reads (store.roadmap, accounting.roadmap,
insights.forecast); the targets come from ``data/roadmap/<community>-targets.toml`` with their sources.
"""

from __future__ import annotations

import tomllib
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine, distinct, func, select

from tanhui.accounting.roadmap import Target, parse_targets, sector_progress
from tanhui.domain.ids import CommunityId
from tanhui.insights.forecast import forecast_year_end
from tanhui.points.catalogue import Reward, RewardKind
from tanhui.points.errors import PointsError
from tanhui.points.rules import parse_rules
from tanhui.settings import Settings
from tanhui.store import alerts, catalogue, operator_log, registry
from tanhui.store import roadmap as roadmap_store
from tanhui.store.schema import baseline_fits, households
from tanhui.store.users import User
from tanhui.web.access import NotFound, Operator
from tanhui.web.pages import check_csrf, locale_of, render

router = APIRouter(include_in_schema=False)

KG_PER_T = Decimal(1000)
MILLI = Decimal("0.001")


def _targets(settings: Settings, slug: str) -> tuple[tuple[Target, ...], Decimal, str]:
    path = settings.data_dir / "roadmap" / f"{slug}-targets.toml"
    if not path.exists():
        return (), Decimal(0), ""
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    avoided = data.get("avoided", {})
    source = ", ".join(str(avoided[k]) for k in ("publisher", "document", "year") if k in avoided)
    return parse_targets(data), Decimal(str(avoided.get("target_t", "0"))), source


def _tonnes(kg: Decimal) -> Decimal:
    return (kg / KG_PER_T).quantize(MILLI)


def _forecast(series: dict[date, Decimal], year: int, as_of: date, target_t: Decimal) -> dict[str, Any]:
    observed = {d: float(v) for d, v in series.items() if d.year == year and d <= as_of}
    try:
        f = forecast_year_end(observed, year, as_of)
    except ValueError:
        return {"days": len(observed), "available": False}
    t = _tonnes
    return {
        "days": len(observed),
        "available": True,
        "to_date_t": t(f.to_date),
        "forecast_t": t(f.point),
        "low_t": t(f.low),
        "high_t": t(f.high),
        "reaches": f.reaches(target_t * KG_PER_T),
        "method": f.method,
        "band": f.band,
        "share": min(Decimal(1), t(f.to_date) / target_t) if target_t > 0 else Decimal(0),
        "forecast_share": min(Decimal(1), t(f.point) / target_t) if target_t > 0 else Decimal(0),
    }


@router.get("/operator/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, user: Operator, year: int | None = None) -> Response:
    settings: Settings = request.app.state.settings
    engine: Engine = request.app.state.engine
    today = request.app.state.clock().date()
    chosen = year if year is not None and 2000 <= year <= 2100 else today.year
    as_of = today if chosen == today.year else date(chosen, 12, 31)
    with engine.connect() as conn:
        community = registry.get_community(conn, user.community_id)
        projects = roadmap_store.projects(conn, community.id)
        reported = roadmap_store.measurements(conn, community.id, chosen)
        measures = roadmap_store.metered_measures(conn, community.id, community.factor_set_id, chosen)
        series = roadmap_store.daily_avoided_kg(conn, community.id, community.factor_set_id, chosen)
        mine = households.c.community_id == community.id
        total = conn.execute(select(func.count()).select_from(households).where(mine)).scalar_one()
        enrolled = conn.execute(
            select(func.count()).select_from(households).where(mine, households.c.enrolled_on.is_not(None))
        ).scalar_one()
        eligible = conn.execute(
            select(func.count(distinct(baseline_fits.c.household_id)))
            .join(households, households.c.id == baseline_fits.c.household_id)
            .where(mine, baseline_fits.c.eligible.is_(True))
        ).scalar_one()
        open_alerts = alerts.list_alerts(conn, community.id, status="open", limit=20)
    targets, target_t, target_source = _targets(settings, community.slug)
    progress = sector_progress(targets, measures, projects, reported, chosen)
    return render(
        request,
        "dashboard.html",
        {
            "year": chosen,
            "as_of": as_of,
            "target_t": target_t,
            "target_source": target_source,
            "forecast": _forecast(series, chosen, as_of, target_t),
            "sectors": progress,
            "participation": {"households": total, "enrolled": enrolled, "eligible": eligible},
            "open_alerts": open_alerts,
        },
    )


def _catalogue_page(
    request: Request, user: User, *, error: str | None, form: dict[str, str], status_code: int = 200
) -> Response:
    engine: Engine = request.app.state.engine
    community = CommunityId(user.community_id)
    with engine.connect() as conn:
        rewards = catalogue.list_rewards(conn, community)
        names = catalogue.merchant_names(conn, community)
    zh = locale_of(request, user) == "zh_CN"
    merchants = {i: (n[1] if zh else n[2], n[3]) for i, n in names.items()}
    return render(
        request,
        "catalogue.html",
        {
            "rewards": rewards,
            "merchants": merchants,
            "kinds": [k.value for k in RewardKind],
            "error": error,
            "form": form,
            "added": request.query_params.get("added"),
            "today": request.app.state.clock().date().isoformat(),
        },
        status_code=status_code,
    )


@router.get("/operator/catalogue", response_class=HTMLResponse)
def catalogue_page(request: Request, user: Operator) -> Response:
    return _catalogue_page(request, user, error=None, form={})


@router.post("/operator/catalogue", response_class=HTMLResponse)
def add_reward(
    request: Request,
    user: Operator,
    csrf: Annotated[str, Form()],
    merchant_id: Annotated[int, Form()] = 0,
    kind: Annotated[str, Form()] = "",
    name_zh: Annotated[str, Form()] = "",
    name_en: Annotated[str, Form()] = "",
    price_points: Annotated[str, Form()] = "",
    stock: Annotated[str, Form()] = "",
    valid_from: Annotated[str, Form()] = "",
    valid_until: Annotated[str, Form()] = "",
    terms_zh: Annotated[str, Form()] = "",
    terms_en: Annotated[str, Form()] = "",
    demo: Annotated[str | None, Form()] = None,
) -> Response:
    form = {
        "merchant_id": str(merchant_id),
        "kind": kind,
        "name_zh": name_zh,
        "name_en": name_en,
        "price_points": price_points,
        "stock": stock,
        "valid_from": valid_from,
        "valid_until": valid_until,
        "terms_zh": terms_zh,
        "terms_en": terms_en,
    }
    if not check_csrf(request, csrf):
        return _catalogue_page(request, user, error="csrf", form=form, status_code=400)
    try:
        price, count = int(price_points), int(stock)
        first, last = date.fromisoformat(valid_from), date.fromisoformat(valid_until)
        reward_kind = RewardKind(kind)
    except (ValueError, InvalidOperation):
        return _catalogue_page(request, user, error="invalid", form=form, status_code=422)
    names_ok = 0 < len(name_zh.strip()) <= 200 and 0 < len(name_en.strip()) <= 200
    if not names_ok or not 0 < price <= 2**62 or not 0 <= count < 2**31:
        return _catalogue_page(request, user, error="invalid", form=form, status_code=422)
    settings: Settings = request.app.state.settings
    ttl = parse_rules(
        (settings.data_dir / "points" / "rules.toml").read_text(encoding="utf-8")
    ).voucher_ttl_seconds
    reward = Reward(
        0, merchant_id, reward_kind, name_zh.strip(), name_en.strip(), terms_zh, terms_en,
        price, count, first, last, ttl, demo == "on", True,
    )  # fmt: skip
    now = int(request.app.state.clock().timestamp())
    engine: Engine = request.app.state.engine
    try:
        with engine.begin() as conn:
            reward_id = catalogue.create_reward(conn, CommunityId(user.community_id), reward, now=now)
            operator_log.record(
                conn,
                community_id=user.community_id,
                user_id=user.id,
                actor=user.username,
                action="reward.create",
                target=f"reward:{reward_id}",
                now=now,
                detail={"merchant_id": merchant_id, "name_en": reward.name_en, "price_points": price},
            )
    except (PointsError, LookupError):
        return _catalogue_page(request, user, error="invalid", form=form, status_code=422)
    return RedirectResponse(f"/operator/catalogue?added={reward_id}", status_code=303)


@router.get("/operator/reports", response_class=HTMLResponse)
def reports_page(request: Request, user: Operator) -> Response:
    year = request.app.state.clock().date().year
    return render(request, "reports.html", {"years": [year, year - 1]})


@router.get("/operator/reports/{report}")
def report_download(
    request: Request, user: Operator, report: str, year: int = 0, output: str = "pdf"
) -> Response:
    """The reports package's documents, as the API serves them, for the operator's own community."""
    from tanhui.web import reports_api  # noqa: PLC0415 - loads WeasyPrint lazily

    if not 2000 <= year <= 2100:
        raise NotFound()
    lang: Literal["zh-CN", "en"] = "zh-CN" if locale_of(request, user) == "zh_CN" else "en"
    if report == "inventory" and output in ("pdf", "csv", "xlsx"):
        kind: Literal["pdf", "csv", "xlsx"] = (
            "csv" if output == "csv" else "xlsx" if output == "xlsx" else "pdf"
        )
        return reports_api.community_inventory(request, user, year, kind, None, lang)
    if report == "project" and output in ("pdf", "html"):
        return reports_api.community_project(request, user, year, "html" if output == "html" else "pdf", lang)
    raise NotFound()
