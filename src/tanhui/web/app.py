"""The FastAPI application: API, pages, static files, and the mapping of access errors to HTTP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from tanhui.clock import utc_now
from tanhui.ingest.actions import ActionError
from tanhui.ingest.pipeline import Ingestor
from tanhui.settings import Settings
from tanhui.store.engine import make_engine
from tanhui.store.factor_files import load_factor_sets
from tanhui.web import (
    api,
    audit_api,
    configuration_pages,
    dashboard_pages,
    health_api,
    insights_api,
    merchant_pages,
    operator_pages,
    pages,
    points_api,
    reports_api,
    resident_pages,
    rewards_pages,
    verifier_pages,
)
from tanhui.web.access import PUBLIC, Forbidden, NotAuthenticated, NotFound
from tanhui.web.i18n import translations
from tanhui.web.ratelimit import LoginLimiter
from tanhui.web.signin import TooManyAttempts

STATIC = Path(__file__).with_name("static")


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def create_app(
    settings: Settings, *, engine: Engine | None = None, clock: Callable[[], datetime] = utc_now
) -> FastAPI:
    """Build the app on ``engine`` (default: one made from ``settings.database_url``)."""
    app = FastAPI(
        title="Tanhui API",
        version="1",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine if engine is not None else make_engine(settings.database_url)
    app.state.clock = clock
    app.state.ingestor = Ingestor(app.state.engine, clock)
    app.state.factor_sets = load_factor_sets(settings.data_dir / "factors")
    app.state.login_limiter = LoginLimiter(settings.login_max_failures, settings.login_window_seconds)

    app.include_router(api.router)
    app.include_router(health_api.router)
    app.include_router(pages.router)
    # --- routers of later domains register here, one line each ---
    app.include_router(insights_api.router)
    app.include_router(audit_api.router)
    app.include_router(reports_api.router)
    app.include_router(resident_pages.router)
    app.include_router(operator_pages.router)
    app.include_router(configuration_pages.router)
    app.include_router(points_api.router)
    app.include_router(rewards_pages.router)
    app.include_router(merchant_pages.router)
    app.include_router(verifier_pages.router)
    app.include_router(dashboard_pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/healthz", dependencies=[Depends(PUBLIC)], include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.exception_handler(NotAuthenticated)
    def not_authenticated(request: Request, _exc: NotAuthenticated) -> Response:
        if _is_api(request):
            return JSONResponse(
                {"detail": "not authenticated"}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
            )
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @app.exception_handler(Forbidden)
    def forbidden(request: Request, _exc: Forbidden) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": "your role may not do this"}, status_code=403)
        text = translations(pages.locale_of(request)).gettext("Your role may not open this page.")
        return Response(text, status_code=403, media_type="text/plain; charset=utf-8")

    @app.exception_handler(TooManyAttempts)
    def too_many_attempts(_request: Request, exc: TooManyAttempts) -> Response:
        return JSONResponse(
            {"detail": "too many failed sign-ins; try again later"},
            status_code=429,
            headers={"Retry-After": str(exc.retry_after)},
        )

    @app.exception_handler(ActionError)
    def action_refused(_request: Request, exc: ActionError) -> Response:
        status = {"not_found": 404, "not_open": 409, "exists": 409}.get(exc.code, 422)  # else invalid input
        return JSONResponse({"detail": exc.message, "code": exc.code}, status_code=status)

    @app.exception_handler(NotFound)
    def not_found(request: Request, _exc: NotFound) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": "not found"}, status_code=404)
        text = translations(pages.locale_of(request)).gettext("Not found.")
        return Response(text, status_code=404, media_type="text/plain; charset=utf-8")

    return app
