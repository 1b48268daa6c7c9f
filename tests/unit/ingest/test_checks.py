"""The hot-path conjunction of the ingest checks gives the same answer as the table of checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from tanhui.domain.ids import CommunityId, GatewayId, HouseholdId, MeterId
from tanhui.domain.quantity import Quantity
from tanhui.domain.reading import MeterReading
from tanhui.ingest.checks import Context, first_violation, passes_all
from tanhui.ingest.reasons import Reason
from tanhui.ingest.rules import IngestRules
from tanhui.store.registry import Gateway, Meter

RULES = IngestRules.load()
NOW = datetime(2026, 11, 25, tzinfo=UTC)
GATEWAY = Gateway(GatewayId(1), CommunityId(1), "gw-1", None)


@st.composite
def contexts(draw: st.DrawFn) -> Context:
    kind = draw(st.sampled_from(list(Quantity)))
    resolution = draw(st.sampled_from([Decimal("0.01"), Decimal("0.001"), Decimal(1)]))
    meter = Meter(
        MeterId(1),
        CommunityId(1),
        HouseholdId(1),
        draw(st.sampled_from([None, GatewayId(1), GatewayId(2)])),
        "110000000001",
        kind,
        kind.unit,
        resolution,
        draw(st.sampled_from([10**8, 10**6])),
    )
    value = draw(st.decimals(min_value=-10, max_value=10**7, places=3, allow_nan=False, allow_infinity=False))
    unit = draw(st.sampled_from(["kWh", "m3", "m³", "KWH", "L", "MWh"]))
    offset = draw(st.integers(-2 * RULES.max_behind_seconds, 3 * RULES.max_ahead_seconds))
    reading = MeterReading("110000000001", kind.register, value, unit, NOW + timedelta(seconds=offset))
    return Context.of(meter, reading, GATEWAY, int(NOW.timestamp()), RULES)


@given(contexts())
def test_the_fast_path_agrees_with_the_table(context: Context) -> None:
    assert passes_all(context) == (first_violation(context) is None)


def test_each_rule_names_its_reason() -> None:
    meter = Meter(
        MeterId(1), CommunityId(1), None, GatewayId(2), "1", Quantity.WATER, "m3", Decimal("0.001"), 10**8
    )
    reading = MeterReading("1", "volume", Decimal("1.000"), "m3", NOW)
    context = Context.of(meter, reading, GATEWAY, int(NOW.timestamp()), RULES)
    assert first_violation(context) is not None
    assert first_violation(context)[0] is Reason.GATEWAY_NOT_ALLOWED  # type: ignore[index]
