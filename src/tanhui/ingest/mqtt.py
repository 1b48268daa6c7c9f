"""MQTT transport: ingest workers sharing one MQTT 5 subscription to every gateway's uplink topic.

Topic per gateway: ``<prefix>/<community>/gw/<gateway>/up``, QoS 1. The broker authenticates gateways
and its ACL lets each publish only to its own topic (:mod:`tanhui.ingest.broker`); the worker therefore
takes the gateway's identity from the topic.

At least once, end to end (shared/reference/meter-protocols.md §8.2-8.3):

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

import contextlib
import queue
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from tanhui.ingest.broker import DEFAULT_SHARE_GROUP, shared_uplink_filter, uplink_filter, uplink_topic
from tanhui.ingest.pipeline import Ingestor
from tanhui.ingest.reasons import Reason
from tanhui.store import quarantine, registry
from tanhui.store.quarantine import Rejection
from tanhui.store.registry import Gateway

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_RECEIVE_MAXIMUM",
    "SESSION_EXPIRY_SECONDS",
    "MqttIngestWorker",
    "WorkerStats",
    "uplink_topic",
]

log = structlog.get_logger(__name__)

# How long the broker keeps a worker's session (and queues its QoS 1 messages) after a disconnect. A
# day covers a worker that is down overnight; past it, the worker's queued share is discarded.
SESSION_EXPIRY_SECONDS = 24 * 3600
# Unacknowledged messages the broker may have in flight to one worker (MQTT 5 Receive Maximum, §3.1.2.11.3).
DEFAULT_RECEIVE_MAXIMUM = 1000
DEFAULT_BATCH_SIZE = 200
# A registered gateway's name, id and community do not change, and ingest reads nothing else of it (its
# last_seq in the cached copy goes stale, harmlessly); the cache saves a query per message.
_GATEWAY_CACHE_SECONDS = 60.0
# Attempts at a message that fails for another reason than an unreachable database.
_OTHER_FAILURE_ATTEMPTS = 3


@dataclass(slots=True)
class WorkerStats:
    """Counts since the worker started; read them under ``lock`` for a consistent view."""

    messages: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    acked: int = 0
    batches: int = 0
    # Failed attempts that were retried (mostly: the database was unreachable).
    retries: int = 0
    # Messages that failed for another reason and were left unacknowledged.
    failed: int = 0
    connects: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True, slots=True)
class _Delivery:
    mid: int
    qos: int
    topic: str
    payload: bytes
    # Which connection brought it: its packet id means nothing on another connection.
    connection: int


def _gateway_of(topic: str, prefix: str) -> str | None:
    parts = topic.split("/")
    head = prefix.split("/")
    if len(parts) != len(head) + 4 or parts[: len(head)] != head or parts[-3] != "gw" or parts[-1] != "up":
        return None
    return parts[-2]


def _first_line(exc: BaseException) -> str:
    # SQLAlchemy appends the statement and parameters: one line is enough for a retry log entry.
    lines = str(exc).splitlines()
    return lines[0] if lines else type(exc).__name__


def _database_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database is down or restarting, so the same message will succeed later.

    OperationalError covers a refused connection, a server shutting down and SQLite's "database is
    locked"; a dropped connection surfaces as ``connection_invalidated``.
    """
    if isinstance(exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeoutError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


class MqttIngestWorker:
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
        receive_maximum: int = DEFAULT_RECEIVE_MAXIMUM,
        session_expiry: int = SESSION_EXPIRY_SECONDS,
        retry_initial_delay: float = 0.1,
        retry_max_delay: float = 5.0,
        reconnect_min_delay: int = 1,
        reconnect_max_delay: int = 30,
    ) -> None:
        if batch_size < 1 or not 0 < receive_maximum < 65536:
            raise ValueError(
                f"batch_size must be at least 1 and receive_maximum in 1..65535, got {batch_size} and "
                f"{receive_maximum}"
            )
        self._engine = engine
        self._ingestor = ingestor
        self._prefix = prefix
        self._host, self._port = host, port
        self._filter = uplink_filter(prefix) if group is None else shared_uplink_filter(prefix, group)
        self._batch_size = batch_size
        self._receive_maximum = receive_maximum
        self._session_expiry = session_expiry
        self._retry_initial, self._retry_max = retry_initial_delay, retry_max_delay
        self.stats = WorkerStats()
        self.subscribed = threading.Event()
        self._stopping = threading.Event()
        self._inbox: queue.SimpleQueue[_Delivery] = queue.SimpleQueue()
        # Guards the connection number against an acknowledgement racing a reconnect.
        self._ack_lock = threading.Lock()
        self._connection = 0
        self._gateways: dict[str, tuple[float, Gateway]] = {}
        self._thread: threading.Thread | None = None
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id or f"tanhui-ingest-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if username is not None:
            self._client.username_pw_set(username, password)
        self._client.reconnect_delay_set(reconnect_min_delay, reconnect_max_delay)
        self._client.on_connect = self._on_connect
        self._client.on_connect_fail = self._on_connect_fail
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe

    @property
    def topic_filter(self) -> str:
        """The filter the worker subscribes to."""
        return self._filter

    def start(self) -> None:
        """Connect in the background (retrying until the broker is up) and start ingesting."""
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho leaves it untyped
        properties.SessionExpiryInterval = self._session_expiry
        properties.ReceiveMaximum = self._receive_maximum
        self._thread = threading.Thread(target=self._run, name="tanhui-mqtt-ingest", daemon=True)
        self._thread.start()
        # connect_async: the first connection is retried like any later one, so a worker may start
        # before its broker. clean_start=False on every connection resumes the session.
        self._client.connect_async(self._host, self._port, clean_start=False, properties=properties)
        self._client.loop_start()

    def stop(self, timeout: float = 30) -> None:
        """Finish the envelope in hand, then disconnect; unacknowledged messages stay in the session."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._client.disconnect()
        self._client.loop_stop()

    # --- network thread -------------------------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _userdata: Any, flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            # Bad credentials or a refused client id: paho keeps retrying with backoff, and this says why.
            log.error("mqtt.connect_refused", reason=str(reason), host=self._host, port=self._port)
            return
        with self._ack_lock:
            self._connection += 1
        with self.stats.lock:
            self.stats.connects += 1
        log.info("mqtt.connected", session_present=bool(flags.session_present), filter=self._filter)
        # Subscribing again is harmless when the broker kept the session, and needed when it did not
        # (a broker restarted without persistence, or an expired session).
        client.subscribe(self._filter, qos=1)

    def _on_connect_fail(self, _client: mqtt.Client, _userdata: Any) -> None:
        log.warning("mqtt.connect_failed", host=self._host, port=self._port)

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _p: Any) -> None:
        with self._ack_lock:
            self._connection += 1
        self.subscribed.clear()
        # What is still queued came on the lost connection; the broker resends it on the next one.
        dropped = 0
        with contextlib.suppress(queue.Empty):
            while True:
                self._inbox.get_nowait()
                dropped += 1
        if not self._stopping.is_set():
            log.warning("mqtt.disconnected", reason=str(reason), dropped_for_redelivery=dropped)

    def _on_subscribe(self, _client: mqtt.Client, _userdata: Any, _mid: int, codes: Any, _p: Any) -> None:
        if any(code.is_failure for code in codes):
            log.error("mqtt.subscribe_refused", filter=self._filter, reasons=[str(c) for c in codes])
            return
        self.subscribed.set()

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        # Only queue: ingesting here would stall the network loop (keepalives, acks) for a whole batch.
        self._inbox.put(
            _Delivery(message.mid, message.qos, message.topic, bytes(message.payload), self._connection)
        )

    # --- ingest thread --------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            batch = self._take_batch()
            if batch:
                try:
                    self._process(batch)
                except Exception:  # a bug here must not end the thread: the worker would ingest nothing
                    log.exception("mqtt.batch_failed", size=len(batch))

    def _take_batch(self) -> list[_Delivery]:
        try:
            batch = [self._inbox.get(timeout=0.2)]
        except queue.Empty:
            return []
        with contextlib.suppress(queue.Empty):
            while len(batch) < self._batch_size:
                batch.append(self._inbox.get_nowait())
        return batch

    def _process(self, batch: Sequence[_Delivery]) -> None:
        # The whole batch is one transaction (Ingestor.ingest_many) and is acknowledged after its commit.
        # If it fails for another reason than an unreachable database, each envelope is retried on its
        # own, so one bad envelope cannot hold back the others.
        with self.stats.lock:
            self.stats.batches += 1
        current = [d for d in batch if d.connection == self._connection]  # the rest is resent anyway
        if not current:
            return
        delay = self._retry_initial
        while True:
            if self._stopping.is_set() or current[0].connection != self._connection:
                return
            try:
                self._handle_many(current)
            except Exception as exc:
                if not _database_unreachable(exc):
                    log.warning(
                        "mqtt.batch_failed_retrying_each", envelopes=len(current), error=_first_line(exc)
                    )
                    for delivery in current:
                        if self._stopping.is_set():
                            return
                        if self._ingest_retrying(delivery):
                            self._ack(delivery)
                    return
                with self.stats.lock:
                    self.stats.retries += 1
                log.warning("mqtt.ingest_retry", retry_in=delay, error=_first_line(exc))
                if self._stopping.wait(delay):
                    return
                delay = min(delay * 2, self._retry_max)
            else:
                for delivery in current:
                    self._ack(delivery)
                return

    def _handle_many(self, batch: Sequence[_Delivery]) -> None:
        known: list[tuple[bytes, Gateway]] = []
        unknown: list[_Delivery] = []
        for delivery in batch:
            name = _gateway_of(delivery.topic, self._prefix)
            gateway = self._gateway(name) if name else None
            if gateway is None:
                unknown.append(delivery)
            else:
                known.append((delivery.payload, gateway))
        if unknown:
            self._quarantine_unknown(unknown)
        results = self._ingestor.ingest_many(known, transport="mqtt") if known else []
        with self.stats.lock:
            self.stats.messages += len(batch)
            self.stats.quarantined += len(unknown)
            for result in results:
                self.stats.stored += result.stored
                self.stats.duplicates += result.duplicates
                self.stats.quarantined += result.quarantined

    def _quarantine_unknown(self, deliveries: Sequence[_Delivery]) -> None:
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

    def _ingest_retrying(self, delivery: _Delivery) -> bool:
        delay = self._retry_initial
        other_failures = 0
        while True:
            try:
                self._handle_many([delivery])
            except Exception as exc:
                if not _database_unreachable(exc):
                    other_failures += 1
                    # A race with another worker on the same readings passes on a later attempt; anything
                    # still failing is a bug that retrying cannot fix. Left unacknowledged, the message is
                    # resent after the next reconnect (for example once a fix is deployed).
                    if other_failures >= _OTHER_FAILURE_ATTEMPTS:
                        log.exception("mqtt.ingest_failed", topic=delivery.topic)
                        with self.stats.lock:
                            self.stats.failed += 1
                        return False
                with self.stats.lock:
                    self.stats.retries += 1
                log.warning("mqtt.ingest_retry", retry_in=delay, error=_first_line(exc))
                if self._stopping.wait(delay) or delivery.connection != self._connection:
                    return False
                delay = min(delay * 2, self._retry_max)
            else:
                return True

    def _ack(self, delivery: _Delivery) -> None:
        with self._ack_lock:
            if delivery.connection != self._connection:
                return
            self._client.ack(delivery.mid, delivery.qos)
        with self.stats.lock:
            self.stats.acked += 1

    def _gateway(self, name: str) -> Gateway | None:
        now = time.monotonic()
        cached = self._gateways.get(name)
        if cached is not None and now - cached[0] < _GATEWAY_CACHE_SECONDS:
            return cached[1]
        with self._engine.connect() as conn:
            gateway = registry.gateway_by_name(conn, name)
        if gateway is not None:  # unknown names are not cached, so a gateway registered now works at once
            self._gateways[name] = (now, gateway)
        return gateway
