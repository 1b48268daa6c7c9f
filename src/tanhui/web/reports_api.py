"""Reports over the API: a household's monthly statement, the community inventory and project report.

Who may read what:

- the statement: a resident their own household's only, an operator any household of their community;
  any other household is a 404 (:func:`tanhui.web.account.visible_household`), so a resident cannot
  even learn which household ids exist;
- the GPC inventory and the ISO 14064-2 project report: operators and verifiers of the community.

The documents are the ones ``tanhui report`` writes (:mod:`tanhui.reports`); rendering a PDF takes a
second or two, so the handlers are plain functions that FastAPI runs in its thread pool.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine, select

from tanhui.accounting.factors import FactorSet
from tanhui.domain.errors import TanhuiError
from tanhui.domain.ids import CommunityId
from tanhui.domain.roles import Role
from tanhui.ingest.rules import IngestRules
from tanhui.reports.errors import ReportError
from tanhui.reports.gpc import inventory_csv, inventory_pdf, inventory_xlsx, load_inventory, year_bounds
from tanhui.reports.project import load_project, project_html, project_pdf
from tanhui.reports.statement import DEFAULT_EU_SET, load_statement, statement_html, statement_pdf
from tanhui.reports.translation import locale_of
from tanhui.store import registry
from tanhui.store.schema import households
from tanhui.store.users import User
from tanhui.web.access import Allow, RowId
from tanhui.web.account import visible_household

router = APIRouter(prefix="/api/v1")

STATEMENT_READERS = Allow(Role.RESIDENT, Role.OPERATOR)
COMMUNITY_READERS = Allow(Role.OPERATOR, Role.VERIFIER)
StatementReader = Annotated[User, Depends(STATEMENT_READERS)]
CommunityReader = Annotated[User, Depends(COMMUNITY_READERS)]

MEDIA = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# A report year the factor files could cover; anything else is a typo.
YEARS = {"ge": 2000, "le": 2100}
Lang = Literal["zh-CN", "en"]


def _document(body: bytes, kind: str, name: str) -> Response:
    return Response(
        body, media_type=MEDIA[kind], headers={"Content-Disposition": f'inline; filename="{name}.{kind}"'}
    )


def _refused(exc: TanhuiError) -> Response:
    # A missing household or month is "not found"; anything else is input the rules refuse.
    status = 404 if exc.code in {"no_data", "unknown_household", "unknown_community"} else 422
    return JSONResponse({"detail": exc.message, "code": exc.code}, status_code=status)


def _factor_set(request: Request, set_id: str) -> FactorSet:
    sets: dict[str, FactorSet] = request.app.state.factor_sets
    found = sets.get(set_id)
    if found is None:
        raise ReportError(f"unknown factor set {set_id!r}", code="unknown_factor_set")
    return found


def _today(request: Request) -> date:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock().date()


@router.get(
    "/households/{household_id}/statement",
    response_class=Response,
    responses={
        200: {"content": {MEDIA["pdf"]: {}, MEDIA["html"]: {}}, "description": "the statement"},
        401: {"description": "not signed in"},
        404: {"description": "no such household for this caller, or no accounted data in the month"},
    },
)
def household_statement(
    request: Request,
    household_id: RowId,
    user: StatementReader,
    month: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM")],
    output: Annotated[Literal["pdf", "html"], Query(alias="format")] = "pdf",
    lang: Lang | None = None,
    eu_set: Annotated[str, Query(description="European factor set id")] = DEFAULT_EU_SET,
) -> Response:
    """A household's monthly statement under the community's Chinese set and a European one."""
    engine: Engine = request.app.state.engine
    try:
        locale = locale_of(lang or user.locale)
        with engine.connect() as conn:
            visible = visible_household(conn, user, household_id)
            code = conn.execute(select(households.c.code).where(households.c.id == visible)).scalar_one()
            community = registry.get_community(conn, CommunityId(user.community_id))
            statement = load_statement(
                conn,
                community=community.slug,
                household=str(code),
                month=month,
                cn=_factor_set(request, community.factor_set_id),
                eu=_factor_set(request, eu_set),
                generated_on=_today(request),
            )
    except TanhuiError as exc:
        return _refused(exc)
    name = f"statement-{code}-{month}"
    if output == "html":
        return _document(statement_html(statement, locale).encode("utf-8"), "html", name)
    return _document(statement_pdf(statement, locale), "pdf", name)


@router.get(
    "/community/reports/inventory",
    response_class=Response,
    responses={
        200: {"content": {MEDIA["pdf"]: {}, MEDIA["csv"]: {}, MEDIA["xlsx"]: {}}, "description": "GPC"},
        401: {"description": "not signed in"},
        403: {"description": "operators and verifiers only"},
    },
)
def community_inventory(
    request: Request,
    user: CommunityReader,
    year: Annotated[int, Query(**YEARS)],
    output: Annotated[Literal["pdf", "csv", "xlsx"], Query(alias="format")] = "pdf",
    factor_set: Annotated[str | None, Query(description="factor set id (default: the community's)")] = None,
    lang: Lang | None = None,
) -> Response:
    """The caller's community GPC inventory (BASIC and BASIC+) for a calendar year."""
    engine: Engine = request.app.state.engine
    first, last = year_bounds(year)
    try:
        locale = locale_of(lang or user.locale)
        with engine.connect() as conn:
            community = registry.get_community(conn, CommunityId(user.community_id))
            chosen = _factor_set(request, factor_set or community.factor_set_id)
            inventory = load_inventory(
                conn, community=community.slug, first_day=first, last_day=last, factor_set=chosen
            )
    except TanhuiError as exc:
        return _refused(exc)
    name = f"inventory-{community.slug}-{year}"
    if output == "csv":
        return _document(inventory_csv(inventory), "csv", name)
    if output == "xlsx":
        return _document(inventory_xlsx(inventory, chosen, generated_on=_today(request)), "xlsx", name)
    body = inventory_pdf(
        inventory, chosen, locale, generated_on=_today(request), community_zh=community.name_zh
    )
    return _document(body, "pdf", name)


@router.get(
    "/community/reports/project",
    response_class=Response,
    responses={
        200: {"content": {MEDIA["pdf"]: {}, MEDIA["html"]: {}}, "description": "ISO 14064-2 report"},
        401: {"description": "not signed in"},
        403: {"description": "operators and verifiers only"},
    },
)
def community_project(
    request: Request,
    user: CommunityReader,
    year: Annotated[int, Query(**YEARS)],
    output: Annotated[Literal["pdf", "html"], Query(alias="format")] = "pdf",
    lang: Lang | None = None,
) -> Response:
    """The caller's community ISO 14064-2-style project report for a calendar year."""
    engine: Engine = request.app.state.engine
    first, last = year_bounds(year)
    try:
        locale = locale_of(lang or user.locale)
        with engine.connect() as conn:
            community = registry.get_community(conn, CommunityId(user.community_id))
            report = load_project(
                conn,
                community=community.slug,
                first_day=first,
                last_day=last,
                factor_set=_factor_set(request, community.factor_set_id),
                rules=IngestRules.load(),
                generated_on=_today(request),
            )
    except TanhuiError as exc:
        return _refused(exc)
    name = f"project-{community.slug}-{year}"
    if output == "html":
        return _document(project_html(report, locale).encode("utf-8"), "html", name)
    return _document(project_pdf(report, locale), "pdf", name)
