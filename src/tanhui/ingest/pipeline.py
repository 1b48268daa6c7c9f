"""The ingest pipeline shared by the HTTP and MQTT transports, and by operator replays.

One envelope is one transaction: its raw payload is kept as an ingest batch, its good readings are
stored, and everything else goes to quarantine with its reason, so nothing is lost. The same reading
delivered twice (MQTT QoS 1 redelivery, an HTTP retry) is stored once and counted as a duplicate; the
same key with a different value is a conflict and is quarantined. Readings may arrive in any order:
they are keyed and later ordered by meter time.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo

import numpy as np
import structlog
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from tanhui.domain.ids import CommunityId, GatewayId, MeterId
from tanhui.domain.reading import MeterReading
from tanhui.ingest import columnar
from tanhui.ingest.checks import Context, first_violation, passes_all
from tanhui.ingest.reasons import CHECKSUM_CODES, Reason
from tanhui.ingest.rules import IngestRules
from tanhui.meters import envelope
from tanhui.meters.continuity import ContinuityError, step
from tanhui.meters.envelope import FrameItem
from tanhui.meters.errors import MeterError
from tanhui.meters.frames import readings_from_frame
from tanhui.store import quarantine, registry
from tanhui.store import readings as readings_repo
from tanhui.store.quarantine import Rejection
from tanhui.store.readings import StoredReading
from tanhui.store.registry import Gateway, Meter

log = structlog.get_logger(__name__)

Key = tuple[MeterId, str, int]
_DEADLOCK = "40P01"  # PostgreSQL's SQLSTATE deadlock_detected


@dataclass(slots=True)
class IngestResult:
    """What became of one envelope (or one replayed quarantine entry)."""

    batch_id: int | None = None
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    rejections: list[Rejection] = field(default_factory=list)
    # Left for a later transaction: its gateway was busy (``Ingestor.ingest_many(defer_busy=True)``).
    deferred: bool = False

    def reject(self, rejection: Rejection) -> None:
        self.quarantined += 1
        self.reasons[rejection.reason] = self.reasons.get(rejection.reason, 0) + 1
        self.rejections.append(rejection)


@dataclass(frozen=True, slots=True)
class _Installation:
    """A meter with its installation span as epoch seconds (local midnights of the community)."""

    start: int
    end: int | None
    meter: Meter


@dataclass(slots=True)
class _Batch:
    """The outcome of checking one or more envelopes' items, by envelope index, before any write."""

    candidates: dict[Key, tuple[int, MeterReading, int]] = field(default_factory=dict)
    new_rows: dict[int, list[StoredReading]] = field(default_factory=dict)
    rejections: defaultdict[int, list[Rejection]] = field(default_factory=lambda: defaultdict(list))
    duplicates: dict[int, int] = field(default_factory=dict)

    def reject(self, index: int, rejection: Rejection) -> None:
        self.rejections[index].append(rejection)

    def duplicate(self, index: int) -> None:
        self.duplicates[index] = self.duplicates.get(index, 0) + 1


