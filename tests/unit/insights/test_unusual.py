"""Unusual use against the household's own hour-of-day history."""

from __future__ import annotations

from tanhui.domain.quantity import Quantity
from tanhui.insights.detect import detect
from tanhui.insights.findings import FindingKind
from tanhui.insights.parameters import DetectorParameters
from tanhui.insights.unusual import detect_unusual_use

from .conftest import T0, from_hourly


def _usual(i: int) -> float:
    # Two alternating days so the median absolute deviation is not zero.
    return 0.3 + 0.05 * ((i // 24) % 2) + (0.6 if 18 <= i % 24 < 22 else 0.0)


def test_a_heater_left_on_for_ten_hours_is_unusual(params: DetectorParameters) -> None:
    start = 20 * 24 + 1
    flows = [_usual(i) + (2.0 if start <= i < start + 10 else 0.0) for i in range(24 * 24)]
    [finding] = detect_unusual_use(
        from_hourly(flows, Quantity.ELECTRICITY, counts_per_unit=100), params.unusual_use
    )
    assert finding.kind is FindingKind.UNUSUAL_USE
    assert finding.start == T0 + start * 3600
    assert finding.detected_at == T0 + (start + params.unusual_use.consecutive_hours) * 3600


def test_a_household_repeating_its_days_is_never_unusual(params: DetectorParameters) -> None:
    flows = [_usual(i) for i in range(24 * 24)]
    assert (
        detect_unusual_use(from_hourly(flows, Quantity.ELECTRICITY, counts_per_unit=100), params.unusual_use)
        == []
    )


def test_water_is_left_to_the_leak_rule(params: DetectorParameters) -> None:
    flows = [0.01] * (20 * 24) + [1.0] * 48
    assert detect_unusual_use(from_hourly(flows, Quantity.WATER), params.unusual_use) == []


def test_a_hot_week_that_moves_every_home_is_not_unusual_but_one_heater_is(
    params: DetectorParameters,
) -> None:
    def home(i: int, scale: float) -> float:
        hot = 3.5 if i >= 20 * 24 else 1.0  # every air conditioner comes on from day 20
        return scale * _usual(i) * hot

    homes = [
        from_hourly(
            [home(i, 1 + k / 10) for i in range(24 * 24)],
            Quantity.ELECTRICITY,
            meter=f"e{k}",
            counts_per_unit=100,
        )
        for k in range(8)
    ]
    alone = detect_unusual_use(homes[0], params.unusual_use)
    assert alone != []  # judged against its own past only, the hot week looks unusual
    heater = [home(i, 1.0) + (6.0 if 21 * 24 + 1 <= i < 21 * 24 + 11 else 0.0) for i in range(24 * 24)]
    homes.append(from_hourly(heater, Quantity.ELECTRICITY, meter="heater", counts_per_unit=100))
    unusual = [f for f in detect(homes, params) if f.kind is FindingKind.UNUSUAL_USE]
    assert {f.meter for f in unusual} == {"heater"}
