"""``tanhui baseline evaluate`` on small CSV files: the JSON it prints and the predictions file."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tanhui.cli.baseline_commands import baseline_app

from .conftest import cooling_series

CST = timezone(timedelta(hours=8))
KEYS = {"model", "cv_rmse", "nmbe", "r2", "fsu", "fit_seconds", "avoided"}


def _daily_files(tmp_path: Path, saving: float = 0.1) -> tuple[Path, Path]:
    series = cooling_series(days=430, noise=0.2, seed=9)
    usage = series.usage.copy()
    usage[365:] *= 1 - saving
    u, t = tmp_path / "usage.csv", tmp_path / "temp.csv"
    with u.open("w") as uf, t.open("w") as tf:
        uf.write("start,value\n")
        tf.write("start,temperature_c\n")
        for i, day in enumerate(series.days):
            start = datetime.combine(day, datetime.min.time(), CST)
            uf.write(f"{start.isoformat()},{usage[i]:.4f}\n")
            # Hourly temperatures around the daily mean, as a station reports them.
            for h in range(24):
                value = series.temperature[i] + 3 * np.sin(2 * np.pi * (h - 9) / 24)
                tf.write(f"{(start + timedelta(hours=h)).isoformat()},{value:.2f}\n")
    return u, t


def test_evaluate_prints_the_metrics_and_avoided_use(tmp_path: Path) -> None:
    usage, temperature = _daily_files(tmp_path)
    predictions = tmp_path / "pred.csv"
    end = (date(2025, 1, 1) + timedelta(days=365)).isoformat()
    result = CliRunner().invoke(
        baseline_app,
        [
            "evaluate",
            "--usage", str(usage),
            "--temperature", str(temperature),
            "--baseline-end", end,
            "--model", "caltrack-daily",
            "--predictions", str(predictions),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert set(body) >= KEYS
    assert body["model"] == "caltrack-daily"
    assert body["eligible"] is True
    assert 0.07 < body["avoided"] / body["counterfactual"] < 0.13
    assert 0 < body["counted"] < body["avoided"]
    assert body["cv_rmse"] < 0.1
    rows = list(csv.DictReader(predictions.read_text().splitlines()))
    assert len(rows) == 430  # the 365 baseline days and 65 reporting days
    assert set(rows[0]) == {"start", "observed", "predicted"}
    # Anyone can recompute avoided use from the file.
    reporting = [r for r in rows if r["start"] >= end]
    recomputed = sum(float(r["predicted"]) - float(r["observed"]) for r in reporting)
    assert recomputed == pytest.approx(body["avoided"], rel=1e-9)


def test_evaluate_handles_hourly_usage_and_chooses_a_model(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    start = datetime(2025, 6, 2, tzinfo=CST)
    u, t = tmp_path / "usage.csv", tmp_path / "temp.csv"
    with u.open("w") as uf, t.open("w") as tf:
        uf.write("start,value\n")
        tf.write("start,temperature_c\n")
        for h in range(24 * 70):
            at = start + timedelta(hours=h)
            temp = 28 + 4 * np.sin(2 * np.pi * (at.hour - 9) / 24) + rng.normal(0, 0.5)
            value = 0.3 + 0.4 * (18 <= at.hour <= 22) + 0.1 * max(temp - 27, 0) + rng.normal(0, 0.03)
            uf.write(f"{at.isoformat()},{value:.4f}\n")
            tf.write(f"{at.isoformat()},{temp:.2f}\n")
    predictions = tmp_path / "pred.csv"
    result = CliRunner().invoke(
        baseline_app,
        ["evaluate", "--usage", str(u), "--temperature", str(t), "--baseline-end", "2025-07-28",
         "--predictions", str(predictions)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert set(body["selection"]) == {"caltrack-daily", "gbm-daily", "towt-hourly"}
    scored = {name: score for name, score in body["selection"].items() if score is not None}
    assert body["model"] == min(scored, key=lambda name: scored[name])
    assert body["selection"]["gbm-daily"] is None  # 28 training days per fold: too few for boosting
    assert body["eligible"] is False  # 56 baseline days: CalTRACK wants 365
    assert body["counted"] == 0
    assert "baseline_too_short" in body["reasons"]
    assert len(predictions.read_text().splitlines()) > 1


def test_evaluate_refuses_bad_input_naming_the_rule(tmp_path: Path) -> None:
    usage, temperature = _daily_files(tmp_path)
    runner = CliRunner()
    bad_date = runner.invoke(
        baseline_app,
        ["evaluate", "--usage", str(usage), "--temperature", str(temperature), "--baseline-end", "soon"],
    )
    assert bad_date.exit_code == 2
    bad_model = runner.invoke(
        baseline_app,
        ["evaluate", "--usage", str(usage), "--temperature", str(temperature), "--baseline-end", "2026-01-01",
         "--model", "towt-hourly"],
    )  # fmt: skip
    assert bad_model.exit_code == 2
    assert "unknown_model" in bad_model.output
    naive = tmp_path / "naive.csv"
    naive.write_text("start,value\n2025-01-01T00:00:00,1.0\n")
    refused = runner.invoke(
        baseline_app,
        [
            "evaluate",
            "--usage",
            str(naive),
            "--temperature",
            str(temperature),
            "--baseline-end",
            "2026-01-01",
        ],
    )
    assert refused.exit_code == 2
    assert "UTC offset" in refused.output