class Ingestor:
    """Checks and stores envelopes for one installation. Thread-safe: it caches only the registry."""

    def __init__(
        self,
        engine: Engine,
        clock: Callable[[], datetime],
        rules: IngestRules | None = None,
        *,
        batch_checks: bool = True,
    ) -> None:
        """``batch_checks`` False sends every envelope the per-reading way (the reference the batch
        checks are tested against)."""
        self._engine = engine
        self._batch_checks = batch_checks
        # How many batches and envelopes the array checks stored whole, and how many readings they stored
        # (the rest went reading by reading).
        self.batches_on_arrays = 0
        self.envelopes_on_arrays = 0
        self.readings_on_arrays = 0
        self._table: columnar.MeterTable | None = None
        self._clock = clock
        self.rules = rules if rules is not None else IngestRules.load()
        self._meters: dict[tuple[CommunityId, str], list[_Installation]] = {}
        self._loaded: set[CommunityId] = set()
        self._by_id: dict[MeterId, Meter] = {}
        # Register name → code, committed ones only (_committed_codes).
        self._codes: dict[str, int] = {}
        self._zones: dict[CommunityId, ZoneInfo] = {}

    def now(self) -> datetime:
        return self._clock()

    def ingest(self, payload: bytes, *, gateway: Gateway, transport: str) -> IngestResult:
        """Ingest one envelope received from an authenticated ``gateway``."""
        return self.ingest_many([(payload, gateway)], transport=transport)[0]

    def ingest_many(
        self, deliveries: Sequence[tuple[bytes, Gateway]], *, transport: str, defer_busy: bool = False
    ) -> list[IngestResult]:
        """Ingest several envelopes in one transaction: one duplicate lookup, one write per envelope.

        All or nothing: if the transaction fails, none of the envelopes is stored (and a transport must
        not acknowledge any of them). A reading that two of the envelopes carry is stored once.

        With ``defer_busy``, the envelopes of gateways that another transaction is checking right now
        (docs/decisions/0016-check-locks.md) are left out and their results say ``deferred``, unless
        every gateway of the batch is busy (then this waits for them): a worker keeps such envelopes,
        unacknowledged, for its next batch instead of waiting.
        """
        for attempt in (1, 2):
            try:
                results, highest = self._ingest_all(deliveries, transport, defer_busy)
                # After the commit, in a transaction of its own: a gateway's row locked for a whole batch
                # would make workers that meet the same gateways wait for each other.
                with self._engine.begin() as conn:
                    registry.advance_gateway_seqs(conn, highest)
                return results
            except IntegrityError:
                # Another worker stored some of these readings between our check and our insert; a
                # second pass sees them as duplicates.
                if attempt == 2:
                    raise
                log.info("ingest.retry_after_race", envelopes=len(deliveries))
            except OperationalError as exc:
                # Two transactions that each took more check locks after their first set (a meter
                # registered meanwhile) can wait for each other; PostgreSQL ends one, which tries again.
                if attempt == 2 or getattr(exc.orig, "sqlstate", None) != _DEADLOCK:
                    raise
                log.info("ingest.retry_after_deadlock", envelopes=len(deliveries))
        raise AssertionError("unreachable")

    def _ingest_all(
        self, deliveries: Sequence[tuple[bytes, Gateway]], transport: str, defer_busy: bool
    ) -> tuple[list[IngestResult], dict[GatewayId, int]]:
        """The results, and the highest new sequence number of each gateway (recorded after the commit)."""
        received_at = int(self._clock().timestamp())
        results = [IngestResult() for _ in deliveries]
        with self._engine.begin() as conn:
            taken = list(range(len(deliveries)))
            if defer_busy:
                busy = readings_repo.busy_gateways(conn, {gateway.id for _, gateway in deliveries})
                if busy and any(gateway.id not in busy for _, gateway in deliveries):
                    taken = [index for index in taken if deliveries[index][1].id not in busy]
                    for result, (_, gateway) in zip(results, deliveries, strict=True):
                        result.deferred = gateway.id in busy
            batch = [deliveries[index] for index in taken]
            done, highest = self._ingest_taken(conn, batch, transport, received_at)
        for index, result in zip(taken, done, strict=True):
            results[index] = result
        return results, highest

    def _ingest_taken(
        self, conn: Connection, deliveries: Sequence[tuple[bytes, Gateway]], transport: str, received_at: int
    ) -> tuple[list[IngestResult], dict[GatewayId, int]]:
        """Every envelope of ``deliveries``: those that qualify on arrays, the rest reading by reading."""
        results = [IngestResult() for _ in deliveries]
        highest: dict[GatewayId, int] = {}
        rest = list(range(len(deliveries)))
        split: dict[int, tuple[int, frozenset[str]]] = {}
        if self._batch_checks:
            on_arrays = self._ingest_on_arrays(conn, deliveries, transport, received_at)
            if on_arrays is not None:
                done, highest, split = on_arrays
                for index, result in done.items():
                    results[index] = result
                self.envelopes_on_arrays += len(done) - len(split)
                if not split and len(done) == len(deliveries):
                    self.batches_on_arrays += 1
                    return results, highest
                rest = [index for index in rest if index not in done or index in split]
        others, more = self._ingest_per_reading(
            conn,
            [deliveries[index] for index in rest],
            transport,
            received_at,
            [split.get(index) for index in rest],
        )
        for index, result in zip(rest, others, strict=True):
            if index in split:
                result.stored += results[index].stored
            results[index] = result
        return results, _highest_seqs([*highest.items(), *more.items()])

    def _ingest_per_reading(
        self,
        conn: Connection,
        deliveries: Sequence[tuple[bytes, Gateway]],
        transport: str,
        received_at: int,
        split: Sequence[tuple[int, frozenset[str]] | None],
    ) -> tuple[list[IngestResult], dict[GatewayId, int]]:
        """Check every reading of ``deliveries`` one by one, naming the rule each rejected one breaks;
        store the good ones and quarantine the rest (the reference the array checks are held to).

        ``split[i]`` is None, or ``(batch id, serials)`` of an envelope the array path has already kept as
        that batch, with the readings of every other meter stored: only those serials' readings are
        checked here.
        """
        results = [IngestResult() for _ in deliveries]
        batch = _Batch()
        opened: list[tuple[int, envelope.Envelope, str]] = []
        for index, (payload, gateway) in enumerate(deliveries):
            try:
                env = envelope.decode(payload)
            except envelope.EnvelopeError as exc:
                batch.reject(index, Rejection(Reason.MALFORMED_ENVELOPE, exc.message, payload))
                continue
            if env.gateway != gateway.name:
                message = (
                    f"envelope names gateway {env.gateway!r} but was sent with {gateway.name!r}'s credentials"
                )
                batch.reject(index, Rejection(Reason.GATEWAY_MISMATCH, message, payload))
                continue
            opened.append((index, env, hashlib.sha256(payload).hexdigest()))
        seen = readings_repo.envelope_digests(
            conn, [(deliveries[i][1].id, env.boot, env.seq) for i, env, _ in opened if split[i] is None]
        )
        decoded: list[tuple[int, envelope.Envelope]] = []
        for index, env, digest in opened:
            payload, gateway = deliveries[index]
            key = (gateway.id, env.boot, env.seq)
            part = split[index]
            if part is not None:
                decoded.append((index, env))
                items = [i for i in env.items if isinstance(i, MeterReading) and i.meter in part[1]]
                self._check_items(conn, gateway, index, items, received_at, batch)
                continue
            if key in seen:
                if seen[key] == digest:
                    # The same envelope again (a QoS 1 redelivery, an HTTP retry): a no-op.
                    results[index].duplicates += self._reading_count(conn, gateway, env.items)
                else:
                    batch.reject(index, _replayed(env, payload))
                continue
            seen[key] = digest
            decoded.append((index, env))
            self._check_items(conn, gateway, index, env.items, received_at, batch)
        self._lock_candidates(conn, batch, lambda index: deliveries[index][1])
        self._sort_against_store(conn, batch)
        written: list[tuple[int, list[StoredReading]]] = []
        for index, env in decoded:
            payload, gateway = deliveries[index]
            part = split[index]
            if part is not None:  # kept as a batch already
                rows = batch.new_rows.get(index, [])
                results[index].batch_id, results[index].stored = part[0], len(rows)
                written.append((part[0], rows))
                continue
            written.append(
                self._archive(
                    conn, gateway, transport, received_at, env, payload, batch, index, results[index]
                )
            )
        readings_repo.add_many(conn, written)
        for index, (_, gateway) in enumerate(deliveries):
            self._quarantine(conn, gateway, transport, received_at, results[index], batch.rejections[index])
            results[index].duplicates += batch.duplicates.get(index, 0)
        return results, _highest_seqs((deliveries[index][1].id, env.seq) for index, env in decoded)

    def _ingest_on_arrays(
        self, conn: Connection, deliveries: Sequence[tuple[bytes, Gateway]], transport: str, received_at: int
    ) -> tuple[dict[int, IngestResult], dict[GatewayId, int], dict[int, tuple[int, frozenset[str]]]] | None:
        """Store, checked on arrays (:mod:`tanhui.ingest.columnar`), the readings of the batch's envelopes in
        the usual form, except every reading of a meter that one of them fails a check with (or that an
        envelope not in that form carries). Returns each such envelope's result by index (kept as a batch,
        with what was stored), the highest sequence number of each gateway, and for each envelope with
        meters left over, its batch id and those serials, for the per-reading path. None, having written
        nothing, when nothing qualifies.

        Whole meters are left over, never single readings: every rule judges one meter's readings (its
        registry entry, its registers' neighbours) or one envelope, so the two paths together decide what
        the per-reading path alone would (tests/integration/test_ingest_batch_checks.py).
        """
        readable, others = _opened(deliveries)
        if not readable:
            return None
        keys = {
            index: (gateway.id, columns.boot, columns.seq) for index, (columns, gateway) in readable.items()
        }
        keys.update({index: (deliveries[index][1].id, env.boot, env.seq) for index, env in others.items()})
        if len(set(keys.values())) < len(keys):
            return None
        seen = readings_repo.envelope_digests(conn, keys.values())
        # Envelopes whose readings the rules will judge: not a redelivery (only counted) or a replay
        # (quarantined whole).
        judged = {index for index, key in keys.items() if key not in seen}
        if any(isinstance(item, FrameItem) for i in judged & others.keys() for item in others[i].items):
            return None  # a frame's meter is known only once decoded, on the per-reading path
        good = [index for index in readable if index in judged]
        for _, gateway in readable.values():
            self._load_community(conn, gateway)
        if self._table is None:
            spans = [(i.meter, i.start, i.end) for found in self._meters.values() for i in found]
            self._table = columnar.MeterTable.build(spans, self.rules)
        _lock_judged(conn, self._table, deliveries, readable, others, judged)
        # Meters (community, serial) whose readings go the per-reading way: those of envelopes not in
        # columns, then any with a reading that fails a check on arrays.
        apart: set[tuple[CommunityId, str]] = {
            (deliveries[i][1].community_id, item.meter)
            for i in judged - readable.keys()
            for item in others[i].items
            if isinstance(item, MeterReading)
        }
        if not good:
            return None
        batch = [readable[index] for index in good]
        while True:
            found, failing = columnar.candidates(self._table, batch, received_at, self.rules, apart)
            if failing:
                apart |= failing
                continue
            if found is None:
                return None
            falling = columnar.discontinuous(found, self._stored_near(conn, found))
            if not falling:
                break
            apart |= {(self._by_id[MeterId(m)].community_id, self._by_id[MeterId(m)].serial) for m in falling}
        ids = readings_repo.add_batches(
            conn,
            [
                readings_repo.NewBatch(
                    gateway.id, columns.seq, columns.boot, transport, received_at, deliveries[index][0]
                )
                for index, (columns, gateway) in zip(good, batch, strict=True)
            ],
        )
        batch_ids = np.array(ids, dtype=np.int64)
        stored = np.bincount(found.envelope, minlength=len(batch))
        self.readings_on_arrays += len(found)
        results = {
            index: IngestResult(batch_id=i, stored=int(n))
            for index, i, n in zip(good, ids, stored.tolist(), strict=True)
        }
        split: dict[int, tuple[int, frozenset[str]]] = {}
        for index, batch_id in zip(good, ids, strict=True):
            columns, gateway = readable[index]
            mine = frozenset(k for k in columns.meter_keys if (gateway.community_id, k) in apart)
            if mine:
                split[index] = (batch_id, mine)
        codes = self._codes_assigned(conn, set(found.names))
        code_of = np.array([codes[name] for name in found.names], dtype=np.int64)
        # In key order, so that PostgreSQL's index takes the rows as runs rather than at random places.
        order = np.lexsort((found.time, found.register, found.meter_id))
        readings_repo.add_columns(
            conn,
            found.meter_id[order],
            code_of[found.register[order]],
            found.time[order],
            found.counts[order],
            batch_ids[found.envelope[order]],
        )
        return results, _highest_seqs((gateway.id, columns.seq) for columns, gateway in batch), split

    def _committed_codes(self, conn: Connection, names: set[str]) -> dict[str, int]:
        """The stored code of each of ``names`` that has one.

        On PostgreSQL from a cache of codes read on a connection of their own, so that a code is cached
        only once committed: codes are never renumbered (tanhui.store.schema.register_codes), while one
        assigned by a transaction that then rolls back could be given to another name. Asking every batch
        cost two round trips.
        """
        if conn.dialect.name != "postgresql":
            return readings_repo.known_register_codes(conn, names)
        missing = names - self._codes.keys()
        if missing:
            with self._engine.connect() as own:
                self._codes.update(readings_repo.known_register_codes(own, missing))
        return {name: self._codes[name] for name in names if name in self._codes}

    def _codes_assigned(self, conn: Connection, names: set[str]) -> dict[str, int]:
        """A code for each of ``names``: committed ones from the cache, new ones assigned now."""
        codes = self._committed_codes(conn, names)
        return codes if len(codes) == len(names) else readings_repo.register_code_map(conn, names)

    def _lock_candidates(self, conn: Connection, batch: _Batch, gateway_of: Callable[[int], Gateway]) -> None:
        """:func:`_lock_judged` for the per-reading path: the gateways and unbound meters of the readings
        about to be checked against the store."""
        gateways: set[int] = set()
        unbound: set[tuple[int, str]] = set()
        for (meter_id, _, _), (_, reading, index) in batch.candidates.items():
            gateway = gateway_of(index)
            if self._by_id[meter_id].gateway_id == gateway.id:
                gateways.add(int(gateway.id))
            else:
                unbound.add((int(gateway.community_id), reading.meter))
        readings_repo.lock_for_checks(conn, gateways, unbound)

    def _stored_near(self, conn: Connection, found: columnar.Candidates) -> columnar.Stored:
        """The stored readings the batch's continuity depends on, as :meth:`_sort_against_store` reads
        them: those within the gap window of their register's new readings, and the last one before a
        register with none there."""
        window = self.rules.expected_interval_seconds * self.rules.gap_factor
        # Backwards only a register's predecessor matters: one reporting interval before the batch finds
        # it for a meter on time, and the lookup of lonely registers below finds any other (about half
        # the rows of reading the whole gap window back).
        back = self.rules.expected_interval_seconds
        known = self._committed_codes(conn, set(found.names))
        local = {name: index for index, name in enumerate(found.names)}
        stored = columnar.Stored.empty()
        if known:
            meter, code, t, value = readings_repo.window_columns(
                conn,
                {
                    stored_code: np.unique(found.meter_id[found.register == local[name]]).tolist()
                    for name, stored_code in known.items()
                },
                int(found.time.min()) - back,
                int(found.time.max()) + window,
            )
            to_local = np.full(max(known.values()) + 1, -1, dtype=np.int64)
            for name, stored_code in known.items():
                to_local[stored_code] = local[name]
            stored = columnar.within_reach(found, columnar.Stored(meter, to_local[code], t, value), window)
        earliest = columnar.earliest_new(found)
        lonely = columnar.without_predecessor(earliest, stored)
        if not lonely:
            return stored
        named = {(MeterId(m), found.names[r]): t for (m, r), t in earliest.items()}
        extra = [
            (int(meter_id), local[name], when, counts)
            for (meter_id, name), (when, counts) in _last_before(
                conn, named, [(MeterId(m), found.names[r]) for m, r in lonely]
            ).items()
        ]
        if not extra:
            return stored
        table = np.array(extra, dtype=np.int64)
        return stored + columnar.Stored(table[:, 0], table[:, 1], table[:, 2], table[:, 3])

    def replay_item(self, raw: bytes, *, gateway: Gateway) -> IngestResult:
        """Re-run a quarantined reading or envelope through the checks (after an operator's fix).

        Nothing is quarantined again: the result's ``rejections`` say why it still fails, and the caller
        leaves the quarantine entry open. Accepted readings are stored in a batch of transport
        ``replay`` whose payload is the quarantined bytes.
        """
        received_at = int(self._clock().timestamp())
        result = IngestResult()
        with self._engine.begin() as conn:
            try:
                env = envelope.decode(raw)
                items: Sequence[MeterReading | FrameItem | envelope.ItemError] = env.items
            except envelope.EnvelopeError:
                try:
                    items = [envelope.decode_item(raw)]
                except envelope.EnvelopeError as exc:
                    result.reject(Rejection(Reason.MALFORMED_READING, exc.message, raw))
                    return result
            batch = _Batch()
            self._check_items(conn, gateway, 0, items, received_at, batch)
            self._lock_candidates(conn, batch, lambda _: gateway)
            self._sort_against_store(conn, batch)
            for rejection in batch.rejections[0]:
                result.reject(rejection)
            if result.rejections:
                conn.rollback()
                return result
            replayed = envelope.Envelope(gateway.name, 0, self._clock(), (), boot="replay")
            readings_repo.add_many(
                conn, [self._archive(conn, gateway, "replay", received_at, replayed, raw, batch, 0, result)]
            )
            result.duplicates += batch.duplicates.get(0, 0)
        return result

    def _reading_count(
        self,
        conn: Connection,
        gateway: Gateway,
        items: Sequence[MeterReading | FrameItem | envelope.ItemError],
    ) -> int:
        """How many readings the items carry (a frame may carry several), for counting duplicates."""
        count = 0
        for item in items:
            if isinstance(item, MeterReading):
                count += 1
            elif isinstance(item, FrameItem):
                count += len(self._from_frame(conn, gateway, item)[0])
        return count

    def _check_items(
        self,
        conn: Connection,
        gateway: Gateway,
        index: int,
        items: Sequence[MeterReading | FrameItem | envelope.ItemError],
        received_at: int,
        batch: _Batch,
    ) -> None:
        for item in items:
            if isinstance(item, envelope.ItemError):
                batch.reject(index, Rejection(Reason.MALFORMED_READING, item.error.message, item.raw))
                continue
            if isinstance(item, MeterReading):
                readings = [item]
            else:
                readings, rejection = self._from_frame(conn, gateway, item)
                if rejection is not None:
                    batch.reject(index, rejection)
                    continue
            for reading in readings:
                checked = self._check(conn, gateway, reading, received_at)
                if isinstance(checked, Rejection):
                    batch.reject(index, checked)
                    continue
                key, value = checked
                seen = batch.candidates.get(key)
                if seen is None:
                    batch.candidates[key] = (value, reading, index)
                elif seen[0] != value:
                    batch.reject(index, _conflict(reading, seen[0]))
                else:
                    batch.duplicate(index)

    def _sort_against_store(self, conn: Connection, batch: _Batch) -> None:
        """New, duplicate or conflicting, against the store; then the continuity of the new ones.

        One read of the store serves both: each candidate register around its own new readings, widened by
        the silence that counts as a gap (data/ingest/checks.toml): a neighbour further away than that is
        not checked here (accounting still never pays a fall). The span is the register's own, not the
        batch's, so that the outcome does not depend on what else arrived in the same batch.
        """
        if not batch.candidates:
            return
        window = self.rules.expected_interval_seconds * self.rules.gap_factor
        times = [k[2] for k in batch.candidates]
        # Each register's own span of new readings (columnar.within_reach says why).
        span: dict[tuple[MeterId, str], tuple[int, int]] = {}
        for meter_id, register, t in batch.candidates:
            low, high = span.get((meter_id, register), (t, t))
            span[(meter_id, register)] = (min(low, t), max(high, t))
        neighbours: dict[tuple[MeterId, str], list[tuple[int, int, int]]] = {}
        stored: dict[Key, int] = {}
        for record in readings_repo.in_window(
            conn,
            {k[0] for k in batch.candidates},
            {k[1] for k in batch.candidates},
            min(times) - window,
            max(times) + window,
        ):
            key = (record.meter_id, record.register, record.meter_time)
            stored[key] = record.value
            group = (record.meter_id, record.register)
            if group in span and span[group][0] - window <= record.meter_time <= span[group][1] + window:
                neighbours.setdefault(group, []).append((record.meter_time, record.value, -1))
        for key, (value, reading, index) in batch.candidates.items():
            if key not in stored:
                batch.new_rows.setdefault(index, []).append(StoredReading(key[0], key[1], key[2], value))
            elif stored[key] == value:
                batch.duplicate(index)
            else:
                batch.reject(index, _conflict(reading, stored[key]))
        # A register without a stored neighbour in the window (a gap, or a meter's first readings here)
        # is compared with its last reading before, however old: a reset after a silence is still caught.
        earliest: dict[tuple[MeterId, str], int] = {}
        for meter_id, register, t in batch.candidates:
            group = (meter_id, register)
            earliest[group] = min(t, earliest.get(group, t))
        lonely = [g for g, t in earliest.items() if not any(s[0] < t for s in neighbours.get(g, []))]
        if lonely:
            for group, (t, v) in _last_before(conn, earliest, lonely).items():
                neighbours.setdefault(group, []).append((t, v, -1))
        self._check_continuity(batch, neighbours)

    def _check_continuity(
        self, batch: _Batch, stored: dict[tuple[MeterId, str], list[tuple[int, int, int]]]
    ) -> None:
        """Quarantine new readings that would make a register fall (meter-protocols.md §7).

        Each new reading is placed among its register's stored neighbours (``stored``) and the other new
        ones, in meter-time order; a step down from its predecessor or to its successor that a rollover
        cannot explain (``tanhui.meters.continuity``) rejects it as ``decreasing_register``. Late readings
        are thereby checked on both sides. A register that restarts near zero is the usual sign of a meter
        replaced without telling the platform: the operator records the replacement, then replays.
        """
        new: dict[tuple[MeterId, str], list[tuple[int, int, int]]] = {}  # (time, counts, envelope index)
        for index, rows in batch.new_rows.items():
            for row in rows:
                new.setdefault((row.meter_id, row.register), []).append((row.meter_time, row.value, index))
        if not new:
            return
        rejected: set[tuple[MeterId, str, int]] = set()
        for (meter_id, register), arrivals in new.items():
            meter = self._by_id[meter_id]
            limit = self.rules.max_rollover_counts(meter.capacity)
            series = sorted(stored.get((meter_id, register), []) + arrivals)
            kept: list[tuple[int, int, int]] = []
            for position, (t, value, index) in enumerate(series):
                if index < 0:
                    kept.append((t, value, index))
                    continue
                after = next((p for p in series[position + 1 :] if p[2] < 0), None)
                problem = _fall(kept[-1][1] if kept else None, value, meter.capacity, limit) or _fall(
                    value, after[1] if after else None, meter.capacity, limit
                )
                if problem is None:
                    kept.append((t, value, index))
                    continue
                key = (meter_id, register, t)
                rejected.add(key)
                reading = batch.candidates[key][1]
                batch.reject(
                    index,
                    Rejection(
                        Reason.DECREASING_REGISTER,
                        f"meter {meter.serial} {register} at {reading.time.isoformat()}: {problem}; "
                        "a replaced or reset meter? Register the replacement, then replay",
                        _raw(reading),
                        meter.serial,
                    ),
                )
        if rejected:
            for index in list(batch.new_rows):
                batch.new_rows[index] = [
                    r for r in batch.new_rows[index] if (r.meter_id, r.register, r.meter_time) not in rejected
                ]

    def _archive(
        self,
        conn: Connection,
        gateway: Gateway,
        transport: str,
        received_at: int,
        env: envelope.Envelope,
        payload: bytes,
        batch: _Batch,
        index: int,
        result: IngestResult,
    ) -> tuple[int, list[StoredReading]]:
        """Keep the envelope's raw payload as a batch (every envelope: its (gateway, boot, seq) is then
        known); return its new readings for the caller to write all at once."""
        rows = batch.new_rows.get(index, [])
        result.batch_id = readings_repo.add_batch(
            conn,
            gateway_id=gateway.id,
            seq=env.seq,
            boot=env.boot,
            transport=transport,
            received_at=received_at,
            sha256=hashlib.sha256(payload).hexdigest(),
            payload=payload,
        )
        result.stored = len(rows)
        return result.batch_id, rows

    def _quarantine(
        self,
        conn: Connection,
        gateway: Gateway,
        transport: str,
        received_at: int,
        result: IngestResult,
        rejections: list[Rejection],
    ) -> None:
        quarantine.put(
            conn,
            rejections,
            community_id=gateway.community_id,
            gateway_id=gateway.id,
            transport=transport,
            received_at=received_at,
        )
        for rejection in rejections:
            result.reject(rejection)

    def _from_frame(
        self, conn: Connection, gateway: Gateway, item: FrameItem
    ) -> tuple[list[MeterReading], Rejection | None]:
        raw = envelope.encode_reading(item)
        try:
            readings = readings_from_frame(
                item.protocol, item.frame, read_at=item.time, tz=self._zone(conn, gateway)
            )
        except MeterError as exc:
            if exc.code in CHECKSUM_CODES:
                reason = Reason.BAD_CHECKSUM
            elif exc.code == "abnormal_answer":
                reason = Reason.ABNORMAL_ANSWER
            else:
                reason = Reason.MALFORMED_FRAME
            return [], Rejection(reason, f"{item.protocol}: {exc.diagnostics()}", raw, item.meter)
        if item.meter is not None and any(r.meter != item.meter for r in readings):
            found = ", ".join(sorted({r.meter for r in readings}))
            message = f"the item says meter {item.meter} but the frame is from {found}"
            return [], Rejection(Reason.FRAME_MISMATCH, message, raw, item.meter)
        return readings, None

    def _zone(self, conn: Connection, gateway: Gateway) -> ZoneInfo:
        zone = self._zones.get(gateway.community_id)
        if zone is None:
            zone = ZoneInfo(registry.get_community(conn, gateway.community_id).timezone)
            self._zones[gateway.community_id] = zone
        return zone

    def _installations(self, conn: Connection, gateway: Gateway, serial: str) -> list[_Installation]:
        """The installations of ``serial`` (usually one), oldest first, from a cache of the registry."""
        community_id = gateway.community_id
        key = (community_id, serial)
        found = self._meters.get(key)
        if found is not None:
            return found
        if community_id not in self._loaded:
            self._load_community(conn, gateway)
            return self._meters.get(key, [])
        for known in registry.installations(conn, community_id, serial):  # registered since the load?
            self._remember(conn, gateway, known)
        return self._meters.get(key, [])

    def _load_community(self, conn: Connection, gateway: Gateway) -> None:
        # One query for the whole registry of the community instead of one per meter on a cold cache.
        if gateway.community_id in self._loaded:
            return
        for known in sorted(
            registry.meters_of_community(conn, gateway.community_id), key=lambda m: m.installed_on
        ):
            self._remember(conn, gateway, known)
        self._loaded.add(gateway.community_id)

    def _remember(self, conn: Connection, gateway: Gateway, meter: Meter) -> None:
        zone = self._zone(conn, gateway)
        start = int(datetime.combine(meter.installed_on, time(0), zone).timestamp())
        end = (
            None
            if meter.removed_on is None
            else int(datetime.combine(meter.removed_on, time(0), zone).timestamp())
        )
        self._meters.setdefault((meter.community_id, meter.serial), []).append(
            _Installation(start, end, meter)
        )
        self._by_id[meter.id] = meter
        self._table = None

    def forget_meters(self) -> None:
        """Drop the registry cache (after an operator changes meters)."""
        self._table = None
        self._meters.clear()
        self._loaded.clear()
        self._by_id.clear()

    def _check(
        self, conn: Connection, gateway: Gateway, reading: MeterReading, received_at: int
    ) -> Rejection | tuple[Key, int]:
        installations = self._installations(conn, gateway, reading.meter)
        if not installations:
            return Rejection(
                Reason.UNKNOWN_METER,
                f"meter {reading.meter} is not registered in this community; register it or map it to a "
                "household, then replay",
                _raw(reading),
                reading.meter,
            )
        at = int(reading.time.timestamp())
        covering = next((i for i in installations if i.start <= at and (i.end is None or at < i.end)), None)
        # Outside every installation the latest one still names the rule a reading breaks first (a
        # reset clock says more than "not installed"); only a reading that passes them all is refused
        # for its date.
        meter = (covering or installations[-1]).meter
        context = Context.of(meter, reading, gateway, received_at, self.rules)
        if not passes_all(context):
            violation = first_violation(context)
            if violation is not None:
                return Rejection(violation[0], violation[1], _raw(reading), reading.meter)
        if covering is None:
            spans = ", ".join(f"{i.meter.installed_on}–{i.meter.removed_on or 'now'}" for i in installations)
            return Rejection(
                Reason.METER_NOT_INSTALLED,
                f"meter {reading.meter} was not installed at {reading.time.isoformat()} (installed {spans}); "
                "correct the installation dates, then replay",
                _raw(reading),
                reading.meter,
            )
        return (meter.id, reading.register, context.meter_time), int(context.counts)


