"""The column decoder of envelopes agrees with the full decoder wherever it accepts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation

import msgspec
import pytest
from hypothesis import given, settings
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
        assert columns.meter_keys[columns.meter_index[i]] == reading.meter
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


# --- the C reader against the Python one ---------------------------------------------------------------


def _same(a: envelope.ReadingColumns | None, b: envelope.ReadingColumns | None) -> bool:
    if a is None or b is None:
        return a is b
    return (a.gateway, a.seq, a.boot) == (b.gateway, b.seq, b.boot) and all(
        list(getattr(a, name)) == list(getattr(b, name))
        # Keys in order of first appearance in both readers, so keys and indexes agree exactly.
        for name in (
            "meter_keys",
            "meter_index",
            "register_keys",
            "register_index",
            "unit_keys",
            "unit_index",
            "times",
            "mantissas",
            "decimals",
        )
    )


def test_the_c_reader_is_built() -> None:
    # Without it decode_columns is still right, only slower; this suite and CI build it (setup.py).
    assert envelope._native is not None


_KEY_TEXT = st.sampled_from(['"', "\\", "é", "\x7f", "\t", " ", "a", "0"])
_SPACE = st.sampled_from(["", "", "", " ", "\n\t ", "\r\n"])


@st.composite
def _json_envelopes(draw: st.DrawFn) -> bytes:
    """Envelope text in and around the usual form: keys in any order, optional and unknown keys, odd
    whitespace, strings with escapes or non-ASCII, numbers that are not plain integers, odd values. Half
    of them are clean (every oddity off), so that the readers' agreement on good envelopes is tested too."""
    noisy = draw(st.booleans())

    def odd(one_in: int) -> bool:
        return noisy and draw(st.integers(0, one_in - 1)) == 0

    def string(base: str) -> str:
        if odd(30):
            base += draw(_KEY_TEXT)
        return msgspec.json.encode(base).decode("utf-8")

    def obj(pairs: list[tuple[str, str]]) -> str:
        pairs = draw(st.permutations(pairs))
        ws = draw(_SPACE)
        return "{" + ws + ("," + ws).join(f"{string(k)}{ws}:{ws}{v}" for k, v in pairs) + ws + "}"

    item_count = draw(st.integers(0 if noisy else 1, 6))
    width_z = draw(st.booleans())
    items = []
    for _ in range(item_count):
        moment = draw(moments)
        time = (
            moment.isoformat().replace("+00:00", "Z")
            if width_z and moment.utcoffset() == timedelta(0)
            else (moment.isoformat())
        )
        if odd(10):
            time = draw(
                st.sampled_from(
                    [
                        "2026-02-29T00:00:00Z",
                        "2024-02-29T24:00:00Z",
                        "2026-13-01T00:00:00Z",
                        "0000-01-01T00:00:00Z",
                        "2026-01-01T00:00:60Z",
                        "2026-01-01T00:00:00+15:00",
                        "2026-01-01T00:00:00+08:60",
                        "2026-01-01T00:00:00*08:00",
                        "2026-01-01 00:00:00Z",
                        "2026-01-01T00:00:00z",
                    ]
                )
                | st.text(alphabet="0123456789-+:TZ", min_size=19, max_size=26)
            )
        value = draw(st.decimals(min_value=0, max_value=10**10, places=3, allow_nan=False).map(str))
        if odd(10):
            value = draw(
                st.sampled_from(
                    ["", ".5", "5.", "1..2", "-1", "1e3", " 1", "1234567890123456", "00.10", "1.2.3"]
                )
                | st.text(alphabet="0123456789.-e", min_size=0, max_size=17)
            )
        pairs = [
            ("meter", string(draw(st.sampled_from(["110000000001", "210000000002"])) if not odd(20) else "")),
            ("register", string(draw(st.sampled_from(["energy_import", "volume"])))),
            ("value", string(value)),
            ("unit", string(draw(st.sampled_from(["kWh", "m3", "KWH"]) if not odd(20) else st.just("")))),
            ("time", string(time)),
        ]
        pairs = (
            draw(st.lists(st.sampled_from(pairs), min_size=4, max_size=6, unique=True)) if odd(20) else pairs
        )
        if odd(20) or draw(st.integers(0, 9)) == 0:  # an empty protocol or frame is still a plain reading
            pairs.append(
                (
                    draw(st.sampled_from(["protocol", "frame", "extra"])),
                    string("x" if odd(2) else ""),
                )
            )
        items.append(obj(pairs))
    odd_number = st.sampled_from(["0", "-1", "1.0", "1e0", "01", "-0", "2", "99999999999999999999"])
    header = [
        ("v", draw(odd_number) if odd(10) else "1"),
        ("gateway", string("" if odd(20) else "gw-1")),
        ("seq", draw(odd_number) if odd(5) else str(draw(st.integers(0, 2**40)))),
        (
            "sent_at",
            string(
                draw(st.sampled_from(["2026-11-25T00:00:00Z", "2026-11-25T08:00:00+08:00"]))
                if not odd(20)
                else "2026-11-25"
            ),
        ),
        ("readings", "[" + draw(_SPACE) + ",".join(items) + "]"),
    ]
    if draw(st.booleans()):
        header.append(("boot", string("b1")))
    if odd(20):
        header.append(("extra", '[1, {"a": null}]'))
    if odd(20):
        header.append(draw(st.sampled_from(header)))  # a repeated key
    return (obj(header) + draw(_SPACE)).encode("utf-8")


