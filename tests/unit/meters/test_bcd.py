from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tanhui.domain.errors import TanhuiError
from tanhui.meters import bcd
from tanhui.meters.bcd import BcdError
from tanhui.meters.errors import MeterError

FAST = settings(max_examples=200, deadline=None)


def _bcd_bytes(size: int) -> st.SearchStrategy[bytes]:
    pair = st.integers(0, 99).map(lambda n: (n // 10) << 4 | n % 10)
    return st.lists(pair, min_size=size, max_size=size).map(bytes)


def test_reference_example_lsb_first() -> None:
    # meter-protocols.md §1.5: 12345.67 kWh is BCD 01 23 45 67, sent 67 45 23 01.
    assert bcd.encode_decimal(Decimal("12345.67"), 4, 2) == bytes.fromhex("67452301")
    assert bcd.decode_decimal(bytes.fromhex("67452301"), 2) == Decimal("12345.67")


def test_reference_example_sign_bit() -> None:
    # §1.5: -1.2345 kW in XX.XXXX is 81 23 45, sent 45 23 81.
    assert bcd.encode_decimal(Decimal("-1.2345"), 3, 4, signed=True) == bytes.fromhex("452381")
    assert bcd.decode_decimal(bytes.fromhex("452381"), 4, signed=True) == Decimal("-1.2345")


def test_the_sign_bit_is_a_digit_when_the_field_is_unsigned() -> None:
    assert bcd.decode_decimal(bytes.fromhex("99999999"), 2) == Decimal("999999.99")
    assert bcd.decode_decimal(bytes.fromhex("99999999"), 2, signed=True) == Decimal("-199999.99")


def test_decoded_values_keep_their_resolution() -> None:
    assert str(bcd.decode_decimal(bytes(4), 2)) == "0.00"
    assert str(bcd.decode_decimal(bytes.fromhex("0016"), 1)) == "160.0"


def test_address_digits_are_most_significant_first() -> None:
    # §1.2: meter 123456789012 goes on the wire as 12 90 78 56 34 12.
    assert bcd.decode_address(bytes.fromhex("129078563412")) == "123456789012"
    assert bcd.encode_address("123456789012", 6) == bytes.fromhex("129078563412")
    assert bcd.decode_address(b"\xaa" * 6) == "AAAAAAAAAAAA"
    assert bcd.encode_address("AAAA12345678", 6) == bytes.fromhex("78563412AAAA")


@pytest.mark.parametrize(
    "address", ["12345678901", "1234567890123", "12345678901A", "1234 6789012", "١٢٣٤٥٦٧٨٩٠١٢"]
)
def test_malformed_addresses_are_refused(address: str) -> None:
    with pytest.raises(BcdError) as info:
        bcd.encode_address(address, 6)
    assert info.value.code == "bcd"


def test_the_error_is_a_meter_error() -> None:
    with pytest.raises(MeterError) as info:
        bcd.decode_unsigned(b"\x1a")
    assert isinstance(info.value, TanhuiError)
    assert info.value.code == "bcd"
    assert "0x1A" in info.value.message
    assert "nibble A" in info.value.message


@FAST
@given(st.integers(1, 8).flatmap(lambda size: st.tuples(st.just(size), st.integers(0, 100**size - 1))))
def test_unsigned_round_trip(case: tuple[int, int]) -> None:
    size, value = case
    raw = bcd.encode_unsigned(value, size)
    assert len(raw) == size
    assert bcd.decode_unsigned(raw) == value
    assert bcd.decode_digits(raw) == f"{value:0{2 * size}d}"
    assert bcd.encode_digits(bcd.decode_digits(raw)) == raw


@FAST
@given(st.integers(1, 6).flatmap(lambda size: st.tuples(st.just(size), _bcd_bytes(size))))
def test_every_bcd_byte_string_decodes_and_re_encodes(case: tuple[int, bytes]) -> None:
    size, raw = case
    assert bcd.encode_unsigned(bcd.decode_unsigned(raw), size) == raw
    assert bcd.encode_address(bcd.decode_address(raw), size) == raw


@FAST
@given(
    st.integers(1, 5).flatmap(
        lambda size: st.tuples(
            st.just(size), st.booleans(), st.integers(0, 8 * 100**size // 10 - 1), st.integers(0, 2 * size)
        )
    )
)
def test_signed_decimal_round_trip(case: tuple[int, bool, int, int]) -> None:
    size, negative, magnitude, decimals = case
    value = Decimal(magnitude).scaleb(-decimals)
    if negative:
        value = value.copy_negate()
    raw = bcd.encode_decimal(value, size, decimals, signed=True)
    assert bool(raw[-1] & 0x80) == negative
    back = bcd.decode_decimal(raw, decimals, signed=True)
    assert back == value
    # A meter's negative zero comes back as negative zero, so it re-encodes to the same bytes.
    assert back.is_signed() == negative
    assert bcd.encode_decimal(back, size, decimals, signed=True) == raw


@FAST
@given(
    st.integers(1, 6).flatmap(
        lambda size: st.tuples(
            _bcd_bytes(size), st.integers(0, size - 1), st.booleans(), st.integers(0xA, 0xF)
        )
    )
)
def test_any_nibble_above_nine_is_refused(case: tuple[bytes, int, bool, int]) -> None:
    raw, index, high, nibble = case
    bad = bytearray(raw)
    bad[index] = (bad[index] & 0x0F) | nibble << 4 if high else (bad[index] & 0xF0) | nibble
    if bad[index] == bcd.WILDCARD:
        bad[index] = 0xAB  # AAH is the address wildcard; any other non-decimal byte must fail there too
    for decode in (bcd.decode_unsigned, bcd.decode_digits, bcd.decode_address):
        with pytest.raises(BcdError) as info:
            decode(bytes(bad))
        assert info.value.code == "bcd"
        assert f"byte {index} of {len(raw)}" in info.value.message
    with pytest.raises(BcdError):
        bcd.decode_decimal(bytes(bad), 2)


def test_a_signed_field_may_carry_a_high_nibble_only_in_the_sign_bit() -> None:
    # 0x8A: sign set, then nibble A in the magnitude: still not BCD.
    with pytest.raises(BcdError) as info:
        bcd.decode_decimal(bytes.fromhex("008A"), 2, signed=True)
    assert info.value.code == "bcd"


@pytest.mark.parametrize(
    ("value", "size", "decimals", "signed"),
    [
        (Decimal("1000000.00"), 4, 2, False),  # one digit too many for XXXXXX.XX
        (Decimal("800000.00"), 4, 2, True),  # reaches into the sign bit
        (Decimal("-0.01"), 4, 2, False),  # negative on an unsigned field
        (Decimal("-0"), 4, 2, False),
        (Decimal("1.005"), 4, 2, False),  # would need rounding
        (Decimal("NaN"), 4, 2, False),
        (Decimal("Infinity"), 4, 2, True),
    ],
)
def test_values_that_do_not_fit_are_refused(value: Decimal, size: int, decimals: int, signed: bool) -> None:
    with pytest.raises(BcdError) as info:
        bcd.encode_decimal(value, size, decimals, signed=signed)
    assert info.value.code == "range"


def test_limits_are_inclusive_of_the_largest_value() -> None:
    assert bcd.encode_decimal(Decimal("999999.99"), 4, 2) == b"\x99" * 4
    assert bcd.encode_decimal(Decimal("-799999.99"), 4, 2, signed=True) == bytes.fromhex("999999F9")
    with pytest.raises(BcdError):
        bcd.encode_unsigned(100, 1)
    with pytest.raises(BcdError):
        bcd.encode_unsigned(-1, 1)


@pytest.mark.parametrize("digits", ["123", "12a4", "1²", "+1"])
def test_encode_digits_wants_an_even_number_of_decimal_digits(digits: str) -> None:
    with pytest.raises(BcdError) as info:
        bcd.encode_digits(digits)
    assert info.value.code == "bcd"


def test_exported_names_match() -> None:
    defined = {
        name
        for name, value in vars(bcd).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == bcd.__name__
    }
    assert defined <= set(bcd.__all__)
    assert all(hasattr(bcd, name) for name in bcd.__all__)
