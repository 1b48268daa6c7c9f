"""Raw frames become readings of cumulative registers, with the right time for each protocol."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tanhui.meters import cjt188, dlt645
from tanhui.meters.errors import MeterError
from tanhui.meters.frames import FrameError, readings_from_frame

SHANGHAI = ZoneInfo("Asia/Shanghai")
READ_AT = datetime(2026, 11, 25, 10, 0, 3, tzinfo=timezone(timedelta(hours=8)))
DSMR_V5 = (Path(__file__).resolve().parents[2] / "fixtures" / "dsmr" / "v5.txt").read_bytes()


def test_dlt645_energy_answer_is_read_at_the_gateways_time() -> None:
    frame = bytes.fromhex("68129078563412689108333334339A78563488 16".replace(" ", ""))
    (reading,) = readings_from_frame("dlt645", frame, read_at=READ_AT, tz=SHANGHAI)
    assert (reading.meter, reading.register, reading.value, reading.unit) == (
        "123456789012",
        "energy_import",
        Decimal("12345.67"),
        "kWh",
    )
    assert reading.time == READ_AT


def test_dlt645_instantaneous_values_are_not_readings() -> None:
    frame = dlt645.encode(dlt645.read_answer("123456789012", 0x02010100, Decimal("220.1")))
    assert readings_from_frame("dlt645", frame, read_at=READ_AT, tz=SHANGHAI) == []


def test_dlt645_abnormal_answer_carries_no_reading() -> None:
    frame = bytes.fromhex("681290785634126 8D101358D16".replace(" ", ""))
    with pytest.raises(FrameError) as caught:
        readings_from_frame("dlt645", frame, read_at=READ_AT, tz=SHANGHAI)
    assert caught.value.code == "abnormal_answer"


def test_cjt188_meter_time_is_placed_in_the_community_zone() -> None:
    frame = bytes.fromhex(
        "68107856341200000081161F900056341200 2C0000120 02C15300925112620 0000A216".replace(" ", "")
    )
    (reading,) = readings_from_frame("cjt188", frame, read_at=READ_AT, tz=SHANGHAI)
    assert reading.meter == "00000012345678"
    assert reading.value == Decimal("1234.56")
    assert reading.time == datetime(2026, 11, 25, 1, 30, 15, tzinfo=UTC)


def test_cjt188_litres_stay_litres_for_the_unit_check() -> None:
    frame = cjt188.encode(
        cjt188.read_answer(
            0x10, "00000012345678", Decimal("5.00"), Decimal(0), cjt188.Unit.L, datetime(2026, 1, 1)
        )
    )
    (reading,) = readings_from_frame("cjt188", frame, read_at=READ_AT, tz=SHANGHAI)
    assert reading.unit == "L"


def test_dsmr_gives_electricity_and_mbus_volumes_with_their_own_times() -> None:
    readings = readings_from_frame("dsmr", DSMR_V5, read_at=READ_AT, tz=ZoneInfo("Europe/Amsterdam"))
    registers = {r.register for r in readings}
    assert {"energy_import", "energy_import_t1", "energy_import_t2"} <= registers
    assert all(r.time.tzinfo is not None for r in readings)
    volumes = [r for r in readings if r.register == "volume"]
    electricity = [r for r in readings if r.register == "energy_import"]
    assert electricity and all(r.unit == "kWh" for r in electricity)
    for volume in volumes:
        assert volume.meter != electricity[0].meter


@pytest.mark.parametrize(
    ("protocol", "frame", "code"),
    [
        ("dlt645", "68129078563412689108333334339A7856348916", "checksum"),
        ("cjt188", "6810785634", "truncated"),
        ("modbus", "00", "protocol"),
    ],
)
def test_broken_frames_raise_the_codec_rule(protocol: str, frame: str, code: str) -> None:
    with pytest.raises(MeterError) as caught:
        readings_from_frame(protocol, bytes.fromhex(frame), read_at=READ_AT, tz=SHANGHAI)
    assert caught.value.code == code


@pytest.mark.parametrize(
    ("wall", "code"),
    [
        (datetime(2026, 3, 29, 2, 30), "nonexistent_local_time"),
        (datetime(2026, 10, 25, 2, 30), "ambiguous_local_time"),
    ],
)
def test_cjt188_wall_times_that_daylight_saving_makes_impossible_are_refused(
    wall: datetime, code: str
) -> None:
    frame = cjt188.encode(
        cjt188.read_answer(0x10, "00000012345678", Decimal("5.00"), Decimal(0), cjt188.Unit.M3, wall)
    )
    with pytest.raises(FrameError) as caught:
        readings_from_frame("cjt188", frame, read_at=READ_AT, tz=ZoneInfo("Europe/Berlin"))
    assert caught.value.code == code
