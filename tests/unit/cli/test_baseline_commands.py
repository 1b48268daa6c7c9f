"""``tanhui weather subscribe`` refuses a broker address it cannot use before connecting anywhere."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tanhui.cli.baseline_commands import weather_app


@pytest.mark.parametrize(
    "broker", ["broker.local:mqtt", "broker.local:0", "broker.local:70000", ":1883", "[::1]:x"]
)
def test_a_broker_that_is_not_host_and_port_is_refused(broker: str) -> None:
    result = CliRunner().invoke(weather_app, ["subscribe", "--broker", broker])
    assert result.exit_code == 2
    assert "must be HOST:PORT with a port from 1 to 65535" in result.output
