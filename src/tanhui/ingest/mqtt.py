"""MQTT transport: ingest workers sharing one MQTT 5 subscription to every gateway's uplink topic.

Topic per gateway: ``<prefix>/<community>/gw/<gateway>/up``, QoS 1. The broker authenticates gateways
and its ACL lets each publish only to its own topic (:mod:`tanhui.ingest.broker`); the worker therefore
takes the gateway's identity from the topic.

At least once, end to end (shared/reference/meter-protocols.md §8.2-8.3; the session and acknowledgement
discipline is :class:`tanhui.ingest.subscriber.SessionSubscriber`'s):

- Workers join the shared subscription ``$share/<group>/<prefix>/+/gw/+/up``; the broker hands each
  message to one member of the group.
- Each worker keeps a persistent session (``clean_start`` false, a session expiry interval) under a
  **stable client id**. Mosquitto 2.0 keeps assigning shared-subscription messages to a member whose
  connection is gone, and queues them in its session; they reach a worker only when one with the same
  client id comes back. A worker replaced under a new id leaves its queue to expire.
- The network thread only queues what arrives. One ingest thread drains the queue in batches and
  acknowledges each message after its envelope is committed. A worker killed mid-batch leaves the rest
  unacknowledged in its session and gets them again on its return; the idempotent pipeline stores each
  reading once.
- While the database is unreachable the ingest thread retries the same message with backoff, without
  acknowledging anything: paho does not redeliver an unacknowledged message within a live connection, so
  giving up would strand it until the next reconnect. The broker sends at most Receive Maximum
  unacknowledged messages and queues the rest.
- After a lost connection paho reconnects with backoff and the worker subscribes again. Messages taken
  on the old connection are never acknowledged on the new one: the broker resends them (same session),
  and an acknowledgement meant for an old packet id must not hit a new message.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import structlog
from sqlalchemy import Engine

from tanhui.ingest.broker import DEFAULT_SHARE_GROUP, shared_uplink_filter, uplink_filter, uplink_topic
from tanhui.ingest.pipeline import Ingestor
from tanhui.ingest.reasons import Reason
from tanhui.ingest.subscriber import (
    SESSION_EXPIRY_SECONDS,
    Delivery,
    DeliveryStats,
    SessionSubscriber,
    database_unreachable,
    first_line,
)
from tanhui.store import quarantine, registry
from tanhui.store.quarantine import Rejection
from tanhui.store.registry import Gateway

__all__ = [
    "DEFAULT_BATCH_BYTES",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_RECEIVE_MAXIMUM",
    "SESSION_EXPIRY_SECONDS",
    "MqttIngestWorker",
    "WorkerStats",
    "uplink_topic",
]

log = structlog.get_logger(__name__)

# Unacknowledged messages the broker may have in flight to one worker (MQTT 5 Receive Maximum, §3.1.2.11.3).
DEFAULT_RECEIVE_MAXIMUM = 1000
DEFAULT_BATCH_SIZE = 200
# Payload bytes taken into one transaction (about 18,000 readings of JSON). Large transactions leave a
# core idle: while one worker's COPY and commit run, the other has nothing left to decode, and the last
# batches finish one worker after the other. Measured on the MQTT benchmark (2 workers, 92 kB envelopes):
# 200 envelopes a batch 259k readings/s, 50: 308k, 20: 348-371k, 10: 310k, 5: 274k (docs/gateways.md).
DEFAULT_BATCH_BYTES = 2 * 1024 * 1024
# A registered gateway's name, id and community do not change, and ingest reads nothing else of it (its
# last_seq in the cached copy goes stale, harmlessly); the cache saves a query per message.
_GATEWAY_CACHE_SECONDS = 60.0
# Attempts at a message that fails for another reason than an unreachable database.
_OTHER_FAILURE_ATTEMPTS = 3


@dataclass(slots=True)
class WorkerStats(DeliveryStats):
    """Counts since the worker started; read them under ``lock`` for a consistent view."""

    batches: int = 0
    # Envelopes left for the worker's next batch because another worker was checking their gateway.
    deferred: int = 0


def _gateway_of(topic: str, prefix: str) -> str | None:
    parts = topic.split("/")
    head = prefix.split("/")
    if len(parts) != len(head) + 4 or parts[: len(head)] != head or parts[-3] != "gw" or parts[-1] != "up":
        return None
    return parts[-2]


class MqttIngestWorker(SessionSubscriber):
    """Ingests every envelope its share of ``$share/<group>/<prefix>/+/gw/+/up`` brings.

    ``client_id`` names the worker's persistent session and must be stable across restarts and unique
    among running workers (see the module docstring); the random default suits tests only. With
    ``group=None`` the worker subscribes to the plain filter and receives every message.
    """

    def __init__(
        self,
        engine: Engine,
        ingestor: Ingestor,
        *,
        host: str,
        port: int,
        prefix: str,
        client_id: str | None = None,
        username: str | None = None,
        password: str | None = None,
        group: str | None = DEFAULT_SHARE_GROUP,
        batch_size: int = DEFAULT_BATCH_SIZE,
        batch_bytes: int = DEFAULT_BATCH_BYTES,
        receive_maximum: int = DEFAULT_RECEIVE_MAXIMUM,
        session_expiry: int = SESSION_EXPIRY_SECONDS,
        retry_initial_delay: float = 0.1,
        retry_max_delay: float = 5.0,
        reconnect_min_delay: int = 1,
        reconnect_max_delay: int = 30,
    ) -> None:
        if batch_size < 1 or batch_bytes < 1 or not 0 < receive_maximum < 65536:
            raise ValueError(
                f"batch_size and batch_bytes must be at least 1 and receive_maximum in 1..65535, got "
                f"{batch_size}, {batch_bytes} and {receive_maximum}"
            )
        self.stats: WorkerStats
        super().__init__(
            name="mqtt",
            host=host,
            port=port,
            topic_filter=uplink_filter(prefix) if group is None else shared_uplink_filter(prefix, group),
            stats=WorkerStats(),
            client_id=client_id or f"tanhui-ingest-{uuid.uuid4().hex[:8]}",
            username=username,
            password=password,
            receive_maximum=receive_maximum,
            session_expiry=session_expiry,
            retry_initial_delay=retry_initial_delay,
            retry_max_delay=retry_max_delay,
            attempts=_OTHER_FAILURE_ATTEMPTS,
            reconnect_min_delay=reconnect_min_delay,
            reconnect_max_delay=reconnect_max_delay,
        )
        self._engine = engine
        self._ingestor = ingestor
        self._prefix = prefix
        self._batch_size = batch_size
        self._batch_bytes = batch_bytes
        self._gateways: dict[str, tuple[float, Gateway]] = {}
        self._carried: list[Delivery] = []

    # --- ingest thread --------------------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stopping.is_set():
            # Envelopes another worker's gateways held back last time come first (docs/decisions/0016).
            carried, self._carried = self._carried, []
            taken = self._take(self._batch_size - len(carried), self._batch_bytes, wait=not carried)
            batch = carried + taken
            if batch:
                try:
                    self._process(batch)
                except Exception:  # a bug here must not end the thread: the worker would ingest nothing
                    log.exception("mqtt.batch_failed", size=len(batch))

    def _process(self, batch: Sequence[Delivery]) -> None:
        # The whole batch is one transaction (Ingestor.ingest_many) and is acknowledged after its commit.
        # If it fails for another reason than an unreachable database, each envelope is retried on its
        # own, so one bad envelope cannot hold back the others.
        with self.stats.lock:
            self.stats.batches += 1
        current = [d for d in batch if self._current(d)]  # the rest is resent anyway
        if not current:
            return
        delay = self._retry_initial
        while True:
            if self._stopping.is_set() or not self._current(current[0]):
                return
            try:
                deferred = self._handle_many(current, defer_busy=True)
            except Exception as exc:
                if not database_unreachable(exc):
                    log.warning(
                        "mqtt.batch_failed_retrying_each", envelopes=len(current), error=first_line(exc)
                    )
                    for delivery in current:
                        if self._stopping.is_set():
                            return
                        if self._with_retries(delivery, partial(self._handle_one, delivery)):
                            self._ack(delivery)
                    return
                with self.stats.lock:
                    self.stats.retries += 1
                log.warning("mqtt.ingest_retry", retry_in=delay, error=first_line(exc))
                if self._stopping.wait(delay):
                    return
                delay = min(delay * 2, self._retry_max)
            else:
                self._settle(current, deferred)
                return

    def _settle(self, handled: Sequence[Delivery], deferred: Sequence[Delivery]) -> None:
        """Acknowledge what the batch's transaction committed; keep the deferred for the next batch."""
        later = {id(delivery) for delivery in deferred}
        for delivery in handled:
            if id(delivery) in later:
                self._carried.append(delivery)
            else:
                self._ack(delivery)

    def _handle_one(self, delivery: Delivery) -> bool:
        """Ingest one envelope on its own (waiting for its gateway if another worker holds it)."""
        self._handle_many([delivery])
        return True

    def _handle_many(self, batch: Sequence[Delivery], *, defer_busy: bool = False) -> list[Delivery]:
        """Ingest ``batch`` in one transaction; the deliveries left for a later one (``defer_busy``: their
        gateways were busy in another worker's transaction)."""
        known: list[tuple[bytes, Gateway]] = []
        known_deliveries: list[Delivery] = []
        unknown: list[Delivery] = []
        names = [_gateway_of(delivery.topic, self._prefix) for delivery in batch]
        found = self._gateways_named({name for name in names if name})
        for delivery, name in zip(batch, names, strict=True):
            gateway = found.get(name) if name else None
            if gateway is None:
                unknown.append(delivery)
            else:
                known.append((delivery.payload, gateway))
                known_deliveries.append(delivery)
        if unknown:
            self._quarantine_unknown(unknown)
        results = self._ingestor.ingest_many(known, transport="mqtt", defer_busy=defer_busy) if known else []
        deferred = [d for d, result in zip(known_deliveries, results, strict=True) if result.deferred]
        with self.stats.lock:
            self.stats.messages += len(batch) - len(deferred)
            self.stats.quarantined += len(unknown)
            self.stats.deferred += len(deferred)
            for result in results:
                self.stats.stored += result.stored
                self.stats.duplicates += result.duplicates
                self.stats.quarantined += result.quarantined
        return deferred

    def _quarantine_unknown(self, deliveries: Sequence[Delivery]) -> None:
        with self._engine.begin() as conn:
            quarantine.put(
                conn,
                [
                    Rejection(
                        Reason.UNKNOWN_GATEWAY, f"no registered gateway uses topic {d.topic!r}", d.payload
                    )
                    for d in deliveries
                ],
                community_id=None,
                gateway_id=None,
                transport="mqtt",
                received_at=int(self._ingestor.now().timestamp()),
            )

    def _gateways_named(self, names: set[str]) -> dict[str, Gateway]:
        """The registered gateways among ``names``: from the cache, the rest (or stale) in one query.

        Unknown names are not cached, so a gateway registered now works at once."""
        now = time.monotonic()
        found: dict[str, Gateway] = {}
        missing: list[str] = []
        for name in names:
            cached = self._gateways.get(name)
            if cached is not None and now - cached[0] < _GATEWAY_CACHE_SECONDS:
                found[name] = cached[1]
            else:
                missing.append(name)
        if missing:
            with self._engine.connect() as conn:
                fresh = registry.gateways_by_name(conn, missing)
            for name, gateway in fresh.items():
                self._gateways[name] = (now, gateway)
            found.update(fresh)
        return found
