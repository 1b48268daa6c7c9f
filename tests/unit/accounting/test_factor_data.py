"""The shipped factor sets: hand-worked examples from the reference numbers, and immutability.

Every expected number below is worked by hand from shared/reference/emission-factors.md (the section
is named beside it), not read back from the data files.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from tanhui.accounting.factors import Basis, Confidence, FactorSet, Method
from tanhui.accounting.footprint import line
from tanhui.domain.quantity import Quantity
from tanhui.store.factor_files import load_factor_sets

DATA = Path(__file__).resolve().parents[3] / "data" / "factors"
SETS = load_factor_sets(DATA)

# A published set is never edited (emission-factors.md, "How to use these in code"): a correction is a
# new file with a new id. If this test fails, revert the edit and publish a new version instead.
PUBLISHED = {
    "cn-mee-2022@v1": "sha256:6d3203189ff3e958f6c72b6da4df1916166db4490ec5690291bb9047fd62a992",
    "cn-mee-2023@v1": "sha256:ca2cfba799f8264e850238e34c605d4b9d1a1ecf2c9ac646862e926e8508c239",
    "cn-hainan-2022@v1": "sha256:abf37ba514ca29c3dd53ea4b7b2b1d8df5417bd86be06df0851498903ca263d7",
    "eu-eea-2023@v1": "sha256:8c8d3be04b175c90762979e2aa60ca6c2fd49b187f68d46772df3270bf03864f",
    "uk-desnz-2025@v1": "sha256:2aed4730cb2f9d39f7f48e3d7a0e1b83d005076ed36202eb9f30ed982f2a67a4",
}


def _kg(set_id: str, key: str, amount: str) -> Decimal:
    factor = SETS[set_id].entry(key)
    return Decimal(amount) * factor.value


@pytest.mark.parametrize("set_id", sorted(PUBLISHED))
def test_a_published_set_is_never_edited(set_id: str) -> None:
    assert SETS[set_id].content_hash == PUBLISHED[set_id], f"{set_id} changed: publish a new version instead"


def test_the_required_sets_and_regimes_are_shipped() -> None:
    regimes = {s.id: s.regime for s in SETS.values()}
    assert {k: regimes[k] for k in PUBLISHED} == {
        "cn-mee-2022@v1": "cn",
        "cn-mee-2023@v1": "cn",
        "cn-hainan-2022@v1": "cn",
        "eu-eea-2023@v1": "eu",
        "uk-desnz-2025@v1": "eu",
    }


@pytest.mark.parametrize("factor_set", list(SETS.values()), ids=lambda s: s.id)
def test_every_factor_carries_its_full_provenance(factor_set: FactorSet) -> None:
    assert factor_set.name and factor_set.name_zh
    assert factor_set.valid_from <= factor_set.valid_to
    assert factor_set.residual() is not None or factor_set.market_based_unavailable
    for factor in factor_set.entries.values():
        assert factor.source.publisher and factor.source.document and factor.source.table
        assert factor.source.confidence in set(Confidence)
        assert factor.geography and factor.derivation
        assert factor.basis in set(Basis) and factor.method in set(Method)
        assert factor.emission_unit == f"kg {factor.basis}"
    for quantity in Quantity:
        assert factor_set.factor(quantity).per_unit == quantity.unit


def test_mee_national_grid_factors_2022_and_2023() -> None:
    # §1.1: national average 0.5366 (2022) and 0.5306 (2023) kg CO2/kWh; 1,000 kWh each.
    assert _kg("cn-mee-2022@v1", "electricity", "1000") == Decimal("536.6")
    assert _kg("cn-mee-2023@v1", "electricity", "1000") == Decimal("530.6")
    # §1.1: "2023 is 1.1% below 2022".
    assert ((Decimal("0.5366") - Decimal("0.5306")) / Decimal("0.5366")).quantize(
        Decimal("0.001")
    ) == Decimal("0.011")
    for set_id in ("cn-mee-2022@v1", "cn-mee-2023@v1"):
        factor = SETS[set_id].factor(Quantity.ELECTRICITY)
        assert (factor.basis, factor.gwp, factor.method) == ("CO2", "none", "location")


def test_mee_excluding_market_traded_factors_are_the_residuals() -> None:
    # §1.1 and §1.3: 0.5856 (2022) and 0.6096 (2023) price the kWh no certificate covers.
    for set_id, value in (
        ("cn-mee-2022@v1", "0.5856"),
        ("cn-mee-2023@v1", "0.6096"),
        ("cn-hainan-2022@v1", "0.5856"),
    ):
        residual = SETS[set_id].residual()
        assert residual is not None and residual.value == Decimal(value)
        assert residual.method == Method.MARKET_RESIDUAL


def test_southern_region_and_hainan_factors() -> None:
    # §1.1: Southern region 0.3869 (2022), 0.4042 (2023, +4.5%); Hainan 0.4184 (2022).
    assert _kg("cn-mee-2022@v1", "electricity-southern-grid", "1000") == Decimal("386.9")
    assert _kg("cn-mee-2023@v1", "electricity-southern-grid", "1000") == Decimal("404.2")
    assert _kg("cn-mee-2022@v1", "electricity-hainan", "1000") == Decimal("418.4")
    rise = (Decimal("0.4042") / Decimal("0.3869") - 1).quantize(Decimal("0.001"))
    assert rise == Decimal("0.045")


def test_baoting_default_is_the_hainan_2022_provincial_factor() -> None:
    hainan = SETS["cn-hainan-2022@v1"]
    factor = hainan.factor(Quantity.ELECTRICITY)
    assert factor.value == Decimal("0.4184") and factor.source.year == 2022 and hainan.year == 2022
    assert "not found" in hainan.notes and "2023" in hainan.notes
    # §6: a 2,000 kWh household emits 836.8 kg; 55,600 such households 46,526 t ("46,500 t").
    assert line(hainan, Quantity.ELECTRICITY, Decimal(2000)).kg_co2e == Decimal("836.8")
    county_t = Decimal(2000) * 55_600 * factor.value / 1000
    assert county_t.quantize(Decimal(1)) == Decimal(46_526)
    # §6: 3,000 t at 0.4184 needs 7.17 GWh of savings.
    assert (Decimal(3_000_000) / factor.value / 1_000_000).quantize(Decimal("0.01")) == Decimal("7.17")


def test_chinese_natural_gas_factor_follows_its_derivation() -> None:
    # §2.2: 0.038931 GJ x 15.3 kg C/GJ x 0.99 x 44/12 = 2.162 kg CO2/m3.
    chain = Decimal("0.038931") * Decimal("15.3") * Decimal("0.99") * 44 / 12
    assert (
        chain.quantize(Decimal("0.001"), ROUND_HALF_UP) == SETS["cn-mee-2023@v1"].factor(Quantity.GAS).value
    )
    assert _kg("cn-mee-2023@v1", "gas", "10") == Decimal("21.620")


def test_chinese_lpg_factor_follows_its_derivation() -> None:
    # §2.2: 0.050179 GJ x 17.2 x 0.99 x 44/12 = 3.133 kg CO2/kg; a 15 kg cylinder is 47 kg CO2.
    chain = Decimal("0.050179") * Decimal("17.2") * Decimal("0.99") * 44 / 12
    assert chain.quantize(Decimal("0.001"), ROUND_HALF_UP) == SETS["cn-mee-2023@v1"].entry("lpg").value
    assert _kg("cn-mee-2023@v1", "lpg", "15") == Decimal("46.995")


def test_chinese_water_is_supply_plus_treatment() -> None:
    # §3: (0.29 + 0.30) kWh/m3 x 0.4184 = 0.247 kg CO2/m3; supply alone 0.121.
    cn = SETS["cn-mee-2023@v1"]
    assert (Decimal("0.29") * Decimal("0.4184")).quantize(Decimal("0.001")) == cn.entry("water-supply").value
    assert (Decimal("0.59") * Decimal("0.4184")).quantize(Decimal("0.001")) == cn.factor(Quantity.WATER).value
    assert cn.factor(Quantity.WATER).components == ("water-supply", "wastewater-treatment")
    # §6: 7.76 million m3 a year in the county come to about 1,900 t.
    assert (Decimal(7_760_000) * cn.factor(Quantity.WATER).value / 1000).quantize(Decimal(1)) == Decimal(1917)


def test_eu_location_factor_is_the_derived_eea_2023_intensity() -> None:
    # §1.2: 510 g CO2e/kWh (1990) x 0.42 = 214.2, "about 214" g; D mark, per kWh generated.
    eu = SETS["eu-eea-2023@v1"]
    factor = eu.factor(Quantity.ELECTRICITY)
    assert (Decimal(510) * Decimal("0.42") / 1000).quantize(Decimal("0.001")) == factor.value
    assert (factor.basis, factor.method, factor.source.confidence) == ("CO2e", "location", "D")
    assert _kg("eu-eea-2023@v1", "electricity", "1000") == Decimal("214.000")


def test_european_sets_report_market_based_as_unavailable_not_as_a_made_up_number() -> None:
    for set_id in ("eu-eea-2023@v1", "uk-desnz-2025@v1"):
        assert SETS[set_id].residual() is None
        assert (
            "AIB" in SETS[set_id].market_based_unavailable
            or "residual" in SETS[set_id].market_based_unavailable
        )


def test_desnz_2025_factors() -> None:
    uk = SETS["uk-desnz-2025@v1"]
    # §1.2: 0.17700 kg CO2e/kWh, AR5, V; the gas parts 2.06270 + 0.00307 + 0.00095 = 2.06672.
    assert _kg("uk-desnz-2025@v1", "electricity", "1000") == Decimal("177.00000")
    assert uk.factor(Quantity.ELECTRICITY).gwp == "AR5"
    assert Decimal("2.06270") + Decimal("0.00307") + Decimal("0.00095") == uk.factor(Quantity.GAS).value
    assert _kg("uk-desnz-2025@v1", "gas", "10") == Decimal("20.66720")
    # §2.1: LPG 2,939.36 kg CO2e/t; a 15 kg cylinder is 44.09 kg ("44-47 kg").
    assert _kg("uk-desnz-2025@v1", "lpg", "15") == Decimal("44.09040")
    # §3: supply 0.19130 + treatment 0.17088 = 0.362 kg CO2e/m3; 7.76 million m3 are about 2,800 t.
    water = uk.factor(Quantity.WATER).value
    assert water == Decimal("0.19130") + Decimal("0.17088")
    assert (Decimal(7_760_000) * water / 1000).quantize(Decimal(1)) == Decimal(2811)
    assert _kg("uk-desnz-2025@v1", "electricity-td-losses", "1000") == Decimal("18.53000")


def test_eu_set_uses_the_desnz_gas_and_water_factors() -> None:
    eu, uk = SETS["eu-eea-2023@v1"], SETS["uk-desnz-2025@v1"]
    for quantity in (Quantity.GAS, Quantity.WATER):
        assert eu.factor(quantity).value == uk.factor(quantity).value
