"""Evidence bundles: everything a third party needs to check a household's footprint offline.

A bundle holds a signed checkpoint (with witness cosignatures), the log entries that matter with their
inclusion proofs, and the openings of their commitments: for each accounting result the values and
the readings slice it was computed from, for each ingest batch the household's reading groups (the
other groups of a shared batch stay commitments). :func:`verify` checks it in this order and raises
:class:`EvidenceError` naming the first entry that fails:

1. the checkpoint's log signature and the witness quorum (c2sp.org/tlog-checkpoint, tlog-cosignature);
2. every entry's inclusion proof against that checkpoint (RFC 9162 §2.1.3.2);
3. every opening against its commitment (tanhui.audit.leaves);
4. every reading a result used is in an opened, logged batch, with none left out of its span;
5. each result recomputed from its readings and the published factor equals the committed result.

The JSON form (:func:`to_json` / :func:`from_json`) carries bytes as base64.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tanhui.audit import cosignature, leaves, merkle, note
from tanhui.audit.checkpoint import Checkpoint, open_checkpoint
from tanhui.audit.errors import AuditError, EncodingError, EvidenceError
from tanhui.audit.recompute import footprint

FORMAT = "tanhui-evidence/v1"


@dataclass(frozen=True, slots=True)
class LoggedEntry:
    index: int
    entry: bytes
    proof: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class OpenedGroup:
    group: leaves.ReadingGroup
    salt: bytes


@dataclass(frozen=True, slots=True)
class BatchEvidence:
    batch_id: int
    leaf: int | None  # None: the store holds readings of a batch the log never saw
    group_commitments: tuple[bytes, ...]
    groups: tuple[OpenedGroup, ...]


@dataclass(frozen=True, slots=True)
class ResultEvidence:
    label: str  # "meter 3 2026-11-20 cn-mee-2023", for messages
    leaf: int | None  # None: a result in the store that the log never saw
    salt: bytes
    opening: leaves.ResultOpening | None  # None: the logged result is gone from the store


@dataclass(frozen=True, slots=True)
class TransferEvidence:
    label: str  # the transfer id
    leaf: int | None  # None: a transfer in the store that the log never saw
    salt: bytes
    opening: leaves.TransferOpening | None  # None: the logged transfer is gone from the store


@dataclass(frozen=True, slots=True)
class Bundle:
    checkpoint: str
    entries: tuple[LoggedEntry, ...]
    batches: tuple[BatchEvidence, ...]
    results: tuple[ResultEvidence, ...]
    transfers: tuple[TransferEvidence, ...] = ()


@dataclass(slots=True)
class Report:
    """What a bundle proved."""

    checkpoint: Checkpoint
    cosigners: list[str]
    entries: int = 0
    readings: int = 0
    results: int = 0
    co2e_mg: int = 0
    by_day: dict[str, int] = field(default_factory=dict)
    transfers: int = 0


def verify(
    bundle: Bundle,
    *,
    log_key: note.Verifier,
    witnesses: list[note.Verifier],
    quorum: int,
    factor_sets: Mapping[str, tuple[str, Mapping[str, Decimal]]] | None = None,
) -> Report:
    """Check ``bundle`` (see the module docstring). ``factor_sets``: id → (content hash, kind → factor)."""
    try:
        checkpoint, parsed = open_checkpoint(bundle.checkpoint, [log_key])
        cosigned = cosignature.verify_cosignatures(parsed, witnesses)
    except AuditError as exc:
        raise EvidenceError(exc.message, entry="checkpoint", code=exc.code) from exc
    if len(cosigned) < quorum:
        raise EvidenceError(
            f"{len(cosigned)} witness cosignatures, the policy needs {quorum}",
            entry="checkpoint",
            code="quorum",
        )
    report = Report(checkpoint, [c.name for c in cosigned])
    decoded: dict[int, leaves.Entry] = {}
    for item in sorted(bundle.entries, key=lambda e: e.index):
        where = f"leaf {item.index}"
        try:
            merkle.verify_inclusion(
                item.index, checkpoint.size, merkle.leaf_hash(item.entry), item.proof, checkpoint.root
            )
            decoded[item.index] = leaves.decode(item.entry)
        except AuditError as exc:
            raise EvidenceError(exc.message, entry=where, code=exc.code) from exc
        report.entries += 1
    opened: dict[tuple[int, int, str], dict[int, int]] = {}  # (batch, meter, register) → time → counts
    for batch in sorted(bundle.batches, key=lambda b: (b.leaf is None, b.leaf or 0, b.batch_id)):
        _check_batch(batch, decoded, opened)
    for result in sorted(bundle.results, key=lambda r: (r.leaf is None, r.leaf or 0, r.label)):
        _check_result(result, decoded, opened, factor_sets, report)
    for transfer in sorted(bundle.transfers, key=lambda t: (t.leaf is None, t.leaf or 0, t.label)):
        _check_transfer(transfer, decoded)
        report.transfers += 1
    report.readings = sum(len(v) for v in opened.values())
    return report


def _check_transfer(transfer: TransferEvidence, decoded: Mapping[int, leaves.Entry]) -> None:
    where = f"transfer {transfer.label}" + (f" (leaf {transfer.leaf})" if transfer.leaf is not None else "")
    if transfer.leaf is None:
        raise EvidenceError(
            "this transfer is in the store but not in the log", entry=where, code="not_logged"
        )
    entry = decoded.get(transfer.leaf)
    if not isinstance(entry, leaves.TransferEntry):
        raise EvidenceError("the leaf is not a points transfer", entry=where, code="wrong_leaf")
    if transfer.opening is None:
        raise EvidenceError(
            "the logged transfer is missing from the store", entry=where, code="transfer_missing"
        )
    if leaves.commitment(transfer.salt, transfer.opening.value()) != entry.transfer:
        raise EvidenceError(
            "the transfer differs from what the log committed to", entry=where, code="transfer_changed"
        )


def _check_batch(
    batch: BatchEvidence,
    decoded: Mapping[int, leaves.Entry],
    opened: dict[tuple[int, int, str], dict[int, int]],
) -> None:
    where = f"batch {batch.batch_id}" + (f" (leaf {batch.leaf})" if batch.leaf is not None else "")
    if batch.leaf is None:
        raise EvidenceError("readings of this batch are not in the log", entry=where, code="not_logged")
    entry = decoded.get(batch.leaf)
    if not isinstance(entry, leaves.IngestBatchEntry) or entry.batch_id != batch.batch_id:
        raise EvidenceError("the leaf is not this ingest batch", entry=where, code="wrong_leaf")
    if (
        len(batch.group_commitments) != entry.groups
        or leaves.readings_root(batch.group_commitments) != entry.readings_root
    ):
        raise EvidenceError("the group commitments do not match the logged readings root", entry=where)
    known = set(batch.group_commitments)
    for g in batch.groups:
        if g.group.commitment(g.salt) not in known:
            raise EvidenceError(
                f"readings of meter {g.group.meter_id} {g.group.register} differ from the logged commitment",
                entry=where,
                code="readings_changed",
            )
        opened[(batch.batch_id, g.group.meter_id, g.group.register)] = dict(g.group.readings)


def _check_result(
    result: ResultEvidence,
    decoded: Mapping[int, leaves.Entry],
    opened: Mapping[tuple[int, int, str], Mapping[int, int]],
    factor_sets: Mapping[str, tuple[str, Mapping[str, Decimal]]] | None,
    report: Report,
) -> None:
    where = f"result {result.label}" + (f" (leaf {result.leaf})" if result.leaf is not None else "")
    if result.leaf is None:
        raise EvidenceError("this result is in the store but not in the log", entry=where, code="not_logged")
    entry = decoded.get(result.leaf)
    if not isinstance(entry, leaves.AccountingResultEntry):
        raise EvidenceError("the leaf is not an accounting result", entry=where, code="wrong_leaf")
    o = result.opening
    if o is None:
        raise EvidenceError("the logged result is missing from the store", entry=where, code="result_missing")
    if leaves.commitment(result.salt, o.value()) != entry.result:
        raise EvidenceError(
            "the result differs from what the log committed to", entry=where, code="result_changed"
        )
    try:
        factor = Decimal(o.factor)
        resolution = Decimal(o.resolution)
        tz = ZoneInfo(o.timezone)
        day = date.fromisoformat(o.day)
    except (InvalidOperation, ZoneInfoNotFoundError, ValueError) as exc:
        raise EvidenceError(f"unreadable opening: {exc}", entry=where, code="opening_invalid") from None
    _check_factor(entry, o.kind, factor, factor_sets, where)
    series = _check_readings(o, opened, where)
    amount_micro, co2e_mg = footprint(
        series,
        day=day,
        tz=tz,
        resolution=resolution,
        capacity=o.capacity,
        max_rollover_counts=o.max_rollover_counts,
        factor=factor,
    )
    if (amount_micro, co2e_mg) != (o.amount_micro, o.co2e_mg):
        raise EvidenceError(
            f"recomputed {amount_micro} µunits / {co2e_mg} mg CO2e from the readings, "
            f"the result says {o.amount_micro} / {o.co2e_mg}",
            entry=where,
            code="recompute_mismatch",
        )
    report.results += 1
    report.co2e_mg += co2e_mg
    report.by_day[o.day] = report.by_day.get(o.day, 0) + co2e_mg


def _check_factor(
    entry: leaves.AccountingResultEntry,
    kind: str,
    factor: Decimal,
    factor_sets: Mapping[str, tuple[str, Mapping[str, Decimal]]] | None,
    where: str,
) -> None:
    if factor_sets is None:
        return
    published = factor_sets.get(entry.factor_set_id)
    if published is None or published[0] != entry.factor_set_hash:
        raise EvidenceError(
            f"factor set {entry.factor_set_id} ({entry.factor_set_hash}) is not among the published sets",
            entry=where,
            code="factor_set_unknown",
        )
    if published[1].get(kind) != factor:
        raise EvidenceError(
            f"factor {factor} for {kind} is not the one published in {entry.factor_set_id}",
            entry=where,
            code="factor_mismatch",
        )


def _check_readings(
    o: leaves.ResultOpening, opened: Mapping[tuple[int, int, str], Mapping[int, int]], where: str
) -> list[tuple[int, int]]:
    series = [(t, v) for t, v, _ in o.readings]
    for t, v, b in o.readings:
        group = opened.get((b, o.meter_id, o.register))
        if group is None or group.get(t) != v:
            raise EvidenceError(
                f"reading at {t} of batch {b} is not among the logged readings",
                entry=where,
                code="reading_unproven",
            )
    if series:
        lo, hi = series[0][0], series[-1][0]
        used = {t for t, _ in series}
        for (_, meter, register), group in opened.items():
            if meter == o.meter_id and register == o.register:
                left_out = sorted(t for t in group if lo <= t <= hi and t not in used)
                if left_out:
                    raise EvidenceError(
                        f"logged reading at {left_out[0]} was left out of the computation",
                        entry=where,
                        code="reading_omitted",
                    )
    return series


# --- JSON form ---------------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise EncodingError("expected a base64 string", code="bundle_format")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise EncodingError(f"{text[:20]!r} is not base64", code="bundle_format") from None


def _opening_json(o: leaves.ResultOpening) -> dict[str, Any]:
    return {
        "meter_id": o.meter_id,
        "household_id": o.household_id,
        "day": o.day,
        "kind": o.kind,
        "register": o.register,
        "amount_micro": o.amount_micro,
        "co2e_mg": o.co2e_mg,
        "factor": o.factor,
        "resolution": o.resolution,
        "capacity": o.capacity,
        "max_rollover_counts": o.max_rollover_counts,
        "timezone": o.timezone,
        "readings": [list(r) for r in o.readings],
    }


def to_json(bundle: Bundle) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "checkpoint": bundle.checkpoint,
        "entries": [
            {"index": e.index, "entry": _b64(e.entry), "proof": [_b64(p) for p in e.proof]}
            for e in bundle.entries
        ],
        "batches": [
            {
                "batch_id": b.batch_id,
                "leaf": b.leaf,
                "group_commitments": [_b64(c) for c in b.group_commitments],
                "groups": [
                    {
                        "meter_id": g.group.meter_id,
                        "register": g.group.register,
                        "readings": [list(r) for r in g.group.readings],
                        "salt": _b64(g.salt),
                    }
                    for g in b.groups
                ],
            }
            for b in bundle.batches
        ],
        "results": [
            {
                "label": r.label,
                "leaf": r.leaf,
                "salt": _b64(r.salt),
                "opening": None if r.opening is None else _opening_json(r.opening),
            }
            for r in bundle.results
        ],
        "transfers": [
            {
                "label": t.label,
                "leaf": t.leaf,
                "salt": _b64(t.salt),
                "opening": None if t.opening is None else _transfer_json(t.opening),
            }
            for t in bundle.transfers
        ],
    }


def _transfer_json(o: leaves.TransferOpening) -> dict[str, Any]:
    return {
        "transfer_id": o.transfer_id,
        "debit_account": o.debit_account,
        "credit_account": o.credit_account,
        "amount": o.amount,
        "pending_id": o.pending_id,
        "ledger": o.ledger,
        "code": o.code,
        "flags": o.flags,
        "timeout": o.timeout,
        "reference": o.reference,
        "timestamp": o.timestamp,
    }


def _transfer(o: Mapping[str, Any]) -> leaves.TransferOpening:
    return leaves.TransferOpening(
        transfer_id=str(o["transfer_id"]),
        debit_account=int(o["debit_account"]),
        credit_account=int(o["credit_account"]),
        amount=int(o["amount"]),
        pending_id=str(o["pending_id"]),
        ledger=int(o["ledger"]),
        code=int(o["code"]),
        flags=int(o["flags"]),
        timeout=int(o["timeout"]),
        reference=str(o["reference"]),
        timestamp=int(o["timestamp"]),
    )


def from_json(data: Any) -> Bundle:
    """Parse the JSON form; raises :class:`EncodingError` naming what is malformed."""
    try:
        if data.get("format") != FORMAT:
            raise EncodingError(f"not a {FORMAT} bundle", code="bundle_format")
        entries = tuple(
            LoggedEntry(int(e["index"]), _unb64(e["entry"]), tuple(_unb64(p) for p in e["proof"]))
            for e in data["entries"]
        )
        batches = tuple(
            BatchEvidence(
                int(b["batch_id"]),
                None if b["leaf"] is None else int(b["leaf"]),
                tuple(_unb64(c) for c in b["group_commitments"]),
                tuple(
                    OpenedGroup(
                        leaves.ReadingGroup(
                            int(g["meter_id"]),
                            str(g["register"]),
                            tuple((int(t), int(v)) for t, v in g["readings"]),
                        ),
                        _unb64(g["salt"]),
                    )
                    for g in b["groups"]
                ),
            )
            for b in data["batches"]
        )
        results = tuple(
            ResultEvidence(
                str(r["label"]),
                None if r["leaf"] is None else int(r["leaf"]),
                _unb64(r["salt"]),
                None if r["opening"] is None else _opening(r["opening"]),
            )
            for r in data["results"]
        )
        transfers = tuple(
            TransferEvidence(
                str(t["label"]),
                None if t["leaf"] is None else int(t["leaf"]),
                _unb64(t["salt"]),
                None if t["opening"] is None else _transfer(t["opening"]),
            )
            for t in data.get("transfers", [])
        )
        return Bundle(str(data["checkpoint"]), entries, batches, results, transfers)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise EncodingError(f"malformed evidence bundle: {exc!r}", code="bundle_format") from None


def _opening(o: Mapping[str, Any]) -> leaves.ResultOpening:
    return leaves.ResultOpening(
        meter_id=int(o["meter_id"]),
        household_id=int(o["household_id"]),
        day=str(o["day"]),
        kind=str(o["kind"]),
        register=str(o["register"]),
        amount_micro=int(o["amount_micro"]),
        co2e_mg=int(o["co2e_mg"]),
        factor=str(o["factor"]),
        resolution=str(o["resolution"]),
        capacity=int(o["capacity"]),
        max_rollover_counts=int(o["max_rollover_counts"]),
        timezone=str(o["timezone"]),
        readings=tuple((int(t), int(v), int(b)) for t, v, b in o["readings"]),
    )
