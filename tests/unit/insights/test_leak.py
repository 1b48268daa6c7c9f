"""The continuous-night-flow leak rule on hand-made water series."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tanhui.domain.quantity import Quantity
from tanhui.insights.findings import FindingKind, Severity
from tanhui.insights.leak import detect_leaks
from tanhui.insights.parameters import DetectorParameters

from .conftest import T0, daily_pattern, from_hourly


def _household(day: int, hour: int) -> float:
    # Showers and kitchen in the day, nothing between 00:00 and 06:00 (m³ per hour).
    return 0.0 if hour < 6 else 0.02 + 0.01 * ((day + hour) % 3)


def test_a_household_with_dry_nights_has_no_leak(params: DetectorParameters) -> None:
    series = from_hourly(daily_pattern(21, _household), Quantity.WATER)
    assert detect_leaks(series, params.leak) == []


def test_a_constant_flow_from_day_ten_is_a_leak_found_within_three_nights(params: DetectorParameters) -> None:
    leak_start = 10 * 24 + 12  # day 10, noon local
    flows = [v + (0.008 if i >= leak_start else 0.0) for i, v in enumerate(daily_pattern(21, _household))]
    [finding] = detect_leaks(from_hourly(flows, Quantity.WATER), params.leak)
    assert finding.kind is FindingKind.LEAK
    assert finding.severity is Severity.WARNING
    start_s = T0 + leak_start * 3600
    assert finding.detected_at >= start_s
    # Nights of days 11, 12 and 13; the third ends at 05:00 local on day 13.
    assert finding.detected_at == T0 + (13 * 24 + 5) * 3600
    assert finding.evidence["night_minimum_l_per_h"] == 8.0


def test_a_running_toilet_is_raised_after_one_night(params: DetectorParameters) -> None:
    flows = [v + (0.04 if i >= 10 * 24 else 0.0) for i, v in enumerate(daily_pattern(21, _household))]
    [finding] = detect_leaks(from_hourly(flows, Quantity.WATER), params.leak)
    assert finding.detected_at == T0 + (10 * 24 + 5) * 3600
    assert finding.severity is Severity.CRITICAL


def test_electricity_is_never_a_leak(params: DetectorParameters) -> None:
    flows = [1.0] * (21 * 24)
    assert detect_leaks(from_hourly(flows, Quantity.ELECTRICITY, counts_per_unit=100), params.leak) == []


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(min_value=0.0, max_value=0.5), min_size=24 * 8, max_size=24 * 20),
)
def test_zero_night_flow_never_raises_a_leak(params: DetectorParameters, day_flows: list[float]) -> None:
    # Any daytime use at all, but the 02:00-05:00 window always dry.
    flows = [0.0 if 2 <= i % 24 < 5 else v for i, v in enumerate(day_flows)]
    assert detect_leaks(from_hourly(flows, Quantity.WATER), params.leak) == []
