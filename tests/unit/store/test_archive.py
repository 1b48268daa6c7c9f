"""The payload archive's codecs: every payload comes back byte for byte, whichever codec holds it."""

from __future__ import annotations

import hashlib
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tanhui.store import archive

ENVELOPE = (
    b'{"v":1,"gateway":"bt-gw-001","seq":7,"sent_at":"2026-11-22T05:00:00+08:00","readings":['
    b'{"meter":"110100000001","register":"energy_import","value":"11744.14","unit":"kWh",'
    b'"time":"2026-11-22T00:00:00+08:00"}]}'
)


@given(st.binary(max_size=4096) | st.just(ENVELOPE) | st.just(ENVELOPE * 300))
def test_every_codec_restores_what_it_compressed(payload: bytes) -> None:
    digest = hashlib.sha256(payload).hexdigest()
    for codec, data in (archive.compress_fast(payload), archive.compress(payload)):
        assert codec in archive.CODECS
        assert archive.restore(codec, data, digest) == payload


def test_ingest_writes_zstd_with_the_envelope_dictionary() -> None:
    codec, data = archive.compress_fast(ENVELOPE)
    assert codec == archive.ZSTD_DICT_V1_FAST
    assert codec in archive.FAST_CODECS
    # The dictionary supplies the boilerplate a one-reading envelope cannot learn from itself.
    assert len(data) < len(ENVELOPE) // 2
    large = ENVELOPE * 300
    assert len(archive.compress_fast(large)[1]) < len(large) // 20


def test_payloads_written_with_the_former_fast_codec_still_restore() -> None:
    deflater = zlib.compressobj(1, zlib.DEFLATED, zlib.MAX_WBITS, 9, zdict=archive._DICT_V1)
    data = deflater.compress(ENVELOPE) + deflater.flush()
    assert archive.ZLIB_DICT_V1_FAST in archive.FAST_CODECS
    assert archive.restore(archive.ZLIB_DICT_V1_FAST, data, hashlib.sha256(ENVELOPE).hexdigest()) == ENVELOPE


def test_a_damaged_zstd_payload_is_named() -> None:
    _, data = archive.compress_fast(ENVELOPE * 10)
    with pytest.raises(archive.ArchiveError, match="does not decompress as zstd-d1f"):
        archive.decompress(archive.ZSTD_DICT_V1_FAST, data[: len(data) // 2])
    with pytest.raises(archive.ArchiveError, match="the archive was altered"):
        archive.restore(archive.ZSTD_DICT_V1_FAST, data, "0" * 64)


@given(st.binary(max_size=2048) | st.just(ENVELOPE) | st.just(ENVELOPE * 300))
def test_recompression_never_grows_a_payload_and_leaves_no_fast_codec(payload: bytes) -> None:
    codec, data = archive.compress_fast(payload)
    final, packed = archive.recompress(codec, data, payload)
    assert final not in archive.FAST_CODECS  # compaction does not pick it up again
    assert len(packed) <= len(data)
    assert archive.decompress(final, packed) == payload
