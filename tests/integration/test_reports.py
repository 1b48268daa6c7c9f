"""The reports from real stored data: statement, inventory and project report in zh-CN and en.

A small accounting run over three local days (2026-11-02..04) for households H1 and H2 of the ``world``
fixture gives the figures; every expected number below is worked by hand from the factor files.
PDFs are rasterised with poppler's ``pdftoppm`` and read back with ``pdftotext`` to check that the
pages carry ink and the text (CJK included) is really there.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import subprocess
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import typer
from openpyxl import load_workbook  # type: ignore[import-untyped]
from PIL import Image
from sqlalchemy import Engine
from typer.testing import CliRunner

from tanhui.accounting.factors import FactorSet
from tanhui.accounting.inventory import Inventory, Level
from tanhui.cli.report_commands import report_app
from tanhui.ingest.rules import IngestRules
from tanhui.jobs.accounting import account_community
from tanhui.reports.errors import ReportError
from tanhui.reports.gpc import CSV_HEADER, inventory_csv, inventory_pdf, inventory_xlsx, load_inventory
from tanhui.reports.project import (
    Checkpoint,
    ProjectReport,
    Quantification,
    load_project,
    project_html,
    project_pdf,
)
from tanhui.reports.statement import Statement, load_statement, statement_html, statement_pdf
from tanhui.settings import Settings, get_settings
from tanhui.store import readings
from tanhui.store.factor_files import load_factor_sets
from tanhui.store.readings import StoredReading

from .conftest import NOW, World

SHOTS = Path("/tmp/report-shots")  # noqa: S108 - the screenshots the brief asks to keep
START = int(datetime(2026, 11, 2, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp())
STEPS = 12  # readings every 6 h over three local days, plus the closing one
# counts of the register's resolution per 6 h: H1 6 kWh, 0.1 m3 water, 0.06 m3 gas; H2 half of each
RATES = {
    "110000000001": ("energy_import", 600),
    "210000000001": ("volume", 100),
    "310000000001": ("volume", 60),
    "110000000002": ("energy_import", 300),
    "210000000002": ("volume", 50),
    "310000000002": ("volume", 30),
}
# H1 over 2026-11: 72 kWh, 1.2 m3 water, 0.72 m3 gas.
H1_CN = (
    Decimal(72) * Decimal("0.5306") + Decimal("1.2") * Decimal("0.247") + Decimal("0.72") * Decimal("2.162")
)
H1_EU = (
    Decimal(72) * Decimal("0.214")
    + Decimal("1.2") * Decimal("0.36218")
    + Decimal("0.72") * Decimal("2.06672")
)

only_sqlite = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


def _sets() -> dict[str, FactorSet]:
    return load_factor_sets(Settings().data_dir / "factors")


@pytest.fixture
def accounted(engine: Engine, world: World) -> World:
    rows = [
        StoredReading(world.meters[serial], register, START + 6 * 3600 * k, 1000 + rate * k)
        for serial, (register, rate) in RATES.items()
        for k in range(STEPS + 1)
    ]
    payload = json.dumps([[r.meter_id, r.register, r.meter_time, r.value] for r in rows]).encode()
    with engine.begin() as conn:
        batch = readings.add_batch(
            conn,
            gateway_id=world.gateway.id,
            seq=1,
            transport="http",
            received_at=NOW,
            sha256=hashlib.sha256(payload).hexdigest(),
            payload=payload,
        )
        readings.add(conn, rows, batch_id=batch, received_at=NOW)
        account_community(conn, world.community_id, _sets()["cn-mee-2023@v1"], now=NOW)
    return world


def _statement(engine: Engine, household: str = "H1", month: str = "2026-11") -> Statement:
    sets = _sets()
    with engine.connect() as conn:
        return load_statement(
            conn,
            community="baoting",
            household=household,
            month=month,
            cn=sets["cn-mee-2023@v1"],
            eu=sets["eu-eea-2023@v1"],
            generated_on=date(2026, 11, 25),
        )


def pdf_pages(pdf: bytes, tmp_path: Path, name: str) -> list[Path]:
    """Rasterise ``pdf`` with pdftoppm; the PNG of each page, also kept under /tmp/report-shots."""
    source = tmp_path / f"{name}.pdf"
    source.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(source), str(tmp_path / name)], check=True)
    pages = sorted(tmp_path.glob(f"{name}-*.png"))
    SHOTS.mkdir(exist_ok=True)
    for stale in SHOTS.glob(f"{name}-*.png"):
        stale.unlink()
    for page in pages:
        shutil.copy(page, SHOTS / page.name)
    return pages


def ink(png: Path) -> float:
    """Share of the page's pixels that are not near-white."""
    with Image.open(png) as image:
        gray = image.convert("L")
    dark = sum(gray.histogram()[:230])
    return dark / (gray.width * gray.height)


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    source = tmp_path / "text.pdf"
    source.write_bytes(pdf)
    done = subprocess.run(["pdftotext", str(source), "-"], check=True, capture_output=True)
    return done.stdout.decode("utf-8")


