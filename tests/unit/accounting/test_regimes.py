"""The same consumption under the Chinese and the European regime, line by line."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tanhui.accounting.account import Usage, household_account
from tanhui.accounting.errors import AccountingError
from tanhui.accounting.market import Beneficiary, Certificate, Scheme
from tanhui.accounting.regimes import ComparedLine, DifferenceKind, compare, compare_regimes
from tanhui.domain.ids import HouseholdId, MeterId
from tanhui.domain.quantity import Quantity
from tanhui.store.factor_files import load_factor_sets

SETS = load_factor_sets(Path(__file__).resolve().parents[3] / "data" / "factors")
CN, EU = SETS["cn-mee-2023@v1"], SETS["eu-eea-2023@v1"]
H = HouseholdId(1)
DAY = date(2026, 3, 1)
USAGE = [
    Usage(MeterId(1), H, Quantity.ELECTRICITY, DAY, Decimal(1000)),
    Usage(MeterId(2), H, Quantity.GAS, DAY, Decimal(10)),
    Usage(MeterId(3), H, Quantity.WATER, DAY, Decimal(12)),
]


def _kinds(line: ComparedLine) -> set[DifferenceKind]:
    return {d.kind for d in line.differences}


def test_side_by_side_hand_worked() -> None:
    comparison = compare_regimes(
        household_account(USAGE, CN, report="r"), household_account(USAGE, EU, report="r")
    )
    electricity, gas, water = comparison.lines
    # 1,000 kWh: 530.6 kg CO2 (MEE 2023, 0.5306) against 214 kg CO2e (EEA 2023, 0.214).
    assert (electricity.left.kg_location, electricity.right.kg_location) == (
        Decimal("530.6000"),
        Decimal("214.000"),
    )
    assert electricity.delta_location_kg == Decimal("-316.6000") == electricity.factor_term_kg
    assert _kinds(electricity) == {
        DifferenceKind.FACTOR_VALUE,
        DifferenceKind.BASIS,
        DifferenceKind.GEOGRAPHY,
        DifferenceKind.CONFIDENCE,
        DifferenceKind.MARKET_AVAILABILITY,
    }
    assert electricity.left.kg_market == Decimal("609.6000") and electricity.right.kg_market is None
    assert electricity.delta_market_kg is None
    # 10 m3 gas: 21.62 kg CO2 (GB/T 32151, 2.162) against 20.6672 kg CO2e (DESNZ 2025, 2.06672).
    assert gas.delta_location_kg == Decimal("-0.95280")
    assert DifferenceKind.DATA_YEAR in _kinds(gas) and DifferenceKind.MARKET_AVAILABILITY not in _kinds(gas)
    # 12 m3 water: 2.964 kg CO2 against 12 x 0.36218 = 4.34616 kg CO2e.
    assert water.delta_location_kg == Decimal("1.38216")
    assert comparison.delta_location_kg == Decimal("-316.6000") + Decimal("-0.95280") + Decimal("1.38216")


def test_each_difference_is_explained_for_a_person() -> None:
    comparison = compare_regimes(
        household_account(USAGE, CN, report="r"), household_account(USAGE, EU, report="r")
    )
    text = comparison.lines[0].explanation()
    assert "1000 kWh x (0.214 - 0.5306) = -316.6 kg" in text
    assert "CO2e (unstated)" in text and "no market-based figure" in text
    body = json.loads(json.dumps(comparison.to_dict()))
    first = body["lines"][0]
    assert first["left"]["factor"] == "0.5306" and first["right"]["factor"] == "0.214"
    assert first["delta_location_kg"] == "-316.6"
    assert {d["kind"] for d in first["differences"]} >= {"factor_value", "basis"}
    assert body["left"]["content_hash"] == CN.content_hash


def test_a_gec_counts_under_the_chinese_regime_only() -> None:
    gec = Certificate("GEC-1", Scheme.GEC, 2026, Decimal(1), Beneficiary.household(H), date(2026, 3, 5))
    usage = USAGE[:1]
    cn = household_account(usage, CN, report="r", certificates=[gec])
    hainan = household_account(usage, SETS["cn-hainan-2022@v1"], report="r")
    line = compare(cn, hainan).lines[0]
    assert line.left.covered_kwh == Decimal(1000) and line.right.covered_kwh == 0
    assert {DifferenceKind.INSTRUMENTS, DifferenceKind.RESIDUAL_FACTOR, DifferenceKind.DATA_YEAR} <= _kinds(
        line
    )
    assert line.delta_market_kg == Decimal("585.6000")  # 0 against 1,000 x 0.5856


def test_accounts_of_different_consumption_are_not_compared() -> None:
    other = [Usage(MeterId(1), H, Quantity.ELECTRICITY, DAY, Decimal(999))]
    with pytest.raises(AccountingError) as caught:
        compare(household_account(USAGE[:1], CN, report="r"), household_account(other, EU, report="r"))
    assert caught.value.code == "not_same_consumption"


def test_compare_regimes_wants_china_on_the_left() -> None:
    with pytest.raises(AccountingError) as caught:
        compare_regimes(household_account(USAGE, EU, report="r"), household_account(USAGE, CN, report="r"))
    assert caught.value.code == "wrong_regime"


# All sets apply to 2025-2026 consumption.
SET_IDS = sorted(SETS)


@st.composite
def usage_lists(draw: st.DrawFn) -> list[Usage]:
    first = draw(st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 12, 1)))
    usage = []
    for meter, quantity in enumerate(Quantity, start=1):
        for i in range(draw(st.integers(1, 20))):
            amount = draw(st.decimals(min_value=0, max_value=500, places=3))
            usage.append(Usage(MeterId(meter), H, quantity, first + timedelta(days=i), amount))
    return usage


@settings(max_examples=80, deadline=None)
@given(usage=usage_lists(), pair=st.tuples(st.sampled_from(SET_IDS), st.sampled_from(SET_IDS)))
def test_switching_regime_changes_only_the_factor_terms(usage: list[Usage], pair: tuple[str, str]) -> None:
    left, right = (household_account(usage, SETS[i], report="r") for i in pair)
    comparison = compare(left, right)
    for line in comparison.lines:
        # The amounts are the data: identical on both sides. Everything else is amount x factor.
        mine = [u for u in usage if u.meter_id == line.meter_id]
        assert line.amount == sum((u.amount for u in mine), Decimal(0))
        assert line.left.kg_location == line.amount * line.left.factor.value
        assert line.right.kg_location == line.amount * line.right.factor.value
        assert line.delta_location_kg == line.factor_term_kg
        same_factor = line.left.factor.value == line.right.factor.value
        assert (DifferenceKind.FACTOR_VALUE not in _kinds(line)) == same_factor
    assert [x.usage for x in left.lines] == [x.usage for x in right.lines]
    assert comparison.delta_location_kg == sum((x.factor_term_kg for x in comparison.lines), Decimal(0))
