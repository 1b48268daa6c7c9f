"""Who may call what. Every route declares its callers with exactly one of these dependencies:

- :class:`Allow` (roles of signed-in users),
- :class:`Public` (anyone, e.g. the login page),
- :class:`GatewayOnly` (a gateway's bearer token).

A test enumerates the app's routes and fails for any route without a declaration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy import Engine

from tanhui.domain.roles import Role
from tanhui.settings import Settings
from tanhui.store import registry, users
from tanhui.store.registry import Gateway
from tanhui.store.users import User
from tanhui.web import tokens

SESSION_COOKIE = "tanhui_session"
API_PURPOSE = "api"
SESSION_PURPOSE = "session"


class NotAuthenticated(Exception):  # noqa: N818 - named for what the caller is, as HTTP does
    """No valid credentials: 401 for the API, a redirect to the login page for pages."""


class Forbidden(Exception):  # noqa: N818
    """Valid credentials, wrong role: 403."""


class NotFound(Exception):  # noqa: N818
    """The resource does not exist, or the caller may not know that it does: 404."""


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def current_user(request: Request) -> User | None:
    """The signed-in user from a bearer token (API) or the session cookie (pages), if any."""
    state = request.app.state
    settings: Settings = state.settings
    now = int(state.clock().timestamp())
    user_id: int | None = None
    # The API takes bearer tokens only and pages the session cookie only: a cookie sent along by a
    # browser to a state-changing API call would be a cross-site request forgery waiting to happen.
    if request.url.path.startswith("/api/"):
        token = _bearer(request)
        if token is not None:
            user_id = tokens.verify(API_PURPOSE, token, now=now, secret=settings.secret_key)
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            user_id = tokens.verify(SESSION_PURPOSE, cookie, now=now, secret=settings.secret_key)
    if user_id is None:
        return None
    engine: Engine = state.engine
    with engine.connect() as conn:
        return users.get_user(conn, user_id)


@dataclass(frozen=True)
class Allow:
    """Signed-in users holding one of ``roles``."""

    roles: tuple[Role, ...]

    def __init__(self, *roles: Role) -> None:
        object.__setattr__(self, "roles", roles)

    def __call__(self, request: Request) -> User:
        user = current_user(request)
        if user is None:
            raise NotAuthenticated()
        if user.role not in self.roles:
            raise Forbidden()
        request.state.user = user
        return user


@dataclass(frozen=True)
class Public:
    """Anyone, signed in or not."""

    def __call__(self, request: Request) -> User | None:
        user = current_user(request)
        request.state.user = user
        return user


@dataclass(frozen=True)
class GatewayOnly:
    """A registered gateway presenting its bearer token."""

    def __call__(self, request: Request) -> Gateway:
        token = _bearer(request)
        if token is None:
            raise NotAuthenticated()
        engine: Engine = request.app.state.engine
        with engine.connect() as conn:
            gateway = registry.gateway_by_token(conn, token)
        if gateway is None:
            raise NotAuthenticated()
        return gateway


RESIDENT_OR_OPERATOR = Allow(Role.RESIDENT, Role.OPERATOR)
OPERATOR = Allow(Role.OPERATOR)
RESIDENT = Allow(Role.RESIDENT)
MERCHANT = Allow(Role.MERCHANT)
VERIFIER = Allow(Role.VERIFIER)
PUBLIC = Public()
GATEWAY = GatewayOnly()

ResidentOrOperator = Annotated[User, Depends(RESIDENT_OR_OPERATOR)]
Operator = Annotated[User, Depends(OPERATOR)]
Resident = Annotated[User, Depends(RESIDENT)]
Anyone = Annotated[User | None, Depends(PUBLIC)]
AuthenticatedGateway = Annotated[Gateway, Depends(GATEWAY)]

# A row id in a path: the store's ids are 32-bit integer columns, so a larger number can name nothing and
# is refused (422) before it reaches the database, where it would overflow the column type.
MAX_ROW_ID = 2**31 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
