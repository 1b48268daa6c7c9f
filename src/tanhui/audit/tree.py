"""An append-only Merkle tree that keeps every completed perfect-subtree hash, level by level.

Level 0 holds the leaf hashes, level L the roots of the aligned perfect subtrees of 2^L leaves that are
complete; each level is one contiguous ``bytearray`` (32 bytes a hash), about 64 bytes per leaf in all.
These are exactly the hashes tlog tiles publish (c2sp.org/tlog-tiles), so the same state renders tiles.
Appending hashes each new leaf once and each completed interior node once; a root, an inclusion or a
consistency proof then needs only the O(log n) nodes on the right edge (tanhui.audit.merkle).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from tanhui.audit import merkle
from tanhui.audit.errors import ProofError

_SHA = hashlib.sha256
_H = merkle.HASH_SIZE


class MerkleTree:
    """Append-only RFC 9162 tree over leaf hashes; every size it has had can still be proven."""

    __slots__ = ("_levels",)

    def __init__(self) -> None:
        self._levels: list[bytearray] = [bytearray()]

    @classmethod
    def from_leaf_hashes(cls, hashes: bytes) -> MerkleTree:
        """Rebuild the tree from the concatenated leaf hashes (e.g. read back from level-0 tiles)."""
        if len(hashes) % _H:
            raise ProofError(f"{len(hashes)} bytes are not a whole number of hashes", code="proof_malformed")
        tree = cls()
        tree._add(0, [hashes[i : i + _H] for i in range(0, len(hashes), _H)])
        return tree

    @property
    def size(self) -> int:
        return len(self._levels[0]) // _H

    def append(self, entries: Iterable[bytes]) -> range:
        """Append entries (leaf data) in one batch; returns the indices they received."""
        first = self.size
        self._add(0, [_SHA(b"\x00" + e).digest() for e in entries])
        return range(first, self.size)

    def append_leaf_hashes(self, hashes: Sequence[bytes]) -> range:
        """Append already computed leaf hashes."""
        first = self.size
        self._add(0, list(hashes))
        return range(first, self.size)

    def _add(self, level: int, new: list[bytes]) -> None:
        # Hash each completed pair once, level by level; a node left without a sibling waits in its
        # level for the next batch. Pairs come from zip over one iterator: no slicing of the arrays.
        while new:
            levels = self._levels
            if level == len(levels):
                levels.append(bytearray())
            stored = levels[level]
            odd = (len(stored) // _H) % 2
            pending = [bytes(stored[-_H:]), *new] if odd else new
            stored += b"".join(new)
            it = iter(pending)
            new = [_SHA(b"\x01" + a + b).digest() for a, b in zip(it, it, strict=False)]
            level += 1

    def node(self, level: int, index: int) -> bytes:
        """The hash of the complete perfect subtree at ``level``, ``index`` (merkle.NodeSource)."""
        if level >= len(self._levels):
            raise ProofError(f"no complete subtree at level {level}", code="index_out_of_range")
        hashes = self._levels[level]
        start = index * _H
        if index < 0 or start + _H > len(hashes):
            raise ProofError(f"no complete subtree at level {level} index {index}", code="index_out_of_range")
        return bytes(hashes[start : start + _H])

    def level_hashes(self, level: int, start: int, count: int) -> bytes:
        """``count`` consecutive stored hashes of ``level`` from ``start`` (one tile's worth, typically)."""
        hashes = self._levels[level] if level < len(self._levels) else bytearray()
        return bytes(hashes[start * _H : (start + count) * _H])

    def level_count(self, level: int) -> int:
        """How many complete nodes ``level`` holds."""
        return len(self._levels[level]) // _H if level < len(self._levels) else 0

    def leaf_hash(self, index: int) -> bytes:
        return self.node(0, index)

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` leaves (default: all)."""
        return merkle.root_from(self, self._size(size))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return merkle.inclusion_proof(self, index, self._size(size))

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        return merkle.consistency_proof(self, old_size, self._size(new_size))

    def _size(self, size: int | None) -> int:
        if size is None:
            return self.size
        if not 0 <= size <= self.size:
            raise ProofError(f"size {size} is outside 0..{self.size}", code="size_out_of_range")
        return size
