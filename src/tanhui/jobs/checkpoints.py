"""Checkpoints: sign the log's tree head, gather witness cosignatures, and prove things against it.

:func:`publish` signs a new checkpoint when the log grew (run it at an interval, e.g. every minute);
it first re-derives the root from the stored tiles and refuses to sign a tree that is not an extension
of the last signed one, so even a tampered store can never make the log equivocate.
:func:`witness_request` renders a c2sp.org/tlog-witness ``add-checkpoint`` body for a witness;
:func:`add_cosignature` keeps a witness's line after verifying it. :func:`evidence` builds a
household's evidence bundle (tanhui.audit.evidence) against the latest checkpoint.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import Connection

from tanhui.accounting.factors import FactorSet
from tanhui.audit import cosignature, evidence, leaves, merkle, note
from tanhui.audit.checkpoint import Checkpoint, parse_text
from tanhui.audit.errors import AuditError, ForkError, SignatureError
from tanhui.audit.leaves import LeafType
from tanhui.domain.ids import CommunityId
from tanhui.ingest.rules import IngestRules
from tanhui.jobs import sequencer
from tanhui.store import audit_log


def load_signer(path: Path) -> note.Signer:
    """The log's signing key from a private-key file (``PRIVATE+KEY+…``), kept outside the repository."""
    name, alg, seed = note.parse_skey(path.read_text(encoding="utf-8"))
    if alg != note.ALG_ED25519:
        raise SignatureError(f"{path} holds a cosignature key, not a log key", code="skey_format")
    return note.Signer.from_seed(name, seed)


def load_cosigner(path: Path) -> cosignature.Cosigner:
    name, alg, seed = note.parse_skey(path.read_text(encoding="utf-8"))
    if alg != note.ALG_COSIGNATURE_V1:
        raise SignatureError(f"{path} holds a log key, not a witness cosignature key", code="skey_format")
    return cosignature.Cosigner.from_seed(name, seed)


@dataclass(frozen=True, slots=True)
class Published:
    size: int
    root: bytes
    note: str
    new: bool


def publish(conn: Connection, community_id: CommunityId, signer: note.Signer, *, now: int) -> Published:
    """Sign and store a checkpoint of the log's current size (no-op when that size is signed already)."""
    log = audit_log.log_of(conn, community_id)
    if log is None:
        raise AuditError(f"community {community_id} has no audit log yet; run the sequencer first")
    if signer.name != log.origin:
        raise SignatureError(f"key {signer.name!r} is not the key of origin {log.origin!r}", code="key_name")
    log = audit_log.lock(conn, log)
    tree = audit_log.load_tree(conn, log)
    root = tree.root()
    last = audit_log.latest_checkpoint(conn, log)
    if last is not None:
        if last.size > tree.size or tree.root(last.size) != last.root:
            raise ForkError(
                f"the stored tree no longer extends checkpoint {last.size}; refusing to sign",
                code="fork_inconsistent",
            )
        if last.size == tree.size:
            return Published(last.size, last.root, last.note, new=False)
    signed = Checkpoint(log.origin, tree.size, root).sign(signer)
    audit_log.add_checkpoint(conn, log, size=tree.size, root=root, note=signed, now=now)
    return Published(tree.size, root, signed, new=True)


def witness_request(conn: Connection, community_id: CommunityId, old_size: int) -> str:
    """A tlog-witness ``add-checkpoint`` body: ``old <size>``, proof lines, blank line, checkpoint."""
    log = _log(conn, community_id)
    last = audit_log.latest_checkpoint(conn, log)
    if last is None:
        raise AuditError("no checkpoint has been signed yet")
    tree = audit_log.load_tree(conn, log)
    proof = tree.consistency_proof(old_size, last.size) if 0 < old_size <= last.size else []
    lines = "".join(base64.b64encode(p).decode("ascii") + "\n" for p in proof)
    return f"old {old_size}\n{lines}\n{last.note}"


def add_cosignature(
    conn: Connection, community_id: CommunityId, line: str, witness: note.Verifier, *, now: int
) -> int:
    """Verify a witness's cosignature line on the latest checkpoint and keep it; returns the size."""
    log = _log(conn, community_id)
    last = audit_log.latest_checkpoint(conn, log)
    if last is None:
        raise AuditError("no checkpoint has been signed yet")
    parsed = note.parse(last.note + line.rstrip("\n") + "\n")
    if not cosignature.verify_cosignatures(parsed, [witness]):
        raise SignatureError(f"no valid cosignature by {witness.name} on checkpoint {last.size}")
    audit_log.add_cosignature(
        conn, log, size=last.size, witness=witness.name, line=line.rstrip("\n") + "\n", now=now
    )
    return last.size


