"""CRC-16/ARC: the catalogue check value, a bit-by-bit reference, and dsmr-parser's CRC as a peer."""

from __future__ import annotations

from dsmr_parser.parsers import TelegramParser
from hypothesis import given
from hypothesis import strategies as st

from tanhui.meters.crc16 import CHECK_VALUE, crc16_arc


def _bitwise(data: bytes) -> int:
    # The definition, one bit at a time: reflected polynomial 0xA001, init 0, no final XOR.
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def test_check_value() -> None:
    assert CHECK_VALUE == 0xBB3D
    assert crc16_arc(b"123456789") == 0xBB3D


def test_empty_and_single_byte() -> None:
    assert crc16_arc(b"") == 0
    assert crc16_arc(b"/") == _bitwise(b"/")


def test_accepts_bytearray_and_memoryview() -> None:
    assert crc16_arc(bytearray(b"123456789")) == crc16_arc(memoryview(b"123456789")) == 0xBB3D


@given(st.binary(max_size=600))
def test_matches_bit_by_bit_definition(data: bytes) -> None:
    assert crc16_arc(data) == _bitwise(data)


@given(st.binary(max_size=100), st.binary(max_size=100))
def test_continues_a_previous_crc(first: bytes, second: bytes) -> None:
    assert crc16_arc(second, crc16_arc(first)) == crc16_arc(first + second)


@given(st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=127), max_size=300))
def test_matches_dsmr_parser(text: str) -> None:
    assert crc16_arc(text.encode("ascii")) == TelegramParser.crc16(text)