def _last_before(
    conn: Connection, earliest: dict[tuple[MeterId, str], int], lonely: Sequence[tuple[MeterId, str]]
) -> dict[tuple[MeterId, str], tuple[int, int]]:
    """The last stored reading ``(time, value)`` before the earliest new one, for the ``lonely`` registers
    (those with no stored neighbour in the gap window) and any other of ``earliest`` the same lookup finds:
    one query, from the earliest of the lonely ones back."""
    found = readings_repo.latest_before(
        conn, {g[0] for g in lonely}, {g[1] for g in lonely}, min(earliest[g] for g in lonely)
    )
    return {group: tv for group, tv in found.items() if group in earliest and tv[0] < earliest[group]}


def _lock_judged(
    conn: Connection,
    table: columnar.MeterTable,
    deliveries: Sequence[tuple[bytes, Gateway]],
    readable: dict[int, tuple[envelope.ReadingColumns, Gateway]],
    others: dict[int, envelope.Envelope],
    judged: set[int],
) -> None:
    """Hold, for the transaction, the gateways of the ``judged`` envelopes and the meters among them that
    are bound to no gateway (:func:`tanhui.store.readings.lock_for_checks`). A serial the registry does not
    know is not held: its readings are quarantined, unless it was registered since the table was built, and
    then the per-reading path holds it."""
    gateways: set[int] = set()
    unbound: set[tuple[int, str]] = set()
    for index in judged:
        gateway = deliveries[index][1]
        gateways.add(int(gateway.id))
        free = table.unbound.get(gateway.community_id)
        if not free:
            continue
        if index in readable:
            serials: Iterable[str] = readable[index][0].meter_keys
        else:
            serials = (item.meter for item in others[index].items if isinstance(item, MeterReading))
        unbound.update((int(gateway.community_id), serial) for serial in free.intersection(serials))
    readings_repo.lock_for_checks(conn, gateways, unbound)


