"""The raw-payload archive: every ingest batch's payload, compressed, restorable byte for byte.

The audit log commits to the SHA-256 of the payload as the gateway sent it (uncompressed), so the
compression can change without touching a single leaf: :func:`restore` gives back the exact bytes and
checks them against that digest.

Two codecs, both in the standard library, chosen per payload by size (docs/decisions/0006):

- ``zlib-d1``: zlib (RFC 1950) with a preset dictionary of envelope v1 boilerplate. Small envelopes (one
  meter, one round of a gateway) have too little text to learn their own field names from; the
  dictionary supplies them, which halves a one-reading envelope.
- ``xz``: LZMA2 in the .xz container at preset 2, without the container's own check (the SHA-256 is the
  check). About twice as small as zlib on envelopes of thousands of readings and still ~75 MB/s on one
  core here.

A payload between ``XZ_MIN_BYTES`` and ``ZLIB_MAX_BYTES`` is compressed with both and the smaller kept;
below that range xz never wins, above it zlib never does, and trying would only cost time.

Ingest does not wait for that choice. It writes ``zlib-d1f`` (:func:`compress_fast`: the same zlib stream
with the same dictionary at level 1, ~5x faster than xz on a large envelope and ~3x larger), and the
compaction job recompresses those payloads with :func:`compress` once they are a few hours old
(:func:`tanhui.store.readings.recompress_batches`). The best compression thus costs the ingest path nothing,
and the bytes at rest are the same as before.
"""

from __future__ import annotations

import hashlib
import lzma
import zlib

from tanhui.domain.errors import TanhuiError

ZLIB_DICT_V1 = "zlib-d1"
XZ = "xz"
ZLIB_DICT_V1_FAST = "zlib-d1f"  # zlib-d1 written at level 1 by ingest, to be recompressed
CODECS = (ZLIB_DICT_V1, XZ, ZLIB_DICT_V1_FAST)

XZ_MIN_BYTES = 4 * 1024
ZLIB_MAX_BYTES = 64 * 1024
_XZ_PRESET = 2
_ZLIB_LEVEL = 9
_ZLIB_FAST_LEVEL = 1

# What every envelope v1 repeats (tanhui.meters.envelope): the most common strings last, since zlib
# finds matches nearer the end of the dictionary with shorter distances. Never edit: stored payloads
# need exactly these bytes to decompress. A better dictionary is a new codec name.
_DICT_V1 = (
    b'{"v":1,"gateway":"gw-","seq":,"sent_at":"2026-01-01T00:00:00+08:00","readings":['
    b'{"meter":"","register":"energy_export","value":"","unit":"kWh","time":"2026-01-01T00:00:00Z"},'
    b'{"meter":"","register":"volume","value":".","unit":"m3","time":"2026-01-01T00:15:00+08:00"},'
    b'{"meter":"","register":"energy_import","value":".","unit":"kWh","time":"2026-01-01T00:00:00+08:00"},'
)


class ArchiveError(TanhuiError):
    """An archived payload cannot be restored: unknown codec, corrupt bytes or a digest mismatch."""

    code = "archive"


def compress(payload: bytes) -> tuple[str, bytes]:
    """``(codec, compressed bytes)`` for ``payload``: the smaller of the codecs worth trying."""
    candidates: list[tuple[str, bytes]] = []
    if len(payload) < ZLIB_MAX_BYTES:
        candidates.append((ZLIB_DICT_V1, _zlib_dict(payload)))
    if len(payload) >= XZ_MIN_BYTES:
        # A dictionary no larger than the payload: same output, but the compressor's set-up (most of the
        # time for a small payload) allocates for the payload, not for the preset's 1 MiB.
        dict_size = min(1 << 20, max(1 << 12, 1 << (len(payload) - 1).bit_length()))
        filters = [{"id": lzma.FILTER_LZMA2, "preset": _XZ_PRESET, "dict_size": dict_size}]
        xz = lzma.compress(payload, format=lzma.FORMAT_XZ, check=lzma.CHECK_NONE, filters=filters)
        candidates.append((XZ, xz))
    return min(candidates, key=lambda candidate: len(candidate[1]))


def compress_fast(payload: bytes) -> tuple[str, bytes]:
    """``(codec, compressed bytes)`` at the lowest cost: what ingest writes, recompressed later."""
    return ZLIB_DICT_V1_FAST, _zlib_dict(payload, _ZLIB_FAST_LEVEL)


def decompress(codec: str, data: bytes) -> bytes:
    """The payload that :func:`compress` turned into ``(codec, data)``."""
    try:
        if codec in (ZLIB_DICT_V1, ZLIB_DICT_V1_FAST):
            inflater = zlib.decompressobj(zdict=_DICT_V1)
            payload = inflater.decompress(data) + inflater.flush()
            if not inflater.eof or inflater.unused_data:
                raise ArchiveError("the zlib stream is truncated or followed by other bytes")
            return payload
        if codec == XZ:
            return lzma.decompress(data, format=lzma.FORMAT_XZ)
    except (zlib.error, lzma.LZMAError) as exc:
        raise ArchiveError(f"archived payload does not decompress as {codec}: {exc}") from exc
    raise ArchiveError(f"archive codec {codec!r} is unknown; known codecs are {', '.join(CODECS)}")


def restore(codec: str, data: bytes, sha256: str) -> bytes:
    """The original payload, checked against ``sha256`` (hex) recorded when it was received."""
    payload = decompress(codec, data)
    digest = hashlib.sha256(payload).hexdigest()
    if digest != sha256:
        raise ArchiveError(
            f"restored payload has SHA-256 {digest}, the batch recorded {sha256}: the archive was altered"
        )
    return payload


def _zlib_dict(payload: bytes, level: int = _ZLIB_LEVEL) -> bytes:
    deflater = zlib.compressobj(level, zlib.DEFLATED, zlib.MAX_WBITS, 9, zdict=_DICT_V1)
    return deflater.compress(payload) + deflater.flush()
