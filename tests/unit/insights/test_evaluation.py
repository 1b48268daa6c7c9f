"""Matching findings to labelled anomalies, and the evaluate command on a small simulated county."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tanhui.cli.insights_commands import insights_app
from tanhui.insights.evaluation import Label, score
from tanhui.insights.findings import Finding, FindingKind, Severity


def _finding(kind: FindingKind, meter: str, detected_at: int) -> Finding:
    return Finding(kind, meter, detected_at - 10, detected_at, Severity.WARNING)


def test_matching_counts_a_meter_once_and_only_after_its_fault_start() -> None:
    labels = [Label("leak", "w1", 1000), Label("leak", "w2", 1000), Label("stuck", "e1", 500)]
    findings = [
        _finding(FindingKind.LEAK, "w1", 4600),  # 1 h after start: true positive
        _finding(FindingKind.LEAK, "w1", 8200),  # the same meter again: still one
        _finding(FindingKind.LEAK, "w2", 900),  # before the fault started: false positive
        _finding(FindingKind.LEAK, "w3", 5000),  # no leak there: false positive
        _finding(FindingKind.STUCK, "w1", 5000),  # a leak meter flagged stuck: false positive for stuck
    ]
    report = score(findings, labels, ["leak", "stuck", "clock_jump"])
    assert report["leak"]["precision"] == round(1 / 3, 4)
    assert report["leak"]["recall"] == 0.5
    assert report["leak"]["median_hours_to_detect"] == 1.0
    assert report["stuck"] == {
        "precision": 0.0,
        "recall": 0.0,
        "median_hours_to_detect": None,
        "injected": 1,
        "flagged": 1,
        "true_positives": 0,
        "false_positives": 1,
    }
    assert report["clock_jump"]["precision"] is None and report["clock_jump"]["recall"] is None


def test_evaluate_prints_one_json_object_meeting_the_targets() -> None:
    result = CliRunner().invoke(
        insights_app, ["evaluate", "--households", "60", "--days", "21", "--seed", "3"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert {"leak", "stuck"} <= set(report)
    for kind in ("leak", "stuck"):
        assert report[kind]["injected"] >= 5
        assert report[kind]["precision"] >= 0.9
        assert report[kind]["recall"] >= 0.9
        assert report[kind]["median_hours_to_detect"] > 0
