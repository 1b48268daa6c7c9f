from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tanhui.domain.reading import MeterReading
from tanhui.meters import envelope
from tanhui.meters.envelope import EnvelopeError, ItemError

CST = timezone(timedelta(hours=8))


def _reading(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "meter": "110100000001",
        "register": "energy_import",
        "value": "1234.56",
        "unit": "kWh",
        "time": "2026-11-25T10:00:00+08:00",
    }
    body.update(overrides)
    return body


def _envelope(readings: list[dict[str, object]], **overrides: object) -> bytes:
    body: dict[str, object] = {
        "v": 1,
        "gateway": "bt-gw-001",
        "seq": 7,
        "sent_at": "2026-11-25T02:00:00Z",
        "readings": readings,
    }
    body.update(overrides)
    return json.dumps(body).encode()


def test_decodes_a_well_formed_envelope() -> None:
    env = envelope.decode(_envelope([_reading()]))
    assert env.gateway == "bt-gw-001"
    assert env.seq == 7
    assert env.sent_at == datetime(2026, 11, 25, 2, tzinfo=UTC)
    assert env.errors == []
    (reading,) = env.readings
    assert reading.value == Decimal("1234.56")
    assert reading.time == datetime(2026, 11, 25, 2, tzinfo=UTC)


def test_one_bad_reading_does_not_cost_the_others() -> None:
    env = envelope.decode(_envelope([_reading(), _reading(value="12,5"), _reading(meter="2")]))
    assert [r.meter for r in env.readings] == ["110100000001", "2"]
    (error,) = env.errors
    assert isinstance(error, ItemError)
    assert error.index == 1
    assert "not a decimal" in error.error.message
    assert json.loads(error.raw)["value"] == "12,5"


def test_a_reading_of_the_wrong_shape_is_kept_raw() -> None:
    env = envelope.decode(_envelope([_reading(), {"meter": 5}]))
    assert len(env.readings) == 1
    (error,) = env.errors
    assert json.loads(error.raw) == {"meter": 5}


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b"not json", "not a version-1 envelope"),
        (_envelope([], v=2), "version 2 is not supported"),
        (_envelope([], gateway=""), "names no gateway"),
        (_envelope([], seq=-1), "non-negative"),
        (_envelope([], sent_at="2026-11-25T02:00:00"), "no UTC offset"),
    ],
)
def test_unusable_envelopes_name_the_rule(payload: bytes, fragment: str) -> None:
    with pytest.raises(EnvelopeError, match=fragment):
        envelope.decode(payload)


def test_a_string_that_is_not_utf8_is_named_not_raised_as_another_error() -> None:
    # msgspec raises UnicodeDecodeError for it; the codec's one error type must cover it.
    with pytest.raises(EnvelopeError, match="not UTF-8"):
        envelope.decode(_envelope([_reading()]).replace(b"bt-gw-001", b"\x80t-gw-001"))
    env = envelope.decode(
        _envelope([_reading(), _reading(meter="110100000002")]).replace(b"00002", b"0000\xff")
    )
    assert len(env.readings) == 1
    assert "not UTF-8 (byte 0xff)" in env.errors[0].error.message
    with pytest.raises(EnvelopeError, match="not UTF-8"):
        envelope.decode_item(b'{"meter":"\xc3","register":"volume","value":"1","unit":"m3","time":"x"}')


def test_naive_meter_time_is_refused_for_that_reading() -> None:
    env = envelope.decode(_envelope([_reading(time="2026-11-25T10:00:00")]))
    assert env.readings == []
    assert "no UTC offset" in env.errors[0].error.message


def test_non_finite_values_are_refused() -> None:
    env = envelope.decode(_envelope([_reading(value="NaN"), _reading(value="Infinity")]))
    assert len(env.errors) == 2


readings_strategy = st.builds(
    MeterReading,
    meter=st.text(alphabet="0123456789", min_size=1, max_size=14),
    register=st.sampled_from(["energy_import", "volume"]),
    value=st.decimals(min_value=0, max_value=10**8, places=3, allow_nan=False, allow_infinity=False),
    unit=st.sampled_from(["kWh", "m3"]),
    time=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(CST)),
)


@given(st.lists(readings_strategy, max_size=20), st.integers(0, 2**40))
def test_round_trip(readings: list[MeterReading], seq: int) -> None:
    sent = datetime(2026, 11, 25, tzinfo=UTC)
    env = envelope.decode(envelope.encode("gw", seq, sent, readings))
    assert env.errors == []
    assert env.seq == seq
    assert [(r.meter, r.register, r.value, r.unit, r.time) for r in env.readings] == [
        (r.meter, r.register, r.value, r.unit, r.time) for r in readings
    ]


@given(st.binary(max_size=300))
def test_any_bytes_decode_or_raise_the_envelope_error(data: bytes) -> None:
    with contextlib.suppress(EnvelopeError):
        envelope.decode(data)
