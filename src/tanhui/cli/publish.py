"""Publish a simulated county's envelopes as its gateways would: over HTTP or MQTT."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

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


def over_mqtt(
    host: str,
    port: int,
    prefix: str,
    community: str,
    batches: Iterable[tuple[str, bytes]],
    progress: Callable[[int], None] | None = None,
) -> int:
    """Publish every envelope with QoS 1 to its gateway's uplink topic; the number published."""
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect(host, port)
    client.loop_start()
    published = 0
    try:
        for gateway, payload in batches:
            client.publish(uplink_topic(prefix, community, gateway), payload, qos=1).wait_for_publish(
                timeout=60
            )
            published += 1
            if progress is not None:
                progress(published)
    finally:
        client.disconnect()
        client.loop_stop()
    return published
