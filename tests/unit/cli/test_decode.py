"""`tanhui decode`: one frame in, JSON out; bad input exits 2 naming the rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tanhui.cli.main import app

runner = CliRunner()
DSMR_V5 = (Path(__file__).resolve().parents[2] / "fixtures" / "dsmr" / "v5.txt").read_bytes()


def _decode(protocol: str, frame: str, stdin: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, ["decode", "--protocol", protocol, frame], input=stdin)
    return result.exit_code, result.output


def test_dlt645_answer() -> None:
    code, out = _decode("dlt645", "68 12 90 78 56 34 12 68 91 08 33 33 34 33 9A 78 56 34 88 16")
    assert code == 0
    body = json.loads(out)
    assert body["address"] == "123456789012"
    assert body["registers"] == [{"name": "energy_import", "value": "12345.67", "unit": "kWh"}]
    assert body["meter_time"] is None


def test_cjt188_answer_has_the_meters_own_time_without_offset() -> None:
    frame = (
        "68 10 78 56 34 12 00 00 00 81 16 1F 90 00 56 34 12 00 2C 00 00 12 00 2C "
        "15 30 09 25 11 26 20 00 00 A2 16"
    )
    code, out = _decode("cjt188", frame)
    assert code == 0
    body = json.loads(out)
    assert body["meter_time"] == "2026-11-25T09:30:15"
    assert {"name": "volume", "value": "1234.56", "unit": "m3"} in body["registers"]


def test_dsmr_from_stdin_carries_the_offset_of_its_dst_flag() -> None:
    code, out = _decode("dsmr", "-", stdin=DSMR_V5.decode("ascii"))
    assert code == 0, out
    body = json.loads(out)
    assert body["meter_time"].endswith(("+01:00", "+02:00"))
    assert all(isinstance(r["value"], str) for r in body["registers"])


def test_json_envelope() -> None:
    envelope = (
        '{"v":1,"gateway":"g","seq":1,"sent_at":"2026-11-25T00:00:00Z","readings":[{"meter":"1",'
        '"register":"volume","value":"1.5","unit":"m3","time":"2026-11-25T08:00:00+08:00"}]}'
    )
    code, out = _decode("json", envelope)
    assert code == 0
    assert json.loads(out)["readings"][0]["value"] == "1.5"


@pytest.mark.parametrize(
    ("protocol", "frame", "rule"),
    [
        ("dlt645", "68 12 90 78 56 34 12 68 91 08 33 33 34 33 9A 78 56 34 89 16", "checksum"),
        ("dlt645", "68 12 90 78", "truncated"),
        ("dlt645", "zz", "hex"),
        ("cjt188", "68 10 78 56 34 12 00 00 00 81 16 1F 90 00 56 34 12 00 2C", "truncated"),
        ("dsmr", "/XMX5LGF0000000000000\r\n\r\n1-3:0.2.8(50)\r\n!FFFF\r\n", "crc"),
        ("json", "{}", "malformed_envelope"),
    ],
)
def test_bad_input_exits_2_with_one_line_naming_the_rule(protocol: str, frame: str, rule: str) -> None:
    code, out = _decode(protocol, frame)
    assert code == 2
    lines = out.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"{rule}: ")


def test_unknown_protocol_exits_2() -> None:
    assert _decode("modbus", "00")[0] == 2
