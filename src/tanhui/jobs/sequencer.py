"""The audit log's sequencer and its inverse, the operator's check (one sequencer per community).

:func:`sequence` finds what the community's log does not hold yet (rule and factor-set publications,
ingest batches, accounting results) and appends it in one batch, one transaction. :func:`check`
recomputes every leaf from the store and compares it with the log, naming the first entry that fails.
Both read the store through :class:`Source`, so "what the log should say" has one definition.

A result is logged only if it recomputes from its readings: a footprint row written around the
accounting job is refused here, and a result recomputed after late readings is logged again as a new
version that names the one it supersedes.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, select

from tanhui.accounting import months
from tanhui.accounting.factors import FactorSet
from tanhui.accounting.footprint import factor_text
from tanhui.audit import leaves, merkle, recompute
from tanhui.audit.errors import AuditError, EvidenceError
from tanhui.audit.leaves import LeafType
from tanhui.audit.tree import MerkleTree
from tanhui.domain.ids import CommunityId
from tanhui.ingest.rules import DEFAULT_FILE as RULES_FILE
from tanhui.ingest.rules import IngestRules
from tanhui.store import audit_log, registry
from tanhui.store import readings as readings_repo
from tanhui.store.archive import ArchiveError
from tanhui.store.registry import Community, Meter
from tanhui.store.schema import (
    consumption_months,
    footprint_months,
    gateways,
    households,
    ingest_batches,
    points_accounts,
    points_transfers,
)

Salt = Callable[[], bytes]
GroupKey = tuple[int, str]  # (meter id, register)


def default_origin(slug: str) -> str:
    """The log's origin when none is configured: a schema-less name as c2sp.org/tlog-checkpoint asks."""
    return f"tanhui.local/{slug}/audit"


def rules_hash(path: Path = RULES_FILE) -> str:
    """Content hash of the ingest rules file whose continuity bound judges register steps."""
    data = path.read_bytes()
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(slots=True)
class FootprintRow:
    meter_id: int
    day: date
    factor_set_id: str
    household_id: int
    kind: str
    amount_micro: int
    co2e_mg: int

    @property
    def subject(self) -> str:
        return result_subject(self.meter_id, self.day, self.factor_set_id)


def result_subject(meter_id: int, day: date, factor_set_id: str) -> str:
    return f"result:{meter_id}:{day.isoformat()}:{factor_set_id}"


def batch_subject(batch_id: int) -> str:
    return f"batch:{batch_id}"


@dataclass(slots=True)
class Source:
    """A community's store as the log sees it, read once."""

    community: Community
    tz: ZoneInfo
    meters: dict[int, Meter]
    series: dict[GroupKey, list[tuple[int, int, int]]] = field(default_factory=dict)  # sorted (t, v, batch)
    by_batch: dict[int, dict[GroupKey, list[tuple[int, int]]]] = field(default_factory=dict)
    batches: dict[int, int] = field(default_factory=dict)  # batch id → received_at
    footprints: dict[str, FootprintRow] = field(default_factory=dict)
    transfers: dict[str, tuple[leaves.TransferOpening, int | None]] = field(default_factory=dict)

    def times(self, key: GroupKey) -> list[int]:
        return [t for t, _, _ in self.series.get(key, [])]


