"""Schemathesis against the app's own OpenAPI document: no request, however odd, gets a 5xx.

Every operation in /api/openapi.json is called with generated data, as the operator and as the resident
(and the ingest endpoint as the gateway), a bounded number of examples each so the test stays fast.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from tanhui.settings import Settings
from tanhui.store import users
from tanhui.web import tokens
from tanhui.web.access import API_PURPOSE
from tanhui.web.app import create_app

from .conftest import World

SECRET = "f" * 40
# Enough to reach past each operation's validation into its handler, few enough for < 60 s in all.
EXAMPLES = 6


def clock() -> datetime:
    return datetime(2026, 11, 27, 3, tzinfo=UTC)


def _bearer(engine: Engine, username: str) -> str:
    with engine.connect() as conn:
        found = users.credentials(conn, username)
    assert found is not None
    return tokens.sign(API_PURPOSE, found[0].id, int(clock().timestamp()) + 3600, SECRET)


# The fuzz is about the app's answers, not the engine (the route x role test runs on both): SQLite only.
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_no_generated_request_gets_a_server_error(engine: Engine, world: World, store_url: str) -> None:
    app = create_app(
        Settings(environment="test", database_url=store_url, secret_key=SECRET), engine=engine, clock=clock
    )
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    callers = {
        "operator": {"Authorization": f"Bearer {_bearer(engine, 'olga')}"},
        "resident": {"Authorization": f"Bearer {_bearer(engine, 'alice')}"},
    }
    gateway = {"Authorization": f"Bearer {world.gateway_token}"}
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy(), who=st.sampled_from(sorted(callers)))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case, who: str) -> None:
            headers = gateway if case.path == "/api/v1/ingest" else callers[who]
            try:
                status = case.call(headers=headers).status_code
            except Exception as exc:  # the app raised instead of answering: that is a 500 to a client
                status = 500
                reason = f"{type(exc).__name__}: {str(exc)[:120]}"
            else:
                reason = ""
            if status >= 500:
                # One line per operation is enough; recording instead of raising skips the shrinking.
                failures.append(f"{case.method} {case.operation.path} as {who}: {status} {reason}")

        check()
    assert operations >= 15
    assert sorted(set(failures)) == [], "\n".join(sorted(set(failures)))
