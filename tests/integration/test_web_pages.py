"""Residents' and operators' pages on both engines: export, disputes, settings, onboarding, gateways,
quarantine, and the operator action log."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from tanhui.settings import Settings
from tanhui.store import quarantine, registry, users
from tanhui.store.schema import disputes, households, meters, onboarding_imports, operator_actions
from tanhui.web import tokens
from tanhui.web.access import SESSION_COOKIE, SESSION_PURPOSE
from tanhui.web.app import create_app
from tanhui.web.pages import CSRF_COOKIE

from .conftest import World

SECRET = "w" * 40
CSRF = "test-csrf-token-value"
GOOD_CSV = (
    "household,persons,enrolled_on,meter,kind,protocol,resolution,capacity,installed_on,gateway\n"
    "BT-0101,3,2026-11-01,110000000101,electricity,dlt645,0.01,100000000,2026-11-01,gw-new\n"
    "BT-0101,3,2026-11-01,210000000101,water,cjt188,0.001,100000000,2026-11-01,gw-new\n"
    "BT-0102,2,,,,,,,,\n"
)


def clock() -> datetime:
    return datetime(2026, 11, 27, 3, tzinfo=UTC)


@pytest.fixture
def client(engine: Engine, world: World, store_url: str) -> Iterator[TestClient]:
    settings = Settings(environment="test", database_url=store_url, secret_key=SECRET)
    with TestClient(create_app(settings, engine=engine, clock=clock), base_url="https://testserver") as c:
        yield c


def _sign_in(client: TestClient, engine: Engine, username: str) -> None:
    with engine.connect() as conn:
        found = users.credentials(conn, username)
    assert found is not None
    expires = int(clock().timestamp()) + 3600
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, tokens.sign(SESSION_PURPOSE, found[0].id, expires, SECRET))
    client.cookies.set(CSRF_COOKIE, CSRF)


def _count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_a_resident_exports_only_their_own_household(
    client: TestClient, engine: Engine, world: World
) -> None:
    _sign_in(client, engine, "alice")
    got = client.get("/account/export.json")
    assert got.status_code == 200
    assert "attachment" in got.headers["content-disposition"]
    data = got.json()
    assert data["household"]["code"] == "H1"
    assert sorted(m["serial"] for m in data["meters"]) == ["110000000001", "210000000001", "310000000001"]
    rows = list(csv.DictReader(io.StringIO(client.get("/account/export.csv").text.lstrip("\ufeff"))))
    assert {r["household"] for r in rows} == {"H1"}
    assert [r["record"] for r in rows].count("meter") == 3
    # The operator has no household to export, and the export is a resident's right, not a search tool.
    _sign_in(client, engine, "olga")
    assert client.get("/account/export.json").status_code == 403


def test_a_dispute_goes_from_resident_to_operator_and_back(client: TestClient, engine: Engine) -> None:
    _sign_in(client, engine, "alice")
    form = {
        "csrf": CSRF,
        "subject": "reading",
        "day": "2026-11-25",
        "meter": "110000000001",
        "message": "太高了",
    }
    assert client.post("/account/disputes", data={**form, "meter": "110000000002"}).status_code == 422
    assert client.post("/account/disputes", data={**form, "day": "2026-12-01"}).status_code == 422
    assert client.post("/account/disputes", data={**form, "csrf": "wrong"}).status_code == 400
    assert _count(engine, disputes) == 0
    filed = client.post("/account/disputes", data=form, follow_redirects=False)
    assert filed.status_code == 303
    assert "太高了" in client.get("/account/disputes").text
    _sign_in(client, engine, "bob")
    assert "太高了" not in client.get("/account/disputes").text
    _sign_in(client, engine, "olga")
    with engine.connect() as conn:
        dispute_id = conn.execute(select(disputes.c.id)).scalar_one()
    assert "太高了" in client.get("/operator/disputes").text
    answered = client.post(
        f"/operator/disputes/{dispute_id}/answer",
        data={"csrf": CSRF, "answer": "表计已校验，读数正确。"},
        follow_redirects=False,
    )
    assert answered.status_code == 303
    closed = client.post(
        f"/operator/disputes/{dispute_id}/close", data={"csrf": CSRF}, follow_redirects=False
    )
    assert closed.status_code == 303
    assert client.post(f"/operator/disputes/{dispute_id + 99}/close", data={"csrf": CSRF}).status_code == 404
    with engine.connect() as conn:
        row = conn.execute(select(disputes)).one()
        logged = [r.action for r in conn.execute(select(operator_actions).order_by(operator_actions.c.id))]
    assert (row.status, row.answer) == ("closed", "表计已校验，读数正确。")
    assert logged == ["dispute.answer", "dispute.close"]
    _sign_in(client, engine, "alice")
    assert "表计已校验" in client.get("/account/disputes").text


def test_settings_change_language_and_privacy(client: TestClient, engine: Engine) -> None:
    _sign_in(client, engine, "alice")
    page = client.get("/account/settings")
    assert "设置与我的数据" in page.text
    saved = client.post("/account/settings", data={"csrf": CSRF, "locale": "en"}, follow_redirects=False)
    assert saved.status_code == 303
    client.cookies.set(CSRF_COOKIE, CSRF)
    page = client.get("/account/settings")
    assert "Settings and my data" in page.text
    assert 'name="peer_comparison" checked' not in page.text
    assert client.get("/account/export.json").json()["privacy"] == {"peer_comparison": False}
    assert client.post("/account/settings", data={"csrf": CSRF, "locale": "fr"}).status_code == 400


def test_a_bad_row_stops_the_whole_import(client: TestClient, engine: Engine, world: World) -> None:
    _sign_in(client, engine, "olga")
    bad = GOOD_CSV + "BT-0103,many,,310000000103,gas,json,0.001,100000000,2026-13-01,\n"
    before = (_count(engine, households), _count(engine, meters))
    got = client.post(
        "/operator/onboarding", data={"csrf": CSRF}, files={"file": ("bad.csv", bad.encode(), "text/csv")}
    )
    assert got.status_code == 422
    assert "未导入任何数据" in got.text
    assert "不是整数。" in got.text and "不是日期（YYYY-MM-DD）。" in got.text
    assert (_count(engine, households), _count(engine, meters)) == before
    with engine.connect() as conn:
        assert registry.gateway_by_name(conn, "gw-new") is None
        report = json.loads(conn.execute(select(onboarding_imports.c.errors)).scalar_one())
    assert [(e["row"], e["column"], e["code"]) for e in report] == [
        (5, "persons", "bad_integer"),
        (5, "installed_on", "bad_date"),
    ]
    good = client.post(
        "/operator/onboarding",
        data={"csrf": CSRF},
        files={"file": ("good.csv", GOOD_CSV.encode(), "text/csv")},
    )
    assert good.status_code == 200, good.text
    token = good.text.split('<code class="token">')[1].split("</code>")[0]
    with engine.connect() as conn:
        gateway = registry.gateway_by_token(conn, token)
        assert gateway is not None and gateway.name == "gw-new"
        assert registry.meter_by_serial(conn, world.community_id, "210000000101") is not None
        assert registry.household_by_code(conn, world.community_id, "BT-0102") is not None
    # The same file again: every meter exists, so nothing at all is stored the second time.
    again = client.post(
        "/operator/onboarding",
        data={"csrf": CSRF},
        files={"file": ("good.csv", GOOD_CSV.encode(), "text/csv")},
    )
    assert again.status_code == 422 and "该表已登记。" in again.text


def test_gateway_tokens_are_shown_once_and_rotate(client: TestClient, engine: Engine, world: World) -> None:
    _sign_in(client, engine, "olga")
    created = client.post("/operator/gateways", data={"csrf": CSRF, "name": "gw-9"})
    assert created.status_code == 200
    assert created.headers["cache-control"] == "no-store"
    token = created.text.split('<code class="token">')[1].split("</code>")[0]
    listing = client.get("/operator/gateways")
    assert "gw-9" in listing.text and token not in listing.text
    assert client.post("/operator/gateways", data={"csrf": CSRF, "name": "gw-9"}).status_code == 422
    with engine.connect() as conn:
        gateway = registry.gateway_by_token(conn, token)
    assert gateway is not None
    rotated = client.post(f"/operator/gateways/{gateway.id}/rotate", data={"csrf": CSRF})
    new_token = rotated.text.split('<code class="token">')[1].split("</code>")[0]
    with engine.connect() as conn:
        assert registry.gateway_by_token(conn, token) is None
        assert registry.gateway_by_token(conn, new_token) is not None
        actions = [r.action for r in conn.execute(select(operator_actions).order_by(operator_actions.c.id))]
    assert actions == ["gateway.create", "gateway.rotate_token"]
    assert client.post("/operator/gateways/9999/rotate", data={"csrf": CSRF}).status_code == 404
    # An id past the column's range is refused as input, not passed to the driver to overflow.
    assert client.post(f"/operator/gateways/{2**63}/rotate", data={"csrf": CSRF}).status_code == 422
    assert "gateway.rotate_token" in client.get("/operator/actions").text


def test_quarantine_and_health_pages(client: TestClient, engine: Engine, world: World) -> None:
    payload = (
        b'{"v":1,"gateway":"gw-1","seq":1,"sent":"2026-11-26T00:00:00Z","readings":[{"meter":"99","t":1}]}'
    )
    client.post("/api/v1/ingest", content=payload, headers={"Authorization": f"Bearer {world.gateway_token}"})
    _sign_in(client, engine, "olga")
    page = client.get("/operator/quarantine", params={"status": "all"})
    assert page.status_code == 200
    with engine.connect() as conn:
        entries = quarantine.entries(conn, world.community_id, status="open")
    assert entries, "the bad envelope should be quarantined"
    entry = entries[0]
    assert f"/operator/quarantine/{entry.id}/discard" in page.text
    done = client.post(
        f"/operator/quarantine/{entry.id}/discard",
        data={"csrf": CSRF, "note": "测试"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    again = client.post(
        f"/operator/quarantine/{entry.id}/discard", data={"csrf": CSRF, "note": "x"}, follow_redirects=False
    )
    assert again.headers["location"].endswith(f"not_open-{entry.id}")
    health = client.get("/operator/health", params={"days": 30})
    assert health.status_code == 200 and "110000000001" in health.text
    with engine.connect() as conn:
        assert [r.action for r in conn.execute(select(operator_actions))] == ["quarantine.discard"]
