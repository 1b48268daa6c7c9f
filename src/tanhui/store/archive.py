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

Ingest does not wait for that choice. It writes ``zstd-d1f`` (:func:`compress_fast`: Zstandard, RFC 8878,
at level 1 with the same dictionary as raw content; on the benchmark's 92 kB envelopes 1.6 GB/s and 3.9 %
of the payload, against zlib level 1's 0.4 GB/s and 10 %, and xz's 3.6 %), and the compaction job
recompresses those payloads with :func:`compress` once they are a few hours old
(:func:`tanhui.store.readings.recompress_batches`). The best compression thus costs the ingest path
nothing, and the bytes at rest are the same as before. ``zlib-d1f`` (zlib level 1, what ingest wrote
before) is still read and recompressed.
"""

from __future__ import annotations

import functools
import hashlib
import lzma
import threading
import zlib

import zstandard

from tanhui.domain.errors import TanhuiError

ZLIB_DICT_V1 = "zlib-d1"
XZ = "xz"
ZLIB_DICT_V1_FAST = "zlib-d1f"  # zlib-d1 written at level 1 by ingest until 2026-11, to be recompressed
ZSTD_DICT_V1_FAST = "zstd-d1f"  # zstd level 1 with the v1 dictionary: what ingest writes, to be recompressed
ZSTD_DICT_V1 = "zstd-d1"  # the same bytes, kept at rest when no other codec is smaller (tiny envelopes)
CODECS = (ZLIB_DICT_V1, XZ, ZSTD_DICT_V1, ZLIB_DICT_V1_FAST, ZSTD_DICT_V1_FAST)
# Payloads written fast at ingest, which compaction recompresses with compress().
FAST_CODECS = (ZSTD_DICT_V1_FAST, ZLIB_DICT_V1_FAST)

XZ_MIN_BYTES = 4 * 1024
ZLIB_MAX_BYTES = 64 * 1024
_XZ_PRESET = 2
_ZLIB_LEVEL = 9
_ZLIB_FAST_LEVEL = 1
_ZSTD_FAST_LEVEL = 1

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
    return ZSTD_DICT_V1_FAST, _zstd().compress(payload)


def recompress(codec: str, data: bytes, payload: bytes) -> tuple[str, bytes]:
    """What a payload that ingest stored fast as ``(codec, data)`` becomes at rest: :func:`compress`'s
    choice, or the fast bytes themselves under a final name when nothing is smaller."""
    best = compress(payload)
    if codec == ZSTD_DICT_V1_FAST and len(data) < len(best[1]):
        return ZSTD_DICT_V1, data
    return best


def decompress(codec: str, data: bytes) -> bytes:
    """The payload that :func:`compress` turned into ``(codec, data)``."""
    try:
        if codec in (ZSTD_DICT_V1, ZSTD_DICT_V1_FAST):
            # The frame records its content size, so the decompressor allocates exactly that, once.
            return zstandard.ZstdDecompressor(dict_data=_zstd_dict()).decompress(data)
        if codec in (ZLIB_DICT_V1, ZLIB_DICT_V1_FAST):
            inflater = zlib.decompressobj(zdict=_DICT_V1)
            payload = inflater.decompress(data) + inflater.flush()
            if not inflater.eof or inflater.unused_data:
                raise ArchiveError("the zlib stream is truncated or followed by other bytes")
            return payload
        if codec == XZ:
            return lzma.decompress(data, format=lzma.FORMAT_XZ)
    except (zlib.error, lzma.LZMAError, zstandard.ZstdError) as exc:
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


_zstd_local = threading.local()


@functools.cache
def _zstd_dict() -> zstandard.ZstdCompressionDict:
    # Built once: loading a dictionary is most of the cost of compressing a small envelope.
    loaded = zstandard.ZstdCompressionDict(_DICT_V1, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    loaded.precompute_compress(level=_ZSTD_FAST_LEVEL)
    return loaded


def _zstd() -> zstandard.ZstdCompressor:
    # A compressor is not safe to share between threads (the HTTP server ingests on several).
    compressor: zstandard.ZstdCompressor | None = getattr(_zstd_local, "compressor", None)
    if compressor is None:
        compressor = zstandard.ZstdCompressor(level=_ZSTD_FAST_LEVEL, dict_data=_zstd_dict())
        _zstd_local.compressor = compressor
    return compressor
