"""Weather-station observations over MQTT: the subscriber behind ``tanhui weather subscribe``.

Topic per station: ``<prefix>/<community>/weather/<station>`` (:func:`tanhui.ingest.broker.weather_topic`),
QoS 1, beside the gateways' ``<prefix>/<community>/gw/<gateway>/up``. The broker's ACL lets a community's
gateways publish there and the ingest user read it. Payload: the JSON object that
:func:`tanhui.store.weather.payload_observations` decodes, ``{"station": ID, "observations": [{"start":
ISO 8601 with offset, "temperature_c": n}, ...]}``; its station must be the topic's.

At least once, end to end, with the discipline of the meter-data worker (both are
:class:`tanhui.ingest.subscriber.SessionSubscriber`):

- a stable client id and a persistent session (``clean_start`` false, a session expiry interval), so
  observations published while the subscriber is down wait in the broker;
- the network thread only queues; one handler thread stores each message in one transaction
  (:func:`handle_message`) and acknowledges it after the commit. A subscriber stopped before that gets
  the message again; storing is idempotent (a station and time already stored keep their value);
- while the database is unreachable the same message is retried with backoff and not acknowledged;
- nothing is dropped silently: a message that breaks a rule is stored whole in quarantine with a
  :class:`WeatherReason` and a message naming the rule, then acknowledged. A value that differs from the
  one already stored for the same station and time is a conflict: the new values are stored, the stored
  value is kept, and the payload goes to quarantine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import partial

import structlog
from sqlalchemy import Connection, Engine

from tanhui.domain.ids import CommunityId
from tanhui.ingest.broker import weather_filter
from tanhui.ingest.subscriber import SESSION_EXPIRY_SECONDS, Delivery, DeliveryStats, SessionSubscriber
from tanhui.store import quarantine, registry
from tanhui.store import weather as weather_store
from tanhui.store.quarantine import Rejection

__all__ = [
    "TRANSPORT",
    "Handled",
    "WeatherReason",
    "WeatherStats",
    "WeatherSubscriber",
    "handle_message",
    "station_of_topic",
]

log = structlog.get_logger(__name__)

TRANSPORT = "mqtt"
SOURCE = "mqtt"
# Unacknowledged messages the broker may have in flight to the subscriber (MQTT 5 Receive Maximum). A
# station sends a message every few minutes; a small window keeps a backlog in the broker, not in memory.
RECEIVE_MAXIMUM = 100
# Conflicting times named in a quarantine message; the raw payload holds them all.
_CONFLICTS_SHOWN = 5


class WeatherReason(StrEnum):
    """Why a weather message is in quarantine (``reason`` column); docs/baseline.md §1 lists them."""

    BAD_TOPIC = "weather_bad_topic"
    UNKNOWN_COMMUNITY = "weather_unknown_community"
    STATION_MISMATCH = "weather_station_mismatch"
    STATION_ELSEWHERE = "weather_station_elsewhere"
    CONFLICTING_VALUE = "weather_conflicting_value"
    # A payload that payload_observations refuses: "weather_" + the WeatherInputError code
    # (bad_payload, bad_time, naive_time, bad_value, implausible_temperature).


@dataclass(frozen=True, slots=True)
class Handled:
    """What one message did: observations stored and already known, and its quarantine reason if any."""

    stored: int
    duplicates: int
    reason: str | None = None


def station_of_topic(topic: str, prefix: str) -> tuple[str, str] | None:
    """(community slug, station id) of ``<prefix>/<community>/weather/<station>``, or None."""
    parts = topic.split("/")
    head = prefix.split("/")
    if len(parts) != len(head) + 3 or parts[: len(head)] != head or parts[-2] != "weather":
        return None
    community, station = parts[-3], parts[-1]
    if not community or not station:
        return None
    return community, station


@dataclass(frozen=True, slots=True)
class _Refused:
    reason: str
    message: str
    community_id: CommunityId | None


@dataclass(frozen=True, slots=True)
class _Accepted:
    community_id: CommunityId
    station: str
    items: list[weather_store.Observation]


def _check(conn: Connection, topic: str, payload: bytes, prefix: str) -> _Accepted | _Refused:
    """The message's community, station and observations, or the first rule it breaks."""
    parsed = station_of_topic(topic, prefix)
    if parsed is None:
        return _Refused(
            WeatherReason.BAD_TOPIC, f"topic {topic!r} is not {prefix}/<community>/weather/<station>", None
        )
    slug, station = parsed
    community = registry.find_community(conn, slug)
    if community is None:
        return _Refused(WeatherReason.UNKNOWN_COMMUNITY, f"no community {slug!r} (topic {topic!r})", None)
    try:
        named, items = weather_store.payload_observations(payload)
    except weather_store.WeatherInputError as exc:
        return _Refused(f"weather_{exc.code}", exc.diagnostics(), community.id)
    if named != station:
        return _Refused(
            WeatherReason.STATION_MISMATCH,
            f"the payload names station {named!r} but came on the topic of station {station!r}",
            community.id,
        )
    exists, linked = weather_store.station_community(conn, station)
    if exists and linked is not None and linked != community.id:
        return _Refused(
            WeatherReason.STATION_ELSEWHERE,
            f"station {station!r} belongs to another community; publish on that community's topic",
            community.id,
        )
    return _Accepted(community.id, station, items)


