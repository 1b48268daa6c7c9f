"""MQTT transport: an ingest worker subscribed to every gateway's uplink topic.

Topic per gateway: ``<prefix>/<community>/gw/<gateway>/up``, QoS 1. The broker authenticates gateways
and its ACL lets each publish only to its own topic (docs/gateways.md); the worker therefore takes the
gateway's identity from the topic. Messages are acknowledged only after their envelope is committed, so
a worker that dies mid-envelope gets it redelivered, and the idempotent pipeline stores it once.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import Engine

from tanhui.ingest.pipeline import Ingestor
from tanhui.ingest.reasons import Reason
from tanhui.store import quarantine, registry
from tanhui.store.quarantine import Rejection

log = structlog.get_logger(__name__)

# How long the broker keeps a worker's session (and queues its QoS 1 messages) after a disconnect.
SESSION_EXPIRY_SECONDS = 3600


def uplink_topic(prefix: str, community: str, gateway: str) -> str:
    return f"{prefix}/{community}/gw/{gateway}/up"


def _gateway_of(topic: str, prefix: str) -> str | None:
    parts = topic.split("/")
    head = prefix.split("/")
    if len(parts) != len(head) + 4 or parts[: len(head)] != head or parts[-3] != "gw" or parts[-1] != "up":
        return None
    return parts[-2]


@dataclass(slots=True)
class WorkerStats:
    messages: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class MqttIngestWorker:
    """Subscribes to ``<prefix>/+/gw/+/up`` and ingests every envelope it receives."""

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
    ) -> None:
        self._engine = engine
        self._ingestor = ingestor
        self._prefix = prefix
        self._host, self._port = host, port
        self.stats = WorkerStats()
        self.subscribed = threading.Event()
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id or f"tanhui-ingest-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if username is not None:
            self._client.username_pw_set(username, password)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe

    def start(self) -> None:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho leaves it untyped
        properties.SessionExpiryInterval = SESSION_EXPIRY_SECONDS
        self._client.connect(self._host, self._port, clean_start=False, properties=properties)
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            log.error("mqtt.connect_failed", reason=str(reason))
            return
        client.subscribe(f"{self._prefix}/+/gw/+/up", qos=1)

    def _on_subscribe(self, _client: mqtt.Client, _userdata: Any, _mid: int, _codes: Any, _p: Any) -> None:
        self.subscribed.set()

    def _on_message(self, client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            self._handle(message.topic, bytes(message.payload))
        except Exception:
            # Not acknowledged: the broker redelivers it to this or another worker.
            log.exception("mqtt.ingest_failed", topic=message.topic)
            return
        client.ack(message.mid, message.qos)

    def _handle(self, topic: str, payload: bytes) -> None:
        name = _gateway_of(topic, self._prefix)
        with self._engine.connect() as conn:
            gateway = registry.gateway_by_name(conn, name) if name else None
        if gateway is None:
            with self._engine.begin() as conn:
                quarantine.put(
                    conn,
                    [
                        Rejection(
                            Reason.UNKNOWN_GATEWAY, f"no registered gateway uses topic {topic!r}", payload
                        )
                    ],
                    community_id=None,
                    gateway_id=None,
                    transport="mqtt",
                    received_at=int(self._ingestor.now().timestamp()),
                )
            with self.stats.lock:
                self.stats.messages += 1
                self.stats.quarantined += 1
            return
        result = self._ingestor.ingest(payload, gateway=gateway, transport="mqtt")
        with self.stats.lock:
            self.stats.messages += 1
            self.stats.stored += result.stored
            self.stats.duplicates += result.duplicates
            self.stats.quarantined += result.quarantined