def load_source(conn: Connection, community_id: CommunityId) -> Source:
    """Read the community's meters, readings (hot and packed), batches and footprint rows."""
    community = registry.get_community(conn, community_id)
    meters = {int(m.id): m for m in registry.meters_of_community(conn, community_id)}
    src = Source(community, ZoneInfo(community.timezone), meters)
    series: dict[GroupKey, list[tuple[int, int, int]]] = defaultdict(list)
    by_batch: dict[int, dict[GroupKey, list[tuple[int, int]]]] = defaultdict(lambda: defaultdict(list))
    for r in readings_repo.scan(conn, [m.id for m in meters.values()]):
        key = (int(r.meter_id), r.register)
        series[key].append((r.meter_time, r.value, r.batch_id))
        by_batch[r.batch_id][key].append((r.meter_time, r.value))
    for s in series.values():
        s.sort()
    src.series = dict(series)
    src.by_batch = {b: dict(g) for b, g in by_batch.items()}
    rows = conn.execute(
        select(ingest_batches.c.id, ingest_batches.c.received_at)
        .join(gateways, gateways.c.id == ingest_batches.c.gateway_id)
        .where(gateways.c.community_id == community_id)
    )
    src.batches = {int(r.id): int(r.received_at) for r in rows}
    # Each priced day of footprint_months is one result, with the day's amount from consumption_months.
    f, c = footprint_months.c, consumption_months.c
    rows = conn.execute(
        select(f.meter_id, f.month, f.factor_set_id, f.household_id, f.kind, f.co2e_mg, c.days)
        .join(consumption_months, and_(c.meter_id == f.meter_id, c.month == f.month), isouter=True)
        .join(households, households.c.id == f.household_id)
        .where(households.c.community_id == community_id)
    )
    for f_row in rows:
        amounts = None if f_row.days is None else months.unpack(f_row.month, bytes(f_row.days))
        for day, mg in months.daily(f_row.month, months.unpack(f_row.month, bytes(f_row.co2e_mg))):
            amount = 0 if amounts is None else max(int(amounts[day.day - 1]), 0)
            row = FootprintRow(
                int(f_row.meter_id), day, f_row.factor_set_id, int(f_row.household_id), f_row.kind, amount, mg
            )
            src.footprints[row.subject] = row
    src.transfers = _transfers(conn, community_id)
    return src


def _transfers(
    conn: Connection, community_id: CommunityId
) -> dict[str, tuple[leaves.TransferOpening, int | None]]:
    """The community's points transfers (tanhui.store.ledger), each with the household it touches."""
    debit, credit = points_accounts.alias("debit"), points_accounts.alias("credit")
    rows = conn.execute(
        select(
            points_transfers,
            debit.c.kind.label("dk"),
            debit.c.owner_id.label("do"),
            credit.c.kind.label("ck"),
            credit.c.owner_id.label("co"),
        )
        .join(debit, debit.c.id == points_transfers.c.debit_account_id)
        .join(credit, credit.c.id == points_transfers.c.credit_account_id)
        .where(debit.c.community_id == community_id)
        .order_by(points_transfers.c.seq)
    )
    out: dict[str, tuple[leaves.TransferOpening, int | None]] = {}
    for r in rows:
        opening = leaves.TransferOpening(
            transfer_id=r.id,
            debit_account=int(r.debit_account_id),
            credit_account=int(r.credit_account_id),
            amount=int(r.amount),
            pending_id=r.pending_id or "",
            ledger=int(r.ledger),
            code=int(r.code),
            flags=int(r.flags),
            timeout=int(r.timeout),
            reference=r.reference,
            timestamp=int(r.timestamp),
        )
        household = int(r.co) if r.ck == "household" else int(r.do) if r.dk == "household" else None
        out[transfer_subject(r.id)] = (opening, household)
    return out


def transfer_subject(transfer_id: str) -> str:
    return f"transfer:{transfer_id}"


# --- what each leaf should be ------------------------------------------------------------------------------


def batch_groups(src: Source, batch_id: int, secret: bytes) -> list[tuple[leaves.ReadingGroup, bytes, bytes]]:
    """The batch's reading groups from the store, each with its salt and commitment."""
    out = []
    for (meter_id, register), pairs in sorted(src.by_batch.get(batch_id, {}).items()):
        group = leaves.ReadingGroup(meter_id, register, tuple(sorted(pairs)))
        salt = group.salt(secret)
        out.append((group, salt, group.commitment(salt)))
    return out


def batch_entry(conn: Connection, src: Source, batch_id: int, secret: bytes) -> leaves.IngestBatchEntry:
    """The batch's entry as the store now says it should be; raises LookupError/ArchiveError if gone."""
    payload = readings_repo.batch_payload(conn, batch_id)
    groups = batch_groups(src, batch_id, secret)
    commitments = [c for _, _, c in groups]
    return leaves.IngestBatchEntry(
        batch_id=batch_id,
        received_at=src.batches.get(batch_id, 0),
        frames=hashlib.sha256(leaves.frames_salt(secret) + payload).digest(),
        readings_root=leaves.readings_root(commitments),
        groups=len(groups),
        readings=sum(len(g.readings) for g, _, _ in groups),
    )


