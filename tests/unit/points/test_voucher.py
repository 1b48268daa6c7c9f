"""Voucher codes: typed-code round trip, check symbol, signature, QR."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tanhui.points import voucher
from tanhui.points.errors import VoucherError

KEY = b"k" * 32
ids = st.integers(1, (1 << voucher.ID_BITS) - 1)


@given(ids, st.integers(1, 10**6), st.integers(0, 2**40))
def test_a_code_round_trips_and_verifies(voucher_id: int, reward: int, expires: int) -> None:
    code = voucher.voucher_code(KEY, voucher_id, reward, expires)
    assert len(code) == 19 and code.count("-") == 3
    parsed_id, tag = voucher.parse_code(code.lower().replace("1", "l").replace("0", "o"))
    assert parsed_id == voucher_id
    assert voucher.verify_tag(KEY, voucher_id, tag, reward, expires)
    assert not voucher.verify_tag(KEY, voucher_id, tag, reward + 1, expires)
    assert not voucher.verify_tag(KEY, voucher_id, tag, reward, expires + 1)
    assert not voucher.verify_tag(b"other", voucher_id, tag, reward, expires)


@given(ids, st.integers(0, 15), st.integers(1, 31))
def test_any_single_mistyped_symbol_is_caught_by_the_check(
    voucher_id: int, position: int, shift: int
) -> None:
    code = voucher.voucher_code(KEY, voucher_id, 1, 2).replace("-", "")
    wrong = voucher.ALPHABET[(voucher.ALPHABET.index(code[position]) + shift) % 32]
    typo = code[:position] + wrong + code[position + 1 :]
    with pytest.raises(VoucherError) as caught:
        voucher.parse_code(typo)
    assert caught.value.code == "code_check"


@given(st.text(max_size=30))
def test_any_text_parses_or_raises_the_codec_error(text: str) -> None:
    try:
        voucher_id, tag = voucher.parse_code(text)
    except VoucherError as exc:
        assert exc.code in {"code_length", "code_symbol", "code_check"}
    else:
        assert 0 <= voucher_id < 1 << voucher.ID_BITS and 0 <= tag < 1 << voucher.TAG_BITS


def test_the_qr_carries_the_code() -> None:
    code = voucher.voucher_code(KEY, 12345, 1, 2)
    assert voucher.qr_svg(code).startswith("<svg") and voucher.qr_png(code).startswith(b"\x89PNG")
    assert (
        voucher.key_from_secret("a") != voucher.key_from_secret("b")
        and len(voucher.key_from_secret("a")) == 32
    )
