from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tanhui.store.weather import WeatherInputError, parse_csv, payload_observations


def test_csv_rows_become_aware_observations() -> None:
    items = parse_csv("start,temperature_c\n2026-07-01T08:00:00+08:00,28.4\n2026-07-01T09:00:00+08:00,\n")
    assert len(items) == 1
    assert items[0].at.astimezone(UTC) == datetime(2026, 7, 1, 0, tzinfo=UTC)
    assert items[0].temperature_c == 28.4


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("time,temp\n", "bad_header"),
        ("start,temperature_c\n2026-07-01T08:00:00,28\n", "naive_time"),
        ("start,temperature_c\n2026-07-01T08:00:00+08:00,84.2\n", "implausible_temperature"),
        ("start,temperature_c\nyesterday,28\n", "bad_time"),
    ],
)
def test_bad_csv_is_refused_naming_the_rule(text: str, code: str) -> None:
    with pytest.raises(WeatherInputError) as raised:
        parse_csv(text)
    assert raised.value.code == code


def test_an_mqtt_message_names_its_station() -> None:
    payload = json.dumps(
        {"station": "bt-met-1", "observations": [{"start": "2026-07-01T00:00:00Z", "temperature_c": 27}]}
    ).encode()
    station, items = payload_observations(payload)
    assert station == "bt-met-1"
    assert items[0].temperature_c == 27.0
    with pytest.raises(WeatherInputError):
        payload_observations(b"{}")
