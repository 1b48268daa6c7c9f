"""The frame shape DL/T 645-2007 and CJ/T 188-2004 share: start byte 68H, a header with the length L at a
fixed offset, L data bytes, an 8-bit sum of every byte from the first 68H through the data, and 16H.

The end of a frame is found from L, never by scanning for 16H (which can occur in addresses and data).
"""

from __future__ import annotations

END = 0x16


def checksum(frame: bytes | bytearray, data_end: int) -> int:
    """The sum modulo 256 of ``frame[:data_end]``: from the first 68H through the last data byte."""
    return sum(frame[:data_end]) & 0xFF


def trailer_problem(
    frame: bytes, *, length_at: int, data_at: int, overhead: int, origin: str
) -> tuple[str, str] | None:
    """The rule ``frame`` breaks after its header, as (code, message), or None when length, checksum and
    end byte are right. ``overhead`` is the frame's size without data; ``origin`` names where the frame
    starts, for the message."""
    length = frame[length_at]
    end = overhead + length
    if len(frame) < end:
        return "truncated", f"L = {length} needs {end} bytes from {origin}, got {len(frame)}"
    if len(frame) > end:
        # Refusing trailing bytes is what makes a one-byte change of L detectable.
        return (
            "length",
            f"L = {length} ends the frame at {end} bytes, but {len(frame) - end} more bytes follow",
        )
    expected = checksum(frame, data_at + length)
    if frame[data_at + length] != expected:
        return "checksum", f"frame says 0x{frame[data_at + length]:02X}, bytes sum to 0x{expected:02X}"
    if frame[-1] != END:
        return "end_byte", f"last byte is 0x{frame[-1]:02X}, expected 0x16"
    return None
