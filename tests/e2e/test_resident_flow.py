"""A resident signs in on a phone-sized Debian Chromium and sees their daily footprint chart."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tanhui.cli.demo import build_demo
from tanhui.cli.onboarding import Onboarded
from tanhui.cli.server import BackgroundServer
from tanhui.settings import Settings
from tanhui.store.engine import make_engine
from tanhui.web.app import create_app

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM = "/usr/bin/chromium"
PASSWORDS = {"operator": "op-pass-123", "resident1": "r1-pass-123", "resident2": "r2-pass-123"}
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Onboarded]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'demo.db'}"
    settings = Settings(environment="test", database_url=url, secret_key="e" * 40)
    engine = make_engine(url)
    server = BackgroundServer(create_app(settings, engine=engine))
    server.start()
    try:
        _, onboarded = build_demo(
            settings,
            engine,
            server.url,
            households=12,
            days=20,
            seed=7,
            now=lambda: datetime.now(UTC),
            passwords=PASSWORDS,
            start=date(2026, 10, 1),
        )
        yield server.url, onboarded
    finally:
        server.stop()
        engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


def _login(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORDS[username])
    page.click("button[type=submit]")


def test_resident_sees_their_chart_on_a_phone(site: tuple[str, Onboarded], browser: Browser) -> None:
    base, _ = site
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, locale="zh-CN"
    )
    page = context.new_page()
    _login(page, base, "resident1")
    expect(page).to_have_url(f"{base}/account")
    expect(page.locator("h1")).to_have_text("我的碳账户")
    # ECharts drew bars into the chart (SVG renderer): the chart is real, not an empty box.
    expect(page.locator('#chart svg path[fill="#2f7d4f"]').first).to_be_visible()
    # The table shows the last 30 days: the 20 metered ones and, before them, imported billing history.
    assert page.locator("table.data tbody tr").count() == 30
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "resident-account-390x844-zh.png"), full_page=True)
    page.click("a.lang")
    expect(page.locator("h1")).to_have_text("My carbon account")
    page.screenshot(path=str(ARTIFACTS / "resident-account-390x844-en.png"), full_page=True)
    context.close()


def test_operator_sees_community_totals(site: tuple[str, Onboarded], browser: Browser) -> None:
    base, _ = site
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    page = context.new_page()
    _login(page, base, "operator")
    expect(page).to_have_url(f"{base}/community")
    expect(page.locator(".tile-value").first).to_have_text("12")
    expect(page.locator('#chart svg path[fill="#2f7d4f"]').first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "operator-community-1440x900-zh.png"), full_page=True)
    context.close()


def test_a_wrong_password_is_refused_in_the_page(site: tuple[str, Onboarded], browser: Browser) -> None:
    base, _ = site
    page = browser.new_page(locale="zh-CN")
    page.goto(f"{base}/login")
    page.fill("input[name=username]", "resident1")
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    expect(page.locator(".error")).to_have_text("用户名或密码错误。")
    page.close()
