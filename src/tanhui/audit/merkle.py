"""RFC 9162 §2.1 Merkle Tree Hash, inclusion and consistency proofs, and their verification.

Proof *generation* works on any tree that can answer "the hash of the perfect subtree at (level, index)"
(:class:`NodeSource`): the in-memory :class:`tanhui.audit.tree.MerkleTree` and the tile reader both can.
Only the right edge of a tree is ever hashed anew, so a proof costs O(log² n) hashes at most.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

from tanhui.audit.errors import ProofError

LEAF_PREFIX = b"\x00"  # RFC 9162 §2.1.1: domain separation of leaves...
NODE_PREFIX = b"\x01"  # ...and interior nodes (second-preimage resistance)
HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()  # RFC 9162 §2.1.1: MTH({}) = SHA-256()


def leaf_hash(entry: bytes) -> bytes:
    """``SHA-256(0x00 ‖ entry)`` (RFC 9162 §2.1.1)."""
    return hashlib.sha256(LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 ‖ left ‖ right)`` (RFC 9162 §2.1.1)."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two strictly less than ``n`` (n ≥ 2): RFC 9162 §2.1.1's ``k``."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of a list of leaf hashes, level by level (the odd node is carried up: RFC 9162's right edge)."""
    return EMPTY_ROOT if not leaf_hashes else root_of_hashes(leaf_hashes)


def root_of_hashes(hashes: Sequence[bytes]) -> bytes:
    """The root over a non-empty list of node hashes of one level, by RFC 9162's split rule."""
    level = list(hashes)
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


class NodeSource(Protocol):
    """Hashes of perfect subtrees: ``node(level, index)`` covers leaves [index·2^level, (index+1)·2^level)."""

    def node(self, level: int, index: int) -> bytes: ...


def subtree_hash(src: NodeSource, start: int, end: int) -> bytes:
    """MTH of leaves [start, end), where ``start`` is aligned as RFC 9162's recursion leaves it."""
    n = end - start
    if n & (n - 1) == 0:  # perfect: stored
        level = n.bit_length() - 1
        return src.node(level, start >> level)
    k = split_point(n)
    return node_hash(
        src.node(k.bit_length() - 1, start >> (k.bit_length() - 1)), subtree_hash(src, start + k, end)
    )


def root_from(src: NodeSource, size: int) -> bytes:
    """MTH of the first ``size`` leaves of ``src``."""
    return EMPTY_ROOT if size == 0 else subtree_hash(src, 0, size)


def inclusion_proof(src: NodeSource, index: int, size: int) -> list[bytes]:
    """PATH(index, D[0:size]) (RFC 9162 §2.1.3.1), bottom first."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}", code="index_out_of_range")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index < start + k:
            path.append(subtree_hash(src, start + k, end))
            end = start + k
        else:
            path.append(subtree_hash(src, start, start + k))
            start += k
    path.reverse()
    return path


def consistency_proof(src: NodeSource, old_size: int, new_size: int) -> list[bytes]:
    """PROOF(old_size, D[0:new_size]) (RFC 9162 §2.1.4.1); empty when the sizes are equal or old is 0."""
    if not 0 <= old_size <= new_size:
        raise ProofError(f"old size {old_size} is not within 0..{new_size}", code="size_out_of_range")
    if old_size in (0, new_size):
        return []
    proof: list[bytes] = []
    start, end, m, complete = 0, new_size, old_size, True
    # SUBPROOF(m, D[start:end], complete), unrolled: each step records the sibling not descended into.
    while True:
        n = end - start
        if m == n:
            if not complete:
                proof.append(subtree_hash(src, start, end))
            break
        k = split_point(n)
        if m <= k:
            proof.append(subtree_hash(src, start + k, end))
            end = start + k
        else:
            proof.append(subtree_hash(src, start, start + k))
            start += k
            m -= k
            complete = False
    proof.reverse()
    return proof


def _check_hashes(proof: Sequence[bytes]) -> None:
    for i, h in enumerate(proof):
        if len(h) != HASH_SIZE:
            raise ProofError(f"proof hash {i} is {len(h)} bytes, not {HASH_SIZE}", code="proof_malformed")


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` implies for ``leaf`` at ``index`` in a tree of ``size`` (RFC 9162 §2.1.3.2)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}", code="index_out_of_range")
    _check_hashes(proof)
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the tree is deep", code="proof_too_long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion proof is shorter than the tree is deep", code="proof_too_short")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Raise :class:`ProofError` unless ``proof`` shows ``leaf`` at ``index`` under ``root`` (§2.1.3.2)."""
    if root_from_inclusion(index, size, leaf, proof) != root:
        raise ProofError(
            f"the inclusion proof of leaf {index} leads to a different root than the tree of size {size}",
            code="root_mismatch",
        )


def verify_consistency(  # noqa: PLR0912 - RFC 9162 §2.1.4.2 step by step, kept as written
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Raise :class:`ProofError` unless ``proof`` shows tree ``old`` is a prefix of ``new`` (§2.1.4.2).

    Equal sizes need an empty proof and equal roots; old size 0 needs an empty proof (the empty tree is a
    prefix of every tree), as transparency-dev/merkle decides.
    """
    _check_hashes(proof)
    if not 0 <= old_size <= new_size:
        raise ProofError(f"old size {old_size} is larger than new size {new_size}", code="size_out_of_range")
    if old_size == new_size:
        if proof:
            raise ProofError("equal sizes need an empty consistency proof", code="proof_too_long")
        if old_root != new_root:
            raise ProofError(f"two different roots for the same size {old_size}", code="root_mismatch")
        return
    if old_size == 0:
        if proof:
            raise ProofError("old size 0 needs an empty consistency proof", code="proof_too_long")
        return
    if not proof:
        raise ProofError("the consistency proof is empty", code="proof_too_short")
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is too long", code="proof_too_long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is too short", code="proof_too_short")
    if fr != old_root:
        raise ProofError(
            f"the consistency proof does not lead to the old root (size {old_size})", code="root_mismatch"
        )
    if sr != new_root:
        raise ProofError(
            f"the consistency proof does not lead to the new root (size {new_size})", code="root_mismatch"
        )
