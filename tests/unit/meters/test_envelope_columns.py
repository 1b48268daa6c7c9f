"""The column decoder of envelopes agrees with the full decoder wherever it accepts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from tanhui.domain.reading import MeterReading
from tanhui.meters import envelope
from tanhui.meters.envelope import decimal_parts, decode_columns, epoch_seconds

offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
moments = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=offsets).map(
    lambda d: d.replace(microsecond=0)
)


def _reference_epoch(text: str) -> int | None:
    try:
        moment = msgspec.json.decode(msgspec.json.encode(text), type=datetime)
    except msgspec.ValidationError:
        return None
    return None if moment.tzinfo is None else int(moment.timestamp())


@given(st.lists(moments, min_size=1, max_size=20))
def test_times_in_the_usual_form_give_the_epoch_seconds_of_the_full_parser(times: list[datetime]) -> None:
    texts = [
        t.isoformat().replace("+00:00", "Z") if t.utcoffset() == timedelta(0) else t.isoformat()
        for t in times
    ]
    if len(set(map(len, texts))) > 1:
        texts = [t.isoformat() for t in times]
    parsed = epoch_seconds(texts)
    assert parsed is not None
    assert parsed.tolist() == [int(t.timestamp()) for t in times]


@given(st.text(alphabet="0123456789-+:TZ .t", min_size=18, max_size=27))
def test_any_time_text_is_declined_or_read_as_the_full_parser_reads_it(text: str) -> None:
    parsed = epoch_seconds([text])
    if parsed is not None:
        assert parsed.tolist() == [_reference_epoch(text)]


@given(st.text(alphabet="0123456789.+-e_ ", min_size=0, max_size=17))
def test_any_value_text_is_declined_or_read_exactly(text: str) -> None:
    parts = decimal_parts([text]) if text else None
    if parts is None:
        return
    mantissa, decimals = (int(a[0]) for a in parts)
    try:
        exact = Decimal(text)
    except InvalidOperation:
        raise AssertionError(f"{text!r} accepted but is not a decimal") from None
    assert Decimal(mantissa).scaleb(-decimals) == exact


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["110000000001", "210000000001"]),
            st.decimals(min_value=0, max_value=10**9, places=3, allow_nan=False),
            moments,
        ),
        min_size=1,
        max_size=30,
    )
)
def test_an_envelope_of_plain_readings_decodes_to_the_same_readings_both_ways(
    items: list[tuple[str, Decimal, datetime]],
) -> None:
    readings = [MeterReading(m, "volume", v, "m3", t) for m, v, t in items]
    payload = envelope.encode("gw-1", 7, datetime(2026, 11, 25, tzinfo=UTC), readings, boot="b1")
    columns = decode_columns(payload)
    full = envelope.decode(payload)
    if columns is None:
        return
    assert (columns.gateway, columns.seq, columns.boot) == (full.gateway, full.seq, full.boot)
    for i, reading in enumerate(full.readings):
        assert columns.meters[i] == reading.meter
        assert columns.times[i] == int(reading.time.timestamp())
        assert Decimal(int(columns.mantissas[i])).scaleb(-int(columns.decimals[i])) == reading.value


def test_frame_items_and_broken_envelopes_are_left_to_the_full_decoder() -> None:
    frame = (
        b'{"v":1,"gateway":"g","seq":1,"sent_at":"2026-11-25T00:00:00Z","readings":'
        b'[{"protocol":"dlt645","frame":"68","time":"2026-11-25T00:00:00Z"}]}'
    )
    assert decode_columns(frame) is None
    assert decode_columns(b"not json") is None
    no_offset = b'{"v":1,"gateway":"g","seq":1,"sent_at":"2026-11-25T00:00:00","readings":[]}'
    assert decode_columns(no_offset) is None
