"""The data files: detector parameters, alert texts and tips parse, and refuse what is malformed."""

from __future__ import annotations

import pytest

from tanhui.domain.quantity import Quantity
from tanhui.insights.findings import FindingKind
from tanhui.insights.messages import catalogue_from_toml as messages_from_toml
from tanhui.insights.parameters import parameters_from_toml
from tanhui.insights.tips import HouseholdProfile, catalogue_from_toml, rank_tips

from .conftest import DATA


def test_every_kind_has_zh_and_en_texts_with_its_evidence_filled_in() -> None:
    messages = messages_from_toml((DATA / "messages.toml").read_text(encoding="utf-8"))
    evidence = {"nights": 3, "window": "02:00-05:00", "night_minimum_l_per_h": 8.0, "reference_l_per_h": 1.0}
    zh = messages.render(FindingKind.LEAK, "zh_CN", evidence)
    en = messages.render(FindingKind.LEAK, "en", evidence)
    assert zh.title == "疑似漏水" and "8.0" in zh.body and "3" in zh.body
    assert en.title == "Possible water leak" and "8.0 L/h" in en.body
    # A key missing from the evidence shows as "?" rather than failing.
    assert "?" in messages.render(FindingKind.STUCK, "en", {}).body


def test_a_missing_text_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="no texts for leak"):
        messages_from_toml("[stuck]\ntitle_zh='x'")


def test_an_unknown_parameter_is_refused_by_name() -> None:
    text = (DATA / "detectors.toml").read_text(encoding="utf-8").replace("[leak]\n", "[leak]\nsurprise = 1\n")
    with pytest.raises(ValueError, match="surprise"):
        parameters_from_toml(text)


def _home(code: str, **overrides: float) -> HouseholdProfile:
    values = {
        "base_kw": 0.1,
        "evening_night_kwh_per_day": 2.0,
        "water_night_l_per_h": 0.5,
        "water_m3_per_person_day": 0.12,
        "gas_m3_per_person_day": 0.25,
    }
    values.update(overrides)
    return HouseholdProfile(household=code, persons=3, **values)


def test_tips_rank_by_the_households_own_excess_over_its_peers() -> None:
    catalogue = catalogue_from_toml((DATA / "tips.toml").read_text(encoding="utf-8"))
    peers = [_home(f"p{i}") for i in range(9)]
    standby_home = _home("s", base_kw=0.4)
    leaky_home = _home("l", water_night_l_per_h=30.5)
    ranked_standby = rank_tips(standby_home, [*peers, standby_home], catalogue)
    assert ranked_standby[0].tip.id == "standby"
    # 0.3 kW above the peers' median, half of it switchable, all year.
    assert ranked_standby[0].expected_per_year == pytest.approx(0.3 * 8760 * 0.5)
    assert ranked_standby[0].expected_kg_co2e_per_year == pytest.approx(0.3 * 8760 * 0.5 * 0.4184)
    leak_tips = {r.tip.id: r for r in rank_tips(leaky_home, [*peers, leaky_home], catalogue)}
    assert leak_tips["leak_check"].expected_per_year == pytest.approx(30 * 8760 / 1000 * 0.8)
    assert leak_tips["leak_check"].tip.quantity is Quantity.WATER
    # An ordinary household gets no standby, leak, shower or cooking tip; the AC tip applies to all who cool.
    assert [r.tip.id for r in rank_tips(peers[0], peers, catalogue)] == ["ac_setpoint"]
    en = ranked_standby[0].as_json("en")
    assert en["title"] == "Switch off standby devices" and "1314 kWh" in str(en["body"])
