"""Publish a simulated county's envelopes as its gateways would: over HTTP or MQTT."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from tanhui.ingest.mqtt import uplink_topic


def over_http(
    base_url: str,
    batches: Iterable[tuple[str, bytes]],
    tokens: Mapping[str, str],
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """POST every envelope to ``base_url``/api/v1/ingest with its gateway's token; sum the answers."""
    totals = {"stored": 0, "duplicates": 0, "quarantined": 0}
    with httpx.Client(base_url=base_url, timeout=300) as client:
        for index, (gateway, payload) in enumerate(batches, start=1):
            response = client.post(
                "/api/v1/ingest",
                content=payload,
                headers={"Authorization": f"Bearer {tokens[gateway]}", "Content-Type": "application/json"},
            )
            response.raise_for_status()
            body = response.json()
            for key in totals:
                totals[key] += int(body[key])
            if progress is not None:
                progress(index)
    return totals


class PublishError(Exception):
    """The broker refused a gateway's connection or did not confirm a message in time."""


def over_mqtt(
    host: str,
    port: int,
    prefix: str,
    community: str,
    batches: Iterable[tuple[str, bytes]],
    tokens: Mapping[str, str],
    progress: Callable[[int], None] | None = None,
) -> int:
    """Publish every envelope with QoS 1 to its gateway's uplink topic, logged in as that gateway (its
    name and token, as a broker configured by ``tanhui broker-config`` expects); the number published."""
    clients: dict[str, mqtt.Client] = {}
    published = 0
    try:
        for gateway, payload in batches:
            client = clients.get(gateway)
            if client is None:
                client = clients[gateway] = _connect(host, port, gateway, tokens[gateway])
            info = client.publish(uplink_topic(prefix, community, gateway), payload, qos=1)
            info.wait_for_publish(timeout=60)
            if not info.is_published():
                raise PublishError(f"the broker did not acknowledge {gateway}'s envelope within 60 s")
            published += 1
            if progress is not None:
                progress(published)
    finally:
        for client in clients.values():
            client.disconnect()
            client.loop_stop()
    return published


def _connect(host: str, port: int, gateway: str, token: str) -> mqtt.Client:
    answered = threading.Event()
    outcome: list[str] = []

    def on_connect(_c: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object) -> None:
        outcome.append("" if not reason.is_failure else str(reason))
        answered.set()

    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"sim-{gateway}", protocol=mqtt.MQTTv5
    )
    client.username_pw_set(gateway, token)
    client.on_connect = on_connect
    client.connect(host, port)
    client.loop_start()
    if not answered.wait(30) or outcome[0]:
        client.loop_stop()
        why = outcome[0] if outcome else "no answer within 30 s"
        raise PublishError(f"the broker refused gateway {gateway}: {why}")
    return client
