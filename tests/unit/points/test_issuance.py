"""Issuance rules: sourced rule file, points per kg, caps, budget, eligibility; expiry windows."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tanhui.points import expiry
from tanhui.points.errors import RulesError
from tanhui.points.issuance import AvoidedEmissions, awards, points_due
from tanhui.points.rules import parse_period, parse_rules, period_bounds

TEXT = (Path(__file__).resolve().parents[3] / "data" / "points" / "rules.toml").read_text(encoding="utf-8")
RULES = parse_rules(TEXT)


def test_the_published_rule_file_loads_with_every_number_sourced() -> None:
    assert RULES.version == "baoting-pilot-2026@v1" and RULES.points_per_kg_co2e == 10
    assert len(RULES.content_hash) == 64


def test_a_number_without_its_source_is_refused() -> None:
    broken = TEXT.replace(
        'source = "Tanhui pilot programme rules (operator policy), 2026; demo value"\n', "", 1
    )
    with pytest.raises(RulesError, match=r"points_per_kg_co2e.*source"):
        parse_rules(broken)


def test_points_due() -> None:
    def avoided(g: int, quality: bool = True, eligible: bool = True) -> AvoidedEmissions:
        return AvoidedEmissions(1, "2026-10", g, quality, eligible)

    assert points_due(RULES, avoided(12_399)) == (123, ())
    assert points_due(RULES, avoided(10**9)) == (500, ("household_cap",))
    assert points_due(RULES, avoided(-5)) == (0, ("no_avoided_emissions",))
    assert points_due(RULES, avoided(9_000, quality=False)) == (0, ("data_quality_failed",))
    assert points_due(RULES, avoided(9_000, eligible=False)) == (0, ("baseline_not_eligible",))


@given(st.lists(st.integers(-1000, 80_000), max_size=20), st.integers(0, 3000))
def test_awards_never_exceed_the_budget_or_the_points_due(grams: list[int], budget: int) -> None:
    inputs = [AvoidedEmissions(i, "2026-10", g, True, True) for i, g in enumerate(grams)]
    result = awards(RULES, inputs, budget)
    assert sum(a.points for a in result) <= budget
    for award, avoided in zip(result, inputs, strict=True):
        assert 0 <= award.points <= points_due(RULES, avoided)[0]


def test_periods_and_expiry_windows() -> None:
    assert parse_period("2026-12") == (date(2026, 12, 1), date(2026, 12, 31))
    assert period_bounds("2026-02")[1] - period_bounds("2026-02")[0] == 28 * 86400
    with pytest.raises(RulesError):
        parse_period("2026-13")
    assert expiry.window_start(date(2026, 3, 31), 24) == date(2024, 3, 28)
    assert expiry.window_start(date(2026, 1, 15), 1) == date(2025, 12, 15)
    assert expiry.expiring(100, 30) == 70 and expiry.expiring(10, 30) == 0
