"""The meter protocols Tanhui speaks, by name, with one surface: bytes in, a JSON-ready description out.

Used by ``tanhui decode`` and by ingest for frames that gateways forward raw.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tanhui.meters import cjt188, dlt645, dsmr, envelope
from tanhui.meters.errors import MeterError


@dataclass(frozen=True, slots=True)
class Protocol:
    name: str
    describe: Callable[[bytes], dict[str, object]]
    binary: bool  # frames are bytes (hex on the command line), not text


def _dlt645(data: bytes) -> dict[str, object]:
    return dlt645.describe(dlt645.decode(data))


def _cjt188(data: bytes) -> dict[str, object]:
    return cjt188.describe(cjt188.decode(data))


def _dsmr(data: bytes) -> dict[str, object]:
    return dsmr.describe(dsmr.decode(data))


def _json(data: bytes) -> dict[str, object]:
    return envelope.describe(envelope.decode(data))


PROTOCOLS = {
    "dlt645": Protocol("dlt645", _dlt645, binary=True),
    "cjt188": Protocol("cjt188", _cjt188, binary=True),
    "dsmr": Protocol("dsmr", _dsmr, binary=False),
    "json": Protocol("json", _json, binary=False),
}


def input_bytes(raw: bytes, protocol: Protocol) -> bytes:
    """Bytes from what a person typed or piped: hex for any protocol, or the text itself for DSMR/JSON.

    Hex may contain spaces, line breaks and an ``0x`` prefix. Text that is not hex is taken as it is,
    so a DSMR telegram or an envelope can be piped in directly.
    """
    compact = b"".join(raw.split())
    if compact.lower().startswith(b"0x"):
        compact = compact[2:]
    try:
        return bytes.fromhex(compact.decode("ascii"))
    except ValueError:  # UnicodeDecodeError is a ValueError too
        if protocol.binary:
            raise MeterError(
                f"input is not hexadecimal: {raw[:40]!r}; give the frame as hex digits", code="hex"
            ) from None
        return raw
