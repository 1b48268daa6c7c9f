from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tanhui.accounting.errors import AccountingError
from tanhui.accounting.factors import parse_factor_set
from tanhui.accounting.footprint import line, to_milligrams
from tanhui.domain.quantity import Quantity
from tanhui.store.factor_files import load_factor_sets

DATA = Path(__file__).resolve().parents[3] / "data" / "factors"


def test_every_shipped_factor_carries_its_source() -> None:
    sets = load_factor_sets(DATA)
    assert "cn-mee-2023@v1" in sets
    for factor_set in sets.values():
        for factor in factor_set.factors.values():
            assert factor.source.publisher and factor.source.document and factor.source.year > 1990


def test_hand_worked_footprint_from_the_reference_numbers() -> None:
    cn = load_factor_sets(DATA)["cn-mee-2023@v1"]
    # 1,000 kWh x 0.5306 kg/kWh (MEE 2023 national average) = 530.6 kg
    assert line(cn, Quantity.ELECTRICITY, Decimal(1000)).kg_co2e == Decimal("530.6000")
    # 10 m3 natural gas x 2.162 kg/m3 (GB/T 32151 defaults) = 21.62 kg
    assert line(cn, Quantity.GAS, Decimal(10)).kg_co2e == Decimal("21.620")
    # 12 m3 tap water x 0.247 kg/m3 (supply + treatment, derived) = 2.964 kg
    assert line(cn, Quantity.WATER, Decimal(12)).kg_co2e == Decimal("2.964")


def test_milligrams_round_half_even() -> None:
    assert to_milligrams(Decimal("0.0000005")) == 0
    assert to_milligrams(Decimal("0.0000015")) == 2
    assert to_milligrams(Decimal("530.6")) == 530_600_000


def _minimal(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "id": "x@v1",
        "regime": "cn",
        "name": "x",
        "year": 2023,
        "valid_from": "2025-01-01",
        "valid_to": "2025-12-31",
        "factors": [
            {
                "quantity": "electricity",
                "value": "0.5",
                "unit": "kg CO2/kWh",
                "basis": "CO2",
                "method": "location",
                "confidence": "R",
                "publisher": "p",
                "document": "d",
                "year": 2023,
            }
        ],
    }
    body.update(overrides)
    return body


def test_a_factor_without_a_source_is_refused() -> None:
    body = _minimal()
    del body["factors"][0]["publisher"]  # type: ignore[index]
    with pytest.raises(AccountingError, match="publisher"):
        parse_factor_set(body)


@pytest.mark.parametrize(
    "overrides",
    [
        {"valid_to": "2024-01-01"},
        {"factors": [{"quantity": "steam", "value": "1"}]},
    ],
)
def test_invalid_factor_sets_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(AccountingError):
        parse_factor_set(_minimal(**overrides))


def test_a_missing_quantity_is_a_clear_error() -> None:
    factor_set = parse_factor_set(_minimal())
    with pytest.raises(AccountingError, match="no factor for gas"):
        factor_set.factor(Quantity.GAS)


def _factor(**overrides: object) -> dict[str, object]:
    body = dict(_minimal()["factors"][0])  # type: ignore[index]
    body.update(overrides)
    return body


@pytest.mark.parametrize(
    ("factor", "rule"),
    [
        ({"basis": "CO2 only"}, "basis"),
        ({"basis": "CO2e", "unit": "kg CO2e/kWh"}, "GWP set"),
        ({"basis": "CO2", "gwp": "AR5"}, "needs no GWP set"),
        ({"unit": "kg CO2e/kWh"}, "must read 'kg CO2/"),
        ({"unit": "kg CO2/m3"}, "must be per kWh"),
        ({"method": "marginal"}, "method"),
        ({"confidence": "not transcribed"}, "confidence mark"),
        ({"value": 0.5}, "must be written as a string"),
        ({"method": "market-residual"}, "needs its own key"),
    ],
)
def test_each_factor_rule_is_named_when_broken(factor: dict[str, object], rule: str) -> None:
    with pytest.raises(AccountingError, match=rule):
        parse_factor_set(_minimal(factors=[_factor(**factor)]))


def test_a_residual_factor_sits_beside_the_location_based_one() -> None:
    residual = _factor(key="electricity-residual", method="market-residual", value="0.6")
    factor_set = parse_factor_set(_minimal(factors=[_factor(), residual]))
    assert factor_set.factor(Quantity.ELECTRICITY).value == Decimal("0.5")
    found = factor_set.residual()
    assert found is not None and found.value == Decimal("0.6")
    assert factor_set.market_based_unavailable == ""
    assert list(factor_set.factors) == [Quantity.ELECTRICITY]  # the web pages list primaries only


def test_a_set_without_a_residual_says_market_based_is_unavailable() -> None:
    factor_set = parse_factor_set(_minimal(market_based_unavailable="no residual mix transcribed"))
    assert factor_set.residual() is None
    assert factor_set.market_based_unavailable == "no residual mix transcribed"
    with pytest.raises(AccountingError, match="also says market-based is unavailable"):
        parse_factor_set(
            _minimal(
                factors=[_factor(), _factor(key="r", method="market-residual")],
                market_based_unavailable="none",
            )
        )


def test_a_composite_factor_must_equal_the_sum_of_its_parts() -> None:
    parts = [
        _factor(quantity="water", key="supply", unit="kg CO2/m3", method="allocation", value="0.121"),
        _factor(quantity="water", key="treatment", unit="kg CO2/m3", method="allocation", value="0.126"),
    ]
    whole = _factor(
        quantity="water",
        unit="kg CO2/m3",
        method="allocation",
        value="0.247",
        components=["supply", "treatment"],
    )
    assert parse_factor_set(_minimal(factors=[*parts, whole])).factor(Quantity.WATER).value == Decimal(
        "0.247"
    )
    wrong = {**whole, "value": "0.25"}
    with pytest.raises(AccountingError, match="not the sum of its components"):
        parse_factor_set(_minimal(factors=[*parts, wrong]))
    with pytest.raises(AccountingError, match="component 'gone'"):
        parse_factor_set(_minimal(factors=[{**whole, "components": ["gone"]}]))


def test_the_content_hash_changes_with_any_number_and_only_then() -> None:
    first = parse_factor_set(_minimal())
    assert first.content_hash == parse_factor_set(_minimal()).content_hash
    assert first.content_hash.startswith("sha256:")
    changed = parse_factor_set(_minimal(factors=[_factor(value="0.50001")]))
    assert changed.content_hash != first.content_hash


def test_an_unknown_regime_is_refused() -> None:
    with pytest.raises(AccountingError, match="regime"):
        parse_factor_set(_minimal(regime="us"))
