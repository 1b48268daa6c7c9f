"""In Debian's Chromium: a resident redeems a reward on a phone and gets the voucher page with its QR; the
merchant types the code at a desk and it is validated; the resident then sees the voucher used.

Screenshots go to /tmp/webb-shots/ and artifacts/ (390×844 resident, 1440×900 merchant and operator).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import segno
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright
from sqlalchemy import Connection, insert

from tanhui.cli.server import BackgroundServer
from tanhui.domain.ids import CommunityId
from tanhui.domain.roles import Role
from tanhui.jobs.issuance import issue_period
from tanhui.points.catalogue import Reward, RewardKind
from tanhui.points.issuance import AvoidedEmissions
from tanhui.points.rules import parse_rules
from tanhui.settings import Settings
from tanhui.store import catalogue, migrate, registry, users
from tanhui.store.engine import make_engine
from tanhui.store.schema import avoided_daily, baseline_fits
from tanhui.web.app import create_app
from tanhui.web.passwords import hash_password

pytestmark = pytest.mark.browser
SHOTS = [
    Path("/tmp/webb-shots"),  # noqa: S108 - a fixed, shared review folder by design
    Path(__file__).resolve().parents[2] / "artifacts",
]
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
LOGINS = {"ana": Role.RESIDENT, "mei": Role.MERCHANT, "otto": Role.OPERATOR, "vic": Role.VERIFIER}


def _shot(page: Page, name: str) -> None:
    for folder in SHOTS:
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / name), full_page=True)


def _populate(conn: Connection, settings: Settings, now: int, today: date) -> None:
    cid = registry.create_community(
        conn,
        slug="baoting",
        name="Baoting",
        name_zh="保亭",
        timezone="Asia/Shanghai",
        factor_regime="cn",
        factor_set_id="cn-mee-2023@v1",
        now=now,
    )
    household = registry.create_household(
        conn, community_id=cid, code="BT-0001", persons=3, enrolled_on=today, now=now
    )
    merchant = catalogue.create_merchant(
        conn,
        cid,
        slug="betel-nut-valley",
        name_zh="槟榔谷（演示）",
        name_en="Betel Nut Valley (demo)",
        demo=True,
        now=now,
    )
    for name, role in LOGINS.items():
        user_id = users.create_user(
            conn,
            community_id=cid,
            username=name,
            password_hash=hash_password(f"{name}-password"),
            role=role,
            household_id=household if role is Role.RESIDENT else None,
            locale="zh_CN",
            now=now,
        )
        if role is Role.MERCHANT:
            catalogue.add_staff(conn, merchant, user_id)
    catalogue.create_reward(
        conn,
        CommunityId(cid),
        Reward(0, merchant, RewardKind.TICKET, "槟榔谷门票（演示）", "Betel Nut Valley ticket (demo)",
               "演示数据，不可真实使用", "Demo data, not a real offer", 150, 10,
               today - timedelta(days=30), today + timedelta(days=60), 3600, True, True),
        now=now,
    )  # fmt: skip
    rules = parse_rules((settings.data_dir / "points" / "rules.toml").read_text(encoding="utf-8"))
    period = f"{(today.replace(day=1) - timedelta(days=1)):%Y-%m}"

    def source(_conn: Connection, household_id: int, _first: date, _last: date) -> AvoidedEmissions:
        return AvoidedEmissions(household_id, period, 40_000, True, True, evidence="e2e")

    issue_period(conn, CommunityId(cid), period, replace(rules), source, now=now)
    _avoided_this_year(conn, household, now, today)


def _avoided_this_year(conn: Connection, household: int, now: int, today: date) -> None:
    """Counted avoided emissions every day of the year so far, so the dashboard has a forecast."""
    fit = conn.execute(
        insert(baseline_fits).values(
            household_id=household,
            kind="electricity",
            model="e2e",
            version="1",
            params="{}",
            metrics="{}",
            train_first=date(today.year - 1, 1, 1),
            train_last=date(today.year - 1, 12, 31),
            eligible=True,
            reasons="",
            fitted_at=now,
        )
    ).inserted_primary_key
    assert fit is not None
    day = date(today.year, 1, 1)
    while day < today:
        kg = 6 + day.toordinal() % 5  # 6-10 kg a day, a steady saving with a little spread
        conn.execute(
            insert(avoided_daily).values(
                household_id=household, day=day, factor_set_id="cn-mee-2023@v1", kind="electricity",
                fit_id=fit[0], model="e2e", model_version="1", counterfactual_micro=0, actual_micro=0,
                avoided_micro=0, avoided_co2e_mg=kg * 1_000_000, counted_co2e_mg=kg * 1_000_000,
                eligible=True, computed_at=now,
            )
        )  # fmt: skip
        day += timedelta(days=1)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('e2e-points') / 'points.db'}"
    settings = Settings(environment="test", database_url=url, secret_key="b" * 40)
    engine = make_engine(url)
    migrate.upgrade(engine)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        _populate(conn, settings, int(now.timestamp()), now.date())
    server = BackgroundServer(create_app(settings, engine=engine))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
        engine.dispose()


@pytest.fixture(scope="module")
def runner() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(runner: Playwright) -> Iterator[Browser]:
    chromium = runner.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
    yield chromium
    chromium.close()


def _login(page: Page, base: str, username: str, next_page: str) -> None:
    page.goto(f"{base}/login?next={next_page}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f"{username}-password")
    page.click("main button[type=submit]")
    expect(page).to_have_url(f"{base}{next_page}")


def test_resident_redeems_on_a_phone_and_the_merchant_validates_the_typed_code(
    base: str, browser: Browser
) -> None:
    phone = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, locale="zh-CN")
    page = phone.new_page()
    _login(page, base, "ana", "/account/points")
    expect(page.locator("#points-available")).to_have_text("400")
    _shot(page, "resident-points-390x844-zh.png")
    page.click("nav.tabs >> text=奖励")
    expect(page.locator(".badge-demo")).to_have_count(1)
    _shot(page, "resident-rewards-390x844-zh.png")
    page.click("article.reward button[type=submit]")
    expect(page).to_have_url(re.compile(r".*/account/vouchers/[0-9a-f]{10}$"))
    expect(page.locator("img.qr")).to_be_visible()
    code = page.locator("#voucher-code").inner_text().strip()
    assert len(code) == 19
    # The QR image is drawn large enough to scan from a phone held up at the counter.
    assert page.locator("img.qr").bounding_box()["width"] >= 250  # type: ignore[index]
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    _shot(page, "resident-voucher-390x844-zh.png")
    voucher_url = page.url

    desk = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en")
    till = desk.new_page()
    _login(till, base, "mei", "/merchant")
    till.click("a.lang")  # to English
    till.fill("#code", code)
    till.click("#validate-form button[type=submit]")
    expect(till.locator("#validate-result")).to_contain_text("Validated")
    _shot(till, "merchant-validated-1440x900-en.png")
    till.fill("#code", code)
    till.click("#validate-form button[type=submit]")
    expect(till.locator("#validate-result")).to_contain_text("already been used")
    _shot(till, "merchant-refused-1440x900-en.png")

    page.goto(voucher_url)
    expect(page.locator("#voucher-state")).to_have_text("已使用")
    _shot(page, "resident-voucher-used-390x844-zh.png")
    page.click("nav.tabs >> text=减排")
    expect(page.locator("h1")).to_have_text("本月减排量")
    _shot(page, "resident-avoided-390x844-zh.png")
    page.click("nav.tabs >> text=提醒与节能建议")
    _shot(page, "resident-alerts-390x844-zh.png")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    office = desk.new_page()
    _login(office, base, "otto", "/operator/dashboard")
    expect(office.locator("#forecast-t")).to_contain_text("t")
    _shot(office, "operator-dashboard-1440x900-en.png")
    office.goto(f"{base}/operator/catalogue")
    _shot(office, "operator-catalogue-1440x900-en.png")
    _login(office, base, "vic", "/verifier")
    _shot(office, "verifier-1440x900-en.png")
    phone.close()
    desk.close()


def _camera_file(code: str, folder: Path) -> Path:
    """A Y4M video of the voucher's QR symbol, for Chromium's fake camera (a phone held up to the till)."""
    width, height, scale = 640, 480, 12
    matrix = segno.make(code, error="m", micro=False).matrix
    luma = bytearray(b"\xff" * width * height)
    top, left = (height - len(matrix) * scale) // 2, (width - len(matrix) * scale) // 2
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                for y in range(top + r * scale, top + (r + 1) * scale):
                    start = y * width + left + c * scale
                    luma[start : start + scale] = b"\x00" * scale
    chroma = b"\x80" * (width // 2) * (height // 2) * 2
    path = folder / "qr.y4m"
    with path.open("wb") as video:
        video.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for _ in range(3):
            video.write(b"FRAME\n" + bytes(luma) + chroma)
    return path


def test_the_merchant_scans_the_voucher_with_the_camera(
    base: str, browser: Browser, runner: Playwright, tmp_path: Path
) -> None:
    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = phone.new_page()
    _login(page, base, "ana", "/account/rewards")
    page.click("article.reward button[type=submit]")
    expect(page).to_have_url(re.compile(r".*/account/vouchers/[0-9a-f]{10}$"))
    code = page.locator("#voucher-code").inner_text().strip()
    phone.close()
    video = _camera_file(code, tmp_path)
    camera_flags = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    ]
    chromium = runner.chromium.launch(executable_path=CHROMIUM, args=FLAGS + camera_flags)
    try:
        desk = chromium.new_context(viewport={"width": 1440, "height": 900}, locale="en")
        desk.grant_permissions(["camera"], origin=base)
        till = desk.new_page()
        _login(till, base, "mei", "/merchant")
        till.click("#scan-start")
        expect(till.locator("#validate-result")).to_contain_text("已核销", timeout=15_000)
        _shot(till, "merchant-scanned-1440x900-zh.png")
    finally:
        chromium.close()
