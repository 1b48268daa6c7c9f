"""Weather stations and their temperature observations: CSV import, MQTT payloads, reads for baselines.

Station data arrive two ways, never fetched from the internet at run time:

- CSV files (``start,temperature_c``; ``start`` ISO 8601 with an offset), e.g. the county
  meteorological bureau's export, through ``tanhui weather import``;
- MQTT messages from the pilot's own station: a JSON object ``{"station": ID, "observations":
  [{"start": ISO 8601, "temperature_c": number}, ...]}`` on ``<prefix>/<community>/weather/<station>``
  (:func:`payload_observations` decodes it; ``tanhui weather subscribe``, :mod:`tanhui.ingest.weather_feed`,
  receives and stores it).

Storing is idempotent: an observation already stored for the same station and time is kept as it was.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tanhui.domain.errors import TanhuiError
from tanhui.domain.ids import CommunityId
from tanhui.store.schema import weather_observations, weather_stations

__all__ = [
    "Observation",
    "WeatherInputError",
    "add_observations",
    "as_points",
    "ensure_station",
    "observations",
    "parse_csv",
    "payload_observations",
    "station_community",
    "station_of_community",
]

# Air temperature limits for a plausibility check (°C): the world records are −89.2 °C and 56.7 °C
# (WMO Weather and Climate Extremes Archive); anything outside is a sensor or unit error.
_MIN_C, _MAX_C = -90.0, 60.0


class WeatherInputError(TanhuiError):
    """A weather file or message broke a rule (named in ``code``)."""

    code = "weather_input"


@dataclass(frozen=True, slots=True)
class Observation:
    """An air temperature at an aware moment."""

    at: datetime
    temperature_c: float


def _observation(start: str, value: str | float, where: str) -> Observation:
    try:
        at = datetime.fromisoformat(start.strip())
    except ValueError:
        raise WeatherInputError(f"{where}: start {start!r} is not ISO 8601", code="bad_time") from None
    if at.tzinfo is None:
        raise WeatherInputError(f"{where}: start {start!r} needs a UTC offset", code="naive_time")
    try:
        temperature = float(value)
    except (TypeError, ValueError):
        raise WeatherInputError(f"{where}: temperature {value!r} is not a number", code="bad_value") from None
    if not math.isfinite(temperature) or not _MIN_C <= temperature <= _MAX_C:
        raise WeatherInputError(
            f"{where}: temperature {temperature} °C is outside {_MIN_C}..{_MAX_C} °C (°F given?)",
            code="implausible_temperature",
        )
    return Observation(at, temperature)


def parse_csv(text: str) -> list[Observation]:
    """Observations from CSV text with a header ``start,temperature_c``; empty values are skipped."""
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or not {"start", "temperature_c"} <= set(reader.fieldnames):
        raise WeatherInputError(
            f"the header must name start and temperature_c, got {reader.fieldnames}", code="bad_header"
        )
    out = []
    for line, row in enumerate(reader, start=2):
        value = (row.get("temperature_c") or "").strip()
        if value:
            out.append(_observation(row["start"] or "", value, f"line {line}"))
    return out


def payload_observations(payload: bytes) -> tuple[str, list[Observation]]:
    """The station id and observations of one MQTT weather message (see the module docstring)."""
    try:
        body = json.loads(payload)
        station = str(body["station"])
        items = body["observations"]
        return station, [
            _observation(str(o["start"]), o["temperature_c"], f"observation {i}") for i, o in enumerate(items)
        ]
    except (ValueError, KeyError, TypeError) as exc:
        raise WeatherInputError(f"not a weather message: {exc!r}", code="bad_payload") from None


def ensure_station(
    conn: Connection, station_id: str, *, community_id: CommunityId | None, name: str = "", now: int
) -> None:
    """Create the station if it is new; link it to ``community_id`` when given."""
    found = conn.execute(select(weather_stations.c.community_id).where(weather_stations.c.id == station_id))
    row = found.first()
    if row is None:
        conn.execute(
            insert(weather_stations).values(
                id=station_id, community_id=community_id, name=name, created_at=now
            )
        )
    elif community_id is not None and row.community_id != community_id:
        conn.execute(
            weather_stations.update()
            .where(weather_stations.c.id == station_id)
            .values(community_id=community_id)
        )


def add_observations(
    conn: Connection, station_id: str, items: Sequence[Observation], *, source: str, now: int
) -> int:
    """Store observations (the station must exist); returns how many were new."""
    rows = [
        {
            "station_id": station_id,
            "ts": int(o.at.timestamp()),
            "temperature_mc": round(o.temperature_c * 1000),
            "source": source,
            "received_at": now,
        }
        for o in items
    ]
    rows = list({r["ts"]: r for r in rows}.values())
    make = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    # Executemany does not report inserted rows on every driver; counting before and after does.
    before = _count(conn, station_id)
    for start in range(0, len(rows), 5000):
        statement = make(weather_observations).on_conflict_do_nothing(index_elements=["station_id", "ts"])
        conn.execute(statement, rows[start : start + 5000])
    return _count(conn, station_id) - before


def _count(conn: Connection, station_id: str) -> int:
    query = select(func.count()).select_from(weather_observations)
    return int(conn.execute(query.where(weather_observations.c.station_id == station_id)).scalar_one())


def observations(conn: Connection, station_id: str, first_ts: int, last_ts: int) -> list[Observation]:
    """Observations from ``first_ts`` to ``last_ts`` (epoch seconds, inclusive), in time order, in UTC."""
    o = weather_observations.c
    query = (
        select(o.ts, o.temperature_mc)
        .where(o.station_id == station_id)
        .where(o.ts >= first_ts)
        .where(o.ts <= last_ts)
        .order_by(o.ts)
    )
    return [Observation(datetime.fromtimestamp(ts, UTC), mc / 1000) for ts, mc in conn.execute(query)]


def station_community(conn: Connection, station_id: str) -> tuple[bool, CommunityId | None]:
    """Whether the station exists, and the community it is linked to (None when unlinked)."""
    found = conn.execute(select(weather_stations.c.community_id).where(weather_stations.c.id == station_id))
    row = found.first()
    if row is None:
        return False, None
    return True, None if row.community_id is None else CommunityId(row.community_id)


def station_of_community(conn: Connection, community_id: CommunityId) -> str | None:
    """The community's station (the first by id when several are linked), or None."""
    query = (
        select(weather_stations.c.id)
        .where(weather_stations.c.community_id == community_id)
        .order_by(weather_stations.c.id)
    )
    return conn.execute(query).scalars().first()


def as_points(items: Iterable[Observation]) -> list[tuple[datetime, float]]:
    return [(o.at, o.temperature_c) for o in items]