def handle_message(conn: Connection, topic: str, payload: bytes, *, prefix: str, now: datetime) -> Handled:
    """Store one weather message in the caller's transaction, or quarantine it with its reason."""
    received = int(now.timestamp())

    def reject(reason: str, message: str, community_id: CommunityId | None) -> None:
        quarantine.put(
            conn,
            [Rejection(reason, message, payload)],
            community_id=community_id,
            gateway_id=None,
            transport=TRANSPORT,
            received_at=received,
        )
        log.warning("weather.quarantined", topic=topic, reason=reason, detail=message)

    checked = _check(conn, topic, payload, prefix)
    if isinstance(checked, _Refused):
        reject(checked.reason, checked.message, checked.community_id)
        return Handled(0, 0, checked.reason)
    station, items = checked.station, checked.items
    if not items:
        return Handled(0, 0)
    weather_store.ensure_station(conn, station, community_id=checked.community_id, now=received)
    new = {int(o.at.timestamp()): round(o.temperature_c * 1000) for o in items}
    known = {
        int(o.at.timestamp()): round(o.temperature_c * 1000)
        for o in weather_store.observations(conn, station, min(new), max(new))
    }
    conflicts = sorted(ts for ts, mc in new.items() if ts in known and known[ts] != mc)
    stored = weather_store.add_observations(conn, station, items, source=SOURCE, now=received)
    if not conflicts:
        return Handled(stored, len(new) - stored)
    shown = ", ".join(
        f"{datetime.fromtimestamp(ts, now.tzinfo).isoformat()} (stored {known[ts] / 1000} °C, "
        f"sent {new[ts] / 1000} °C)"
        for ts in conflicts[:_CONFLICTS_SHOWN]
    )
    more = len(conflicts) - _CONFLICTS_SHOWN
    reject(
        WeatherReason.CONFLICTING_VALUE,
        f"station {station!r}: {len(conflicts)} observation(s) differ from the stored value, which is "
        f"kept: {shown}{f' and {more} more' if more > 0 else ''}",
        checked.community_id,
    )
    return Handled(stored, len(new) - stored - len(conflicts), WeatherReason.CONFLICTING_VALUE)


@dataclass(slots=True)
class WeatherStats(DeliveryStats):
    """Counts since the subscriber started; read them under ``lock`` for a consistent view."""


class WeatherSubscriber(SessionSubscriber):
    """Stores every message on ``<prefix>/+/weather/+``; see the module docstring.

    ``client_id`` names the persistent session: keep it stable across restarts (the random default suits
    tests only). ``now`` is the clock that stamps ``received_at``.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        host: str,
        port: int,
        prefix: str,
        now: Callable[[], datetime],
        client_id: str | None = None,
        username: str | None = None,
        password: str | None = None,
        session_expiry: int = SESSION_EXPIRY_SECONDS,
        retry_initial_delay: float = 0.1,
        retry_max_delay: float = 5.0,
        attempts: int = 3,
    ) -> None:
        self.stats: WeatherStats
        super().__init__(
            name="weather",
            host=host,
            port=port,
            topic_filter=weather_filter(prefix),
            stats=WeatherStats(),
            client_id=client_id,
            username=username,
            password=password,
            receive_maximum=RECEIVE_MAXIMUM,
            session_expiry=session_expiry,
            retry_initial_delay=retry_initial_delay,
            retry_max_delay=retry_max_delay,
            attempts=attempts,
        )
        self._engine = engine
        self._prefix = prefix
        self._now = now

    # --- handler thread -------------------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stopping.is_set():
            for delivery in self._take(1):
                if not self._current(delivery):
                    continue  # came on a lost connection: the broker resends it
                handled = self._with_retries(delivery, partial(self._store, delivery))
                if handled is not None:
                    self._count(handled)
                    self._ack(delivery)

    def _store(self, delivery: Delivery) -> Handled:
        """The message stored (or quarantined), committed."""
        with self._engine.begin() as conn:
            return handle_message(
                conn, delivery.topic, delivery.payload, prefix=self._prefix, now=self._now()
            )

    def _count(self, handled: Handled) -> None:
        with self.stats.lock:
            self.stats.messages += 1
            self.stats.stored += handled.stored
            self.stats.duplicates += handled.duplicates
            self.stats.quarantined += int(handled.reason is not None)
