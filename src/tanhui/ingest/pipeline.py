"""The ingest pipeline shared by the HTTP and MQTT transports.

One envelope is one transaction: its raw payload is kept as an ingest batch, its good readings are
stored, and everything else goes to quarantine with its reason, so nothing is lost. The same reading
delivered twice (MQTT QoS 1 redelivery, an HTTP retry) is stored once and counted as a duplicate; the
same key with a different value is a conflict and is quarantined.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import structlog
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from tanhui.domain.ids import CommunityId, MeterId
from tanhui.domain.quantity import canonical_unit
from tanhui.domain.reading import MeterReading
from tanhui.ingest.reasons import Reason
from tanhui.meters import envelope
from tanhui.store import quarantine, registry
from tanhui.store import readings as readings_repo
from tanhui.store.quarantine import Rejection
from tanhui.store.readings import StoredReading
from tanhui.store.registry import Gateway, Meter

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class IngestResult:
    """What became of one envelope."""

    batch_id: int | None = None
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def reject(self, reason: str) -> None:
        self.quarantined += 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1


class Ingestor:
    """Checks and stores envelopes for one installation. Thread-safe: it keeps only a meter cache."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self._engine = engine
        self._clock = clock
        self._meters: dict[tuple[CommunityId, str], Meter] = {}

    def now(self) -> datetime:
        return self._clock()

    def ingest(self, payload: bytes, *, gateway: Gateway, transport: str) -> IngestResult:
        """Ingest one envelope received from an authenticated ``gateway``."""
        for attempt in (1, 2):
            try:
                return self._ingest_once(payload, gateway, transport)
            except IntegrityError:
                # Another worker stored some of these readings between our check and our insert; a
                # second pass sees them as duplicates.
                if attempt == 2:
                    raise
                log.info("ingest.retry_after_race", gateway=gateway.name)
        raise AssertionError("unreachable")

    def _ingest_once(self, payload: bytes, gateway: Gateway, transport: str) -> IngestResult:
        received_at = int(self._clock().timestamp())
        result = IngestResult()
        with self._engine.begin() as conn:

            def quarantine_all(rejections: list[Rejection]) -> None:
                quarantine.put(
                    conn,
                    rejections,
                    community_id=gateway.community_id,
                    gateway_id=gateway.id,
                    transport=transport,
                    received_at=received_at,
                )
                for r in rejections:
                    result.reject(r.reason)

            try:
                env = envelope.decode(payload)
            except envelope.EnvelopeError as exc:
                quarantine_all([Rejection(Reason.MALFORMED_ENVELOPE, exc.message, payload)])
                return result
            if env.gateway != gateway.name:
                message = (
                    f"envelope names gateway {env.gateway!r} but was sent with {gateway.name!r}'s credentials"
                )
                quarantine_all([Rejection(Reason.GATEWAY_MISMATCH, message, payload)])
                return result

            rejections = [Rejection(Reason.MALFORMED_READING, e.error.message, e.raw) for e in env.errors]
            candidates: dict[tuple[MeterId, str, int], tuple[int, MeterReading]] = {}
            for reading in env.readings:
                checked = self._check(conn, gateway, reading)
                if isinstance(checked, Rejection):
                    rejections.append(checked)
                    continue
                key, value = checked
                if key in candidates and candidates[key][0] != value:
                    rejections.append(_conflict(reading, candidates[key][0]))
                elif key in candidates:
                    result.duplicates += 1
                else:
                    candidates[key] = (value, reading)

            stored = readings_repo.existing(conn, candidates.keys())
            new_rows: list[StoredReading] = []
            for key, (value, reading) in candidates.items():
                if key not in stored:
                    new_rows.append(StoredReading(key[0], key[1], key[2], value))
                elif stored[key] == value:
                    result.duplicates += 1
                else:
                    rejections.append(_conflict(reading, stored[key]))

            if new_rows:
                result.batch_id = readings_repo.add_batch(
                    conn,
                    gateway_id=gateway.id,
                    seq=env.seq,
                    transport=transport,
                    received_at=received_at,
                    sha256=hashlib.sha256(payload).hexdigest(),
                    payload=payload,
                )
                readings_repo.add(conn, new_rows, batch_id=result.batch_id, received_at=received_at)
                result.stored = len(new_rows)
            quarantine_all(rejections)
            registry.advance_gateway_seq(conn, gateway.id, env.seq)
        return result

    def _meter(self, conn: Connection, community_id: CommunityId, serial: str) -> Meter | None:
        key = (community_id, serial)
        meter = self._meters.get(key)
        if meter is None:
            meter = registry.meter_by_serial(conn, community_id, serial)
            if meter is not None:
                self._meters[key] = meter
        return meter

    def forget_meters(self) -> None:
        """Drop the meter cache (after an operator changes the registry)."""
        self._meters.clear()

    def _check(
        self, conn: Connection, gateway: Gateway, reading: MeterReading
    ) -> Rejection | tuple[tuple[MeterId, str, int], int]:
        meter = self._meter(conn, gateway.community_id, reading.meter)
        if meter is None:
            return Rejection(
                Reason.UNKNOWN_METER,
                f"meter {reading.meter} is not registered in this community; register it or map it to a "
                "household, then replay",
                _raw(reading),
                reading.meter,
            )
        if meter.gateway_id is not None and meter.gateway_id != gateway.id:
            return Rejection(
                Reason.GATEWAY_NOT_ALLOWED,
                f"meter {reading.meter} is assigned to another gateway, not {gateway.name}",
                _raw(reading),
                reading.meter,
            )
        if canonical_unit(reading.unit) != meter.unit:
            return Rejection(
                Reason.UNIT_MISMATCH,
                f"meter {reading.meter} counts in {meter.unit}, the reading says {reading.unit!r}",
                _raw(reading),
                reading.meter,
            )
        counts = reading.value / meter.resolution
        if counts != counts.to_integral_value():
            return Rejection(
                Reason.RESOLUTION_MISMATCH,
                f"meter {reading.meter}: {reading.value} is not a multiple of its resolution "
                f"{meter.resolution}",
                _raw(reading),
                reading.meter,
            )
        if not Decimal(0) <= counts < meter.capacity:
            return Rejection(
                Reason.REGISTER_OUT_OF_RANGE,
                f"meter {reading.meter}: {reading.value} is outside the register's range "
                f"[0, {meter.capacity * meter.resolution})",
                _raw(reading),
                reading.meter,
            )
        return (meter.id, reading.register, int(reading.time.timestamp())), int(counts)


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