def result_opening(
    src: Source, row: FootprintRow, factor_sets: Mapping[str, FactorSet], rules: IngestRules
) -> leaves.ResultOpening:
    """The opening of a footprint row: its values, the published factor and the readings slice used."""
    meter = src.meters[row.meter_id]
    register = meter.kind.register
    key = (row.meter_id, register)
    full = src.series.get(key, [])
    window = full[recompute.day_slice(src.times(key), row.day, src.tz)] if full else []
    factor = factor_sets[row.factor_set_id].factor(meter.kind).value
    return leaves.ResultOpening(
        meter_id=row.meter_id,
        household_id=row.household_id,
        day=row.day.isoformat(),
        kind=row.kind,
        register=register,
        amount_micro=row.amount_micro,
        co2e_mg=row.co2e_mg,
        factor=factor_text(factor),
        resolution=format(meter.resolution, "f"),
        capacity=meter.capacity,
        max_rollover_counts=rules.max_rollover_counts(meter.capacity),
        timezone=src.community.timezone,
        readings=tuple(window),
    )


def recomputes(o: leaves.ResultOpening) -> bool:
    """Whether the opening's result follows from its readings (tanhui.audit.recompute)."""
    got = recompute.footprint(
        [(t, v) for t, v, _ in o.readings],
        day=date.fromisoformat(o.day),
        tz=ZoneInfo(o.timezone),
        resolution=Decimal(o.resolution),
        capacity=o.capacity,
        max_rollover_counts=o.max_rollover_counts,
        factor=Decimal(o.factor),
    )
    return got == (o.amount_micro, o.co2e_mg)


# --- sequencing ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class SequenceSummary:
    appended: int = 0
    batches: int = 0
    results: int = 0
    superseded: int = 0
    publications: int = 0
    transfers: int = 0
    refused: list[str] = field(default_factory=list)
    size: int = 0


def sequence(
    conn: Connection,
    community_id: CommunityId,
    factor_sets: Mapping[str, FactorSet],
    *,
    now: int,
    origin: str | None = None,
    rules: IngestRules | None = None,
    salt: Salt = lambda: secrets.token_bytes(leaves.SALT_SIZE),
) -> SequenceSummary:
    """Append everything the community's log lacks, in one batch (call inside one transaction)."""
    rules = rules if rules is not None else IngestRules.load()
    community = registry.get_community(conn, community_id)
    log = audit_log.lock(
        conn, audit_log.ensure_log(conn, community_id, origin or default_origin(community.slug), now=now)
    )
    tree = audit_log.load_tree(conn, log)
    src = load_source(conn, community_id)
    summary = SequenceSummary()
    new: list[audit_log.NewLeaf] = []
    logged = {o.subject: o for o in audit_log.openings(conn, log)}

    def publish(kind: LeafType, artefact: str, content_hash: str) -> None:
        subject = f"{kind.name.lower()}:{artefact}:{content_hash}"
        if subject not in logged:
            entry = leaves.PublicationEntry(kind, artefact, content_hash)
            new.append(audit_log.NewLeaf(kind, leaves.encode(entry), subject, None, None))
            logged[subject] = audit_log.Opening(-1, int(kind), subject, None, None)
            summary.publications += 1

    rules_version = rules_hash()
    publish(LeafType.RULE_SET, "ingest-continuity", rules_version)
    for fs_id in sorted({r.factor_set_id for r in src.footprints.values()}):
        if fs_id in factor_sets:
            publish(LeafType.FACTOR_SET, fs_id, factor_sets[fs_id].content_hash)

    logged_batches: set[int] = {int(s.split(":")[1]) for s in logged if s.startswith("batch:")}
    for batch_id in sorted(set(src.batches) - logged_batches):
        secret = salt()
        entry = batch_entry(conn, src, batch_id, secret)
        new.append(
            audit_log.NewLeaf(
                LeafType.INGEST_BATCH, leaves.encode(entry), batch_subject(batch_id), None, secret
            )
        )
        logged_batches.add(batch_id)
        summary.batches += 1

    _sequence_results(
        conn, log, src, factor_sets, rules, rules_version, logged, logged_batches, salt, new, summary
    )
    for subject, (opening, household) in src.transfers.items():
        if subject not in logged:
            secret = salt()
            transfer_entry = leaves.TransferEntry(
                opening.code, leaves.commitment(secret, opening.value()), -1
            )
            new.append(
                audit_log.NewLeaf(
                    LeafType.TRANSFER, leaves.encode(transfer_entry), subject, household, secret
                )
            )
            summary.transfers += 1
    log = audit_log.append(conn, log, tree, new)
    summary.appended = len(new)
    summary.size = log.size
    return summary


