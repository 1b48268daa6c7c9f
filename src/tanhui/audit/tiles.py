"""C2SP tlog-tiles: tile paths, hash tiles, entry bundles, and proofs computed from tiles.

A tile at level L, index N holds up to 256 consecutive hashes of tree level 8·L starting at hash
256·N; full tiles are 8,192 bytes, the rightmost may be partial (``.p/<W>``). Paths write N in
3-digit groups, all but the last prefixed with ``x`` (1234067 → ``x001/x234/067``). Entry bundles
concatenate entries, each prefixed by its length as a big-endian uint16.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from tanhui.audit import merkle
from tanhui.audit.errors import EncodingError, ProofError

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
_H = merkle.HASH_SIZE


def index_path(n: int) -> str:
    """``N`` as tlog-tiles path elements: ``x001/x234/067``."""
    groups = []
    while True:
        groups.append(f"{n % 1000:03d}")
        n //= 1000
        if n == 0:
            break
    groups.reverse()
    return "/".join([*(f"x{g}" for g in groups[:-1]), groups[-1]])


def tile_path(level: int, index: int, width: int) -> str:
    suffix = f".p/{width}" if width < TILE_WIDTH else ""
    return f"tile/{level}/{index_path(index)}{suffix}"


def entries_path(index: int, width: int) -> str:
    suffix = f".p/{width}" if width < TILE_WIDTH else ""
    return f"tile/entries/{index_path(index)}{suffix}"


_PATH = re.compile(r"^tile/(entries|\d+)/((?:x\d{3}/)*\d{3})(?:\.p/(\d+))?$")


def parse_path(path: str) -> tuple[int | None, int, int]:
    """``(level or None for entries, index, width)`` of a tile path."""
    m = _PATH.match(path)
    if m is None:
        raise EncodingError(f"{path!r} is not a tlog-tiles path", code="tile_path")
    level = None if m.group(1) == "entries" else int(m.group(1))
    index = int(m.group(2).replace("x", "").replace("/", ""))
    width = int(m.group(3)) if m.group(3) else TILE_WIDTH
    if not 1 <= width <= TILE_WIDTH or (m.group(3) and width == TILE_WIDTH):
        raise EncodingError(f"tile width {width} is not 1..255", code="tile_path")
    if level is not None and (level > 63 or m.group(1) != str(level)):
        raise EncodingError(f"tile level {m.group(1)} is not canonical", code="tile_path")
    return level, index, width


def tiles_for(size: int) -> Iterator[tuple[int, int, int]]:
    """Every ``(level, index, width)`` tile of a tree of ``size`` leaves."""
    level = 0
    count = size
    while count > 0:
        for index in range((count + TILE_WIDTH - 1) // TILE_WIDTH):
            yield level, index, min(TILE_WIDTH, count - index * TILE_WIDTH)
        if count < TILE_WIDTH:
            break
        count >>= TILE_HEIGHT
        level += 1


def bundle(entries: list[bytes]) -> bytes:
    """An entry bundle: each entry with a big-endian uint16 length prefix."""
    out = bytearray()
    for e in entries:
        if len(e) > 0xFFFF:
            raise EncodingError(f"entry of {len(e)} bytes exceeds 65,535", code="entry_too_large")
        out += len(e).to_bytes(2, "big") + e
    return bytes(out)


def unbundle(data: bytes) -> list[bytes]:
    out: list[bytes] = []
    pos = 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise EncodingError("entry bundle ends inside a length prefix", code="bundle_truncated")
        n = int.from_bytes(data[pos : pos + 2], "big")
        if pos + 2 + n > len(data):
            raise EncodingError("entry bundle ends inside an entry", code="bundle_truncated")
        out.append(data[pos + 2 : pos + 2 + n])
        pos += 2 + n
    return out


class TileNodes:
    """A :class:`tanhui.audit.merkle.NodeSource` over fetched hash tiles, as a tlog client computes proofs.

    ``fetch(level, index, width)`` returns that tile's bytes; tiles are cached. A node at tree level
    8·L + r is the root of 2^r consecutive hashes of tile level L.
    """

    def __init__(self, size: int, fetch: Callable[[int, int, int], bytes]) -> None:
        self._size = size
        self._fetch = fetch
        self._cache: dict[tuple[int, int], bytes] = {}

    def _tile(self, level: int, index: int) -> bytes:
        key = (level, index)
        if key not in self._cache:
            count = self._size >> (TILE_HEIGHT * level)
            width = min(TILE_WIDTH, count - index * TILE_WIDTH)
            if width <= 0:
                raise ProofError(f"tile {level}/{index} is beyond the tree", code="index_out_of_range")
            data = self._fetch(level, index, width)
            if len(data) != width * _H:
                raise EncodingError(
                    f"tile {level}/{index} is {len(data)} bytes, not {width * _H}", code="tile_size"
                )
            self._cache[key] = data
        return self._cache[key]

    def node(self, level: int, index: int) -> bytes:
        tile_level, r = divmod(level, TILE_HEIGHT)
        span = 1 << r
        first = index * span
        hashes: list[bytes] = []
        for i in range(first, first + span):
            tile = self._tile(tile_level, i // TILE_WIDTH)
            off = (i % TILE_WIDTH) * _H
            hashes.append(tile[off : off + _H])
        return merkle.root_of_hashes(hashes)
