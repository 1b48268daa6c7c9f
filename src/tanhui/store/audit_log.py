"""Persistence of the audit log: leaves, private openings, hash tiles, checkpoints, cosignatures, anchors.

The tree itself lives in ``audit_tiles`` in the c2sp.org/tlog-tiles layout, so the rows *are* the
static files the web edge serves. Appending rewrites only the rightmost tile of each level.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, insert, select, update

from tanhui.audit import tiles
from tanhui.audit.leaves import LeafType
from tanhui.audit.merkle import HASH_SIZE
from tanhui.audit.tree import MerkleTree
from tanhui.domain.ids import CommunityId
from tanhui.store.schema import (
    audit_anchors,
    audit_checkpoints,
    audit_cosignatures,
    audit_leaves,
    audit_logs,
    audit_openings,
    audit_tiles,
)


@dataclass(frozen=True, slots=True)
class Log:
    id: int
    community_id: CommunityId
    origin: str
    size: int


@dataclass(frozen=True, slots=True)
class NewLeaf:
    """A leaf to append with its private opening."""

    kind: LeafType
    entry: bytes
    subject: str
    household_id: int | None
    secret: bytes | None


@dataclass(frozen=True, slots=True)
class Opening:
    idx: int
    kind: int
    subject: str
    household_id: int | None
    secret: bytes | None


def ensure_log(conn: Connection, community_id: CommunityId, origin: str, *, now: int) -> Log:
    """The community's log, created empty on first use."""
    found = log_of(conn, community_id)
    if found is not None:
        return found
    conn.execute(insert(audit_logs).values(community_id=community_id, origin=origin, size=0, created_at=now))
    created = log_of(conn, community_id)
    if created is None:  # pragma: no cover - the insert above makes it exist
        raise LookupError(f"audit log of community {community_id} was not created")
    return created


def log_of(conn: Connection, community_id: CommunityId) -> Log | None:
    row = conn.execute(select(audit_logs).where(audit_logs.c.community_id == community_id)).one_or_none()
    return None if row is None else Log(row.id, CommunityId(row.community_id), row.origin, int(row.size))


def log_by_origin(conn: Connection, origin: str) -> Log | None:
    row = conn.execute(select(audit_logs).where(audit_logs.c.origin == origin)).one_or_none()
    return None if row is None else Log(row.id, CommunityId(row.community_id), row.origin, int(row.size))


def lock(conn: Connection, log: Log) -> Log:
    """Re-read the log row, on PostgreSQL locked for the rest of the transaction: one sequencer at a time."""
    query = select(audit_logs).where(audit_logs.c.id == log.id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).one()
    return Log(row.id, CommunityId(row.community_id), row.origin, int(row.size))


def load_tree(conn: Connection, log: Log) -> MerkleTree:
    """The tree rebuilt from its level-0 tiles (the leaf hashes); interior hashes are recomputed."""
    rows = conn.execute(
        select(audit_tiles.c.hashes)
        .where(audit_tiles.c.log_id == log.id, audit_tiles.c.level == 0)
        .order_by(audit_tiles.c.idx)
    )
    data = b"".join(bytes(r.hashes) for r in rows)
    return MerkleTree.from_leaf_hashes(data[: log.size * HASH_SIZE])


def append(conn: Connection, log: Log, tree: MerkleTree, new: Sequence[NewLeaf]) -> Log:
    """Append ``new`` to the log and ``tree`` (which must hold the log's current leaves) in one go."""
    if tree.size != log.size:
        raise ValueError(f"tree of size {tree.size} does not match log {log.origin} of size {log.size}")
    if not new:
        return log
    indices = tree.append([leaf.entry for leaf in new])
    conn.execute(
        insert(audit_leaves),
        [
            {"log_id": log.id, "idx": i, "kind": int(leaf.kind), "entry": leaf.entry}
            for i, leaf in zip(indices, new, strict=True)
        ],
    )
    conn.execute(
        insert(audit_openings),
        [
            {
                "log_id": log.id,
                "idx": i,
                "kind": int(leaf.kind),
                "subject": leaf.subject,
                "household_id": leaf.household_id,
                "secret": leaf.secret,
            }
            for i, leaf in zip(indices, new, strict=True)
        ],
    )
    _write_tiles(conn, log, tree, log.size)
    conn.execute(update(audit_logs).where(audit_logs.c.id == log.id).values(size=tree.size))
    return Log(log.id, log.community_id, log.origin, tree.size)


def _write_tiles(conn: Connection, log: Log, tree: MerkleTree, old_size: int) -> None:
    level = 0
    while True:
        shift = tiles.TILE_HEIGHT * level
        count = tree.size >> shift
        if count == 0:
            return
        first = (old_size >> shift) // tiles.TILE_WIDTH
        last = (count - 1) // tiles.TILE_WIDTH
        conn.execute(
            delete(audit_tiles).where(
                audit_tiles.c.log_id == log.id, audit_tiles.c.level == level, audit_tiles.c.idx >= first
            )
        )
        rows = []
        for index in range(first, last + 1):
            width = min(tiles.TILE_WIDTH, count - index * tiles.TILE_WIDTH)
            hashes = tree.level_hashes(shift, index * tiles.TILE_WIDTH, width)
            rows.append({"log_id": log.id, "level": level, "idx": index, "width": width, "hashes": hashes})
        conn.execute(insert(audit_tiles), rows)
        if count < tiles.TILE_WIDTH:
            return
        level += 1


def tile(conn: Connection, log: Log, level: int, index: int, width: int) -> bytes | None:
    """The hash tile, or None when the tree does not (yet) have that many hashes there."""
    row = conn.execute(
        select(audit_tiles.c.width, audit_tiles.c.hashes).where(
            audit_tiles.c.log_id == log.id, audit_tiles.c.level == level, audit_tiles.c.idx == index
        )
    ).one_or_none()
    if row is None or row.width < width:
        return None
    return bytes(row.hashes)[: width * HASH_SIZE]


