from __future__ import annotations

from datetime import date, timedelta

import pytest

from tanhui.sim.daytype import is_day_off, is_make_up_workday


@pytest.mark.parametrize(
    ("day", "off"),
    [
        (date(2026, 3, 7), True),  # ordinary Saturday
        (date(2026, 3, 9), False),  # ordinary Monday
        (date(2026, 1, 1), True),  # New Year's Day
        (date(2026, 1, 2), True),  # Friday off, swapped with Sunday 4 January
        (date(2026, 1, 4), False),  # that Sunday is a make-up workday
        (date(2026, 2, 17), True),  # Spring Festival
        (date(2026, 2, 14), False),  # Saturday make-up workday before the Spring Festival
        (date(2026, 2, 28), False),  # and after it
        (date(2026, 10, 7), True),  # National Day week
        (date(2026, 10, 10), False),  # Saturday make-up workday after it
        (date(2025, 1, 26), False),  # Sunday make-up workday, 2025
    ],
)
def test_days_off_follow_the_state_council_calendar(day: date, off: bool) -> None:
    assert is_day_off(day) is off


def test_make_up_workdays_are_weekend_days_only() -> None:
    year = [date(2026, 1, 1) + timedelta(days=d) for d in range(365)]
    make_up = [d for d in year if is_make_up_workday(d)]
    assert make_up == [
        date(2026, 1, 4),
        date(2026, 2, 14),
        date(2026, 2, 28),
        date(2026, 5, 9),
        date(2026, 9, 20),
        date(2026, 10, 10),
    ]
    # Weekends and holidays minus make-up days: China has about 115 days off a year.
    assert 110 <= sum(is_day_off(d) for d in year) <= 120
