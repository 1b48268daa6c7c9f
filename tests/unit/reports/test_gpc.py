"""The GPC inventory laid out: CSV rows, workbook sheets and sector tables from a hand-built inventory."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

from openpyxl import load_workbook  # type: ignore[import-untyped]

from tanhui.accounting.inventory import Inventory, InventoryLine, Level, NotationKey, Quality
from tanhui.reports.gpc import CSV_HEADER, inventory_csv, inventory_html, inventory_xlsx, sector_blocks
from tanhui.settings import Settings
from tanhui.store.factor_files import load_factor_sets

SET = load_factor_sets(Settings().data_dir / "factors")["cn-mee-2023@v1"]
NOT_ESTIMATED = "no data for this cell"


def _line(ref: str, scope: int, level: Level, **given: object) -> InventoryLine:
    fields: dict[str, object] = {
        "kg_co2e": None,
        "notation": None,
        "activity": None,
        "activity_unit": "",
        "quality": None,
        "source": "",
        "explanation": "",
    }
    fields.update(given)
    return InventoryLine(ref=ref, sector=ref.split(".", maxsplit=1)[0], scope=scope, level=level, **fields)  # type: ignore[arg-type]


INVENTORY = Inventory(
    community="Baoting",
    first_day=date(2026, 1, 1),
    last_day=date(2026, 12, 31),
    factor_set_id=SET.id,
    factor_set_hash=SET.content_hash,
    regime="cn",
    lines=(
        _line("I.1", 2, Level.BASIC, kg_co2e=Decimal("1000.10"), activity=Decimal("1884.8"),
              activity_unit="kWh", quality=Quality.MEDIUM, source="meters", explanation="grid electricity"),
        _line("I.1", 3, Level.BASIC_PLUS, notation=NotationKey.NE, explanation=NOT_ESTIMATED),
        _line("I.2", 1, Level.BASIC, notation=NotationKey.NE, explanation=NOT_ESTIMATED),
        _line("II.1", 1, Level.BASIC, kg_co2e=Decimal("0.5"), quality=Quality.LOW,
              source="county transport bureau 2026", explanation="operator figure"),
        _line("III.1", 1, Level.BASIC, notation=NotationKey.IE, explanation="in the county landfill line"),
        _line("IV.1", 1, Level.BASIC_PLUS, kg_co2e=Decimal(7), quality=Quality.HIGH, source="plant report"),
        _line("V.1", 1, Level.BASIC_PLUS, notation=NotationKey.C, explanation="a single farm"),
    ),
)  # fmt: skip


def test_the_csv_has_machine_readable_headers_and_decimal_strings() -> None:
    rows = list(csv.DictReader(io.StringIO(inventory_csv(INVENTORY).decode("utf-8"))))
    assert tuple(rows[0]) == CSV_HEADER
    assert [(r["ref"], r["scope"]) for r in rows] == [(x.ref, str(x.scope)) for x in INVENTORY.lines]
    assert rows[0]["kg_co2e"] == "1000.1" and rows[0]["activity"] == "1884.8" and rows[0]["quality"] == "M"
    assert rows[0]["subsector_zh"] == "居民建筑" and rows[0]["subsector_en"] == "Residential buildings"
    assert (rows[4]["kg_co2e"], rows[4]["notation"]) == ("", "IE")
    assert rows[6]["notation"] == "C" and rows[6]["level"] == "BASIC+"


def test_totals_by_level_and_sector_reach_the_workbook_and_the_tables() -> None:
    # BASIC: 1000.10 + 0.5; BASIC+ adds IV.1's 7 kg (GPC Section 4.3: BASIC+ includes BASIC).
    book = load_workbook(io.BytesIO(inventory_xlsx(INVENTORY, SET, generated_on=date(2027, 1, 5))))
    meta = dict(book["sources"].iter_rows(values_only=True))
    assert Decimal(str(meta["total_kg_co2e_basic"])) == Decimal("1000.60")
    assert Decimal(str(meta["total_kg_co2e_basic_plus"])) == Decimal("1007.60")
    assert meta["source_1"].startswith("WRI, C40")
    blocks = {b.sector: b for b in sector_blocks(INVENTORY)}
    assert list(blocks) == ["I", "II", "III", "IV", "V"]
    assert blocks["I"].total_kg == Decimal("1000.10") and blocks["I"].name_zh == "固定能源"
    # Two NE cells share one reason: it is printed once, as note 1 of sector I.
    assert blocks["I"].notes == (NOT_ESTIMATED,)
    assert blocks["I"].note_of(INVENTORY.lines[2]) == 1


def test_the_pdf_source_shows_keys_marks_and_both_totals() -> None:
    html = inventory_html(INVENTORY, SET, "en", generated_on=date(2027, 1, 5))
    assert "1,000.100" in html and "1.001" in html and "1.008" in html  # kg, then t CO2e
    for key in ('class="key">NE', 'class="key">IE', 'class="key">C', 'quality M">M', 'quality L">L'):
        assert key in html
    assert SET.content_hash in html
    assert "固定能源" in inventory_html(INVENTORY, SET, "zh_CN", generated_on=date(2027, 1, 5))
