"""The subset of deterministic CBOR (RFC 8949 §4.2.1) that leaf entries use.

Types: unsigned and negative integers (major types 0 and 1), byte strings (2), UTF-8 text (3), arrays
(4) and maps (5) whose keys are unsigned integers 0-23. With one-byte keys the bytewise key order of
§4.2.1 and the length-first order of §4.2.3 agree, so any CBOR library in either mode reproduces the
bytes. No floats, tags, indefinite lengths or simple values: quantities are integers in stated units.
The decoder refuses anything the encoder would not have written (re-encoding gives the same bytes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tanhui.audit.errors import EncodingError

Value = int | bytes | str | Sequence["Value"] | Mapping[int, "Value"]

_MAX_KEY = 23
_MAX_DEPTH = 16


def _head(major: int, n: int, out: bytearray) -> None:
    if n < 24:
        out.append(major << 5 | n)
    elif n < 0x100:
        out += bytes((major << 5 | 24, n))
    elif n < 0x10000:
        out.append(major << 5 | 25)
        out += n.to_bytes(2, "big")
    elif n < 0x1_0000_0000:
        out.append(major << 5 | 26)
        out += n.to_bytes(4, "big")
    elif n < 1 << 64:
        out.append(major << 5 | 27)
        out += n.to_bytes(8, "big")
    else:
        raise EncodingError(f"integer {n} does not fit CBOR's 64 bits", code="cbor_range")


def encode(value: Value) -> bytes:
    """Deterministic CBOR of ``value`` (RFC 8949 §4.2.1, restricted as the module says)."""
    out = bytearray()
    _encode(value, out, 0)
    return bytes(out)


def _encode(value: Value, out: bytearray, depth: int) -> None:  # noqa: PLR0912 - one branch per CBOR major type
    if depth > _MAX_DEPTH:
        raise EncodingError("CBOR value nested too deeply", code="cbor_depth")
    if isinstance(value, bool):
        raise EncodingError("booleans are not part of the leaf encoding; use 0 or 1", code="cbor_type")
    if isinstance(value, int):
        if value >= 0:
            _head(0, value, out)
        else:
            _head(1, -1 - value, out)
    elif isinstance(value, bytes):
        _head(2, len(value), out)
        out += value
    elif isinstance(value, str):
        raw = value.encode("utf-8")
        _head(3, len(raw), out)
        out += raw
    elif isinstance(value, Mapping):
        keys = sorted(value)
        for k in keys:
            if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= _MAX_KEY:
                raise EncodingError(f"map key {k!r} is not an integer 0-23", code="cbor_key")
        _head(5, len(keys), out)
        for k in keys:
            out.append(k)
            _encode(value[k], out, depth + 1)
    elif isinstance(value, Sequence):
        _head(4, len(value), out)
        for item in value:
            _encode(item, out, depth + 1)
    else:
        raise EncodingError(f"type {type(value).__name__} is not part of the leaf encoding", code="cbor_type")


def decode(data: bytes) -> Value:
    """Decode ``data``; raises :class:`EncodingError` for anything non-canonical or outside the subset."""
    value, end = _decode(data, 0, 0)
    if end != len(data):
        raise EncodingError(f"{len(data) - end} trailing bytes after the CBOR value", code="cbor_trailing")
    return value


def _read_head(data: bytes, pos: int) -> tuple[int, int, int]:
    if pos >= len(data):
        raise EncodingError("CBOR data ends early", code="cbor_truncated")
    first = data[pos]
    major, info = first >> 5, first & 0x1F
    pos += 1
    if info < 24:
        return major, info, pos
    if info > 27:
        raise EncodingError(f"CBOR additional information {info} is not allowed", code="cbor_noncanonical")
    width = 1 << (info - 24)
    if pos + width > len(data):
        raise EncodingError("CBOR data ends early", code="cbor_truncated")
    n = int.from_bytes(data[pos : pos + width], "big")
    # Shortest form only (RFC 8949 §4.2.1): a value that fits a smaller head must use it.
    if n < (24 if width == 1 else 1 << (4 * width)):
        raise EncodingError("CBOR integer or length not in its shortest form", code="cbor_noncanonical")
    return major, n, pos + width


def _decode(data: bytes, pos: int, depth: int) -> tuple[Value, int]:  # noqa: PLR0912 - one branch per major type
    if depth > _MAX_DEPTH:
        raise EncodingError("CBOR value nested too deeply", code="cbor_depth")
    major, n, pos = _read_head(data, pos)
    if major == 0:
        return n, pos
    if major == 1:
        return -1 - n, pos
    if major in (2, 3):
        if pos + n > len(data):
            raise EncodingError("CBOR string runs past the end", code="cbor_truncated")
        raw = data[pos : pos + n]
        if major == 2:
            return raw, pos + n
        try:
            return raw.decode("utf-8"), pos + n
        except UnicodeDecodeError:
            raise EncodingError("CBOR text is not valid UTF-8", code="cbor_utf8") from None
    if major == 4:
        items: list[Value] = []
        for _ in range(n):
            item, pos = _decode(data, pos, depth + 1)
            items.append(item)
        return items, pos
    if major == 5:
        result: dict[int, Value] = {}
        last = -1
        for _ in range(n):
            if pos >= len(data):
                raise EncodingError("CBOR data ends early", code="cbor_truncated")
            key = data[pos]
            if key > _MAX_KEY:
                raise EncodingError("CBOR map key is not an integer 0-23", code="cbor_key")
            if key <= last:
                raise EncodingError("CBOR map keys out of order or repeated", code="cbor_noncanonical")
            last = key
            result[key], pos = _decode(data, pos + 1, depth + 1)
        return result, pos
    raise EncodingError(f"CBOR major type {major} is not part of the leaf encoding", code="cbor_type")
