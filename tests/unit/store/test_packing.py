"""Packed days: lossless for any readings, compact for regular ones, and strict about their bytes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tanhui.store import packing
from tanhui.store.packing import PackedReading, PackingError

DAY_START = 1_795_046_400  # 2026-11-18T00:00:00Z
INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)


@st.composite
def days(draw: st.DrawFn) -> tuple[int, list[PackedReading]]:
    """A base and readings with strictly increasing times, any values and batches, often regular."""
    base = draw(INT64)
    n = draw(st.integers(min_value=1, max_value=120))
    first = draw(INT64)
    if draw(st.booleans()):
        steps = [draw(st.integers(min_value=1, max_value=3600))] * (n - 1)
    else:
        steps = draw(st.lists(st.integers(min_value=1, max_value=2**40), min_size=n - 1, max_size=n - 1))
    times = [first]
    for step in steps:
        times.append(times[-1] + step)
    values = draw(st.lists(INT64, min_size=n, max_size=n))
    batches = sorted(draw(st.lists(st.integers(min_value=1, max_value=2**63 - 1), min_size=n, max_size=n)))
    if draw(st.booleans()):
        batches = draw(st.permutations(batches))
    return base, [PackedReading(t, v, b) for t, v, b in zip(times, values, batches, strict=True)]


@given(days())
def test_decode_gives_back_exactly_what_was_encoded(day: tuple[int, list[PackedReading]]) -> None:
    base, readings = day
    assert packing.decode(base, packing.encode(base, readings)) == readings


@given(st.binary(max_size=200), INT64)
def test_any_bytes_decode_or_raise_the_packing_error(data: bytes, base: int) -> None:
    try:
        decoded = packing.decode(base, data)
    except PackingError:
        return
    assert 1 <= len(decoded) <= len(data)
    times = [r.meter_time for r in decoded]
    assert times == sorted(set(times))


@given(days(), st.data())
def test_a_truncated_or_extended_day_is_refused(
    day: tuple[int, list[PackedReading]], data: st.DataObject
) -> None:
    base, readings = day
    encoded = packing.encode(base, readings)
    cut = data.draw(st.integers(min_value=0, max_value=len(encoded) - 1))
    with pytest.raises(PackingError):
        packing.decode(base, encoded[:cut])
    with pytest.raises(PackingError):
        packing.decode(base, encoded + b"\x00")


def test_a_regular_day_of_15_minute_readings_takes_little_more_than_a_byte_each() -> None:
    # A household electricity register in 0.01 kWh, 0 to 0.6 kWh a quarter hour, 96 readings delivered in
    # four batches: one byte per value delta, a few bytes for all the times and batches.
    values = [1_875_952 + sum(j * 37 % 61 for j in range(k)) for k in range(96)]
    readings = [PackedReading(DAY_START + 900 * k, value, 700 + k // 24) for k, value in enumerate(values)]
    encoded = packing.encode(DAY_START, readings)
    assert len(encoded) <= 96 + 32
    assert packing.decode(DAY_START, encoded) == readings


def test_nothing_or_times_out_of_order_cannot_be_packed() -> None:
    with pytest.raises(PackingError, match="at least one reading"):
        packing.encode(DAY_START, [])
    with pytest.raises(PackingError, match="strictly increasing"):
        packing.encode(DAY_START, [PackedReading(DAY_START + 60, 1, 1), PackedReading(DAY_START, 2, 1)])
    with pytest.raises(PackingError, match="strictly increasing"):
        packing.encode(DAY_START, [PackedReading(DAY_START, 1, 1), PackedReading(DAY_START, 1, 2)])


def test_an_unknown_version_is_named() -> None:
    encoded = bytearray(packing.encode(DAY_START, [PackedReading(DAY_START, 5, 1)]))
    encoded[0] = 2
    with pytest.raises(PackingError, match="version 2 is unknown"):
        packing.decode(DAY_START, bytes(encoded))
