"""Ingest over the real Mosquitto on 127.0.0.1:1883 (QoS 1, a topic prefix unique to the test)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine

from tanhui.domain.reading import MeterReading
from tanhui.ingest.mqtt import MqttIngestWorker, uplink_topic
from tanhui.ingest.pipeline import Ingestor
from tanhui.meters import envelope
from tanhui.store import quarantine, readings

from .conftest import World

pytestmark = pytest.mark.mqtt
CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 20, 10, tzinfo=CST)


def _publish(messages: list[tuple[str, bytes]]) -> None:
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", 1883)
    client.loop_start()
    try:
        for topic, payload in messages:
            client.publish(topic, payload, qos=1).wait_for_publish(timeout=10)
    finally:
        client.disconnect()
        client.loop_stop()


def _wait_for(predicate: object, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for the worker")


def test_envelopes_over_mqtt_are_stored_once_and_bad_ones_quarantined(engine: Engine, world: World) -> None:
    prefix = f"tanhui-test-{uuid.uuid4().hex[:8]}"
    worker = MqttIngestWorker(
        engine, Ingestor(engine, lambda: datetime.now(UTC)), host="127.0.0.1", port=1883, prefix=prefix
    )
    worker.start()
    try:
        assert worker.subscribed.wait(10)
        good = envelope.encode(
            "gw-1",
            1,
            T0,
            [
                MeterReading("110000000001", "energy_import", Decimal(h), "kWh", T0 + timedelta(hours=h))
                for h in range(5)
            ],
        )
        topic = uplink_topic(prefix, "baoting", "gw-1")
        _publish(
            [
                (topic, good),
                (topic, good),  # a QoS 1 redelivery
                (topic, b"{not json"),
                (uplink_topic(prefix, "baoting", "gw-unknown"), good),
            ]
        )
        _wait_for(lambda: worker.stats.messages == 4)
    finally:
        worker.stop()
    assert (worker.stats.stored, worker.stats.duplicates, worker.stats.quarantined) == (5, 5, 2)
    with engine.connect() as conn:
        assert readings.count(conn) == 5
        assert quarantine.count_by_reason(conn) == {"malformed_envelope": 1, "unknown_gateway": 1}
