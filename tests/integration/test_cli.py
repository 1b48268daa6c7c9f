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

from tanhui.cli import publish
from tanhui.ingest.mqtt import MqttIngestWorker
from tanhui.ingest.pipeline import Ingestor
from tanhui.store import readings, registry
from tanhui.store.engine import make_engine
from tests.integration import servers

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
def test_sim_publishes_over_mqtt_as_each_gateway_to_a_broker_that_checks(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sim.db'}"
    prefix = f"tanhui-cli-{uuid.uuid4().hex[:8]}"
    env = {"TANHUI_DATABASE_URL": url, "TANHUI_MQTT_TOPIC_PREFIX": prefix}
    # The first run registers the county (and publishes to the shared broker, which lets anyone in).
    first = _run(["sim", "--households", "3", "--days", "1", "--via", "mqtt"], env)
    assert first.returncode == 0, first.stderr
    assert "login: operator operator" in first.stdout
    with servers.temporary_directory("tanhui-sim-broker-") as broker_dir:
        port = servers.free_port()
        env["TANHUI_MQTT_PORT"] = str(port)
        configured = _run(["broker-config", "--out", str(broker_dir), "--port", str(port)], env)
        assert configured.returncode == 0, configured.stdout + configured.stderr
        password = (broker_dir / "ingest-worker.password").read_text().strip()
        engine = make_engine(url)
        with servers.private_mosquitto(broker_dir / "mosquitto.conf", port):
            worker = MqttIngestWorker(
                engine,
                Ingestor(engine, lambda: datetime.now(UTC)),
                host="127.0.0.1",
                port=port,
                prefix=prefix,
                username="tanhui-ingest",
                password=password,
            )
            worker.start()
            try:
                assert worker.subscribed.wait(10)
                # Each gateway logs in with its name and token; the ACL lets it publish to its own topic.
                second = _run(["sim", "--households", "3", "--days", "1", "--via", "mqtt"], env)
                assert second.returncode == 0, second.stdout + second.stderr
                deadline = time.monotonic() + 30
                while worker.stats.stored < 3 * 3 * 25 and time.monotonic() < deadline:
                    time.sleep(0.1)
            finally:
                worker.stop()
            # A token the broker does not know is refused at CONNACK, and the publisher says so.
            with engine.connect() as conn:
                gateway = registry.gateway_credentials(conn)[0].name
            with pytest.raises(publish.PublishError, match=f"the broker refused gateway {gateway}"):
                publish.over_mqtt(
                    "127.0.0.1", port, prefix, "baoting", [(gateway, b"{}")], {gateway: "wrong"}
                )
        with engine.connect() as conn:
            assert readings.count(conn) == 3 * 3 * 25
        engine.dispose()
