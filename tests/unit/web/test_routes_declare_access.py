"""Every route declares who may call it; a route without a declaration fails this test."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Mount

from tanhui.settings import Settings
from tanhui.web.access import Allow, GatewayOnly, Public
from tanhui.web.app import create_app


def _declarations(route: APIRoute) -> list[object]:
    return [d.call for d in route.dependant.dependencies if isinstance(d.call, Allow | Public | GatewayOnly)]


def _app() -> object:
    return create_app(Settings(environment="test", database_url="sqlite://", secret_key="t" * 40))


def _routes(routes: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
    # FastAPI >= 0.16x keeps included routers as wrappers holding the original router.
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _routes(inner.routes)
        else:
            yield route


def test_every_route_declares_exactly_one_access_rule() -> None:
    app = _app()
    undeclared: list[str] = []
    seen = 0
    for route in _routes(app.routes):  # type: ignore[attr-defined]
        if isinstance(route, Mount):
            assert route.path == "/static", f"unexpected mount {route.path}"
            continue
        if not isinstance(route, APIRoute):
            continue  # FastAPI's own OpenAPI and docs routes
        seen += 1
        if len(_declarations(route)) != 1:
            undeclared.append(f"{sorted(route.methods)} {route.path}")
    assert undeclared == []
    assert seen >= 10, "the walk found too few routes: has FastAPI changed how routers are included?"


def test_data_routes_are_not_public() -> None:
    app = _app()
    public = {
        route.path
        for route in _routes(app.routes)  # type: ignore[attr-defined]
        if isinstance(route, APIRoute) and any(isinstance(d, Public) for d in _declarations(route))
    }
    # The audit log's checkpoint and tiles are public by design, as a Certificate Transparency log's are:
    # anyone may verify (docs/audit.md); they hold hashes, no personal data.
    audit = {"/api/v1/audit/{community}/checkpoint", "/api/v1/audit/{community}/tile/{rest:path}"}
    assert public - audit == {"/api/v1/auth/token", "/", "/login", "/logout", "/lang/{locale}", "/healthz"}