def entries(conn: Connection, log: Log, start: int, count: int) -> list[bytes]:
    rows = conn.execute(
        select(audit_leaves.c.entry)
        .where(
            audit_leaves.c.log_id == log.id, audit_leaves.c.idx >= start, audit_leaves.c.idx < start + count
        )
        .order_by(audit_leaves.c.idx)
    )
    return [bytes(r.entry) for r in rows]


def entries_at(conn: Connection, log: Log, indices: Iterable[int]) -> dict[int, bytes]:
    wanted = sorted(set(indices))
    found: dict[int, bytes] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = conn.execute(
            select(audit_leaves.c.idx, audit_leaves.c.entry).where(
                audit_leaves.c.log_id == log.id, audit_leaves.c.idx.in_(chunk)
            )
        )
        found.update({int(r.idx): bytes(r.entry) for r in rows})
    return found


def all_entries(conn: Connection, log: Log) -> list[tuple[int, bytes]]:
    rows = conn.execute(
        select(audit_leaves.c.idx, audit_leaves.c.entry)
        .where(audit_leaves.c.log_id == log.id)
        .order_by(audit_leaves.c.idx)
    )
    return [(int(r.idx), bytes(r.entry)) for r in rows]


def openings(
    conn: Connection, log: Log, *, kind: LeafType | None = None, household_id: int | None = None
) -> list[Opening]:
    """Private openings in leaf order, optionally of one kind or one household."""
    query = select(audit_openings).where(audit_openings.c.log_id == log.id).order_by(audit_openings.c.idx)
    if kind is not None:
        query = query.where(audit_openings.c.kind == int(kind))
    if household_id is not None:
        query = query.where(audit_openings.c.household_id == household_id)
    return [
        Opening(
            int(r.idx), int(r.kind), r.subject, r.household_id, None if r.secret is None else bytes(r.secret)
        )
        for r in conn.execute(query)
    ]


def latest_by_subject(conn: Connection, log: Log, kind: LeafType) -> dict[str, Opening]:
    """The latest opening of each subject of ``kind`` (a result logged again after late readings)."""
    return {o.subject: o for o in openings(conn, log, kind=kind)}


def add_checkpoint(conn: Connection, log: Log, *, size: int, root: bytes, note: str, now: int) -> bool:
    """Store a signed checkpoint; False when one of that size already exists."""
    exists = conn.execute(
        select(audit_checkpoints.c.size).where(
            audit_checkpoints.c.log_id == log.id, audit_checkpoints.c.size == size
        )
    ).first()
    if exists is not None:
        return False
    conn.execute(
        insert(audit_checkpoints).values(log_id=log.id, size=size, root=root, note=note, created_at=now)
    )
    return True


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    size: int
    root: bytes
    note: str
    created_at: int


def latest_checkpoint(conn: Connection, log: Log) -> StoredCheckpoint | None:
    row = conn.execute(
        select(audit_checkpoints)
        .where(audit_checkpoints.c.log_id == log.id)
        .order_by(audit_checkpoints.c.size.desc())
        .limit(1)
    ).one_or_none()
    return (
        None
        if row is None
        else StoredCheckpoint(int(row.size), bytes(row.root), row.note, int(row.created_at))
    )


def checkpoint_at(conn: Connection, log: Log, size: int) -> StoredCheckpoint | None:
    row = conn.execute(
        select(audit_checkpoints).where(
            audit_checkpoints.c.log_id == log.id, audit_checkpoints.c.size == size
        )
    ).one_or_none()
    return (
        None
        if row is None
        else StoredCheckpoint(int(row.size), bytes(row.root), row.note, int(row.created_at))
    )


def add_cosignature(conn: Connection, log: Log, *, size: int, witness: str, line: str, now: int) -> None:
    conn.execute(
        delete(audit_cosignatures).where(
            audit_cosignatures.c.log_id == log.id,
            audit_cosignatures.c.size == size,
            audit_cosignatures.c.witness == witness,
        )
    )
    conn.execute(
        insert(audit_cosignatures).values(
            log_id=log.id, size=size, witness=witness, line=line, created_at=now
        )
    )


def published_note(conn: Connection, log: Log, checkpoint: StoredCheckpoint) -> str:
    """The checkpoint note with every stored cosignature line appended."""
    lines = conn.execute(
        select(audit_cosignatures.c.line)
        .where(audit_cosignatures.c.log_id == log.id, audit_cosignatures.c.size == checkpoint.size)
        .order_by(audit_cosignatures.c.witness)
    ).scalars()
    return checkpoint.note + "".join(lines)


def add_anchor(
    conn: Connection,
    log: Log,
    *,
    size: int,
    root: bytes,
    chain_id: int,
    tx_hash: str,
    block_number: int,
    now: int,
) -> None:
    conn.execute(
        insert(audit_anchors).values(
            log_id=log.id,
            size=size,
            root=root,
            chain_id=chain_id,
            tx_hash=tx_hash,
            block_number=block_number,
            created_at=now,
        )
    )


def anchored_sizes(conn: Connection, log: Log) -> list[int]:
    return [
        int(s)
        for s in conn.execute(
            select(audit_anchors.c.size)
            .where(audit_anchors.c.log_id == log.id)
            .order_by(audit_anchors.c.size)
        ).scalars()
    ]


def leaf_count(conn: Connection, log: Log) -> int:
    return int(
        conn.execute(
            select(func.count()).select_from(audit_leaves).where(audit_leaves.c.log_id == log.id)
        ).scalar_one()
    )
