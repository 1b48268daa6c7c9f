from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from tanhui.meters.gaps import Gap, completeness, gaps

HOUR = 3600


def test_a_silence_of_more_than_two_intervals_is_a_gap() -> None:
    times = [0, HOUR, 2 * HOUR, 5 * HOUR, 6 * HOUR, 8 * HOUR]
    assert gaps(times, expected_interval=HOUR, factor=2) == [Gap(2 * HOUR, 5 * HOUR)]
    assert gaps(times, expected_interval=HOUR, factor=2)[0].seconds == 3 * HOUR


def test_order_and_duplicates_do_not_matter() -> None:
    assert gaps([5 * HOUR, 0, 0, HOUR], expected_interval=HOUR, factor=2) == [Gap(HOUR, 5 * HOUR)]


def test_completeness_counts_distinct_times_in_the_window() -> None:
    times = [0, HOUR, HOUR, 3 * HOUR, 30 * HOUR]
    assert completeness(times, start=0, end=4 * HOUR, expected_interval=HOUR) == 0.75


@given(st.lists(st.integers(0, 10**6), max_size=200), st.integers(1, 10_000), st.integers(1, 5))
def test_gaps_cover_exactly_the_long_silences(times: list[int], interval: int, factor: int) -> None:
    found = gaps(times, expected_interval=interval, factor=factor)
    distinct = sorted(set(times))
    for gap in found:
        assert gap.seconds > interval * factor
        assert not any(gap.after < t < gap.before for t in distinct)
    long_silences = sum(1 for a, b in itertools.pairwise(distinct) if b - a > interval * factor)
    assert len(found) == long_silences
