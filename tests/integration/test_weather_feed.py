"""Weather-station data over MQTT (issue 6 item 2): the message handler on both engines, and
``tanhui.ingest.weather_feed.WeatherSubscriber`` against a Mosquitto of its own with the generated ACL."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from tanhui.ingest import broker
from tanhui.ingest.broker import GatewayAccount, weather_topic
from tanhui.ingest.weather_feed import WeatherReason, WeatherSubscriber, handle_message, station_of_topic
from tanhui.store import quarantine, registry
from tanhui.store import weather as weather_store
from tanhui.store.schema import quarantine as quarantine_table

from . import servers
from .conftest import NOW, World
from .test_mqtt_transport import Publishers

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 7, 1, 0, tzinfo=CST)
PREFIX = "tanhui"
RECEIVED = datetime.fromtimestamp(NOW, UTC)


def _payload(station: str, values: list[float], start: datetime = T0) -> bytes:
    observations = [
        {"start": (start + timedelta(hours=i)).isoformat(), "temperature_c": v} for i, v in enumerate(values)
    ]
    return json.dumps({"station": station, "observations": observations}).encode()


def _stored(engine: Engine, station: str) -> list[float]:
    with engine.connect() as conn:
        first, last = int(T0.timestamp()), int((T0 + timedelta(days=2)).timestamp())
        return [o.temperature_c for o in weather_store.observations(conn, station, first, last)]


def _quarantined(engine: Engine) -> list[tuple[str, str, bytes]]:
    with engine.connect() as conn:
        q = quarantine_table.c
        rows = conn.execute(select(q.reason, q.message, q.raw).order_by(q.id)).all()
    return [(r.reason, r.message, bytes(r.raw)) for r in rows]


def _handle(engine: Engine, topic: str, payload: bytes) -> tuple[int, int, str | None]:
    with engine.begin() as conn:
        handled = handle_message(conn, topic, payload, prefix=PREFIX, now=RECEIVED)
    return handled.stored, handled.duplicates, handled.reason


def test_topics_name_community_and_station() -> None:
    assert station_of_topic(weather_topic("tanhui/v1", "baoting", "st-1"), "tanhui/v1") == ("baoting", "st-1")
    assert station_of_topic("tanhui/baoting/gw/gw-1/up", "tanhui") is None
    assert station_of_topic("other/baoting/weather/st-1", "tanhui") is None
    assert station_of_topic("tanhui/baoting/weather/", "tanhui") is None


def test_messages_are_stored_once_and_linked_to_the_topics_community(engine: Engine, world: World) -> None:
    topic = weather_topic(PREFIX, "baoting", "st-1")
    assert _handle(engine, topic, _payload("st-1", [25.0, 26.5, 27.25])) == (3, 0, None)
    # A QoS 1 redelivery, and a later message overlapping it by one hour.
    assert _handle(engine, topic, _payload("st-1", [25.0, 26.5, 27.25])) == (0, 3, None)
    assert _handle(engine, topic, _payload("st-1", [27.25, 28.0], T0 + timedelta(hours=2))) == (1, 1, None)
    assert _stored(engine, "st-1") == [25.0, 26.5, 27.25, 28.0]
    with engine.connect() as conn:
        assert weather_store.station_of_community(conn, world.community_id) == "st-1"
        assert quarantine.count_by_reason(conn) == {}


def test_a_different_value_for_a_stored_hour_is_quarantined_and_the_stored_value_kept(
    engine: Engine, world: World
) -> None:
    topic = weather_topic(PREFIX, "baoting", "st-1")
    _handle(engine, topic, _payload("st-1", [25.0, 26.0]))
    changed = _payload("st-1", [25.0, 31.0, 27.0])
    assert _handle(engine, topic, changed) == (1, 1, WeatherReason.CONFLICTING_VALUE)
    assert _stored(engine, "st-1") == [25.0, 26.0, 27.0]
    [(reason, message, raw)] = _quarantined(engine)
    assert (reason, raw) == ("weather_conflicting_value", changed)
    assert "stored 26.0 °C, sent 31.0 °C" in message


@pytest.mark.parametrize(
    ("topic", "payload", "reason", "says"),
    [
        ("tanhui/baoting/weather", _payload("st-1", [25.0]), "weather_bad_topic", "is not tanhui/"),
        ("tanhui/nowhere/weather/st-1", _payload("st-1", [25.0]), "weather_unknown_community", "nowhere"),
        ("tanhui/baoting/weather/st-1", _payload("st-2", [25.0]), "weather_station_mismatch", "st-2"),
        ("tanhui/baoting/weather/st-1", b"{not json", "weather_bad_payload", "not a weather message"),
        (
            "tanhui/baoting/weather/st-1",
            _payload("st-1", [25.0, 78.0]),
            "weather_implausible_temperature",
            "°F",
        ),
        (
            "tanhui/baoting/weather/st-1",
            b'{"station": "st-1", "observations": [{"start": "2026-07-01T00:00", "temperature_c": 25}]}',
            "weather_naive_time",
            "UTC offset",
        ),
    ],
)
def test_bad_messages_are_kept_whole_in_quarantine_with_the_rule(
    engine: Engine, world: World, topic: str, payload: bytes, reason: str, says: str
) -> None:
    assert _handle(engine, topic, payload) == (0, 0, reason)
    [(stored_reason, message, raw)] = _quarantined(engine)
    assert (stored_reason, raw) == (reason, payload)
    assert says in message
    assert _stored(engine, "st-1") == []  # one bad observation refuses the whole message


def test_a_station_cannot_be_moved_to_another_community(engine: Engine, world: World) -> None:
    with engine.begin() as conn:
        registry.create_community(
            conn,
            slug="sanya",
            name="Sanya",
            name_zh="三亚",
            timezone="Asia/Shanghai",
            factor_regime="cn",
            factor_set_id="cn-mee-2023@v1",
            now=NOW,
        )
    _handle(engine, weather_topic(PREFIX, "baoting", "st-1"), _payload("st-1", [25.0]))
    moved = _payload("st-1", [26.0], T0 + timedelta(hours=1))
    assert _handle(engine, weather_topic(PREFIX, "sanya", "st-1"), moved)[2] == "weather_station_elsewhere"
    with engine.connect() as conn:
        assert weather_store.station_of_community(conn, world.community_id) == "st-1"
    assert _stored(engine, "st-1") == [25.0]


# --- the subscriber on a real Mosquitto ---------------------------------------------------------------


@pytest.fixture
def broker_dir() -> Iterator[Path]:
    with servers.temporary_directory("tanhui-weather-") as directory:
        yield directory


def _broker_files(directory: Path, port: int, passwords: dict[str, str]) -> Path:
    """Password file, ACL and mosquitto.conf as ``tanhui broker-config`` writes them."""

    def hashed(name: str) -> str:
        return broker.password_hash(passwords[name], secrets.token_bytes(broker.SALT_BYTES))

    accounts = [
        GatewayAccount("gw-1", "baoting", hashed("gw-1")),
        GatewayAccount("gw-9", "sanya", hashed("gw-9")),
    ]
    return servers.write_broker_files(
        directory, port, accounts, prefix=PREFIX, worker_password=passwords[broker.DEFAULT_WORKER_USERNAME]
    )


def _wait_until(predicate: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out: {what}")


@pytest.mark.mqtt
def test_the_subscriber_stores_what_gateways_publish_and_keeps_its_session(
    engine: Engine, world: World, broker_dir: Path
) -> None:
    port = servers.free_port()
    worker = broker.DEFAULT_WORKER_USERNAME
    passwords = {name: secrets.token_urlsafe(16) for name in ("gw-1", "gw-9", worker)}
    config = _broker_files(broker_dir, port, passwords)

    def subscriber() -> WeatherSubscriber:
        made = WeatherSubscriber(
            engine,
            host="127.0.0.1",
            port=port,
            prefix=PREFIX,
            now=lambda: RECEIVED,
            client_id="tanhui-weather-test",  # the same id after a restart resumes the session
            username=worker,
            password=passwords[worker],
        )
        made.start()
        assert made.subscribed.wait(10), "the subscriber did not subscribe"
        return made

    with servers.private_mosquitto(config, port):
        publishers = Publishers(port, {"gw-1": passwords["gw-1"], "gw-9": passwords["gw-9"]})
        first = subscriber()
        try:
            topic = weather_topic(PREFIX, "baoting", "st-1")
            assert not publishers.publish("gw-1", topic, _payload("st-1", [25.0, 26.0])).is_failure
            assert not publishers.publish("gw-1", topic, b"{not json").is_failure
            # The ACL lets a gateway publish only its own community's weather.
            assert publishers.publish("gw-9", topic, _payload("st-1", [40.0])).is_failure
            _wait_until(lambda: first.stats.acked == 2, "both messages acknowledged")
            first.stop()
            # Published while the subscriber is away: kept in its session by the broker.
            later = _payload("st-1", [27.0], T0 + timedelta(hours=2))
            assert not publishers.publish("gw-1", topic, later).is_failure
            second = subscriber()
            try:
                _wait_until(lambda: second.stats.acked == 1, "the message sent while away")
            finally:
                second.stop()
        finally:
            publishers.close()
    assert _stored(engine, "st-1") == [25.0, 26.0, 27.0]
    assert [(reason, raw) for reason, _, raw in _quarantined(engine)] == [
        ("weather_bad_payload", b"{not json")
    ]
    assert (first.stats.stored, first.stats.quarantined, second.stats.stored) == (2, 1, 1)
