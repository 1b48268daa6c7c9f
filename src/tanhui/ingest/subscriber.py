"""An MQTT 5 subscriber with a persistent session that acknowledges a message only once it is handled.

What the ingest workers (:mod:`tanhui.ingest.mqtt`) and the weather subscriber
(:mod:`tanhui.ingest.weather_feed`) share:

- a stable client id and a persistent session (``clean_start`` false, a session expiry interval), so
  messages published while the subscriber is down wait in the broker;
- the network thread only queues what arrives; a handler thread (the subclass's :meth:`_work`) takes the
  queue and acknowledges each message after its transaction commits (manual acknowledgement);
- after a lost connection paho reconnects with backoff and the subscriber subscribes again. Messages taken
  on the old connection are never acknowledged on the new one: the broker resends them (same session), and
  an acknowledgement meant for an old packet id must not hit a new message;
- while the database is unreachable the same message is retried with backoff and not acknowledged
  (:meth:`_with_retries`).
"""

from __future__ import annotations

import contextlib
import queue
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

log = structlog.get_logger(__name__)

T = TypeVar("T")

# How long the broker keeps a subscriber's session (and queues its QoS 1 messages) after a disconnect. A
# day covers a worker that is down overnight; past it, the queued messages are discarded.
SESSION_EXPIRY_SECONDS = 24 * 3600


@dataclass(slots=True)
class DeliveryStats:
    """Counts since the subscriber started; read them under ``lock`` for a consistent view."""

    messages: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    acked: int = 0
    # Failed attempts that were retried (mostly: the database was unreachable).
    retries: int = 0
    # Messages that failed for another reason and were left unacknowledged.
    failed: int = 0
    connects: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True, slots=True)
class Delivery:
    mid: int
    qos: int
    topic: str
    payload: bytes
    # Which connection brought it: its packet id means nothing on another connection.
    connection: int