def test_the_statement_holds_the_hand_worked_month_under_both_sets(engine: Engine, accounted: World) -> None:
    statement = _statement(engine)
    assert [d.day for d in statement.days] == [date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 4)]
    assert statement.cn_total_kg == H1_CN == Decimal("40.05624")
    assert statement.eu_total_kg == H1_EU == Decimal("17.3306544")
    electricity = statement.meters[0]
    assert (electricity.serial, electricity.amount) == ("110000000001", Decimal(72))
    assert electricity.delta_kg == Decimal(72) * (Decimal("0.214") - Decimal("0.5306"))
    assert statement.cn.content_hash.startswith("sha256:")
    assert statement.avoided is None and statement.points is None
    # H2 uses half the amounts: its own statement, not H1's.
    assert _statement(engine, "H2").cn_total_kg == H1_CN / 2


@only_sqlite
def test_the_statement_page_shows_the_figures_in_each_language(engine: Engine, accounted: World) -> None:
    statement = _statement(engine)
    zh = statement_html(statement, "zh_CN")
    en = statement_html(statement, "en")
    assert "住户月度碳账单" in zh and "2026年11月" in zh
    assert "Household monthly carbon statement" in en and "November 2026" in en
    for page in (zh, en):
        assert "40.06" in page and "17.33" in page  # month totals, 2 decimals
        assert "38.203" in page and "15.408" in page  # electricity 72 kWh x 0.5306 and x 0.214
        assert statement.cn.content_hash in page and statement.eu.content_hash in page
        assert 'name="viewport"' in page
    assert "尚未提供" in zh and "not yet available" in en
    # The factor difference is explained with its arithmetic: 72 x (0.214 - 0.5306) = -22.795 kg.
    assert "−22.795" in en and "−22.795" in zh


def test_a_month_without_data_or_an_unknown_household_is_refused(engine: Engine, accounted: World) -> None:
    with pytest.raises(ReportError, match="no accounted consumption") as empty:
        _statement(engine, month="2026-10")
    assert empty.value.code == "no_data"
    with pytest.raises(ReportError) as unknown:
        _statement(engine, household="H9")
    assert unknown.value.code == "unknown_household"


@only_sqlite
def test_the_statement_pdf_prints_on_a4_in_both_languages(
    engine: Engine, accounted: World, tmp_path: Path
) -> None:
    statement = _statement(engine)
    for locale in ("zh_CN", "en"):
        pdf = statement_pdf(statement, locale)
        pages = pdf_pages(pdf, tmp_path, f"statement-{locale}")
        assert 1 <= len(pages) <= 3
        for page in pages:
            assert ink(page) > 0.01, f"{page.name} is blank"
        with Image.open(pages[0]) as first:
            width, height = first.size
        assert abs(height / width - 297 / 210) < 0.01  # A4 portrait
        text = pdf_text(pdf, tmp_path)
        assert "40.06" in text
        if locale == "zh_CN":
            assert "住户月度碳账单" in text and "排放因子" in text  # CJK glyphs embedded, not boxes
        else:
            assert "Household monthly carbon statement" in text


