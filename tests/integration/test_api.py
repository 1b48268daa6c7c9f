"""The HTTP API and pages on both engines: authentication, the household rule, ingest, accounting."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tanhui.domain.reading import MeterReading
from tanhui.jobs.accounting import account_community
from tanhui.meters import envelope
from tanhui.settings import Settings
from tanhui.store.factor_files import load_factor_sets
from tanhui.web import ratelimit
from tanhui.web.app import create_app
from tanhui.web.ratelimit import LoginLimiter

from .conftest import World

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 24, 0, tzinfo=CST)


def clock() -> datetime:
    return datetime(2026, 11, 27, 3, tzinfo=UTC)


@pytest.fixture
def client(engine: Engine, world: World, store_url: str) -> Iterator[TestClient]:
    settings = Settings(environment="test", database_url=store_url, secret_key="k" * 40)
    app = create_app(settings, engine=engine, clock=clock)
    with TestClient(app, base_url="https://testserver") as test_client:
        yield test_client


def _token(client: TestClient, username: str) -> dict[str, str]:
    response = client.post(
        "/api/v1/auth/token", data={"username": username, "password": f"{username}-password"}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _ingest_two_days(client: TestClient, world: World) -> None:
    items: list[MeterReading] = []
    for hour in range(0, 49, 6):
        t = T0 + timedelta(hours=hour)
        items.append(
            MeterReading("110000000001", "energy_import", Decimal("100.00") + Decimal(hour), "kWh", t)
        )
        items.append(MeterReading("310000000001", "volume", Decimal("10.000") + Decimal(hour) / 100, "m3", t))
    payload = envelope.encode("gw-1", 1, T0, items)
    response = client.post(
        "/api/v1/ingest", content=payload, headers={"Authorization": f"Bearer {world.gateway_token}"}
    )
    assert response.status_code == 200
    assert response.json()["stored"] == len(items)


def test_anonymous_callers_get_401(client: TestClient, world: World) -> None:
    assert client.get("/api/v1/me").status_code == 401
    assert client.get(f"/api/v1/households/{world.households[0]}/account").status_code == 401
    assert (
        client.get("/api/v1/me", headers={"Authorization": "Bearer resident.1.9999999999.00"}).status_code
        == 401
    )


def test_wrong_password_gets_401(client: TestClient) -> None:
    response = client.post("/api/v1/auth/token", data={"username": "alice", "password": "nope"})
    assert response.status_code == 401
    assert client.post("/api/v1/auth/token", data={"username": "nobody", "password": "x"}).status_code == 401


def test_me_names_the_caller_and_their_household(client: TestClient, world: World) -> None:
    body = client.get("/api/v1/me", headers=_token(client, "alice")).json()
    assert body["username"] == "alice"
    assert body["role"] == "resident"
    assert body["household_id"] == world.households[0]


def test_a_resident_sees_only_their_own_household(client: TestClient, world: World) -> None:
    alice = _token(client, "alice")
    assert client.get(f"/api/v1/households/{world.households[0]}/account", headers=alice).status_code == 200
    assert client.get(f"/api/v1/households/{world.households[1]}/account", headers=alice).status_code == 404
    assert client.get("/api/v1/households/99999/account", headers=alice).status_code == 404
    assert client.get("/api/v1/community", headers=alice).status_code == 403


def test_an_operator_sees_the_households_of_their_community(client: TestClient, world: World) -> None:
    olga = _token(client, "olga")
    for household in world.households:
        assert client.get(f"/api/v1/households/{household}/account", headers=olga).status_code == 200
    assert client.get("/api/v1/households/99999/account", headers=olga).status_code == 404


def test_ingest_needs_a_gateway_token(client: TestClient, world: World) -> None:
    payload = envelope.encode("gw-1", 1, T0, [])
    assert client.post("/api/v1/ingest", content=payload).status_code == 401
    assert (
        client.post("/api/v1/ingest", content=payload, headers={"Authorization": "Bearer nope"}).status_code
        == 401
    )
    # A user's token is not a gateway's.
    assert client.post("/api/v1/ingest", content=payload, headers=_token(client, "olga")).status_code == 401


def test_accounting_turns_readings_into_daily_footprint(
    client: TestClient, engine: Engine, world: World
) -> None:
    _ingest_two_days(client, world)
    factor_set = load_factor_sets(Settings().data_dir / "factors")["cn-mee-2023@v1"]
    with engine.begin() as conn:
        account_community(conn, world.community_id, factor_set, now=0)
    body = client.get(
        f"/api/v1/households/{world.households[0]}/account", headers=_token(client, "alice")
    ).json()
    days = {d["day"]: d for d in body["days"]}
    # 24 kWh and 0.24 m3 of gas on each local day (readings every 6 h at +1 kWh and +0.01 m3 an hour).
    first = days[date(2026, 11, 24).isoformat()]
    assert Decimal(first["electricity_kwh"]) == Decimal(24)
    assert Decimal(first["gas_m3"]) == Decimal("0.24")
    expected = Decimal(24) * Decimal("0.5306") + Decimal("0.24") * Decimal("2.162")
    assert Decimal(first["kg_co2e"]) == expected
    assert Decimal(body["total_kg_co2e"]) == 2 * expected
    community = client.get("/api/v1/community", headers=_token(client, "olga")).json()
    assert Decimal(community["total_kg_co2e"]) == 2 * expected
    assert community["readings"] == 18


def test_login_page_session_and_language(client: TestClient, world: World) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    assert "登录" in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    bad = client.post("/login", data={"username": "alice", "password": "alice-password", "csrf": "forged"})
    assert bad.status_code == 400
    response = client.post(
        "/login",
        data={"username": "alice", "password": "alice-password", "csrf": csrf.group(1)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/account"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "samesite=lax" in cookie.lower()
    account = client.get("/account")
    assert account.status_code == 200 and "我的碳账户" in account.text
    client.get("/lang/en?next=/account")
    assert "My carbon account" in client.get("/account").text
    assert client.get(f"/account?household={world.households[1]}").status_code == 404
    assert client.get("/community").status_code == 403


def test_pages_send_anonymous_visitors_to_login(client: TestClient) -> None:
    response = client.get("/account", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


def test_sign_in_is_rate_limited_per_account(client: TestClient) -> None:
    limit = Settings().login_max_failures
    for _ in range(limit):
        assert (
            client.post("/api/v1/auth/token", data={"username": "bob", "password": "guess"}).status_code
            == 401
        )
    locked = client.post("/api/v1/auth/token", data={"username": "bob", "password": "bob-password"})
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0
    # The same address is limited too: guessing across accounts from one place does not help.
    assert (
        client.post(
            "/api/v1/auth/token", data={"username": "alice", "password": "alice-password"}
        ).status_code
        == 429
    )


def test_the_limiter_counts_accounts_and_addresses_separately() -> None:
    limiter = LoginLimiter(max_failures=2, window_seconds=60)
    limiter.failed(ratelimit.keys("Bob", "10.0.0.1"), now=0)
    limiter.failed(ratelimit.keys("bob", "10.0.0.2"), now=1)
    assert limiter.blocked(ratelimit.keys("bob", "10.0.0.3"), now=2) > 0  # the account
    assert limiter.blocked(ratelimit.keys("alice", "10.0.0.3"), now=2) == 0
    assert limiter.blocked(ratelimit.keys("bob", "10.0.0.3"), now=62) == 0  # the window slid
    limiter.failed(ratelimit.keys("carol", "10.0.0.9"), now=100)
    limiter.failed(ratelimit.keys("dave", "10.0.0.9"), now=100)
    assert limiter.blocked(ratelimit.keys("erin", "10.0.0.9"), now=101) > 0  # the address
