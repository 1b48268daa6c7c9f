"""Decode rate of each codec beside its independent peer parser, on the same frames, in one run.

DSMR: our decoder and dsmr-parser's ``TelegramParser`` (with the V5 spec) on the same 5.0.2 telegrams.
DL/T 645: our ``decode`` and the dlt645 package's ``DLT645Protocol.deserialize`` followed by its value
decoding (``MeterClientService.handle_response``), on the same read answers. CJ/T 188 has no Python peer
(meter-protocols.md §5), so only our rate is reported.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from dlt645 import DLT645Protocol, MeterClientService, RtuClient
from dsmr_parser import telegram_specifications
from dsmr_parser.parsers import TelegramParser

from tanhui.meters import cjt188, dlt645, dsmr

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def _rate(decode: Callable[[bytes], object], frames: Sequence[bytes], seconds: float = 1.5) -> float:
    """Frames decoded per second, over whole passes, for at least ``seconds``."""
    done = 0
    started = time.perf_counter()
    while True:
        for frame in frames:
            decode(frame)
        done += len(frames)
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return done / elapsed


def _dsmr_telegrams(count: int, rng: random.Random) -> list[bytes]:
    out = []
    start = datetime(2026, 11, 1, tzinfo=UTC)
    for i in range(count):
        at = start + timedelta(seconds=10 * i)
        telegram = dsmr.Telegram(
            header="XMX5LGF0000000000000",
            version="50",
            timestamp=dsmr.MeterTime.of(at, AMSTERDAM),
            equipment_id="4530303034303031353934353132",
            energy_import_t1=Decimal(rng.randrange(0, 10**9)) / 1000,
            energy_import_t2=Decimal(rng.randrange(0, 10**9)) / 1000,
            energy_export_t1=Decimal(rng.randrange(0, 10**6)) / 1000,
            energy_export_t2=Decimal(rng.randrange(0, 10**6)) / 1000,
            tariff=rng.choice([1, 2]),
            power_import=Decimal(rng.randrange(0, 10**5)) / 1000,
            power_export=Decimal(0),
            mbus=(
                dsmr.MbusChannel(
                    channel=1,
                    device_type=dsmr.DEVICE_GAS,
                    equipment_id="4730303032333430313439363939343135",
                    value=Decimal(rng.randrange(0, 10**8)) / 1000,
                    unit="m3",
                    captured_at=dsmr.MeterTime.of(at.replace(second=0), AMSTERDAM),
                ),
            ),
        )
        out.append(dsmr.encode(telegram))
    return out


def run(frames_per_codec: int = 200, seconds: float = 1.5) -> list[dict[str, object]]:
    rng = random.Random(2026)
    telegrams = _dsmr_telegrams(frames_per_codec, rng)
    spec_parser = TelegramParser(telegram_specifications.V5)
    texts = [t.decode("ascii") for t in telegrams]
    answers = [
        dlt645.encode(
            dlt645.read_answer(
                f"{rng.randrange(10**12):012d}", 0x00010000, Decimal(rng.randrange(10**8)) / 100
            ),
            wake_up=4,
        )
        for _ in range(frames_per_codec)
    ]
    peer = MeterClientService(RtuClient())

    def peer_dlt645(raw: bytes) -> object:
        frame = DLT645Protocol.deserialize(raw)
        assert frame is not None
        peer.address = bytearray(frame.addr)
        return peer.handle_response(frame)

    water = [
        cjt188.encode(
            cjt188.read_answer(
                0x10,
                f"{rng.randrange(10**14):014d}",
                Decimal(rng.randrange(10**8)) / 100,
                Decimal(rng.randrange(10**8)) / 100,
                cjt188.Unit.M3,
                datetime(2026, 11, 25, 9, 30, 15),
            )
        )
        for _ in range(frames_per_codec)
    ]
    text_iter = dict(zip(telegrams, texts, strict=True))
    rows = [
        (
            "DSMR P1 5.0.2",
            "tanhui.meters.dsmr",
            _rate(lambda b: dsmr.decode(b, tz=AMSTERDAM), telegrams, seconds),
        ),
        (
            "DSMR P1 5.0.2",
            "dsmr-parser (peer)",
            _rate(lambda b: spec_parser.parse(text_iter[b]), telegrams, seconds),
        ),
        ("DL/T 645-2007", "tanhui.meters.dlt645", _rate(dlt645.decode, answers, seconds)),
        ("DL/T 645-2007", "dlt645 (peer)", _rate(peer_dlt645, answers, seconds)),
        ("CJ/T 188-2004", "tanhui.meters.cjt188", _rate(cjt188.decode, water, seconds)),
    ]
    return [{"protocol": p, "decoder": d, "frames_per_s": round(r)} for p, d, r in rows]