def database_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database is down or restarting, so the same message will succeed later.

    OperationalError covers a refused connection, a server shutting down and SQLite's "database is
    locked"; a dropped connection surfaces as ``connection_invalidated``.
    """
    if isinstance(exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeoutError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def first_line(exc: BaseException) -> str:
    # SQLAlchemy appends the statement and parameters: one line is enough for a retry log entry.
    lines = str(exc).splitlines()
    return lines[0] if lines else type(exc).__name__


class SessionSubscriber:
    """Subscribes to ``topic_filter`` (QoS 1) under a persistent session; subclasses handle the messages.

    ``name`` prefixes the log events and names the handler thread.
    """

    def __init__(
        self,
        *,
        name: str,
        host: str,
        port: int,
        topic_filter: str,
        stats: DeliveryStats,
        client_id: str | None = None,
        username: str | None = None,
        password: str | None = None,
        receive_maximum: int,
        session_expiry: int = SESSION_EXPIRY_SECONDS,
        retry_initial_delay: float = 0.1,
        retry_max_delay: float = 5.0,
        attempts: int = 3,
        reconnect_min_delay: int = 1,
        reconnect_max_delay: int = 30,
    ) -> None:
        self._name = name
        self._host, self._port = host, port
        self._filter = topic_filter
        self._receive_maximum = receive_maximum
        self._session_expiry = session_expiry
        self._retry_initial, self._retry_max = retry_initial_delay, retry_max_delay
        self._attempts = attempts
        self.stats = stats
        self.subscribed = threading.Event()
        self._stopping = threading.Event()
        self._inbox: queue.SimpleQueue[Delivery] = queue.SimpleQueue()
        # Guards the connection number against an acknowledgement racing a reconnect.
        self._ack_lock = threading.Lock()
        self._connection = 0
        self._thread: threading.Thread | None = None
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id or f"tanhui-{name}-{uuid.uuid4().hex[:8]}",
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
        """The filter the subscriber subscribes to."""
        return self._filter

    def start(self) -> None:
        """Connect in the background (retrying until the broker is up) and start handling messages."""
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho leaves it untyped
        properties.SessionExpiryInterval = self._session_expiry
        properties.ReceiveMaximum = self._receive_maximum
        self._thread = threading.Thread(target=self._work, name=f"tanhui-{self._name}", daemon=True)
        self._thread.start()
        # connect_async: the first connection is retried like any later one, so a subscriber may start
        # before its broker. clean_start=False on every connection resumes the session.
        self._client.connect_async(self._host, self._port, clean_start=False, properties=properties)
        self._client.loop_start()

    def stop(self, timeout: float = 30) -> None:
        """Finish the message in hand, then disconnect; unacknowledged messages stay in the session."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._client.disconnect()
        self._client.loop_stop()

    # --- network thread -------------------------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _userdata: Any, flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            # Bad credentials or a refused client id: paho keeps retrying with backoff, and this says why.
            log.error(f"{self._name}.connect_refused", reason=str(reason), host=self._host, port=self._port)
            return
        with self._ack_lock:
            self._connection += 1
        with self.stats.lock:
            self.stats.connects += 1
        log.info(f"{self._name}.connected", session_present=bool(flags.session_present), filter=self._filter)
        # Subscribing again is harmless when the broker kept the session, and needed when it did not
        # (a broker restarted without persistence, or an expired session).
        client.subscribe(self._filter, qos=1)

    def _on_connect_fail(self, _client: mqtt.Client, _userdata: Any) -> None:
        log.warning(f"{self._name}.connect_failed", host=self._host, port=self._port)

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
            log.warning(f"{self._name}.disconnected", reason=str(reason), dropped_for_redelivery=dropped)

    def _on_subscribe(self, _client: mqtt.Client, _userdata: Any, _mid: int, codes: Any, _p: Any) -> None:
        if any(code.is_failure for code in codes):
            log.error(f"{self._name}.subscribe_refused", filter=self._filter, reasons=[str(c) for c in codes])
            return
        self.subscribed.set()

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        # Only queue: handling here would stall the network loop (keepalives, acks) for a whole batch.
        self._inbox.put(
            Delivery(message.mid, message.qos, message.topic, bytes(message.payload), self._connection)
        )

    # --- handler thread -------------------------------------------------------------------------------

    def _work(self) -> None:
        raise NotImplementedError

    def _take(self, most: int, most_bytes: int | None = None, *, wait: bool = True) -> list[Delivery]:
        """Up to ``most`` queued messages, waiting a little for the first (unless not ``wait``); [] when
        none came. With ``most_bytes``, no more once their payloads reach that size (the first is always
        taken)."""
        try:
            batch = [self._inbox.get(timeout=0.2) if wait else self._inbox.get_nowait()]
        except queue.Empty:
            return []
        size = len(batch[0].payload)
        with contextlib.suppress(queue.Empty):
            while len(batch) < most and (most_bytes is None or size < most_bytes):
                batch.append(self._inbox.get_nowait())
                size += len(batch[-1].payload)
        return batch

    def _current(self, delivery: Delivery) -> bool:
        """Whether ``delivery`` came on the live connection (else the broker resends it anyway)."""
        return delivery.connection == self._connection

    def _ack(self, delivery: Delivery) -> None:
        with self._ack_lock:
            if delivery.connection != self._connection:
                return
            self._client.ack(delivery.mid, delivery.qos)
        with self.stats.lock:
            self.stats.acked += 1

    def _with_retries(self, delivery: Delivery, action: Callable[[], T]) -> T | None:
        """``action()``'s result, retried with backoff while the database is unreachable; None when the
        subscriber stops, the connection that brought ``delivery`` is lost, or ``action`` keeps failing
        for another reason (a bug: left unacknowledged, the message comes back after the next reconnect,
        e.g. once a fix is deployed)."""
        delay = self._retry_initial
        other_failures = 0
        while not self._stopping.is_set() and self._current(delivery):
            try:
                return action()
            except Exception as exc:
                if not database_unreachable(exc):
                    # A race with another worker on the same rows passes on a later attempt.
                    other_failures += 1
                    if other_failures >= self._attempts:
                        log.exception(f"{self._name}.handle_failed", topic=delivery.topic)
                        with self.stats.lock:
                            self.stats.failed += 1
                        return None
                with self.stats.lock:
                    self.stats.retries += 1
                log.warning(f"{self._name}.retry", retry_in=delay, error=first_line(exc))
                if self._stopping.wait(delay):
                    return None
                delay = min(delay * 2, self._retry_max)
        return None
