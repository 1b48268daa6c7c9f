"""Voucher codes: a signed, single-use code short enough to type at a counter, and its QR image.

A code carries a 40-bit voucher id and a 35-bit tag, HMAC-SHA256 (RFC 2104) over the voucher id, the
reward and the expiry, truncated; 75 bits are 15 symbols of Crockford's base32
(crockford.com/base32.html: no I, L, O, U; I and L read as 1, O as 0), followed by one Luhn mod 32
check symbol (the Luhn mod N algorithm), shown as four groups of four: ``7G2K-0QXM-3TNB-A9HF``.

The check symbol catches any single mistyped symbol and most swaps of neighbours before the server is
asked. The tag makes a guessed or altered code fail: a forgery must hit 1 of 2^35 tags for an
existing, unredeemed voucher id, and validation is online and limited to signed-in merchants. Single
use is not a property of the code but of the ledger: the voucher's hold can be posted only once.
"""

from __future__ import annotations

import hashlib
import hmac
import io

import segno

from tanhui.points.errors import VoucherError

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUES = {c: i for i, c in enumerate(ALPHABET)} | {"I": 1, "L": 1, "O": 0}
ID_BITS = 40
TAG_BITS = 35
_SYMBOLS = (ID_BITS + TAG_BITS) // 5
_DOMAIN = b"tanhui-voucher-v1"


def _tag(key: bytes, voucher_id: int, reward_id: int, expires_at: int) -> int:
    message = _DOMAIN + b"".join(
        n.to_bytes(8, "big", signed=True) for n in (voucher_id, reward_id, expires_at)
    )
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return int.from_bytes(digest[:5], "big") >> (40 - TAG_BITS)


def _luhn_check(values: list[int]) -> int:
    """Luhn mod N check value for ``values`` (N = 32)."""
    total = 0
    factor = 2
    for value in reversed(values):
        addend = factor * value
        total += addend // 32 + addend % 32
        factor = 1 if factor == 2 else 2
    return (32 - total % 32) % 32


def voucher_code(key: bytes, voucher_id: int, reward_id: int, expires_at: int) -> str:
    """The typed code of a voucher, signed with ``key``."""
    if not 0 < voucher_id < 1 << ID_BITS:
        raise VoucherError(f"voucher id {voucher_id} must be a positive {ID_BITS}-bit number")
    number = voucher_id << TAG_BITS | _tag(key, voucher_id, reward_id, expires_at)
    values = [(number >> (5 * i)) & 31 for i in reversed(range(_SYMBOLS))]
    symbols = "".join(ALPHABET[v] for v in [*values, _luhn_check(values)])
    return "-".join(symbols[i : i + 4] for i in range(0, len(symbols), 4))


def parse_code(code: str) -> tuple[int, int]:
    """The voucher id and tag in a typed or scanned code; raises :class:`VoucherError` naming the fault."""
    cleaned = "".join(c for c in code.upper() if c not in "- ")
    if len(cleaned) != _SYMBOLS + 1:
        raise VoucherError(
            f"a voucher code has {_SYMBOLS + 1} symbols, {len(cleaned)} given", code="code_length"
        )
    try:
        values = [_VALUES[c] for c in cleaned]
    except KeyError as exc:
        raise VoucherError(f"{exc.args[0]!r} is not a voucher-code symbol", code="code_symbol") from None
    if _luhn_check(values[:-1]) != values[-1]:
        raise VoucherError("the check symbol does not match: a symbol was mistyped", code="code_check")
    number = 0
    for value in values[:-1]:
        number = number << 5 | value
    return number >> TAG_BITS, number & ((1 << TAG_BITS) - 1)


def verify_tag(key: bytes, voucher_id: int, tag: int, reward_id: int, expires_at: int) -> bool:
    """Whether ``tag`` signs this voucher id, reward and expiry (constant-time comparison)."""
    expected = _tag(key, voucher_id, reward_id, expires_at)
    return hmac.compare_digest(expected.to_bytes(5, "big"), tag.to_bytes(5, "big"))


def qr_svg(code: str) -> str:
    """The code as a QR symbol (alphanumeric mode, error correction M), SVG text."""
    buffer = io.BytesIO()
    segno.make(code, error="m", micro=False).save(buffer, kind="svg", scale=4, xmldecl=False)
    return buffer.getvalue().decode("utf-8")


def qr_png(code: str) -> bytes:
    """The code as a QR symbol, PNG bytes."""
    buffer = io.BytesIO()
    segno.make(code, error="m", micro=False).save(buffer, kind="png", scale=4)
    return buffer.getvalue()


def key_from_secret(secret: str) -> bytes:
    """The voucher signing key, derived from the deployment's secret (HMAC-SHA256 as a KDF, RFC 2104)."""
    return hmac.new(secret.encode("utf-8"), b"tanhui voucher signing key v1", hashlib.sha256).digest()
