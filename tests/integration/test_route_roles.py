"""Every route of the app × every kind of caller, with the expected status taken from the route's own
access declaration (docs/web.md, The route × role test).

The walk finds routes the same way as tests/unit/web/test_routes_declare_access.py, so a route added
later by any module is covered without touching this file; one without a declaration fails here too.
Expectations:

- allowed caller: anything but 401/403 and 5xx (2xx, a redirect, or a 4xx for the empty request);
  a page never sends an allowed caller to the sign-in page;
- anonymous caller of an ``Allow`` or gateway route: 401 on the API, 303 to /login for a page;
- signed-in user of the wrong role: 403 or 404; a gateway's token is no user's: 401 / 303.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from starlette.routing import BaseRoute

from tanhui.domain.roles import Role
from tanhui.settings import Settings
from tanhui.store import users
from tanhui.web import tokens
from tanhui.web.access import API_PURPOSE, SESSION_COOKIE, SESSION_PURPOSE, Allow, GatewayOnly, Public
from tanhui.web.app import create_app
from tanhui.web.passwords import hash_password

from .conftest import NOW, World

SECRET = "r" * 40
CALLERS = ("anonymous", "resident", "operator", "merchant", "verifier", "gateway")
USERNAMES = {"resident": "alice", "operator": "olga", "merchant": "mia", "verifier": "vera"}


def clock() -> datetime:
    return datetime(2026, 11, 27, 3, tzinfo=UTC)


def _walk(routes: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _walk(inner.routes)
        else:
            yield route


@dataclass(frozen=True)
class Declared:
    method: str
    path: str
    rule: Allow | Public | GatewayOnly

    def allows(self, caller: str) -> bool:
        if isinstance(self.rule, Public):
            return True
        if isinstance(self.rule, GatewayOnly):
            return caller == "gateway"
        return caller in {r.value for r in self.rule.roles}

    @property
    def is_api(self) -> bool:
        return self.path.startswith("/api/")


def declared_routes() -> list[Declared]:
    app = create_app(Settings(environment="test", database_url="sqlite://", secret_key=SECRET))
    found: list[Declared] = []
    for route in _walk(app.routes):
        if not isinstance(route, APIRoute):
            continue
        rules = [
            d.call for d in route.dependant.dependencies if isinstance(d.call, Allow | Public | GatewayOnly)
        ]
        assert len(rules) == 1, f"{route.path} declares {len(rules)} access rules; it needs exactly one"
        for method in sorted(route.methods - {"HEAD"}):
            found.append(Declared(method, route.path, rules[0]))
    return found


ROUTES = declared_routes()


def test_the_walk_covers_every_role_and_all_kinds_of_rule() -> None:
    # Guards the test itself: if FastAPI changed how routers nest, the walk would find nothing.
    assert len(ROUTES) >= 30
    assert any(isinstance(r.rule, GatewayOnly) for r in ROUTES)
    assert any(isinstance(r.rule, Public) for r in ROUTES)
    for role in ("resident", "operator", "merchant"):
        assert any(r.allows(role) and isinstance(r.rule, Allow) for r in ROUTES), role


def _fill(path: str, world: World) -> str:
    # Ids from the world fixture: the resident's own household, the first of anything else.
    values = {"household_id": str(world.households[0]), "locale": "en", "serial": "110000000001"}
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values.get(m.group(1), "1"), path)


@pytest.fixture
def callers(engine: Engine, world: World) -> dict[str, dict[str, str]]:
    with engine.begin() as conn:
        for role, name in (("merchant", "mia"), ("verifier", "vera")):
            users.create_user(
                conn,
                community_id=world.community_id,
                username=name,
                password_hash=hash_password(f"{name}-password"),
                role=Role(role),
                household_id=None,
                locale="zh_CN",
                now=NOW,
            )
    expires = int(clock().timestamp()) + 3600
    credentials: dict[str, dict[str, str]] = {"anonymous": {}, "gateway": {"bearer": world.gateway_token}}
    with engine.connect() as conn:
        for caller, username in USERNAMES.items():
            found = users.credentials(conn, username)
            assert found is not None
            user_id = found[0].id
            credentials[caller] = {
                "bearer": tokens.sign(API_PURPOSE, user_id, expires, SECRET),
                "cookie": tokens.sign(SESSION_PURPOSE, user_id, expires, SECRET),
            }
    return credentials


def _call(client: TestClient, route: Declared, path: str, credentials: dict[str, str]) -> int:
    client.cookies.clear()
    headers = {}
    if "bearer" in credentials:
        headers["Authorization"] = f"Bearer {credentials['bearer']}"
    if "cookie" in credentials:
        client.cookies.set(SESSION_COOKIE, credentials["cookie"])
    response = client.request(route.method, path, headers=headers, follow_redirects=False)
    if response.status_code == 303 and not route.is_api:
        return 303 if response.headers["location"].startswith("/login") else 302
    return response.status_code


def test_every_route_answers_every_caller_as_declared(
    engine: Engine, world: World, store_url: str, callers: dict[str, dict[str, str]]
) -> None:
    settings = Settings(environment="test", database_url=store_url, secret_key=SECRET)
    app = create_app(settings, engine=engine, clock=clock)
    wrong: list[str] = []
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as client:
        for route in ROUTES:
            path = _fill(route.path, world)
            for caller in CALLERS:
                status = _call(client, route, path, callers[caller])
                if isinstance(route.rule, Public):
                    ok, expected = status < 500 and status not in (401, 403), "public"
                elif route.allows(caller):
                    ok = (
                        status < 500 and status not in (401, 403) and not (status == 303 and not route.is_api)
                    )
                    expected = "allowed"
                elif caller in {"anonymous", "gateway"} or isinstance(route.rule, GatewayOnly):
                    # No user at all (or a user where a gateway is needed): not authenticated.
                    expected = "401" if route.is_api else "303 to /login"
                    ok = status == (401 if route.is_api else 303)
                else:
                    expected = "403 or 404"
                    ok = status in (403, 404)
                if not ok:
                    wrong.append(f"{route.method} {route.path} as {caller}: {status}, expected {expected}")
    assert wrong == [], "\n".join(wrong)
