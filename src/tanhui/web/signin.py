"""Checking a username and password, shared by the sign-in page and the API's token endpoint."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy import Engine

from tanhui.store import users
from tanhui.store.users import User
from tanhui.web import ratelimit
from tanhui.web.passwords import DUMMY_HASH, verify_password


class TooManyAttempts(Exception):  # noqa: N818 - named for the situation, as HTTP 429 is
    """Too many failed sign-ins for this account or address; try again after ``retry_after`` s."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


def authenticate(request: Request, username: str, password: str) -> User | None:
    """The user when the password is right; None when not; :class:`TooManyAttempts` when rate-limited.

    An unknown username costs the same Argon2 verification as a wrong password, so response times do
    not reveal which accounts exist.
    """
    state = request.app.state
    limiter: ratelimit.LoginLimiter = state.login_limiter
    now = state.clock().timestamp()
    keys = ratelimit.keys(username, request.client.host if request.client else None)
    wait = limiter.blocked(keys, now)
    if wait:
        raise TooManyAttempts(wait)
    engine: Engine = state.engine
    with engine.connect() as conn:
        found = users.credentials(conn, username)
    if found is None:
        verify_password(DUMMY_HASH, password)
        limiter.failed(keys, now)
        return None
    user, stored_hash = found
    if not verify_password(stored_hash, password):
        limiter.failed(keys, now)
        return None
    limiter.succeeded(keys[0])
    return user
