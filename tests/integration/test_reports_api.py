"""The report routes: who may read which report, and that the documents carry the accounted figures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tanhui.domain.roles import Role
from tanhui.settings import Settings
from tanhui.store import users
from tanhui.web.app import create_app
from tanhui.web.passwords import hash_password

from .conftest import NOW, World
from .test_reports import accounted  # noqa: F401 - the fixture: three accounted days for H1 and H2

only_sqlite = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


def clock() -> datetime:
    return datetime(2026, 11, 25, 3, tzinfo=UTC)


@pytest.fixture
def client(engine: Engine, accounted: World, store_url: str) -> Iterator[TestClient]:  # noqa: F811
    with engine.begin() as conn:
        users.create_user(
            conn,
            community_id=accounted.community_id,
            username="vera",
            password_hash=hash_password("vera-password"),
            role=Role.VERIFIER,
            household_id=None,
            locale="en",
            now=NOW,
        )
    settings = Settings(environment="test", database_url=store_url, secret_key="k" * 40)
    with TestClient(create_app(settings, engine=engine, clock=clock), base_url="https://testserver") as test:
        yield test


def _token(client: TestClient, username: str) -> dict[str, str]:
    response = client.post(
        "/api/v1/auth/token", data={"username": username, "password": f"{username}-password"}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@only_sqlite
def test_a_resident_reads_only_their_own_statement(client: TestClient, accounted: World) -> None:  # noqa: F811
    h1, h2 = accounted.households
    alice = _token(client, "alice")
    own = client.get(f"/api/v1/households/{h1}/statement?month=2026-11&format=html", headers=alice)
    assert own.status_code == 200 and own.headers["content-type"].startswith("text/html")
    assert "40.06" in own.text and "住户月度碳账单" in own.text  # alice's locale is zh_CN
    english = client.get(
        f"/api/v1/households/{h1}/statement?month=2026-11&format=html&lang=en", headers=alice
    )
    assert "Household monthly carbon statement" in english.text
    assert client.get(f"/api/v1/households/{h2}/statement?month=2026-11", headers=alice).status_code == 404
    assert client.get("/api/v1/households/99999/statement?month=2026-11", headers=alice).status_code == 404
    empty = client.get(f"/api/v1/households/{h1}/statement?month=2026-10", headers=alice)
    assert empty.status_code == 404 and empty.json()["code"] == "no_data"
    assert client.get(f"/api/v1/households/{h1}/statement?month=2026-11").status_code == 401
    assert client.get("/api/v1/community/reports/inventory?year=2026", headers=alice).status_code == 403


@only_sqlite
def test_operators_and_verifiers_read_the_community_reports(client: TestClient, accounted: World) -> None:  # noqa: F811
    olga, vera = _token(client, "olga"), _token(client, "vera")
    h2 = accounted.households[1]
    pdf = client.get(f"/api/v1/households/{h2}/statement?month=2026-11", headers=olga)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    # A verifier checks community figures, not households' statements.
    assert client.get(f"/api/v1/households/{h2}/statement?month=2026-11", headers=vera).status_code == 403
    inventory = client.get("/api/v1/community/reports/inventory?year=2026&format=csv", headers=vera)
    assert inventory.status_code == 200 and "57.3048" in inventory.text
    xlsx = client.get("/api/v1/community/reports/inventory?year=2026&format=xlsx", headers=olga)
    assert xlsx.content.startswith(b"PK")
    project = client.get("/api/v1/community/reports/project?year=2026&format=html", headers=vera)
    assert project.status_code == 200 and "Monitoring plan" in project.text  # vera's locale is en
    bad = client.get("/api/v1/community/reports/inventory?year=2026&factor_set=nope", headers=olga)
    assert bad.status_code == 422 and bad.json()["code"] == "unknown_factor_set"
