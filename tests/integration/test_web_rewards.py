"""Web part B on both engines: a resident redeems and sees the voucher's QR, which no one else may open;
a merchant validates a typed code exactly once and settles; a verifier downloads an evidence bundle; an
operator sees the dashboard with the year-end forecast and adds a reward (logged)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, MetaData, insert, select

from tanhui.audit import evidence
from tanhui.domain.roles import Role
from tanhui.jobs import checkpoints, sequencer
from tanhui.jobs.insights import load_parameters, run_community
from tanhui.settings import Settings
from tanhui.store import catalogue, users
from tanhui.store.schema import operator_actions
from tanhui.web import tokens
from tanhui.web.access import SESSION_COOKIE, SESSION_PURPOSE
from tanhui.web.app import create_app
from tanhui.web.pages import CSRF_COOKIE, LANG_COOKIE
from tanhui.web.passwords import hash_password

from .conftest import NOW, World
from .test_alerts_store import DAYS, END, store_readings
from .test_audit_log import SETS, _published, _signer, _store
from .test_ledger import setup_points

SECRET = "p" * 40
DATA = Path(__file__).resolve().parents[2] / "data"
CSRF = "test-csrf-token-value"
CODE = re.compile(r'id="voucher-code">([0-9A-Z-]+)<')


def _client(engine: Engine, store_url: str, when: datetime) -> TestClient:
    settings = Settings(environment="test", database_url=store_url, secret_key=SECRET)
    return TestClient(create_app(settings, engine=engine, clock=lambda: when), base_url="https://testserver")


@pytest.fixture
def client(engine: Engine, world: World, store_url: str) -> Iterator[TestClient]:
    with _client(engine, store_url, datetime(2026, 11, 20, 3, tzinfo=UTC)) as c:
        yield c


def _sign_in(client: TestClient, engine: Engine, username: str) -> None:
    with engine.connect() as conn:
        found = users.credentials(conn, username)
    assert found is not None
    expires = int(datetime(2027, 1, 1, tzinfo=UTC).timestamp())
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, tokens.sign(SESSION_PURPOSE, found[0].id, expires, SECRET))
    client.cookies.set(CSRF_COOKIE, CSRF)
    client.cookies.set(LANG_COOKIE, "en")


def _user(engine: Engine, world: World, name: str, role: Role, merchant_id: int | None = None) -> None:
    with engine.begin() as conn:
        user_id = users.create_user(
            conn,
            community_id=world.community_id,
            username=name,
            password_hash=hash_password(f"{name}-password"),
            role=role,
            household_id=None,
            locale="zh_CN",
            now=NOW,
        )
        if merchant_id is not None:
            catalogue.add_staff(conn, merchant_id, user_id)


def _redeem(client: TestClient, engine: Engine, reward_id: int) -> str:
    _sign_in(client, engine, "alice")
    page = client.get("/account/rewards")
    assert page.status_code == 200 and "Entry ticket (demo)" in page.text and "Demo" in page.text
    done = client.post(
        "/account/rewards/redeem", data={"csrf": CSRF, "reward_id": reward_id}, follow_redirects=False
    )
    assert done.status_code == 303, done.text
    return str(done.headers["location"])


def test_a_resident_redeems_sees_the_qr_and_no_one_else_may(
    client: TestClient, engine: Engine, world: World
) -> None:
    points = setup_points(engine, world)
    location = _redeem(client, engine, points.reward_id)
    assert re.fullmatch(r"/account/vouchers/[0-9a-f]{10}", location)
    voucher = client.get(location)
    assert voucher.status_code == 200
    assert 'src="data:image/png;base64,iVBOR' in voucher.text  # a PNG QR symbol
    code = CODE.search(voucher.text)
    assert code is not None and len(code.group(1)) == 19
    points_page = client.get("/account/points")
    assert 'id="points-available">50<' in points_page.text  # 200 awarded, 150 held by the voucher
    # A redemption without the form's CSRF token is refused and holds nothing more.
    assert (
        client.post("/account/rewards/redeem", data={"csrf": "x", "reward_id": points.reward_id}).status_code
        == 400
    )
    # Bob (the other household) gets 404 for the voucher, its cancel, and for ids that do not exist.
    _sign_in(client, engine, "bob")
    assert client.get(location).status_code == 404
    assert client.post(f"{location}/cancel", data={"csrf": CSRF}).status_code == 404
    assert client.get("/account/vouchers/zz").status_code == 404
    # Alice cancels: the points come back.
    _sign_in(client, engine, "alice")
    assert client.post(f"{location}/cancel", data={"csrf": CSRF}, follow_redirects=False).status_code == 303
    assert "Cancelled" in client.get(location).text
    assert 'id="points-available">200<' in client.get("/account/points").text


def test_a_merchant_validates_a_typed_code_exactly_once(
    client: TestClient, engine: Engine, world: World
) -> None:
    points = setup_points(engine, world)
    _user(engine, world, "mei", Role.MERCHANT, points.merchant_id)
    location = _redeem(client, engine, points.reward_id)
    code = CODE.search(client.get(location).text)
    assert code is not None
    _sign_in(client, engine, "mei")
    assert client.get("/merchant").status_code == 200
    typed = code.group(1).lower()  # typed at the counter, in any case
    first = client.post("/merchant/validate", data={"csrf": CSRF, "code": typed, "attempt": "a1"})
    assert first.status_code == 200 and 'id="validate-result"><strong>Validated' in first.text
    again = client.post("/merchant/validate", data={"csrf": CSRF, "code": typed, "attempt": "a2"})
    assert again.status_code == 409 and "already been used" in again.text
    wrong = client.post("/merchant/validate", data={"csrf": CSRF, "code": "0000-0000-0000-0000"})
    assert wrong.status_code in (409, 422) and "No such voucher" in wrong.text
    csv = client.get("/merchant/settlement", params={"period": "2026-11", "output": "csv"})
    assert csv.status_code == 200 and "150" in csv.text
    assert client.get("/merchant/settlement", params={"period": "nope"}).status_code == 404
    # The resident sees the voucher used.
    _sign_in(client, engine, "alice")
    assert "Used" in client.get(location).text
    # A merchant user of no merchant validates nothing.
    _user(engine, world, "max", Role.MERCHANT)
    _sign_in(client, engine, "max")
    refused = client.post("/merchant/validate", data={"csrf": CSRF, "code": typed})
    assert refused.status_code == 403


def test_a_verifier_downloads_an_evidence_bundle(engine: Engine, world: World, store_url: str) -> None:
    _store(engine, world)
    with engine.begin() as conn:
        sequencer.sequence(conn, world.community_id, SETS, now=1)
        checkpoints.publish(conn, world.community_id, _signer(), now=2)
    _user(engine, world, "vera", Role.VERIFIER)
    with _client(engine, store_url, datetime(2026, 11, 25, 2, tzinfo=UTC)) as client:
        _sign_in(client, engine, "vera")
        page = client.get("/verifier")
        assert page.status_code == 200 and 'id="log-size">' in page.text and "docs/verifying.md" in page.text
        h1 = world.households[0]
        bundle = client.get(f"/verifier/households/{h1}/evidence.json")
        assert bundle.status_code == 200 and "attachment" in bundle.headers["content-disposition"]
        report = evidence.verify(
            evidence.from_json(json.loads(bundle.text)),
            log_key=_signer().verifier,
            witnesses=[],
            quorum=0,
            factor_sets=_published(),  # type: ignore[arg-type]
        )
        assert report.results > 0
        assert client.get("/verifier/households/999999/evidence.json").status_code == 404
        _sign_in(client, engine, "alice")
        assert client.get(f"/verifier/households/{h1}/evidence.json").status_code == 403


def _avoided_rows(engine: Engine, world: World) -> None:
    # The counted series of tests/integration/test_roadmap.py: 10, 12 and 8 kg on 1-3 January 2026.
    tables = MetaData()
    tables.reflect(engine, only=["baseline_fits", "avoided_daily"])
    fits, avoided = tables.tables["baseline_fits"], tables.tables["avoided_daily"]
    counted = {(0, 1): 8, (1, 1): 2, (0, 2): 12, (0, 3): 5, (1, 3): 3}
    with engine.begin() as conn:
        fit_ids = []
        for household in world.households:
            row = dict(kind="electricity", model="bench", version="1", params="{}", metrics="{}")
            result = conn.execute(
                insert(fits).values(
                    household_id=household,
                    train_first=date(2025, 1, 1),
                    train_last=date(2025, 12, 31),
                    eligible=True,
                    reasons="",
                    fitted_at=NOW,
                    **row,
                )
            )
            assert result.inserted_primary_key is not None
            fit_ids.append(result.inserted_primary_key[0])
        for (h, day), kg in counted.items():
            conn.execute(
                insert(avoided).values(
                    household_id=world.households[h],
                    day=date(2026, 1, day),
                    factor_set_id="cn-mee-2023@v1",
                    kind="electricity",
                    fit_id=fit_ids[h],
                    model="bench",
                    model_version="1",
                    counterfactual_micro=0,
                    actual_micro=0,
                    avoided_micro=0,
                    avoided_co2e_mg=kg * 2_000_000,
                    counted_co2e_mg=kg * 1_000_000,
                    eligible=True,
                    computed_at=NOW,
                )
            )


def test_an_operator_sees_the_dashboard_with_the_forecast(
    engine: Engine, world: World, store_url: str
) -> None:
    _avoided_rows(engine, world)
    with _client(engine, store_url, datetime(2026, 1, 3, 12, tzinfo=UTC)) as client:
        _sign_in(client, engine, "olga")
        page = client.get("/operator/dashboard")
        assert page.status_code == 200
        # 30 kg so far; forecast 3.650 t with the 80 % band 3.112-4.188 t (test_roadmap.py works it out).
        text = re.sub(r"\s+", " ", page.text)
        assert "3.11 – 4.19 t" in text and "3.65 <small>t</small>" in text and "0.03 <small>t</small>" in text
        assert "3,000 t CO₂e" in text and "Hainan Daily" in text
        for sector in ("Energy", "Buildings", "Transport", "Resources"):
            assert f"<td>{sector}</td>" in text
        assert "With an eligible baseline" in text
        _sign_in(client, engine, "alice")
        assert client.get("/operator/dashboard").status_code == 403


def test_an_operator_adds_a_reward_and_the_change_is_logged(
    client: TestClient, engine: Engine, world: World
) -> None:
    points = setup_points(engine, world)
    _sign_in(client, engine, "olga")
    form: dict[str, str | int] = {
        "csrf": CSRF,
        "merchant_id": points.merchant_id,
        "kind": "discount",
        "name_zh": "折扣（演示）",
        "name_en": "Discount (demo)",
        "price_points": "80",
        "stock": "5",
        "valid_from": "2026-11-01",
        "valid_until": "2026-12-31",
        "demo": "on",
    }
    bad = client.post("/operator/catalogue", data={**form, "price_points": "-3"})
    assert bad.status_code == 422
    done = client.post("/operator/catalogue", data=form, follow_redirects=False)
    assert done.status_code == 303
    assert "Discount (demo)" in client.get("/operator/catalogue").text
    with engine.connect() as conn:
        logged = conn.execute(select(operator_actions.c.action, operator_actions.c.target)).all()
    assert [a for a, _ in logged] == ["reward.create"]
    assert client.get("/operator/reports").status_code == 200


def test_a_resident_acknowledges_their_leak_alert_and_no_one_else_may(
    engine: Engine, world: World, store_url: str
) -> None:
    store_readings(engine, world)
    with engine.begin() as conn:
        run_community(conn, world.community_id, now=END, params=load_parameters(DATA), days=DAYS)
    with _client(engine, store_url, datetime.fromtimestamp(END + 3600, UTC)) as client:
        _sign_in(client, engine, "alice")
        page = client.get("/account/alerts")
        assert page.status_code == 200 and "210000000001" in page.text
        found = re.search(r'action="/account/alerts/(\d+)/acknowledge"', page.text)
        assert found is not None
        target = f"/account/alerts/{found.group(1)}/acknowledge"
        _sign_in(client, engine, "bob")
        assert "210000000001" not in client.get("/account/alerts").text
        assert client.post(target, data={"csrf": CSRF}).status_code == 404
        _sign_in(client, engine, "alice")
        assert client.post(target, data={"csrf": "wrong"}).status_code == 400
        assert client.post(target, data={"csrf": CSRF}, follow_redirects=False).status_code == 303
        after = client.get("/account/alerts").text
        assert "Seen" in after and target not in after


@pytest.mark.parametrize(
    ("name", "role", "home"),
    [
        ("alice", Role.RESIDENT, "/account"),
        ("olga", Role.OPERATOR, "/community"),
        ("till", Role.MERCHANT, "/merchant"),
        ("vera", Role.VERIFIER, "/verifier"),
    ],
)
def test_each_role_lands_on_its_own_page_after_signing_in(
    client: TestClient, engine: Engine, world: World, name: str, role: Role, home: str
) -> None:
    if role in {Role.MERCHANT, Role.VERIFIER}:
        _user(engine, world, name, role)
    client.cookies.clear()
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    response = client.post(
        "/login",
        data={"username": name, "password": f"{name}-password", "csrf": csrf.group(1)},
        follow_redirects=False,
    )
    assert (response.status_code, response.headers["location"]) == (303, home)
    assert client.get("/", follow_redirects=False).headers["location"] == home