def _opened(
    deliveries: Sequence[tuple[bytes, Gateway]],
) -> tuple[dict[int, tuple[envelope.ReadingColumns, Gateway]], dict[int, envelope.Envelope]]:
    """The envelopes in columns (by index), and the others that decode and name their sender. An envelope
    in neither is quarantined whole by the per-reading path."""
    readable: dict[int, tuple[envelope.ReadingColumns, Gateway]] = {}
    others: dict[int, envelope.Envelope] = {}
    for index, (payload, gateway) in enumerate(deliveries):
        columns = envelope.decode_columns(payload)
        if columns is not None and columns.gateway == gateway.name:
            readable[index] = (columns, gateway)
            continue
        try:
            env = envelope.decode(payload)
        except envelope.EnvelopeError:
            continue
        if env.gateway == gateway.name:
            others[index] = env
    return readable, others


def _highest_seqs(sequence_numbers: Iterable[tuple[GatewayId, int]]) -> dict[GatewayId, int]:
    """The highest sequence number of each gateway among the envelopes stored."""
    highest: dict[GatewayId, int] = {}
    for gateway_id, seq in sequence_numbers:
        highest[gateway_id] = max(seq, highest.get(gateway_id, seq))
    return highest


def _fall(before: int | None, after: int | None, capacity: int, limit: int) -> str | None:
    if before is None or after is None:
        return None
    try:
        step(before, after, capacity=capacity, max_rollover_counts=limit)
    except ContinuityError as exc:
        return exc.message
    return None


def _replayed(env: envelope.Envelope, payload: bytes) -> Rejection:
    boot = f" of boot {env.boot!r}" if env.boot else ""
    return Rejection(
        Reason.REPLAYED_SEQUENCE,
        f"gateway {env.gateway}: sequence number {env.seq}{boot} was already used by another envelope; "
        "a replay, or a gateway that reuses numbers (after a restart it must send a new boot id)",
        payload,
    )


def _conflict(reading: MeterReading, stored_counts: int) -> Rejection:
    return Rejection(
        Reason.CONFLICTING_DUPLICATE,
        f"meter {reading.meter} {reading.register} at {reading.time.isoformat()}: already stored with "
        f"another value ({stored_counts} counts); the new value {reading.value} is kept here",
        _raw(reading),
        reading.meter,
    )


def _raw(reading: MeterReading) -> bytes:
    # The reading as the gateway sent it, re-encoded alone so an operator can fix and replay it.
    return envelope.encode_reading(reading)
