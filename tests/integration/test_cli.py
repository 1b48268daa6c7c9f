"""The ``tanhui`` command as a newcomer runs it, in a subprocess with its own database."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tanhui.ingest.mqtt import MqttIngestWorker
from tanhui.ingest.pipeline import Ingestor
from tanhui.store import readings
from tanhui.store.engine import make_engine

TANHUI = [sys.executable, "-m", "tanhui.cli.main"]


def _run(args: list[str], env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TANHUI, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_demo_without_serving_prints_the_summary(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    done = _run(["demo", "--no-serve", "--households", "5", "--days", "3"], {"TANHUI_DATABASE_URL": url})
    assert done.returncode == 0, done.stderr
    summary = dict(re.findall(r"^([^:\n]+): (\S+)$", done.stdout, flags=re.MULTILINE))
    assert summary["households"] == "5"
    # 5 households x 3 meters x (3 days x 24 hours + 1) readings
    assert summary["readings stored"] == str(5 * 3 * 73)
    assert summary["quarantined"] == "0"
    # A year of billing history per meter: 13 calendar months touched (12 or 13, by the start day).
    assert int(summary["history meter-months"]) >= 5 * 3 * 12
    assert int(summary["total kg CO2e"]) > int(summary["total kg CO2e, European factors"]) > 0
    for key in ("baselines eligible", "points issued", "points redeemed", "vouchers", "alerts raised"):
        assert int(summary[key]) >= 0, key


@pytest.mark.mqtt
def test_sim_publishes_over_mqtt_to_a_worker(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sim.db'}"
    prefix = f"tanhui-cli-{uuid.uuid4().hex[:8]}"
    env = {"TANHUI_DATABASE_URL": url, "TANHUI_MQTT_TOPIC_PREFIX": prefix}
    # The first run registers the county; a worker then takes the second run's envelopes.
    first = _run(["sim", "--households", "3", "--days", "1", "--via", "mqtt"], env)
    assert first.returncode == 0, first.stderr
    assert "login: operator operator" in first.stdout
    engine = make_engine(url)
    worker = MqttIngestWorker(
        engine, Ingestor(engine, lambda: datetime.now(UTC)), host="127.0.0.1", port=1883, prefix=prefix
    )
    worker.start()
    try:
        assert worker.subscribed.wait(10)
        second = _run(["sim", "--households", "3", "--days", "1", "--via", "mqtt"], env)
        assert second.returncode == 0, second.stderr
        deadline = time.monotonic() + 30
        while worker.stats.stored < 3 * 3 * 25 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        worker.stop()
    with engine.connect() as conn:
        assert readings.count(conn) == 3 * 3 * 25
    engine.dispose()