def _sequence_results(
    conn: Connection,
    log: audit_log.Log,
    src: Source,
    factor_sets: Mapping[str, FactorSet],
    rules: IngestRules,
    rules_version: str,
    logged: Mapping[str, audit_log.Opening],
    logged_batches: set[int],
    salt: Salt,
    new: list[audit_log.NewLeaf],
    summary: SequenceSummary,
) -> None:
    previous = audit_log.entries_at(
        conn, log, [o.idx for s, o in logged.items() if s.startswith("result:") and o.idx >= 0]
    )
    for subject, row in sorted(src.footprints.items()):
        if row.factor_set_id not in factor_sets or row.meter_id not in src.meters:
            summary.refused.append(f"{subject}: factor set or meter unknown")
            continue
        opening = result_opening(src, row, factor_sets, rules)
        if any(b not in logged_batches for _, _, b in opening.readings):
            summary.refused.append(f"{subject}: a reading's batch is not in the store")
            continue
        if not recomputes(opening):
            summary.refused.append(f"{subject}: does not recompute from its readings")
            continue
        before = logged.get(subject)
        supersedes = -1
        if before is not None and before.secret is not None:
            old = leaves.decode(previous[before.idx])
            if isinstance(old, leaves.AccountingResultEntry) and old.result == leaves.commitment(
                before.secret, opening.value()
            ):
                continue
            supersedes = before.idx
            summary.superseded += 1
        secret = salt()
        result = leaves.AccountingResultEntry(
            factor_set_id=row.factor_set_id,
            factor_set_hash=factor_sets[row.factor_set_id].content_hash,
            model="",
            rules=rules_version,
            result=leaves.commitment(secret, opening.value()),
            supersedes=supersedes,
        )
        new.append(
            audit_log.NewLeaf(
                LeafType.ACCOUNTING_RESULT, leaves.encode(result), subject, row.household_id, secret
            )
        )
        summary.results += 1


# --- the operator's check --------------------------------------------------------------------------------


@dataclass(slots=True)
class CheckReport:
    size: int = 0
    checked: int = 0
    failures: list[EvidenceError] = field(default_factory=list)


def check(
    conn: Connection,
    community_id: CommunityId,
    factor_sets: Mapping[str, FactorSet],
    *,
    rules: IngestRules | None = None,
) -> CheckReport:
    """Recompute every leaf of the community's log from the store; failures in leaf order."""
    rules = rules if rules is not None else IngestRules.load()
    report = CheckReport()
    log = audit_log.log_of(conn, community_id)
    if log is None:
        report.failures.append(EvidenceError("the community has no audit log", entry="log"))
        return report
    report.size = log.size
    fail = report.failures.append
    stored = dict(audit_log.all_entries(conn, log))
    rebuilt = MerkleTree()
    rebuilt.append([stored.get(i, b"") for i in range(log.size)])
    tiles_tree = audit_log.load_tree(conn, log)
    for i in range(log.size):
        if i not in stored or tiles_tree.size <= i or tiles_tree.leaf_hash(i) != rebuilt.leaf_hash(i):
            fail(EvidenceError("entry does not match the published leaf hash", entry=f"leaf {i}"))
            return report
    latest = audit_log.latest_checkpoint(conn, log)
    if latest is not None and (latest.size > log.size or rebuilt.root(latest.size) != latest.root):
        fail(EvidenceError("the leaves no longer give the signed root", entry=f"checkpoint {latest.size}"))
        return report
    src = load_source(conn, community_id)
    openings = audit_log.openings(conn, log)
    current = {o.subject: o.idx for o in openings}
    logged_batches: set[int] = set()
    for o in openings:
        report.checked += 1
        where = f"leaf {o.idx} ({o.subject})"
        try:
            entry = leaves.decode(stored[o.idx])
        except AuditError as exc:
            fail(EvidenceError(exc.message, entry=where))
            continue
        if o.kind == LeafType.INGEST_BATCH:
            batch_id = int(o.subject.split(":")[1])
            logged_batches.add(batch_id)
            _check_batch(conn, src, batch_id, entry, o, where, fail)
        elif o.kind == LeafType.ACCOUNTING_RESULT and current[o.subject] == o.idx:
            _check_result(src, entry, o, factor_sets, rules, where, fail)
        elif o.kind == LeafType.FACTOR_SET:
            _check_publication(entry, factor_sets, where, fail)
        elif o.kind == LeafType.TRANSFER:
            _check_transfer(src, entry, o, where, fail)
    _check_unlogged(src, logged_batches, set(current), fail)
    return report


