from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from tanhui.accounting.consumption import daily_counts
from tanhui.ingest.rules import IngestRules

TZ = ZoneInfo("Asia/Shanghai")
CAP = 100_000_000
ROLLOVER = IngestRules.load().max_rollover_counts(CAP)


def _t(day: int, hour: int) -> int:
    return int(datetime(2026, 11, day, hour, tzinfo=TZ).timestamp())


def test_register_deltas_become_daily_consumption() -> None:
    series = [(_t(1, 0), 1000), (_t(1, 12), 1100), (_t(2, 0), 1300), (_t(2, 12), 1310)]
    result = daily_counts(series, capacity=CAP, max_rollover_counts=ROLLOVER, tz=TZ)
    assert result.by_day == {date(2026, 11, 1): 300, date(2026, 11, 2): 10}


def test_rollover_is_counted_and_a_reset_is_not_paid() -> None:
    series = [(_t(1, 0), CAP - 10), (_t(1, 6), 15), (_t(1, 12), 3), (_t(1, 18), 9)]
    result = daily_counts(series, capacity=CAP, max_rollover_counts=ROLLOVER, tz=TZ)
    assert result.rollovers == 1
    # 15 -> 3 is a wrap only if it means at most 1 % of capacity: it would be ~100M counts, so rejected.
    assert len(result.rejected_steps) == 1
    assert result.by_day == {date(2026, 11, 1): 25 + 6}


@given(st.lists(st.integers(0, 5000), min_size=1, max_size=100), st.integers(0, CAP - 1))
def test_total_equals_register_movement(increments: list[int], start: int) -> None:
    values = [start]
    for inc in increments:
        values.append((values[-1] + inc) % CAP)
    series = [(_t(1, 0) + i * 3600 * 5, v) for i, v in enumerate(values)]
    result = daily_counts(series, capacity=CAP, max_rollover_counts=ROLLOVER, tz=TZ)
    assert sum(result.by_day.values()) == sum(increments)
