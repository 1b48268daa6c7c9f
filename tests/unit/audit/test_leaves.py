"""Leaf encoding (deterministic CBOR, version 1) and commitments; tiles and entry bundles."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tanhui.audit import cbor, leaves, merkle, tiles
from tanhui.audit.errors import EncodingError
from tanhui.audit.leaves import LeafType
from tanhui.audit.tree import MerkleTree

values = st.recursive(
    st.integers(-(2**63), 2**64 - 1) | st.binary(max_size=40) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.integers(0, 23), inner, max_size=4),
    max_leaves=12,
)


@given(values)
def test_cbor_round_trips(value: cbor.Value) -> None:
    data = cbor.encode(value)
    assert cbor.encode(cbor.decode(data)) == data


@given(st.binary(max_size=60))
def test_any_bytes_decode_canonically_or_raise_the_codec_error(data: bytes) -> None:
    try:
        value = cbor.decode(data)
    except EncodingError:
        return
    assert cbor.encode(value) == data  # only canonical input is accepted


def test_cbor_matches_rfc_8949_appendix_a_and_refuses_non_canonical_forms() -> None:
    # RFC 8949 Appendix A examples.
    assert cbor.encode(0).hex() == "00" and cbor.encode(23).hex() == "17" and cbor.encode(24).hex() == "1818"
    assert cbor.encode(1_000_000).hex() == "1a000f4240" and cbor.encode(-1000).hex() == "3903e7"
    assert (
        cbor.encode("IETF").hex() == "6449455446"
        and cbor.encode([1, [2, 3], [4, 5]]).hex() == "8301820203820405"
    )
    assert cbor.encode({2: 1, 1: 2}).hex() == "a201020201"  # keys in bytewise order
    for bad in (
        "1817",
        "a20102 0102".replace(" ", ""),
        "a2020101 02".replace(" ", ""),
        "f4",
        "5f",
        "00 00".replace(" ", ""),
    ):
        with pytest.raises(EncodingError):
            cbor.decode(bytes.fromhex(bad))


def test_entries_round_trip_and_strangers_are_refused() -> None:
    samples: list[leaves.Entry] = [
        leaves.IngestBatchEntry(7, 1_795_000_000, bytes(32), bytes([1]) * 32, 3, 12),
        leaves.PublicationEntry(LeafType.FACTOR_SET, "cn-mee-2023@v1", "sha256:" + "ab" * 32),
        leaves.AccountingResultEntry("cn-mee-2023@v1", "sha256:00", "", "sha256:11", bytes([2]) * 32, -1),
        leaves.TransferEntry(1, bytes([3]) * 32, 42),
    ]
    for entry in samples:
        data = leaves.encode(entry)
        assert leaves.decode(data) == entry
        assert data[:2] == bytes([0x83, 0x01])  # [version 1, ...]
    for bad in (cbor.encode([2, 3, {}]), cbor.encode([1, 99, {}]), cbor.encode([1, 3, {0: 1}]),
                cbor.encode([1, 31, {0: 1, 1: bytes(32), 2: -1, 3: 0}])):  # fmt: skip
        with pytest.raises(EncodingError):
            leaves.decode(bad)


def test_commitments_hide_values_and_bind_them() -> None:
    group = leaves.ReadingGroup(3, "energy_import", ((1, 100), (2, 105)))
    secret = bytes(range(32))
    salt = group.salt(secret)
    assert salt != secret and len(salt) == 32
    c = group.commitment(salt)
    assert c != group.commitment(leaves.derived_salt(bytes(32), "x"))
    assert leaves.ReadingGroup(3, "energy_import", ((1, 100), (2, 106))).commitment(salt) != c
    # Another meter's salt is unrelated, so one household's opening says nothing about another's.
    assert leaves.ReadingGroup(4, "energy_import", ()).salt(secret) != salt
    with pytest.raises(EncodingError):
        leaves.commitment(b"short", 1)


def test_tile_paths_and_bundles_follow_tlog_tiles() -> None:
    assert tiles.index_path(1234067) == "x001/x234/067" and tiles.index_path(5) == "005"
    assert tiles.tile_path(0, 1234067, 256) == "tile/0/x001/x234/067"
    assert tiles.tile_path(1, 3, 17) == "tile/1/003.p/17"
    assert tiles.parse_path("tile/entries/x001/x234/067.p/3") == (None, 1234067, 3)
    for bad in ("tile/0/1234", "tile/00/001", "tile/0/001.p/256", "tile/0/001.p/0"):
        with pytest.raises(EncodingError):
            tiles.parse_path(bad)
    entries = [b"", b"a", bytes(300)]
    assert tiles.unbundle(tiles.bundle(entries)) == entries
    with pytest.raises(EncodingError):
        tiles.unbundle(b"\x00\x05ab")


def test_proofs_from_tiles_equal_proofs_from_the_tree() -> None:
    tree = MerkleTree()
    tree.append([i.to_bytes(3, "big") for i in range(70_000)])

    def fetch(level: int, index: int, width: int) -> bytes:
        return tree.level_hashes(level * tiles.TILE_HEIGHT, index * tiles.TILE_WIDTH, width)

    for size in (1, 256, 257, 65_536, 70_000):
        nodes = tiles.TileNodes(size, fetch)
        assert merkle.root_from(nodes, size) == tree.root(size)
        for index in (0, size // 3, size - 1):
            assert merkle.inclusion_proof(nodes, index, size) == tree.inclusion_proof(index, size)
        assert merkle.consistency_proof(nodes, size // 2, size) == tree.consistency_proof(size // 2, size)
    assert sum(1 for _ in tiles.tiles_for(70_000)) == 274 + 2 + 1
