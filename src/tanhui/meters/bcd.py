"""Packed BCD as DL/T 645 and CJ/T 188 carry it: two decimal digits per byte, least significant byte first.

Both codecs use these helpers for addresses, register values and meter clocks. A byte ``0x12`` holds the
digits 1 (high nibble) and 2 (low nibble); a multi-byte field is sent least significant byte first, so
12345.67 in a four-byte XXXXXX.XX field is the number 01234567 and goes out as ``67 45 23 01``.

DL/T 645-2007 (data format clause) marks a negative value of a *signed* quantity with bit 7 of the most
significant byte, the last byte on the wire. Which quantities are signed is a property of the data
identifier, never of the bytes, so the codecs choose ``signed=True`` per register.

Errors: :class:`BcdError` (a :class:`~tanhui.meters.errors.MeterError`) with code ``bcd`` for a nibble
A–F and ``range`` for a value that does not fit its field. The codecs re-raise both as their own error
type, keeping the code and naming the field.
"""

from __future__ import annotations

from decimal import Decimal

from tanhui.meters.errors import MeterError

__all__ = [
    "SIGN_BIT",
    "WILDCARD",
    "BcdError",
    "decode_address",
    "decode_decimal",
    "decode_digits",
    "decode_signed",
    "decode_unsigned",
    "encode_address",
    "encode_decimal",
    "encode_digits",
    "encode_signed",
    "encode_unsigned",
]

SIGN_BIT = 0x80


class BcdError(MeterError):
    """A BCD field holds a nibble that is not a decimal digit, or a value does not fit its field."""

    code = "bcd"


def _check_byte(data: bytes, index: int) -> None:
    value = data[index]
    for nibble in (value >> 4, value & 0x0F):
        if nibble > 9:
            raise BcdError(
                f"byte {index} of {len(data)} is 0x{value:02X}: nibble {nibble:X} is not a decimal digit "
                "(BCD allows 0-9; meters fill unsupported items with FF or EE)",
                code="bcd",
            )


def decode_unsigned(data: bytes) -> int:
    """The non-negative integer held by packed BCD ``data``, least significant byte first.

    DL/T 645-2007 and CJ/T 188-2004, data format. Raises :class:`BcdError` (``bcd``) on a nibble A–F.
    """
    value = 0
    for index in range(len(data) - 1, -1, -1):
        _check_byte(data, index)
        byte = data[index]
        value = value * 100 + (byte >> 4) * 10 + (byte & 0x0F)
    return value


