from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tanhui.accounting.daily import Interval, split_by_day
from tanhui.accounting.errors import AccountingError

SHANGHAI = ZoneInfo("Asia/Shanghai")
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def test_an_interval_inside_one_day_goes_to_that_day() -> None:
    start = datetime(2026, 11, 25, 9, tzinfo=SHANGHAI)
    assert split_by_day(Interval(start, start + timedelta(hours=1), 70), SHANGHAI) == [
        (date(2026, 11, 25), 70)
    ]


def test_an_interval_across_midnight_is_shared_by_time() -> None:
    start = datetime(2026, 11, 25, 23, tzinfo=SHANGHAI)
    parts = split_by_day(Interval(start, start + timedelta(hours=4), 100), SHANGHAI)
    assert parts == [(date(2026, 11, 25), 25), (date(2026, 11, 26), 75)]


def test_days_are_local_days() -> None:
    # 2026-11-25 17:00 UTC is 01:00 on the 26th in Baoting.
    start = datetime(2026, 11, 25, 17, tzinfo=UTC)
    assert split_by_day(Interval(start, start + timedelta(minutes=30), 5), SHANGHAI) == [
        (date(2026, 11, 26), 5)
    ]


def test_a_dst_day_has_23_hours() -> None:
    start = datetime(2026, 3, 28, 0, tzinfo=AMSTERDAM)
    parts = dict(split_by_day(Interval(start, datetime(2026, 3, 30, 0, tzinfo=AMSTERDAM), 47), AMSTERDAM))
    assert parts == {date(2026, 3, 28): 24, date(2026, 3, 29): 23}


def test_empty_or_naive_intervals_are_refused() -> None:
    start = datetime(2026, 11, 25, tzinfo=SHANGHAI)
    with pytest.raises(AccountingError):
        split_by_day(Interval(start, start, 1), SHANGHAI)
    with pytest.raises(AccountingError):
        split_by_day(
            Interval(start.replace(tzinfo=None), start.replace(tzinfo=None) + timedelta(hours=1), 1), SHANGHAI
        )


@given(
    start=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
    seconds=st.integers(1, 10 * 86400),
    amount=st.integers(1, 10**12),
    tz=st.sampled_from([SHANGHAI, AMSTERDAM, UTC]),
)
def test_parts_are_positive_ordered_local_days_that_sum_to_the_whole(
    start: datetime, seconds: int, amount: int, tz: ZoneInfo
) -> None:
    end = start + timedelta(seconds=seconds)
    parts = split_by_day(Interval(start, end, amount), tz)
    assert sum(v for _, v in parts) == amount
    assert all(v > 0 for _, v in parts)
    days = [d for d, _ in parts]
    assert days == sorted(days)
    assert days[0] >= start.astimezone(tz).date()
    assert days[-1] <= (end - timedelta(microseconds=1)).astimezone(tz).date()
