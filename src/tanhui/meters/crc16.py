"""CRC-16/ARC, the checksum that closes a DSMR P1 telegram.

DSMR P1 Companion Standard 5.0.2, telegram representation: "a CRC16 value calculated over the preceding
characters in the data message (from / to !) using the polynomial x16+x15+x2+1 ... no XOR in, no XOR out
... least significant bit first" (quoted in meter-protocols.md §3.2; the section number of the standard
is not given here because it could not be checked). Catalogue name CRC-16/ARC: 0x8005 reflected
(0xA001), initial value 0, no final XOR; check value over ``b"123456789"`` is 0xBB3D.

The CRC catches line noise only: anyone who can change a telegram can recompute it.
"""

from __future__ import annotations

import sys
from array import array

__all__ = ["CHECK_VALUE", "POLY_REFLECTED", "crc16_arc"]

POLY_REFLECTED = 0xA001
CHECK_VALUE = 0xBB3D  # crc16_arc(b"123456789"), the catalogue's check value


def _byte_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ POLY_REFLECTED if crc & 1 else crc >> 1
        table.append(crc)
    return table


_T8 = _byte_table()

# A reflected 16-bit CRC shifts its whole register out after two bytes, so the state after a
# little-endian 16-bit word w depends only on (state ^ w): one lookup per two bytes instead of two.
# The table costs about 2 MB as a list of ints (an array("H") is a tenth of that but ~50% slower to
# index), built in ~10 ms at import; the CRC is the largest part of decoding a telegram.
_T16 = [_T8[hi ^ (_T8[lo] & 0xFF)] ^ (_T8[lo] >> 8) for hi in range(256) for lo in range(256)]
_BIG_ENDIAN = sys.byteorder == "big"


def crc16_arc(data: bytes | bytearray | memoryview, crc: int = 0) -> int:
    """CRC-16/ARC of ``data``, as DSMR P1 Companion Standard 5.0.2 closes a telegram with it.

    ``crc`` continues a previous computation: ``crc16_arc(b, crc16_arc(a)) == crc16_arc(a + b)``.
    """
    data = bytes(data) if not isinstance(data, bytes) else data
    even = len(data) & ~1
    words = array("H")
    words.frombytes(data[:even])
    if _BIG_ENDIAN:
        words.byteswap()  # the table is indexed by little-endian words
    table = _T16
    for word in words:
        crc = table[crc ^ word]
    if even != len(data):
        crc = (crc >> 8) ^ _T8[(crc ^ data[-1]) & 0xFF]
    return crc