def _log(conn: Connection, community_id: CommunityId) -> audit_log.Log:
    log = audit_log.log_of(conn, community_id)
    if log is None:
        raise AuditError(f"community {community_id} has no audit log yet")
    return log


def evidence_bundle(
    conn: Connection,
    community_id: CommunityId,
    household_id: int,
    factor_sets: Mapping[str, FactorSet],
    *,
    first_day: date | None = None,
    last_day: date | None = None,
    rules: IngestRules | None = None,
) -> evidence.Bundle:
    """The household's evidence bundle against the latest checkpoint, built from the store as it is now.

    Values come from the live tables and salts from the private openings, so anything changed in the
    store after it was logged shows up as a failing entry when the bundle is verified.
    """
    rules = rules if rules is not None else IngestRules.load()
    log = _log(conn, community_id)
    last = audit_log.latest_checkpoint(conn, log)
    if last is None:
        raise AuditError("no checkpoint has been signed yet")
    tree = audit_log.load_tree(conn, log)
    src = sequencer.load_source(conn, community_id)

    def in_period(day: date) -> bool:
        return (first_day is None or day >= first_day) and (last_day is None or day <= last_day)

    logged = {
        o.subject: o
        for o in audit_log.openings(conn, log, kind=LeafType.ACCOUNTING_RESULT, household_id=household_id)
        if o.idx < last.size
    }
    batch_openings = {
        int(o.subject.split(":")[1]): o
        for o in audit_log.openings(conn, log, kind=LeafType.INGEST_BATCH)
        if o.idx < last.size
    }
    rows = {s: r for s, r in src.footprints.items() if r.household_id == household_id and in_period(r.day)}
    subjects = sorted(set(rows) | {s for s in logged if in_period(date.fromisoformat(s.split(":")[2]))})
    results: list[evidence.ResultEvidence] = []
    needed: dict[int, set[tuple[int, str]]] = {}
    indices: set[int] = set()
    for subject in subjects:
        o = logged.get(subject)
        row = rows.get(subject)
        opening = None
        if row is not None and row.meter_id in src.meters and row.factor_set_id in factor_sets:
            opening = sequencer.result_opening(src, row, factor_sets, rules)
            for _, _, b in opening.readings:
                needed.setdefault(b, set()).add((opening.meter_id, opening.register))
        salt = o.secret if o is not None and o.secret is not None else bytes(leaves.SALT_SIZE)
        label = subject.removeprefix("result:").replace(":", " ")
        results.append(evidence.ResultEvidence(label, None if o is None else o.idx, salt, opening))
        if o is not None:
            indices.add(o.idx)
    batches: list[evidence.BatchEvidence] = []
    for batch_id, keys in sorted(needed.items()):
        bo = batch_openings.get(batch_id)
        if bo is None or bo.secret is None:
            batches.append(evidence.BatchEvidence(batch_id, None, (), ()))
            continue
        groups = sequencer.batch_groups(src, batch_id, bo.secret)
        batches.append(
            evidence.BatchEvidence(
                batch_id,
                bo.idx,
                tuple(c for _, _, c in groups),
                tuple(
                    evidence.OpenedGroup(g, salt) for g, salt, _ in groups if (g.meter_id, g.register) in keys
                ),
            )
        )
        indices.add(bo.idx)
    logged_transfers = {
        o.subject: o
        for o in audit_log.openings(conn, log, kind=LeafType.TRANSFER, household_id=household_id)
        if o.idx < last.size
    }
    own = {s: t for s, (t, h) in src.transfers.items() if h == household_id}
    transfers: list[evidence.TransferEvidence] = []
    for subject in sorted(set(own) | set(logged_transfers)):
        to = logged_transfers.get(subject)
        salt = to.secret if to is not None and to.secret is not None else bytes(leaves.SALT_SIZE)
        transfers.append(
            evidence.TransferEvidence(
                subject.removeprefix("transfer:"), None if to is None else to.idx, salt, own.get(subject)
            )
        )
        if to is not None:
            indices.add(to.idx)
    stored = audit_log.entries_at(conn, log, indices)
    entries = tuple(
        evidence.LoggedEntry(i, stored[i], tuple(tree.inclusion_proof(i, last.size))) for i in sorted(indices)
    )
    published = audit_log.published_note(conn, log, last)
    return evidence.Bundle(published, entries, tuple(batches), tuple(results), tuple(transfers))


def proof_root(entry: bytes, index: int, size: int, proof: list[bytes]) -> bytes:
    """The root an inclusion proof implies (for tools)."""
    return merkle.root_from_inclusion(index, size, merkle.leaf_hash(entry), proof)


def checkpoint_of(signed: str) -> Checkpoint:
    """The checkpoint in a signed note, unverified (for display)."""
    return parse_text(note.parse(signed).text)
