from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tanhui.meters.continuity import ContinuityError, StepKind, step

CAPACITY = 100_000_000  # a 999,999.99 kWh register at 0.01 kWh


def test_normal_step_is_the_difference() -> None:
    assert step(1000, 1250, capacity=CAPACITY, max_rollover_counts=10**6).counts == 250


def test_rollover_at_capacity_counts_across_the_wrap() -> None:
    s = step(CAPACITY - 30, 20, capacity=CAPACITY, max_rollover_counts=10**6)
    assert s.kind is StepKind.ROLLOVER
    assert s.counts == 50


def test_a_large_fall_is_a_decreasing_register_not_a_rollover() -> None:
    with pytest.raises(ContinuityError) as caught:
        step(5_000_000, 4_000_000, capacity=CAPACITY, max_rollover_counts=10**6)
    assert caught.value.code == "decreasing_register"


def test_values_outside_the_register_are_refused() -> None:
    with pytest.raises(ContinuityError) as caught:
        step(0, CAPACITY, capacity=CAPACITY, max_rollover_counts=10**6)
    assert caught.value.code == "register_out_of_range"


@given(
    start=st.integers(0, CAPACITY - 1),
    increments=st.lists(st.integers(0, 500_000), max_size=50),
)
def test_consumption_survives_any_number_of_wraps(start: int, increments: list[int]) -> None:
    values = [start]
    for inc in increments:
        values.append((values[-1] + inc) % CAPACITY)
    total = sum(
        step(a, b, capacity=CAPACITY, max_rollover_counts=CAPACITY // 100).counts
        for a, b in itertools.pairwise(values)
    )
    assert total == sum(increments)
