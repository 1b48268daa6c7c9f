"""Scoring findings against labelled anomalies: precision, recall and time to detect, per kind.

Matching (docs/insights.md): a meter flagged with kind K is a true positive when it carries an injected
anomaly of kind K and at least one K finding on it was detected at or after the anomaly's start; any other
meter flagged with K is a false positive. Recall is true positives over meters injected with K; the time to
detect is from the start to the first such finding's ``detected_at``.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tanhui.insights.findings import Finding

__all__ = ["Label", "score"]


@dataclass(frozen=True, slots=True)
class Label:
    """A known anomaly: its kind (a FindingKind value), meter and start (epoch seconds, UTC)."""

    kind: str
    meter: str
    start: int


def score(
    findings: Sequence[Finding], labels: Sequence[Label], kinds: Iterable[str]
) -> dict[str, dict[str, float | int | None]]:
    """Per kind: ``precision``, ``recall``, ``median_hours_to_detect`` and the counts behind them.

    ``precision`` is None when nothing was flagged, ``recall`` None when nothing was injected.
    """
    report: dict[str, dict[str, float | int | None]] = {}
    for kind in kinds:
        starts = {label.meter: label.start for label in labels if label.kind == kind}
        flagged: dict[str, list[int]] = {}
        for finding in findings:
            if finding.kind == kind:
                flagged.setdefault(finding.meter, []).append(finding.detected_at)
        delays: list[float] = []
        false_positives = 0
        for meter, detected in flagged.items():
            start = starts.get(meter)
            after = [t for t in detected if start is not None and t >= start]
            if start is None or not after:
                false_positives += 1
                continue
            delays.append((min(after) - start) / 3600)
        hits = len(delays)
        report[kind] = {
            "precision": round(hits / len(flagged), 4) if flagged else None,
            "recall": round(hits / len(starts), 4) if starts else None,
            "median_hours_to_detect": round(statistics.median(delays), 2) if delays else None,
            "injected": len(starts),
            "flagged": len(flagged),
            "true_positives": hits,
            "false_positives": false_positives,
        }
    return report
