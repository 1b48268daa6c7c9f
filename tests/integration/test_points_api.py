"""The points API: who may call what, redeem with code and QR, validate once, cancel, settle, issue."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tanhui.domain.roles import Role
from tanhui.points import voucher as codes
from tanhui.settings import Settings
from tanhui.store import catalogue, users
from tanhui.web.app import create_app
from tanhui.web.passwords import hash_password

from .conftest import NOW, World
from .test_ledger import setup_points


def clock() -> datetime:
    return datetime(2026, 11, 20, 3, tzinfo=UTC)


@pytest.fixture
def client(engine: Engine, world: World, store_url: str) -> Iterator[TestClient]:
    settings = Settings(environment="test", database_url=store_url, secret_key="k" * 40)
    with TestClient(create_app(settings, engine=engine, clock=clock), base_url="https://testserver") as c:
        yield c


def _token(client: TestClient, username: str) -> dict[str, str]:
    response = client.post(
        "/api/v1/auth/token", data={"username": username, "password": f"{username}-password"}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _merchant_user(engine: Engine, world: World, merchant_id: int, name: str = "mei") -> None:
    with engine.begin() as conn:
        user_id = users.create_user(
            conn,
            community_id=world.community_id,
            username=name,
            password_hash=hash_password(f"{name}-password"),
            role=Role.MERCHANT,
            household_id=None,
            locale="zh_CN",
            now=NOW,
        )
        catalogue.add_staff(conn, merchant_id, user_id)


def test_roles_and_the_household_rule(client: TestClient, engine: Engine, world: World) -> None:
    points = setup_points(engine, world)
    _merchant_user(engine, world, points.merchant_id)
    h1, h2 = world.households
    alice, olga, mei = _token(client, "alice"), _token(client, "olga"), _token(client, "mei")
    assert client.get(f"/api/v1/households/{h1}/points").status_code == 401
    assert client.get(f"/api/v1/households/{h1}/points", headers=alice).json() == {
        "household_id": h1,
        "balance": 200,
        "available": 200,
        "held": 0,
    }
    for path in (
        f"/api/v1/households/{h2}/points",
        f"/api/v1/households/{h2}/points/history",
        f"/api/v1/households/{h2}/vouchers",
    ):
        assert client.get(path, headers=alice).status_code == 404
    assert client.get(f"/api/v1/households/{h2}/points", headers=olga).json()["balance"] == 200
    assert client.get(f"/api/v1/households/{h1}/points", headers=mei).status_code == 403
    assert (
        client.post(
            f"/api/v1/households/{h2}/vouchers", json={"reward_id": points.reward_id}, headers=alice
        ).status_code
        == 404
    )
    assert (
        client.post(
            f"/api/v1/households/{h1}/vouchers", json={"reward_id": points.reward_id}, headers=olga
        ).status_code
        == 403
    )
    assert (
        client.post("/api/v1/merchant/vouchers/validate", json={"code": "0" * 16}, headers=alice).status_code
        == 403
    )
    reward = {
        "merchant_id": points.merchant_id,
        "kind": "discount",
        "name_zh": "免税折扣（演示）",
        "name_en": "Duty-free discount (demo)",
        "price_points": 80,
        "stock": 5,
        "valid_from": "2026-01-01",
        "valid_until": "2026-12-31",
    }
    assert client.post("/api/v1/rewards", json=reward, headers=alice).status_code == 403
    created = client.post("/api/v1/rewards", json=reward, headers=olga)
    assert created.status_code == 201 and created.json()["voucher_ttl_seconds"] == 604800
    listed = client.get("/api/v1/rewards", headers=alice).json()
    assert [r["name_en"] for r in listed] == ["Entry ticket (demo)", "Duty-free discount (demo)"]
    assert all(r["demo"] for r in listed) and listed[0]["merchant_zh"] == "槟榔谷（演示）"
    assert (
        client.post(
            "/api/v1/points/issuance", json={"period": "2026-11", "avoided": []}, headers=alice
        ).status_code
        == 403
    )


def test_redeem_validate_once_cancel_and_settle(client: TestClient, engine: Engine, world: World) -> None:
    points = setup_points(engine, world)
    _merchant_user(engine, world, points.merchant_id)
    h1 = world.households[0]
    alice, mei = _token(client, "alice"), _token(client, "mei")
    redeemed = client.post(
        f"/api/v1/households/{h1}/vouchers", json={"reward_id": points.reward_id}, headers=alice
    )
    assert redeemed.status_code == 201, redeemed.text
    voucher = redeemed.json()
    assert voucher["state"] == "open" and voucher["qr_svg"].lstrip().startswith("<svg")
    assert codes.parse_code(voucher["code"])[0] == int(voucher["id"], 16)
    qr = client.get(f"/api/v1/households/{h1}/vouchers/{voucher['id']}/qr.png", headers=alice)
    assert qr.status_code == 200 and qr.content.startswith(b"\x89PNG")
    assert client.get(f"/api/v1/households/{h1}/points", headers=alice).json()["available"] == 50
    poor = client.post(
        f"/api/v1/households/{h1}/vouchers", json={"reward_id": points.reward_id}, headers=alice
    )
    assert poor.status_code == 409 and poor.json()["detail"]["code"] == "exceeds_credits"

    first = client.post(
        "/api/v1/merchant/vouchers/validate",
        json={"code": voucher["code"].lower()},
        headers={**mei, "Idempotency-Key": "till-7"},
    )
    retry = client.post(
        "/api/v1/merchant/vouchers/validate",
        json={"code": voucher["code"]},
        headers={**mei, "Idempotency-Key": "till-7"},
    )
    other = client.post("/api/v1/merchant/vouchers/validate", json={"code": voucher["code"]}, headers=mei)
    assert first.status_code == retry.status_code == 200 and first.json()["state"] == "redeemed"
    assert other.status_code == 409 and other.json()["detail"]["code"] == "pending_transfer_already_posted"
    typo = voucher["code"][:-1] + ("0" if voucher["code"][-1] != "0" else "1")
    assert (
        client.post("/api/v1/merchant/vouchers/validate", json={"code": typo}, headers=mei).status_code == 422
    )
    cancel = client.post(f"/api/v1/households/{h1}/vouchers/{voucher['id']}/cancel", headers=alice)
    assert cancel.status_code == 409 and cancel.json()["detail"]["code"] == "pending_transfer_already_posted"

    history = client.get(f"/api/v1/households/{h1}/points/history", headers=alice).json()
    assert [(e["code"], e["kind"], e["direction"]) for e in history] == [
        ("redeem", "post", "out"),
        ("hold", "pending", "out"),
        ("issue", "single", "in"),
    ]
    report = client.get("/api/v1/merchant/settlement", params={"period": "2026-11"}, headers=mei).json()
    assert report["total_points"] == 150 and report["lines"][0]["voucher_id"] == voucher["id"]
    assert (
        client.get("/api/v1/merchant/settlement", params={"period": "2026-10"}, headers=mei).json()["lines"]
        == []
    )
    csv_text = client.get(
        "/api/v1/merchant/settlement", params={"period": "2026-11", "format": "csv"}, headers=mei
    ).text
    assert csv_text.splitlines()[0].startswith("voucher,reward_id")
    pdf = client.get(
        "/api/v1/merchant/settlement", params={"period": "2026-11", "format": "pdf"}, headers=mei
    )
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_cancel_returns_points_and_operators_run_issuance(
    client: TestClient, engine: Engine, world: World
) -> None:
    points = setup_points(engine, world)
    h1, h2 = world.households
    alice, olga = _token(client, "alice"), _token(client, "olga")
    voucher = client.post(
        f"/api/v1/households/{h1}/vouchers", json={"reward_id": points.reward_id}, headers=alice
    ).json()
    cancelled = client.post(f"/api/v1/households/{h1}/vouchers/{voucher['id']}/cancel", headers=alice)
    assert cancelled.json()["state"] == "cancelled"
    assert client.get(f"/api/v1/households/{h1}/points", headers=alice).json()["available"] == 200
    body = {
        "period": "2026-11",
        "avoided": [
            {
                "household_id": h1,
                "avoided_g_co2e": 12_345,
                "data_quality_ok": True,
                "baseline_eligible": True,
            },
            {
                "household_id": h2,
                "avoided_g_co2e": 12_345,
                "data_quality_ok": False,
                "baseline_eligible": True,
            },
        ],
    }
    run = client.post("/api/v1/points/issuance", json=body, headers=olga).json()
    again = client.post("/api/v1/points/issuance", json=body, headers=olga).json()
    assert (run["awarded"], run["points"], run["reasons"]) == (1, 123, {"data_quality_failed": 1})
    assert (again["awarded"], again["already_issued"]) == (0, 1)
    assert client.get(f"/api/v1/households/{h1}/points", headers=alice).json()["balance"] == 323
