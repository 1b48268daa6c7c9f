"""Array pricing equals pricing one Decimal day at a time; packed months round-trip."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tanhui.accounting import months
from tanhui.accounting.errors import AccountingError
from tanhui.accounting.footprint import to_milligrams
from tanhui.accounting.pricing import NO_DATA, factor_fraction, price_days, total

factors = st.decimals(min_value=Decimal(0), max_value=Decimal(100), places=6, allow_nan=False)
# Up to 10,000 units a day (a large commercial meter), the range whose exact product fits 64 bits.
amounts = st.lists(st.integers(min_value=NO_DATA, max_value=10**10), max_size=60)


@given(amounts, factors)
def test_array_pricing_equals_decimal_pricing_day_by_day(values: list[int], factor: Decimal) -> None:
    priced = price_days(np.array(values, dtype=np.int64), factor)
    expected = [NO_DATA if v == NO_DATA else to_milligrams(Decimal(v) / 1_000_000 * factor) for v in values]
    assert priced.tolist() == expected


def test_hand_worked_day_of_electricity() -> None:
    # 12.34 kWh at 0.5306 kg/kWh = 6.547604 kg = 6,547,604 mg; half-even at a tie: 0.5 mg rounds to 0.
    priced = price_days(np.array([12_340_000, NO_DATA, 1], dtype=np.int64), Decimal("0.5"))
    assert priced.tolist() == [6_170_000, NO_DATA, 0]
    assert price_days(np.array([12_340_000], dtype=np.int64), Decimal("0.5306")).tolist() == [6_547_604]
    assert price_days(np.array([3], dtype=np.int64), Decimal("0.5")).tolist() == [2]  # 1.5 → 2 (even)


def test_factor_fraction_is_exact() -> None:
    assert factor_fraction(Decimal("0.5306")) == (5306, 10_000)
    assert factor_fraction(Decimal("2.1E+1")) == (21, 1)
    assert factor_fraction(Decimal("0")) == (0, 1)
    with pytest.raises(AccountingError):
        factor_fraction(Decimal("-1"))


def test_negative_amounts_and_overflow_are_refused() -> None:
    with pytest.raises(AccountingError, match="negative"):
        price_days(np.array([5, -2], dtype=np.int64), Decimal("0.5"))
    with pytest.raises(AccountingError, match="overflow"):
        price_days(np.array([2**62], dtype=np.int64), Decimal("12.345"))


def test_gaps_count_nothing_in_a_total() -> None:
    assert total(np.array([NO_DATA, 4, 0, NO_DATA, 6], dtype=np.int64)) == 10


@given(
    st.dictionaries(
        st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)),
        st.integers(min_value=0, max_value=10**15),
        max_size=80,
    )
)
def test_months_group_pack_and_unpack_without_loss(by_day: dict[date, int]) -> None:
    grouped = months.group(by_day)
    restored: dict[date, int] = {}
    firsts = sorted(grouped)
    for month in firsts:
        blob = months.pack(grouped[month])
        assert len(blob) == months.PACKED_BYTES
        restored.update(months.daily(month, months.unpack(month, blob)))
    assert restored == by_day


def test_a_blob_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(AccountingError, match="packed month"):
        months.unpack(date(2026, 2, 1), b"\x00" * 8 * 30)
    with pytest.raises(AccountingError, match="past the month"):
        months.unpack(date(2026, 2, 1), b"\x00" * months.PACKED_BYTES)  # 29th-31st of February
    with pytest.raises(AccountingError, match="negative"):
        months.group({date(2026, 2, 1) + timedelta(days=1): -5})