@settings(max_examples=500)
@given(_json_envelopes())
def test_the_c_reader_agrees_with_the_python_reader(payload: bytes) -> None:
    assert _same(decode_columns(payload), envelope.decode_plain(payload))


@settings(max_examples=300)
@given(_json_envelopes(), st.lists(st.tuples(st.integers(0, 10**6), st.binary(max_size=3)), max_size=4))
def test_the_c_reader_agrees_on_damaged_envelopes(payload: bytes, edits: list[tuple[int, bytes]]) -> None:
    damaged = bytearray(payload)
    for offset, insert in edits:
        at = offset % (len(damaged) + 1)
        damaged[at : at + 1] = insert  # replace one byte (or append) with 0 to 3 others
    assert _same(decode_columns(bytes(damaged)), envelope.decode_plain(bytes(damaged)))


def test_the_c_reader_takes_the_usual_envelope_and_repeats_strings_by_index() -> None:
    readings = [
        MeterReading(m, "volume", Decimal("12.5"), "m3", datetime(2026, 11, 25, h, tzinfo=UTC))
        for h in range(3)
        for m in ("210000000001", "210000000002")
    ]
    payload = envelope.encode("gw-1", 7, datetime(2026, 11, 25, tzinfo=UTC), readings)
    assert envelope._native is not None and envelope._native.read(payload) is not None
    columns = decode_columns(payload)
    assert columns is not None
    assert columns.meter_keys == ["210000000001", "210000000002"]
    assert columns.meter_index.tolist() == [0, 1, 0, 1, 0, 1]
    assert columns.register_keys == ["volume"] and columns.unit_keys == ["m3"]
    assert _same(columns, envelope.decode_plain(payload))


_ODD_VALUES = [
    "",
    ".5",
    "5.",
    "1..2",
    "-1",
    "+1",
    "1e3",
    " 1",
    "1234567890123456",
    "123456789012345",
    "00.10",
]
_ODD_TIMES = [
    "2026-02-29T00:00:00Z",
    "2024-02-29T23:59:59Z",
    "2026-11-25T24:00:00Z",
    "2026-13-01T00:00:00Z",
    "2026-00-01T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "2026-01-01T00:60:00Z",
    "2026-01-01T00:00:60Z",
    "2026-01-01T00:00:00+14:00",
    "2026-01-01T00:00:00+15:00",
    "2026-01-01T00:00:00-08:59",
    "2026-01-01T00:00:00+08:60",
    "2026-01-01T00:00:00*08:00",
    "2026-01-01T00:00:00+08-00",
    "2026-01-01 00:00:00Z",
    "2026-01-01T00:00:00z",
    "2026-01-01T00:00:00A",
    "2026/01/01T00:00:00Z",
    "2026-01-01T00:00:00.5Z",
]


@pytest.mark.parametrize(
    ("value", "time"),
    [(v, "2026-11-25T00:00:00Z") for v in _ODD_VALUES] + [("1.5", t) for t in _ODD_TIMES],
)
def test_the_c_reader_agrees_on_each_odd_value_and_time(value: str, time: str) -> None:
    item = {"meter": "110000000001", "register": "volume", "value": value, "unit": "m3", "time": time}
    good = {
        **item,
        "value": "2",
        "time": "2026-11-25T00:00:00Z" if len(time) != 25 else "2026-11-25T08:00:00+08:00",
    }
    body = {"v": 1, "gateway": "gw-1", "seq": 1, "sent_at": "2026-11-25T00:00:00Z", "readings": [good, item]}
    payload = msgspec.json.encode(body)
    assert _same(decode_columns(payload), envelope.decode_plain(payload))
