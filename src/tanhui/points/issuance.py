"""Points due for verified avoided emissions, under a rule set, a household cap and a community budget."""

from __future__ import annotations

from dataclasses import dataclass

from tanhui.points.rules import RuleSet

GRAMS_PER_KG = 1000


@dataclass(frozen=True, slots=True)
class AvoidedEmissions:
    """One household's verified avoided emissions in one period, and whether they may earn points."""

    household_id: int
    period: str
    avoided_g_co2e: int
    data_quality_ok: bool
    baseline_eligible: bool
    evidence: str = ""  # the accounting result or baseline run these figures come from
    # A meter of the household has an open fault alert (stuck, flat zero, sudden drop, reverse flow,
    # clock jump): its readings earn nothing until an operator resolves the alert (issue 10).
    meter_held: bool = False


@dataclass(frozen=True, slots=True)
class Award:
    """Points for one household and period, with the reasons for anything less than the raw amount."""

    household_id: int
    period: str
    points: int
    reasons: tuple[str, ...]
    evidence: str


def points_due(rules: RuleSet, avoided: AvoidedEmissions) -> tuple[int, tuple[str, ...]]:
    """Points earned before the community budget: none when data quality or eligibility fails.

    Rounding is down (floor), so the platform never pays for a fraction of a point it cannot prove.
    """
    if avoided.meter_held:
        return 0, ("meter_held",)
    if not avoided.data_quality_ok:
        return 0, ("data_quality_failed",)
    if not avoided.baseline_eligible:
        return 0, ("baseline_not_eligible",)
    if avoided.avoided_g_co2e <= 0:
        return 0, ("no_avoided_emissions",)
    raw = avoided.avoided_g_co2e * rules.points_per_kg_co2e // GRAMS_PER_KG
    if raw > rules.household_cap_per_period:
        return rules.household_cap_per_period, ("household_cap",)
    return raw, ()


def awards(rules: RuleSet, inputs: list[AvoidedEmissions], budget_available: int) -> list[Award]:
    """The awards of one period. When the sum due exceeds the budget left, every award is scaled down
    pro rata (floor), so the pool is never overspent and no household is favoured by its order.
    """
    due = [(a, *points_due(rules, a)) for a in inputs]
    total = sum(points for _, points, _ in due)
    scale = total > budget_available
    result: list[Award] = []
    for avoided, raw, why in due:
        points, reasons = raw, why
        if scale and raw:
            points = raw * budget_available // total
            reasons = (*why, "community_budget")
        result.append(Award(avoided.household_id, avoided.period, points, reasons, avoided.evidence))
    return result