def encode_unsigned(value: int, size: int) -> bytes:
    """``value`` as ``size`` bytes of packed BCD, least significant byte first (DL/T 645-2007, data format).

    Raises :class:`BcdError` (``range``) when ``value`` is negative or needs more than ``2 * size`` digits.
    """
    if value < 0 or value >= 100**size:
        raise BcdError(
            f"{value} does not fit {size} BCD bytes: expected 0 to {100**size - 1}",
            code="range",
        )
    out = bytearray()
    for _ in range(size):
        value, pair = divmod(value, 100)
        out.append((pair // 10) << 4 | pair % 10)
    return bytes(out)


def decode_signed(data: bytes) -> tuple[bool, int]:
    """The sign flag and magnitude of a signed BCD field (DL/T 645-2007, data format: bit 7 of the last byte).

    The magnitude has one digit fewer of range in its top nibble (0–7), which is why a signed XXXXXX.XX
    register runs to ±799999.99. The sign is returned apart from the magnitude so that a meter's
    "negative zero" survives a round trip byte for byte.
    """
    if not data:
        return False, 0
    negative = bool(data[-1] & SIGN_BIT)
    return negative, decode_unsigned(data[:-1] + bytes([data[-1] & ~SIGN_BIT & 0xFF]))


def encode_signed(negative: bool, magnitude: int, size: int) -> bytes:
    """A signed BCD field: ``magnitude`` in ``size`` bytes, bit 7 of the last byte set when ``negative``.

    DL/T 645-2007, data format. Raises :class:`BcdError` (``range``) when the magnitude reaches into
    the sign bit.
    """
    limit = 8 * 100**size // 10
    if magnitude < 0 or magnitude >= limit:
        raise BcdError(
            f"{magnitude} does not fit a signed {size}-byte BCD field: expected a magnitude below {limit} "
            "(bit 7 of the last byte is the sign)",
            code="range",
        )
    out = bytearray(encode_unsigned(magnitude, size))
    if negative:
        out[-1] |= SIGN_BIT
    return bytes(out)


def decode_digits(data: bytes) -> str:
    """The digits of BCD ``data`` as a string, most significant first (``12 90 78`` → ``"789012"``).

    DL/T 645-2007 and CJ/T 188-2004 (address field) send addresses this way. Leading zeros are kept.
    """
    for index in range(len(data)):
        _check_byte(data, index)
    return "".join(f"{byte:02X}" for byte in reversed(data))


def encode_digits(digits: str) -> bytes:
    """The inverse of :func:`decode_digits`: an even-length digit string to BCD, least significant first."""
    if len(digits) % 2 or not digits.isascii() or not digits.isdigit():
        raise BcdError(f"{digits!r} is not an even number of decimal digits", code="bcd")
    return bytes(int(digits[i : i + 2], 16) for i in range(len(digits) - 2, -1, -2))


WILDCARD = 0xAA


def decode_address(data: bytes) -> str:
    """A meter address: BCD digits, most significant first, where a byte AAH reads as ``"AA"``.

    DL/T 645-2007 and CJ/T 188-2004 (address field) use AAH bytes for broadcast (all AAH) and for the
    unused high bytes of a shortened address; any other non-decimal nibble is a :class:`BcdError`.
    """
    parts: list[str] = []
    for index in range(len(data) - 1, -1, -1):
        if data[index] != WILDCARD:
            _check_byte(data, index)
        parts.append(f"{data[index]:02X}")
    return "".join(parts)


def encode_address(address: str, size: int) -> bytes:
    """The inverse of :func:`decode_address` for a ``2 * size``-character address string."""
    if len(address) != 2 * size:
        raise BcdError(
            f"address {address!r} has {len(address)} characters, expected {2 * size} digits", code="bcd"
        )
    out = bytearray()
    for i in range(len(address) - 2, -1, -2):
        pair = address[i : i + 2]
        if pair == "AA":
            out.append(WILDCARD)
        elif pair.isascii() and pair.isdigit():
            out.append(int(pair, 16))
        else:
            raise BcdError(
                f"address {address!r}: {pair!r} is neither two decimal digits nor the wildcard AA",
                code="bcd",
            )
    return bytes(out)


def decode_decimal(data: bytes, decimals: int, *, signed: bool = False) -> Decimal:
    """A fixed-point BCD register as an exact :class:`~decimal.Decimal` with ``decimals`` places.

    DL/T 645-2007 and CJ/T 188-2004, data format (e.g. XXXXXX.XX). With ``signed=True`` bit 7 of the
    last byte is the sign; otherwise every digit counts, so an unsigned XXXXXX.XX runs to 999999.99.
    """
    if signed:
        negative, magnitude = decode_signed(data)
    else:
        negative, magnitude = False, decode_unsigned(data)
    value = Decimal(magnitude).scaleb(-decimals)
    return value.copy_negate() if negative else value


def encode_decimal(value: Decimal, size: int, decimals: int, *, signed: bool = False) -> bytes:
    """``value`` as a fixed-point BCD field of ``size`` bytes with ``decimals`` places.

    DL/T 645-2007, data format.

    The value must be exact at that resolution: 1.005 in an X.XX field is an error, not a rounding, so
    that no register is ever silently changed. Raises :class:`BcdError` (``range``).
    """
    if not value.is_finite():
        raise BcdError(f"{value} is not a finite number", code="range")
    scaled = abs(value).scaleb(decimals)
    if scaled != scaled.to_integral_value():
        raise BcdError(f"{value} has more than {decimals} decimal places", code="range")
    magnitude = int(scaled)
    if signed:
        return encode_signed(value.is_signed(), magnitude, size)
    if value.is_signed():
        raise BcdError(f"{value} is negative but the field is unsigned", code="range")
    return encode_unsigned(magnitude, size)
