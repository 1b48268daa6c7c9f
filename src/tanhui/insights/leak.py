"""Water leaks from a household's smart water meter: continuous minimum night flow.

A home's water use stops at night; a running cistern or a dripping pipe does not. The rule watches the
minimum hourly flow in a night window (Smartvatten: 00:00–06:00, its hourly variant from 02:00; the
district-metering minimum night flow, MNF, at 02:00–04:00) and raises a leak when, for ``N`` consecutive
nights, that minimum never reaches zero and stands above the household's own usual night minimum by a
margin (a smart meter measures legitimate night use instead of assuming it, as MNF analysis must); a
large leak is raised after its first night. A home
with no history yet is compared with an absolute flow instead. Parameters and their sources:
``data/insights/detectors.toml`` [leak]; docs/insights.md.
"""

from __future__ import annotations

import numpy as np

from tanhui.domain.quantity import Quantity
from tanhui.insights.days import day_grid, robust_reference
from tanhui.insights.findings import Finding, FindingKind, Severity
from tanhui.insights.parameters import LeakParameters
from tanhui.insights.series import RegisterSeries, hourly

__all__ = ["detect_leaks", "night_minimum_flow"]

_LITRES_PER_M3 = 1000.0


def night_minimum_flow(series: RegisterSeries, params: LeakParameters) -> tuple[list[int], list[float]]:
    """Per local day: the UTC start of its night window and the minimum hourly flow in it (L/h; NaN when
    any hour of the window is unmeasured)."""
    grid = day_grid(hourly(series))
    window = grid.values[:, params.window_start_hour : params.window_end_hour] * _LITRES_PER_M3
    minimum = np.min(window, axis=1) if grid.days else np.zeros(0)
    return [grid.utc(d, params.window_start_hour) for d in range(grid.days)], [float(v) for v in minimum]


def detect_leaks(series: RegisterSeries, params: LeakParameters) -> list[Finding]:
    """Leak findings for a water meter (none for other quantities), one per run of leaking nights."""
    if series.quantity is not Quantity.WATER:
        return []
    starts, mnf = night_minimum_flow(series, params)
    window_hours = params.window_end_hour - params.window_start_hour
    findings: list[Finding] = []
    # The median of the previous nights for every night at once; a run freezes its first night's value.
    rolling, _ = robust_reference(
        np.array(mnf)[:, None], params.reference_nights, params.min_reference_nights
    )
    run = 0
    raised = False
    reference: float | None = None
    threshold = params.absolute_l_per_h
    for d, flow in enumerate(mnf):
        if np.isnan(flow):
            run = 0
            continue
        if run == 0:
            raised = False
            # The reference is frozen when a run begins, so the leak's own nights never raise it.
            frozen = float(rolling[d, 0])
            reference = None if np.isnan(frozen) else frozen
            threshold = params.absolute_l_per_h if reference is None else reference + params.min_rise_l_per_h
        if flow > 0 and flow >= threshold:
            run += 1
        else:
            run = 0
            continue
        excess = flow - (reference or 0.0)
        large = reference is not None and excess >= params.large_leak_l_per_h
        if not raised and (run >= params.consecutive_nights or large):
            raised = True
            first = d - run + 1
            findings.append(
                Finding(
                    kind=FindingKind.LEAK,
                    meter=series.meter,
                    start=starts[first],
                    detected_at=starts[d] + window_hours * 3600,
                    severity=Severity.CRITICAL if excess >= params.critical_l_per_h else Severity.WARNING,
                    evidence={
                        "nights": run,
                        "night_minimum_l_per_h": round(min(mnf[first : d + 1]), 2),
                        "reference_l_per_h": round(reference, 2) if reference is not None else "none",
                        "threshold_l_per_h": round(threshold, 2),
                        "window": f"{params.window_start_hour:02d}:00-{params.window_end_hour:02d}:00",
                    },
                )
            )
    return findings
