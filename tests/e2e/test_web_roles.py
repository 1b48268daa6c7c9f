"""In Debian's Chromium: a resident exports their data and files a dispute on a phone; an operator
imports households by CSV (a bad file first), issues a gateway token once, and answers the dispute.

Screenshots go to /tmp/web-shots/ and artifacts/ (390×844 for the resident, 1440×900 for the operator).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tanhui.cli.demo import build_demo
from tanhui.cli.server import BackgroundServer
from tanhui.settings import Settings
from tanhui.store.engine import make_engine
from tanhui.web.app import create_app

pytestmark = pytest.mark.browser
# /tmp/web-shots is where the reviewer looks at them; artifacts/ is what CI keeps.
SHOTS = [
    Path("/tmp/web-shots"),  # noqa: S108 - a fixed, shared review folder by design
    Path(__file__).resolve().parents[2] / "artifacts",
]
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
HEADER = "household,persons,enrolled_on,meter,kind,protocol,resolution,capacity,installed_on,gateway\n"
GOOD = (
    HEADER
    + "BT-9001,4,2026-11-01,119000009001,electricity,dlt645,0.01,100000000,2026-11-01,gw-import-1\n"
    + "BT-9001,4,2026-11-01,219000009001,water,cjt188,0.001,100000000,2026-11-01,gw-import-1\n"
)
BAD = GOOD + "BT-9002,four,2026-11-01,319000009002,steam,json,0.001,100000000,2026-11-01,\n"


def _shot(page: Page, name: str) -> None:
    for folder in SHOTS:
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / name), full_page=True)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('e2e-roles') / 'demo.db'}"
    settings = Settings(environment="test", database_url=url, secret_key="e" * 40)
    engine = make_engine(url)
    server = BackgroundServer(create_app(settings, engine=engine))
    server.start()
    try:
        build_demo(
            settings,
            engine,
            server.url,
            households=6,
            days=10,
            seed=11,
            now=lambda: datetime.now(UTC),
            passwords=PASSWORDS,
            start=date(2026, 11, 1),
        )
        yield server.url
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


def test_resident_exports_data_and_files_a_dispute_on_a_phone(base: str, browser: Browser) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, locale="zh-CN", accept_downloads=True
    )
    page = context.new_page()
    _login(page, base, "resident1")
    expect(page).to_have_url(f"{base}/account")
    page.click("nav.tabs >> text=设置与我的数据")
    expect(page.locator("h1")).to_have_text("设置与我的数据")
    _shot(page, "resident-settings-390x844-zh.png")
    with page.expect_download() as got:
        page.click("#export-csv")
    rows = list(csv.DictReader(io.StringIO(Path(got.value.path()).read_text(encoding="utf-8-sig"))))
    assert {r["record"] for r in rows} == {"household", "meter", "day"}
    assert len({r["household"] for r in rows}) == 1
    with page.expect_download() as got:
        page.click("#export-json")
    data = json.loads(Path(got.value.path()).read_text(encoding="utf-8"))
    assert data["household"]["code"] == rows[0]["household"] and data["daily"]

    page.click("nav.tabs >> text=申诉")
    page.check("input[name=subject][value=reading]")
    page.fill("input[name=day]", "2026-11-05")
    page.select_option("select[name=meter]", index=1)
    page.fill("textarea[name=message]", "11月5日的电表读数比平时高很多，家里没有人。")
    page.click("#dispute-form button[type=submit]")
    expect(page.locator(".notice")).to_contain_text("您的申诉已提交")
    expect(page.locator("article.dispute")).to_have_count(1)
    expect(page.locator("article.dispute .badge")).to_have_text("待处理")
    _shot(page, "resident-disputes-390x844-zh.png")
    # Nothing on the page is wider than the phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    context.close()


def test_operator_imports_issues_a_token_and_answers(base: str, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    page = context.new_page()
    _login(page, base, "operator")
    expect(page).to_have_url(f"{base}/community")

    page.click("nav.tabs >> text=批量登记")
    page.set_input_files(
        "input[name=file]", files=[{"name": "bad.csv", "mimeType": "text/csv", "buffer": BAD.encode()}]
    )
    page.click("form[enctype] button[type=submit]")
    report = page.locator("#import-result")
    expect(report).to_contain_text("未导入任何数据")
    expect(report.locator("tbody tr")).to_have_count(2)  # persons and kind on line 4
    expect(report.locator("tbody tr").first).to_contain_text("不是整数。")
    _shot(page, "operator-import-refused-1440x900-zh.png")
    page.goto(f"{base}/operator/health")
    expect(page.locator("table.data")).not_to_contain_text("119000009001")  # nothing half-imported

    _shot(page, "operator-health-1440x900-zh.png")
    page.goto(f"{base}/operator/quarantine?status=all")
    expect(page.locator("h1")).to_have_text("隔离区")
    _shot(page, "operator-quarantine-1440x900-zh.png")

    page.goto(f"{base}/operator/onboarding")
    page.set_input_files(
        "input[name=file]", files=[{"name": "good.csv", "mimeType": "text/csv", "buffer": GOOD.encode()}]
    )
    page.click("form[enctype] button[type=submit]")
    expect(page.locator("#import-result")).to_contain_text("已导入")
    expect(page.locator("#import-result code.token")).to_have_count(1)
    _shot(page, "operator-import-applied-1440x900-zh.png")

    page.click("nav.tabs >> text=网关")
    page.fill("input[name=name]", "gw-desk-7")
    page.click("form.inline-form button[type=submit]")
    token = page.locator("#new-token code.token").inner_text()
    assert len(token) >= 40
    _shot(page, "operator-gateway-token-1440x900-zh.png")
    page.goto(f"{base}/operator/gateways")
    expect(page.locator("table.data")).to_contain_text("gw-desk-7")
    assert token not in page.content()  # shown once

    page.click("nav.tabs >> text=申诉")
    dispute = page.locator("article.dispute").first
    expect(dispute).to_contain_text("家里没有人")
    dispute.locator("textarea[name=answer]").fill("已核查：当天热水器故障，读数属实。")
    dispute.locator("button.primary").click()
    page.goto(f"{base}/operator/disputes?status=answered")
    expect(page.locator("article.dispute .badge")).to_have_text("已答复")
    _shot(page, "operator-disputes-1440x900-zh.png")
    page.click("nav.tabs >> text=操作日志")
    expect(page.locator("table.data")).to_contain_text("dispute.answer")
    expect(page.locator("table.data")).to_contain_text("gateway.create")
    _shot(page, "operator-actions-1440x900-zh.png")
    page.click("a.lang")
    expect(page.locator("h1")).to_have_text("Operator actions")
    context.close()


def test_resident_sees_the_answer(base: str, browser: Browser) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, locale="en-GB"
    )
    page = context.new_page()
    _login(page, base, "resident1")
    page.goto(f"{base}/account/disputes")
    # The account's language (zh_CN) wins over the browser's until the resident picks another.
    expect(page.locator("h1")).to_have_text("对数据提出申诉")
    page.click("a.lang")
    expect(page.locator("h1")).to_have_text("Dispute a figure")
    expect(page.locator("article.dispute .answer")).to_contain_text("热水器")
    expect(page.locator("article.dispute .badge")).to_have_text("Answered")
    _shot(page, "resident-disputes-390x844-en.png")
    context.close()
