"""Stuck, flat-zero, sudden-drop, reverse-flow and clock-jump rules on hand-made series."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tanhui.domain.quantity import Quantity
from tanhui.insights.findings import FindingKind
from tanhui.insights.meter_faults import (
    detect_clock_jumps,
    detect_flat_zero,
    detect_reverse_flow,
    detect_stuck,
    detect_sudden_drop,
)
from tanhui.insights.parameters import DetectorParameters
from tanhui.insights.series import RegisterSeries

from .conftest import OFFSET, T0, from_hourly


def _electricity(hours: int, meter: str = "e1") -> list[float]:
    # A fridge and standby (0.06 kWh/h) plus an evening peak.
    return [0.06 + (0.8 if 18 <= i % 24 < 22 else 0.1) for i in range(hours)]


def _with_register(series: RegisterSeries, counts: np.ndarray) -> RegisterSeries:
    return RegisterSeries(
        series.meter, series.quantity, series.times, counts, series.counts_per_unit, series.capacity, OFFSET
    )


def test_a_register_that_stops_after_days_of_use_is_stuck(params: DetectorParameters) -> None:
    series = from_hourly(_electricity(14 * 24), Quantity.ELECTRICITY, counts_per_unit=100)
    stop = 9 * 24 + 3
    counts = series.counts.copy()
    counts[stop:] = counts[stop]
    [finding] = detect_stuck(_with_register(series, counts), params.stuck)
    assert finding.kind is FindingKind.STUCK
    assert finding.start == T0 + stop * 3600
    assert finding.detected_at == T0 + (stop + 3) * 3600  # three still hours for electricity


def test_a_gas_meter_resting_every_night_is_not_stuck(params: DetectorParameters) -> None:
    flows = [0.0 if i % 24 < 6 or i % 24 >= 22 else 0.05 for i in range(14 * 24)]
    assert detect_stuck(from_hourly(flows, Quantity.GAS), params.stuck) == []


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=500), min_size=2, max_size=24 * 12))
def test_a_strictly_increasing_register_is_never_stuck(params: DetectorParameters, steps: list[int]) -> None:
    counts = 1000 + np.concatenate([[0], np.cumsum(steps)]).astype(np.int64)
    times = T0 + 3600 * np.arange(counts.size, dtype=np.int64)
    for quantity in Quantity:
        series = RegisterSeries("m", quantity, times, counts, 100, 100_000_000, OFFSET)
        assert detect_stuck(series, params.stuck) == []
        assert detect_reverse_flow(series, params.reverse_flow) == []


def test_a_meter_that_never_moved_while_its_peers_consumed_is_flat_zero(params: DetectorParameters) -> None:
    peers = [
        from_hourly(_electricity(3 * 24), Quantity.ELECTRICITY, meter=f"p{i}", counts_per_unit=100)
        for i in range(6)
    ]
    dead = from_hourly([0.0] * (3 * 24), Quantity.ELECTRICITY, meter="dead", counts_per_unit=100)
    [finding] = detect_flat_zero([*peers, dead], params.flat_zero)
    assert (finding.kind, finding.meter) == (FindingKind.FLAT_ZERO, "dead")
    assert finding.detected_at == T0 + 24 * 3600


def test_a_zero_meter_among_zero_peers_is_not_flagged(params: DetectorParameters) -> None:
    quiet = [from_hourly([0.0] * 72, Quantity.GAS, meter=f"g{i}") for i in range(7)]
    assert detect_flat_zero(quiet, params.flat_zero) == []


def test_daily_use_falling_to_a_fifth_is_a_sudden_drop(params: DetectorParameters) -> None:
    flows = [v * (0.2 if i >= 10 * 24 else 1.0) for i, v in enumerate(_electricity(16 * 24))]
    [finding] = detect_sudden_drop(
        from_hourly(flows, Quantity.ELECTRICITY, counts_per_unit=100), params.sudden_drop
    )
    assert finding.start == T0 + 10 * 86400
    assert finding.detected_at == T0 + 12 * 86400  # two low days


def test_a_ten_percent_saving_is_not_a_drop(params: DetectorParameters) -> None:
    flows = [v * (0.9 if i >= 10 * 24 else 1.0) for i, v in enumerate(_electricity(16 * 24))]
    assert (
        detect_sudden_drop(from_hourly(flows, Quantity.ELECTRICITY, counts_per_unit=100), params.sudden_drop)
        == []
    )


def test_a_register_counting_backwards_is_reverse_flow(params: DetectorParameters) -> None:
    series = from_hourly(_electricity(48), Quantity.ELECTRICITY, counts_per_unit=100)
    counts = series.counts.copy()
    counts[30:] = counts[29] - (counts[30:] - counts[29])
    [finding] = detect_reverse_flow(_with_register(series, counts), params.reverse_flow)
    assert finding.kind is FindingKind.REVERSE_FLOW
    assert finding.detected_at == T0 + 31 * 3600


def test_a_rollover_is_not_reverse_flow(params: DetectorParameters) -> None:
    series = from_hourly(_electricity(48), Quantity.ELECTRICITY, counts_per_unit=100, start_counts=99_999_000)
    wrapped = series.counts % 100_000_000
    assert np.any(np.diff(wrapped) < 0)
    assert detect_reverse_flow(_with_register(series, wrapped), params.reverse_flow) == []


def test_a_reading_off_the_grid_is_a_clock_jump_but_a_gap_is_not(params: DetectorParameters) -> None:
    series = from_hourly(_electricity(48), Quantity.ELECTRICITY, counts_per_unit=100)
    gap = np.delete(np.arange(series.times.size), [10, 11])
    with_gap = RegisterSeries(
        "e", Quantity.ELECTRICITY, series.times[gap], series.counts[gap], 100, None, OFFSET
    )
    assert detect_clock_jumps(with_gap, params.clock_jump) == []
    shifted = series.times.copy()
    shifted[20:] += 37 * 60
    [finding] = detect_clock_jumps(_with_times(series, shifted), params.clock_jump)
    assert finding.evidence["step_s"] == 3600 + 37 * 60
    assert finding.detected_at == int(shifted[20])


def _with_times(series: RegisterSeries, times: np.ndarray) -> RegisterSeries:
    return RegisterSeries(series.meter, series.quantity, times, series.counts, 100, None, OFFSET)