def _check_unlogged(
    src: Source, logged_batches: set[int], logged_subjects: set[str], fail: Callable[[EvidenceError], None]
) -> None:
    for batch_id in sorted(set(src.by_batch) - logged_batches):
        where = f"readings of batch {batch_id}"
        if batch_id not in src.batches:
            fail(EvidenceError("readings point at an ingest batch that does not exist", entry=where))
        else:
            fail(EvidenceError("batch not in the log yet (run `tanhui audit sequence`)", entry=where))
    for subject in sorted(set(src.transfers) - logged_subjects):
        fail(
            EvidenceError("transfer not in the log (run `tanhui audit sequence` if it is new)", entry=subject)
        )
    for subject in sorted(set(src.footprints) - logged_subjects):
        fail(EvidenceError("result not in the log (run `tanhui audit sequence` if it is new)", entry=subject))


def _check_batch(
    conn: Connection,
    src: Source,
    batch_id: int,
    entry: leaves.Entry,
    o: audit_log.Opening,
    where: str,
    fail: Callable[[EvidenceError], None],
) -> None:
    if o.secret is None:
        fail(
            EvidenceError(
                "the batch's secret was deleted; its readings can no longer be checked", entry=where
            )
        )
        return
    try:
        expected = batch_entry(conn, src, batch_id, o.secret)
    except (LookupError, ArchiveError) as exc:
        fail(EvidenceError(f"the batch's payload is gone or damaged: {exc}", entry=where))
        return
    if not isinstance(entry, leaves.IngestBatchEntry):
        fail(EvidenceError("the leaf is not an ingest batch", entry=where))
    elif expected.frames != entry.frames:
        fail(EvidenceError("the raw payload differs from the logged one", entry=where))
    elif expected != entry:
        fail(
            EvidenceError(
                f"the readings differ from the logged ones ({expected.readings} now, {entry.readings} then)",
                entry=where,
            )
        )


def _check_transfer(
    src: Source, entry: leaves.Entry, o: audit_log.Opening, where: str, fail: Callable[[EvidenceError], None]
) -> None:
    found = src.transfers.get(o.subject)
    if found is None:
        fail(EvidenceError("the logged transfer is missing from the store", entry=where))
    elif (
        o.secret is None
        or not isinstance(entry, leaves.TransferEntry)
        or leaves.commitment(o.secret, found[0].value()) != entry.transfer
    ):
        fail(EvidenceError("the transfer differs from the logged one", entry=where))


def _check_publication(
    entry: leaves.Entry,
    factor_sets: Mapping[str, FactorSet],
    where: str,
    fail: Callable[[EvidenceError], None],
) -> None:
    fs = factor_sets.get(entry.artefact_id) if isinstance(entry, leaves.PublicationEntry) else None
    if fs is None or not isinstance(entry, leaves.PublicationEntry) or fs.content_hash != entry.content_hash:
        fail(EvidenceError("the published factor set is not the one in data/factors", entry=where))


def _check_result(
    src: Source,
    entry: leaves.Entry,
    o: audit_log.Opening,
    factor_sets: Mapping[str, FactorSet],
    rules: IngestRules,
    where: str,
    fail: Callable[[EvidenceError], None],
) -> None:
    row = src.footprints.get(o.subject)
    if row is None:
        fail(EvidenceError("the logged result is missing from the store", entry=where))
        return
    if o.secret is None or not isinstance(entry, leaves.AccountingResultEntry):
        fail(EvidenceError("the result's opening is gone", entry=where))
        return
    if row.factor_set_id not in factor_sets or row.meter_id not in src.meters:
        fail(EvidenceError("factor set or meter of the result is unknown", entry=where))
        return
    opening = result_opening(src, row, factor_sets, rules)
    if leaves.commitment(o.secret, opening.value()) != entry.result:
        fail(EvidenceError("the result or the readings beneath it differ from the logged ones", entry=where))
    elif not recomputes(opening):
        fail(EvidenceError("the result does not recompute from its readings", entry=where))


def leaf_hashes_root(entries: list[bytes]) -> bytes:
    """Root over entries (for tests and tools)."""
    return merkle.root_of([merkle.leaf_hash(e) for e in entries])
