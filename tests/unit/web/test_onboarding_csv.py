"""The per-row rules of the onboarding CSV: every broken rule is reported by line and column."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tanhui.store.onboarding import parse

HEADER = "household,persons,enrolled_on,meter,kind,protocol,resolution,capacity,installed_on,gateway\n"


def test_a_good_file_parses_into_rows() -> None:
    rows, errors, count = parse(
        (
            HEADER + "H1,3,2026-11-01,1100,electricity,dlt645,0.01,100000000,2026-11-01,gw\nH2,2,,,,,,,,\n"
        ).encode()
    )
    assert errors == [] and count == 2
    assert rows[0].meter is not None and rows[0].meter.serial == "1100"
    assert rows[1].meter is None


def test_each_broken_rule_names_line_and_column() -> None:
    body = (
        HEADER
        + "H 1,0,2026-02-30,,,,,,,\n"  # line 2: bad code, persons out of range, bad date
        + "H3,2,,99,steam,modbus,-1,x,,\n"  # line 3: meter fields
        + "H4,2,,,water,,,,,\n"  # line 4: kind without a meter
    )
    _, errors, count = parse(body.encode())
    assert count == 3
    assert [(e.row, e.column, e.code) for e in errors] == [
        (2, "household", "bad_code"),
        (2, "persons", "out_of_range"),
        (2, "enrolled_on", "bad_date"),
        (3, "kind", "bad_kind"),
        (3, "protocol", "bad_protocol"),
        (3, "resolution", "not_positive"),
        (3, "capacity", "bad_integer"),
        (3, "installed_on", "required"),
        (4, "kind", "needs_meter"),
    ]


def test_header_problems_stop_before_the_rows() -> None:
    _, errors, _ = parse(b"household,colour\nH1,red\n")
    assert [(e.column, e.code) for e in errors] == [
        ("persons", "missing_column"),
        ("colour", "unknown_column"),
    ]
    assert [e.code for e in parse(b"\xff\xfe")[1]] == ["not_utf8"]
    assert [e.code for e in parse(b"")[1]] == ["empty"]


@given(st.binary(max_size=300))
def test_any_bytes_parse_or_report_errors(data: bytes) -> None:
    rows, errors, count = parse(HEADER.encode() + data)
    assert count >= len(rows)
    assert all(e.row >= 1 for e in errors)
