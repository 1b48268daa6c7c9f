"""`tanhui factors list|show` and `tanhui footprint`: hand checks, JSON with decimals as strings."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from tanhui.cli.accounting_commands import register

runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Tanhui, as the main application registers the commands."""

    register(app)
    return app


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(_app(), list(args))
    return result.exit_code, result.output


def test_footprint_of_1000_kwh_under_the_mee_2023_set() -> None:
    code, out = _run("footprint", "--factor-set", "cn-mee-2023@v1", "--electricity-kwh", "1000")
    assert code == 0
    body = json.loads(out)
    assert body == {
        "factor_set": "cn-mee-2023@v1",
        "lines": [
            {
                "quantity": "electricity",
                "amount": "1000",
                "unit": "kWh",
                "factor": "0.5306",
                "factor_unit": "kg CO2/kWh",
                "kg_co2e": "530.6",
                "source": {
                    "publisher": body["lines"][0]["source"]["publisher"],
                    "document": body["lines"][0]["source"]["document"],
                    "year": 2023,
                },
            }
        ],
        "total_kg_co2e": "530.6",
    }
    assert "MEE" in body["lines"][0]["source"]["publisher"]


def test_footprint_of_all_three_quantities_under_the_eu_set() -> None:
    code, out = _run(
        "footprint",
        "--factor-set",
        "eu-eea-2023@v1",
        "--electricity-kwh",
        "1000",
        "--gas-m3",
        "10",
        "--water-m3",
        "12",
    )
    assert code == 0
    body = json.loads(out)
    lines = {x["quantity"]: x for x in body["lines"]}
    assert [x["quantity"] for x in body["lines"]] == ["electricity", "gas", "water"]
    assert (lines["electricity"]["kg_co2e"], lines["electricity"]["factor_unit"]) == ("214", "kg CO2e/kWh")
    assert (lines["gas"]["factor"], lines["gas"]["kg_co2e"], lines["gas"]["unit"]) == (
        "2.06672",
        "20.6672",
        "m3",
    )
    assert (lines["water"]["factor"], lines["water"]["kg_co2e"]) == ("0.36218", "4.34616")
    # 214 + 20.6672 + 4.34616, summed as decimals.
    assert body["total_kg_co2e"] == "239.01336"
    assert all(isinstance(x["amount"], str) and isinstance(x["kg_co2e"], str) for x in body["lines"])


def test_factors_keep_their_published_digits() -> None:
    code, out = _run("footprint", "--factor-set", "uk-desnz-2025@v1", "--electricity-kwh", "0.5")
    assert code == 0
    line = json.loads(out)["lines"][0]
    assert (line["factor"], line["amount"], line["kg_co2e"]) == ("0.17700", "0.5", "0.0885")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--factor-set", "nope@v1", "--electricity-kwh", "1"], "unknown factor set 'nope@v1'"),
        (["--factor-set", "cn-mee-2023@v1", "--electricity-kwh", "ten"], "is not a decimal number"),
        (["--factor-set", "cn-mee-2023@v1", "--gas-m3", "-1"], "at least 0"),
        (["--factor-set", "cn-mee-2023@v1", "--water-m3", "NaN"], "finite"),
        (["--factor-set", "cn-mee-2023@v1"], "nothing to account"),
    ],
)
def test_bad_input_exits_2_naming_the_rule(args: list[str], message: str) -> None:
    code, out = _run("footprint", *args)
    assert code == 2
    assert message in out


def test_factors_list_json_has_every_set_with_its_regime_and_validity() -> None:
    code, out = _run("factors", "list", "--json")
    assert code == 0
    sets = {s["id"]: s for s in json.loads(out)}
    assert {
        "cn-mee-2022@v1",
        "cn-mee-2023@v1",
        "cn-hainan-2022@v1",
        "eu-eea-2023@v1",
        "uk-desnz-2025@v1",
    } <= set(sets)
    mee = sets["cn-mee-2023@v1"]
    assert (mee["regime"], mee["year"], mee["valid_from"], mee["valid_to"]) == (
        "cn",
        2023,
        "2025-01-01",
        "2027-12-31",
    )
    assert mee["market_based"] is True and sets["eu-eea-2023@v1"]["market_based"] is False
    assert all(s["regime"] in {"cn", "eu"} for s in sets.values())


def test_factors_list_as_text() -> None:
    code, out = _run("factors", "list")
    assert code == 0
    assert "cn-hainan-2022@v1" in out and "location-based only" in out


def test_factors_show_prints_each_factor_with_its_source() -> None:
    code, out = _run("factors", "show", "cn-hainan-2022@v1")
    assert code == 0
    assert "electricity: 0.4184 kg CO2/kWh  [CO2, location, R]" in out
    assert "electricity-residual: 0.5856 kg CO2/kWh  [CO2, market-residual, R]" in out
    assert "关于发布2022年电力二氧化碳排放因子的公告" in out
    assert "not found" in out


def test_factors_show_json_and_an_unknown_id() -> None:
    code, out = _run("factors", "show", "uk-desnz-2025@v1", "--json")
    assert code == 0
    body = json.loads(out)
    water = next(f for f in body["factors"] if f["key"] == "water")
    assert water["components"] == ["water-supply", "wastewater-treatment"] and water["value"] == "0.36218"
    assert body["market_based_unavailable"]
    code, out = _run("factors", "show", "nope")
    assert code == 2 and "unknown factor set" in out