# The 2026 inventory under cn-mee-2023@v1: H1 and H2 together used 108 kWh, 1.08 m3 gas and 1.8 m3 water.
I1_SCOPE2 = Decimal(108) * Decimal("0.5306")  # grid electricity, I.1 scope 2 = 57.3048
I1_SCOPE1 = Decimal("1.08") * Decimal("2.162")  # gas burned at home, I.1 scope 1 = 2.33496
I2_SCOPE2 = Decimal("1.8") * Decimal("0.121") + Decimal("1.8") * Decimal("0.126")  # water utility's energy
BASIC = I1_SCOPE2 + I1_SCOPE1 + I2_SCOPE2  # 60.08436 kg


def _inventory(engine: Engine) -> Inventory:
    with engine.connect() as conn:
        return load_inventory(
            conn,
            community="baoting",
            first_day=date(2026, 1, 1),
            last_day=date(2026, 12, 31),
            factor_set=_sets()["cn-mee-2023@v1"],
        )


def test_the_inventory_csv_has_one_row_per_gpc_line_with_exact_figures(
    engine: Engine, accounted: World
) -> None:
    inventory = _inventory(engine)
    rows = list(csv.DictReader(io.StringIO(inventory_csv(inventory).decode("utf-8"))))
    assert tuple(rows[0]) == CSV_HEADER
    assert len(rows) == len(inventory.lines)
    cells = {(r["ref"], r["scope"]): r for r in rows}
    assert cells["I.1", "2"]["kg_co2e"] == "57.3048" == str(I1_SCOPE2)
    assert cells["I.1", "2"]["activity"] == "108" and cells["I.1", "2"]["activity_unit"] == "kWh"
    assert cells["I.1", "1"]["kg_co2e"] == "2.33496" == str(I1_SCOPE1)
    assert Decimal(cells["I.2", "2"]["kg_co2e"]) == I2_SCOPE2
    assert cells["II.1", "1"]["kg_co2e"] == "" and cells["II.1", "1"]["notation"] == "NE"
    assert {r["factor_set_hash"] for r in rows} == {inventory.factor_set_hash}
    assert inventory.total_kg(Level.BASIC) == BASIC == Decimal("60.08436")


def test_the_inventory_workbook_has_lines_and_sources_sheets(engine: Engine, accounted: World) -> None:
    inventory = _inventory(engine)
    book = load_workbook(
        io.BytesIO(inventory_xlsx(inventory, _sets()["cn-mee-2023@v1"], generated_on=date(2026, 11, 25)))
    )
    assert book.sheetnames == ["lines", "sources"]
    lines = list(book["lines"].iter_rows(values_only=True))
    assert lines[0] == CSV_HEADER
    figures = {(r[5], r[9]): r[11] for r in lines[1:]}
    assert Decimal(str(figures["I.1", 2])) == I1_SCOPE2
    meta = {k: v for k, v in book["sources"].iter_rows(values_only=True)}
    assert Decimal(str(meta["total_kg_co2e_basic"])) == BASIC
    assert meta["factor_set_hash"] == inventory.factor_set_hash
    assert any("MEE" in str(v) for k, v in meta.items() if str(k).startswith("source_"))


@only_sqlite
def test_the_inventory_pdf_lays_out_the_sectors_in_both_languages(
    engine: Engine, accounted: World, tmp_path: Path
) -> None:
    inventory = _inventory(engine)
    for locale in ("zh_CN", "en"):
        pdf = inventory_pdf(
            inventory, _sets()["cn-mee-2023@v1"], locale, generated_on=date(2026, 11, 25), community_zh="保亭"
        )
        pages = pdf_pages(pdf, tmp_path, f"inventory-{locale}")
        assert 2 <= len(pages) <= 6
        assert ink(pages[0]) > 0.01 and all(ink(page) > 0.0005 for page in pages)
        text = pdf_text(pdf, tmp_path)
        assert "57.305" in text and "BASIC+" in text and inventory.factor_set_hash in text.replace("\n", "")
        if locale == "zh_CN":
            assert "固定能源" in text and "居民建筑" in text
        else:
            assert "Stationary energy" in text and "Residential buildings" in text


def _project(engine: Engine, **optional: object) -> ProjectReport:
    with engine.connect() as conn:
        return load_project(
            conn,
            community="baoting",
            first_day=date(2026, 1, 1),
            last_day=date(2026, 12, 31),
            factor_set=_sets()["cn-mee-2023@v1"],
            rules=IngestRules.load(),
            generated_on=date(2026, 11, 25),
            **optional,  # type: ignore[arg-type]
        )


