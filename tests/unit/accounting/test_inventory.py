"""The GPC inventory: a hand-worked example, the CSV rules and properties of the aggregation."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tanhui.accounting.errors import AccountingError
from tanhui.accounting.factors import FactorSet
from tanhui.accounting.inventory import (
    CSV_COLUMNS,
    ActivityRow,
    Inventory,
    InventoryLine,
    Level,
    MeterTotal,
    NotationKey,
    Quality,
    build_inventory,
    gpc_table,
    parse_activity_csv,
    subsectors,
)
from tanhui.domain.quantity import Quantity
from tanhui.store.factor_files import load_factor_sets

SETS = load_factor_sets(Path(__file__).resolve().parents[3] / "data" / "factors")
CN = SETS["cn-mee-2023@v1"]
UK = SETS["uk-desnz-2025@v1"]
FIRST, LAST = date(2026, 1, 1), date(2026, 12, 31)

HEADER = ",".join(CSV_COLUMNS)
SRC = "County transport bureau,Fuel sales survey 2026,2026"
HAND_CSV = f"""{HEADER}
II.1,1,10000,L,2.6,L,,,M,{SRC},2026-01-01,2026-12-31,diesel buses and trucks
III.1,3,,,,,5000,,L,{SRC},2026-01-01,2026-06-30,landfill in Sanya
III.2,1,,,,,3650,,L,{SRC},2025-07-01,2026-06-30,composting
IV.1,1,,,,,,NO,,,,,2026-01-01,2026-12-31,no industrial process plant in the county
"""

METERS = [
    MeterTotal(1, Quantity.ELECTRICITY, 1, Decimal(1000)),
    MeterTotal(1, Quantity.GAS, 1, Decimal(50)),
    MeterTotal(1, Quantity.WATER, 1, Decimal(10)),
    MeterTotal(2, Quantity.ELECTRICITY, 1, Decimal(500)),
    MeterTotal(2, Quantity.WATER, 1, Decimal(20)),
]


def _line(inventory: Inventory, ref: str, scope: int) -> InventoryLine:
    (found,) = [x for x in inventory.lines if (x.ref, x.scope) == (ref, scope)]
    return found


def test_hand_worked_inventory() -> None:
    # Factor set cn-mee-2023@v1, year 2026:
    #   I.1 s2 electricity: (1000 + 500) kWh x 0.5306 kg CO2/kWh = 795.9 kg; factor R -> M, meters H -> M
    #   I.1 s1 gas: 50 m3 x 2.162 = 108.1 kg; factor D -> L
    #   I.1 s3 T&D: the CN set has no loss factor -> NE
    #   I.2 s2 water utility: (10 + 20) m3 x (0.121 supply + 0.126 treatment) = 30 x 0.247 = 7.41 kg; L
    #   II.1 s1: 10000 L x 2.6 = 26000 kg; quality min(M, L) = L
    #   III.1 s3: 5000 kg, inside the year
    #   III.2 s1: 3650 kg over 2025-07-01..2026-06-30 (365 days), 181 days in 2026 -> 3650 x 181/365 = 1810
    #   IV.1 s1: NO (operator)
    # BASIC = 795.9 + 108.1 + 7.41 + 26000 + 5000 + 1810 = 33721.41; BASIC+ adds nothing (NE, NO).
    rows, errors = parse_activity_csv(HAND_CSV)
    assert errors == ()
    inv = build_inventory("baoting", FIRST, LAST, CN, METERS, rows)
    elec = _line(inv, "I.1", 2)
    assert (elec.kg_co2e, elec.activity, elec.activity_unit, elec.quality) == (
        Decimal("795.9"),
        Decimal(1500),
        "kWh",
        Quality.MEDIUM,
    )
    assert elec.source == "meters: 2 meters in 2 households, factor set cn-mee-2023@v1"
    assert _line(inv, "I.1", 1).kg_co2e == Decimal("108.1")
    assert _line(inv, "I.1", 1).quality is Quality.LOW
    td = _line(inv, "I.1", 3)
    assert (td.notation, td.kg_co2e, td.level) == (NotationKey.NE, None, Level.BASIC_PLUS)
    assert "no T&D loss factor" in td.explanation
    water = _line(inv, "I.2", 2)
    assert (water.kg_co2e, water.activity, water.activity_unit) == (Decimal("7.41"), Decimal(30), "m3")
    assert water.quality is Quality.LOW and "wastewater treatment" in water.explanation
    assert _line(inv, "II.1", 1).kg_co2e == Decimal(26000)
    assert _line(inv, "II.1", 1).quality is Quality.LOW
    assert _line(inv, "III.1", 3).kg_co2e == Decimal(5000)
    assert _line(inv, "III.2", 1).kg_co2e == Decimal(1810)
    no = _line(inv, "IV.1", 1)
    assert (no.notation, no.explanation) == (NotationKey.NO, "no industrial process plant in the county")
    assert _line(inv, "II.4", 1).notation is NotationKey.NE
    assert inv.total_kg(Level.BASIC) == Decimal("33721.41")
    assert inv.total_kg(Level.BASIC_PLUS) == Decimal("33721.41")
    assert inv.by_sector()["I"] == Decimal("911.41")
    assert inv.by_sector()["III"] == Decimal(6810)
    assert inv.by_sector()["V"] == Decimal(0)
    assert (inv.factor_set_id, inv.factor_set_hash, inv.regime) == (CN.id, CN.content_hash, "cn")


def test_td_losses_filled_when_the_set_has_a_loss_factor() -> None:
    # uk-desnz-2025: 1500 kWh x 0.01853 kg CO2e/kWh = 27.795 kg in I.1 scope 3, BASIC+ only.
    inv = build_inventory("baoting", FIRST, LAST, UK, METERS)
    td = _line(inv, "I.1", 3)
    assert td.kg_co2e == Decimal("27.795")
    assert td.level is Level.BASIC_PLUS
    assert inv.total_kg(Level.BASIC_PLUS) - inv.total_kg(Level.BASIC) == Decimal("27.795")


def test_no_meters_means_not_estimated_with_reason() -> None:
    inv = build_inventory("baoting", FIRST, LAST, CN, [])
    assert _line(inv, "I.1", 2).notation is NotationKey.NE
    assert _line(inv, "I.1", 2).explanation == "no electricity meter data in the period"
    assert inv.total_kg(Level.BASIC) == 0


def test_every_cell_of_the_layout_has_one_line() -> None:
    inv = build_inventory("baoting", FIRST, LAST, CN, METERS)
    assert [(x.ref, x.scope) for x in inv.lines] == [(r, s) for r, s, _ in gpc_table().cells]
    assert {s.sector for s in subsectors()} == {"I", "II", "III", "IV", "V"}
    assert next(s for s in subsectors() if s.ref == "I.1").name_zh == "居民建筑"


@pytest.mark.parametrize(
    ("row", "column", "needle"),
    [
        (f"I.9,1,,,,,5,,H,{SRC},2026-01-01,2026-12-31,", "ref", "not a GPC sub-sector"),
        (f"III.1,2,,,,,5,,H,{SRC},2026-01-01,2026-12-31,", "ref", "has no scope 2 cell"),
        (f"II.1,1,,,,,-5,,H,{SRC},2026-01-01,2026-12-31,", "kg_co2e", ">= 0"),
        (f"II.1,1,10,L,2.6,,,,H,{SRC},2026-01-01,2026-12-31,", "factor_quality", "is required"),
        (f"II.1,1,10,L,2.6,L,5,,H,{SRC},2026-01-01,2026-12-31,", "kg_co2e", "not both"),
        ("II.1,1,,,,,5,,H,,doc,2026,2026-01-01,2026-12-31,", "source_publisher", "names its source"),
        (f"II.1,1,,,,,5,,X,{SRC},2026-01-01,2026-12-31,", "quality", "not H, M or L"),
        (f"II.1,1,,,,,5,,H,{SRC},2026-12-31,2026-01-01,", "period_end", "before period_start"),
        (f"II.1,1,,,,,,NE,,{SRC},2026-01-01,2026-12-31,", "note", "explanation"),
        (f"II.1,1,,,,,5,IE,,{SRC},2026-01-01,2026-12-31,in II.2", "notation", "carries no activity"),
        (f"II.1,1,,,,,5,,H,{SRC},2026-13-01,2026-12-31,", "period_start", "not an ISO date"),
    ],
)
def test_a_broken_row_is_reported_with_its_number_and_column(row: str, column: str, needle: str) -> None:
    good = f"II.2,1,,,,,5,,H,{SRC},2026-01-01,2026-12-31,"
    _, errors = parse_activity_csv(f"{HEADER}\n{good}\n{row}\n")
    assert [(e.row, e.column) for e in errors if e.column == column] == [(3, column)]
    assert any(needle in e.message for e in errors)


def test_a_figure_and_a_notation_for_one_cell_and_period_are_refused() -> None:
    figure = f"II.1,1,,,,,5,,H,{SRC},2026-01-01,2026-12-31,"
    text = f"{HEADER}\n{figure}\nII.1,1,,,,,,NO,,,,,2026-03-01,2026-03-31,x\n"
    _, errors = parse_activity_csv(text)
    assert [(e.row, e.column) for e in errors] == [(3, "notation")]


def test_missing_and_unknown_columns_are_file_errors() -> None:
    _, errors = parse_activity_csv("ref,scope,colour\nII.1,1,red\n")
    assert [e.row for e in errors] == [1, 1]
    assert "missing columns" in errors[0].message and "colour" in errors[1].message


def test_build_refuses_a_reversed_period() -> None:
    with pytest.raises(AccountingError):
        build_inventory("baoting", LAST, FIRST, CN, [])


# --- properties ---------------------------------------------------------------------------------------

amounts = st.decimals(min_value=0, max_value=10**7, places=6, allow_nan=False, allow_infinity=False)
meter_totals = st.lists(
    st.builds(
        MeterTotal,
        household_id=st.integers(1, 30),
        kind=st.sampled_from(list(Quantity)),
        meters=st.integers(1, 3),
        amount=amounts,
    ),
    max_size=40,
)
cells = st.sampled_from([(r, s) for r, s, _ in gpc_table().cells])


@st.composite
def activity_rows(draw: st.DrawFn) -> ActivityRow:
    ref, scope = draw(cells)
    start = draw(st.dates(date(2025, 6, 1), date(2026, 12, 31)))
    end = draw(st.dates(start, date(2027, 6, 30)))
    if draw(st.booleans()):
        return ActivityRow(
            ref, scope, start, end, notation=draw(st.sampled_from(list(NotationKey))), note="n"
        )
    return ActivityRow(
        ref, scope, start, end, kg_co2e=draw(amounts), quality=draw(st.sampled_from(list(Quality)))
    )


@settings(max_examples=60, deadline=None)
@given(meter_totals, st.lists(activity_rows(), max_size=15), st.sampled_from([CN, UK]))
def test_totals_are_sums_of_lines_and_each_cell_has_figure_xor_notation(
    totals: list[MeterTotal], rows: list[ActivityRow], factor_set: FactorSet
) -> None:
    inv = build_inventory("c", FIRST, LAST, factor_set, totals, rows)
    basic = [x for x in inv.lines if x.level is Level.BASIC]
    assert inv.total_kg(Level.BASIC) == sum((x.kg_co2e or Decimal(0) for x in basic), Decimal(0))
    assert inv.total_kg(Level.BASIC_PLUS) == sum((x.kg_co2e or Decimal(0) for x in inv.lines), Decimal(0))
    assert sum(inv.by_sector().values(), Decimal(0)) == inv.total_kg(Level.BASIC_PLUS)
    for line in inv.lines:
        assert (line.kg_co2e is None) == (line.notation is not None)
        assert (line.quality is None) == (line.kg_co2e is None)
    assert len({(x.ref, x.scope) for x in inv.lines}) == len(inv.lines)


@settings(max_examples=60, deadline=None)
@given(meter_totals)
def test_the_community_total_equals_the_sum_over_its_households(totals: list[MeterTotal]) -> None:
    whole = build_inventory("c", FIRST, LAST, UK, totals)
    per_household = [
        build_inventory("c", FIRST, LAST, UK, [t for t in totals if t.household_id == h])
        for h in {t.household_id for t in totals}
    ]
    for level in Level:
        assert whole.total_kg(level) == sum((inv.total_kg(level) for inv in per_household), Decimal(0))
