"""RFC 9162 §2.1 tree, proofs and verification: published vectors, an independent peer, properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymerkle import InmemoryTree

from tanhui.audit import merkle
from tanhui.audit.errors import ProofError
from tanhui.audit.tree import MerkleTree

# The RFC 6962 example tree (Certificate Transparency's reference leaves and tree heads, as published in
# transparency-dev/merkle testonly/constants.go): data only.
LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                     "606162636465666768696a6b6c6d6e6f")]  # fmt: skip
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = {
    (0, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (5, 8): ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
}  # fmt: skip
CONSISTENCY = {
    (1, 8): INCLUSION[(0, 8)],
    (2, 5): ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
    (6, 8): ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
}  # fmt: skip


def _tree(n: int) -> MerkleTree:
    tree = MerkleTree()
    tree.append(LEAVES[:n])
    return tree


def test_roots_of_the_rfc_6962_example_tree() -> None:
    tree = _tree(8)
    assert [tree.root(n).hex() for n in range(9)] == ROOTS
    assert merkle.root_of([merkle.leaf_hash(e) for e in LEAVES]).hex() == ROOTS[8]


@pytest.mark.parametrize(("index", "size"), sorted(INCLUSION))
def test_inclusion_proofs_match_the_published_ones(index: int, size: int) -> None:
    tree = _tree(8)
    proof = tree.inclusion_proof(index, size)
    assert [p.hex() for p in proof] == INCLUSION[(index, size)]
    merkle.verify_inclusion(index, size, merkle.leaf_hash(LEAVES[index]), proof, tree.root(size))


@pytest.mark.parametrize(("old", "new"), sorted(CONSISTENCY))
def test_consistency_proofs_match_the_published_ones(old: int, new: int) -> None:
    tree = _tree(8)
    proof = tree.consistency_proof(old, new)
    assert [p.hex() for p in proof] == CONSISTENCY[(old, new)]
    merkle.verify_consistency(old, new, tree.root(old), tree.root(new), proof)


def test_every_pair_up_to_eight_verifies_and_edge_cases_are_decided() -> None:
    tree = _tree(8)
    for size in range(1, 9):
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            merkle.verify_inclusion(index, size, tree.leaf_hash(index), proof, tree.root(size))
        for old in range(size + 1):
            merkle.verify_consistency(
                old, size, tree.root(old), size and tree.root(size), tree.consistency_proof(old, size)
            )
    with pytest.raises(ProofError, match="same size"):
        merkle.verify_consistency(3, 3, tree.root(3), tree.root(4), [])
    with pytest.raises(ProofError, match="empty"):
        merkle.verify_consistency(0, 3, merkle.EMPTY_ROOT, tree.root(3), [tree.root(3)])
    with pytest.raises(ProofError, match="outside"):
        merkle.verify_inclusion(8, 8, tree.leaf_hash(0), [], tree.root(8))
    with pytest.raises(ProofError, match="bytes"):
        merkle.verify_inclusion(0, 2, tree.leaf_hash(0), [b"short"], tree.root(2))


def test_cross_check_with_pymerkle() -> None:
    peer = InmemoryTree(algorithm="sha256")
    data = [f"entry {i}".encode() for i in range(77)]
    for d in data:
        peer.append_entry(d)
    ours = MerkleTree()
    ours.append(data[:30])
    ours.append(data[30:])
    for size in (1, 2, 3, 31, 64, 65, 77):
        assert ours.root(size) == peer.get_root(size)
        for index in (0, size // 2, size - 1):
            # pymerkle's path starts with the leaf hash itself; the rest is the RFC 9162 audit path.
            assert ours.inclusion_proof(index, size) == peer.prove_inclusion(index + 1, size).path[1:]
        for old in (1, size // 3 or 1, size):
            # pymerkle lays out consistency proofs its own way; ours must prove its roots.
            proof = ours.consistency_proof(old, size)
            merkle.verify_consistency(old, size, peer.get_root(old), peer.get_root(size), proof)


def test_the_tree_rebuilt_from_leaf_hashes_is_the_same_tree() -> None:
    tree = MerkleTree()
    tree.append([i.to_bytes(3, "big") for i in range(1000)])
    rebuilt = MerkleTree.from_leaf_hashes(b"".join(tree.leaf_hash(i) for i in range(1000)))
    assert rebuilt.root() == tree.root() and rebuilt.consistency_proof(300) == tree.consistency_proof(300)


@st.composite
def batches(draw: st.DrawFn) -> list[list[bytes]]:
    sizes = draw(st.lists(st.integers(0, 9), min_size=1, max_size=8))
    return [[draw(st.binary(max_size=5)) for _ in range(n)] for n in sizes]


@settings(max_examples=25, deadline=None)
@given(batches())
def test_every_inclusion_proof_verifies_and_any_flipped_bit_fails(parts: list[list[bytes]]) -> None:
    tree = MerkleTree()
    for part in parts:
        tree.append(part)
    entries = [e for part in parts for e in part]
    for size in range(1, tree.size + 1):
        root = tree.root(size)
        assert root == merkle.root_of([merkle.leaf_hash(e) for e in entries[:size]])
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            merkle.verify_inclusion(index, size, merkle.leaf_hash(entries[index]), proof, root)
            for k in range(len(proof)):
                bad = list(proof)
                bad[k] = bytes([bad[k][0] ^ 1]) + bad[k][1:]
                with pytest.raises(ProofError):
                    merkle.verify_inclusion(index, size, merkle.leaf_hash(entries[index]), bad, root)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 70), st.data())
def test_consistency_proofs_verify_for_every_pair_and_any_flipped_bit_fails(
    n: int, data: st.DataObject
) -> None:
    tree = MerkleTree()
    tree.append([i.to_bytes(2, "big") for i in range(n)])
    for old in range(1, n + 1):
        proof = tree.consistency_proof(old, n)
        merkle.verify_consistency(old, n, tree.root(old), tree.root(n), proof)
    old = data.draw(st.integers(1, n))
    proof = tree.consistency_proof(old, n)
    if proof:
        k = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 255))
        bad = list(proof)
        bad[k] = bad[k][: bit // 8] + bytes([bad[k][bit // 8] ^ (1 << (bit % 8))]) + bad[k][bit // 8 + 1 :]
        with pytest.raises(ProofError):
            merkle.verify_consistency(old, n, tree.root(old), tree.root(n), bad)
    # A different old root never verifies.
    if old < n:
        with pytest.raises(ProofError):
            merkle.verify_consistency(old, n, merkle.leaf_hash(b"other"), tree.root(n), proof)