def test_the_project_report_gathers_boundary_monitoring_and_data(engine: Engine, accounted: World) -> None:
    report = _project(engine)
    assert report.households == 2 and report.households_with_data == 2
    assert report.project_kg == BASIC  # the metered footprint: 108 kWh, 1.08 m3 gas, 1.8 m3 water
    electricity = report.kinds[0]
    assert (electricity.meters, electricity.protocols, electricity.amount) == (2, ("json",), Decimal(108))
    assert electricity.readings == 2 * (STEPS + 1)
    # Hourly readings expected (data/ingest/checks.toml) from 2026-01-01 up to the day before the report.
    assert report.monitored_until == date(2026, 11, 24)
    assert electricity.expected == 2 * 328 * 24
    assert report.batches == 1
    assert report.quantification is None and report.checkpoint is None


@only_sqlite
def test_the_project_report_renders_pending_parts_and_given_ones(
    engine: Engine, accounted: World, tmp_path: Path
) -> None:
    pending = _project(engine)
    zh = project_html(pending, "zh_CN")
    en = project_html(pending, "en")
    assert "ISO 14064-2" in zh and "基准线" in zh and "待定" in zh
    assert "Pending" in en and "60.084" in en
    given = _project(
        engine,
        quantification=Quantification(
            Decimal(100), Decimal(60), Decimal(40), Decimal(5), "90%", "daily-ols@1", "cn-mee-2023@v1"
        ),
        checkpoint=Checkpoint("tanhui.baoting/log", 42, "ab" * 32, datetime(2026, 12, 31, tzinfo=UTC)),
    )
    page = project_html(given, "en")
    assert "40.000 ± 5.000 kg (90%)" in page and "ab" * 32 in page and "Pending" not in page
    for locale in ("zh_CN", "en"):
        pdf = project_pdf(pending, locale)
        pages = pdf_pages(pdf, tmp_path, f"project-{locale}")
        assert 1 <= len(pages) <= 4
        assert ink(pages[0]) > 0.01 and all(ink(page) > 0.0005 for page in pages)
        text = pdf_text(pdf, tmp_path)
        assert ("监测计划" if locale == "zh_CN" else "Monitoring plan") in text


@only_sqlite
def test_the_report_commands_write_each_file(
    engine: Engine, accounted: World, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TANHUI_DATABASE_URL", store_url)
    get_settings.cache_clear()
    runner = CliRunner()
    # The report sub-app alone, as main.py mounts it: the test does not depend on every other command.
    app = typer.Typer()
    app.add_typer(report_app, name="report")
    try:
        base = ["report"]
        calls = {
            "statement.html": ["statement", "--household", "H1", "--month", "2026-11", "--format", "html"],
            "statement.pdf": ["statement", "--household", "H1", "--month", "2026-11", "--lang", "en"],
            "inventory.csv": [
                "inventory",
                "--year",
                "2026",
                "--factor-set",
                "cn-mee-2023@v1",
                "--format",
                "csv",
            ],
            "inventory.xlsx": [
                "inventory",
                "--year",
                "2026",
                "--factor-set",
                "eu-eea-2023@v1",
                "--format",
                "xlsx",
            ],
            "project.html": ["project", "--year", "2026", "--format", "html"],
        }
        for name, args in calls.items():
            result = runner.invoke(app, [*base, *args, "--out", str(tmp_path / name)])
            assert result.exit_code == 0, result.output
        assert "40.06" in (tmp_path / "statement.html").read_text(encoding="utf-8")
        assert (tmp_path / "statement.pdf").read_bytes().startswith(b"%PDF")
        assert "57.3048" in (tmp_path / "inventory.csv").read_text(encoding="utf-8")
        assert (tmp_path / "inventory.xlsx").read_bytes().startswith(b"PK")
        refused = runner.invoke(
            app, [*base, "statement", "--household", "H9", "--month", "2026-11", "--out", str(tmp_path / "x")]
        )
        assert refused.exit_code == 2 and "unknown_household" in refused.output
    finally:
        get_settings.cache_clear()
