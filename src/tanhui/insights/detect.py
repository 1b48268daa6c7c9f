"""Every detector over a community's meters: the one entry point the job and the evaluation call."""

from __future__ import annotations

from collections.abc import Sequence

from tanhui.insights.findings import Finding
from tanhui.insights.leak import detect_leaks
from tanhui.insights.meter_faults import (
    community_daily_index,
    detect_clock_jumps,
    detect_flat_zero,
    detect_reverse_flow,
    detect_stuck,
    detect_sudden_drop,
)
from tanhui.insights.parameters import DetectorParameters
from tanhui.insights.series import RegisterSeries
from tanhui.insights.unusual import CommunityIndex, community_index, detect_unusual_use

__all__ = ["detect", "detect_meter"]


def detect_meter(
    series: RegisterSeries,
    params: DetectorParameters,
    community: CommunityIndex | None = None,
    community_daily: dict[int, float] | None = None,
) -> list[Finding]:
    """The findings of every single-meter rule, in detection-time order. ``community`` and
    ``community_daily`` are the peers' hourly and daily indices of the meter's quantity (weather moves all
    homes at once); without them each meter is judged against its own past alone."""
    found = [
        *detect_leaks(series, params.leak),
        *detect_stuck(series, params.stuck),
        *detect_sudden_drop(series, params.sudden_drop, community_daily),
        *detect_reverse_flow(series, params.reverse_flow),
        *detect_clock_jumps(series, params.clock_jump),
        *detect_unusual_use(series, params.unusual_use, community),
    ]
    return sorted(found, key=lambda f: (f.detected_at, f.kind))


def detect(all_series: Sequence[RegisterSeries], params: DetectorParameters) -> list[Finding]:
    """Findings for a set of meters (a community: the flat-zero rule compares each with its peers)."""
    hourly_index = community_index(all_series, params.unusual_use)
    daily_index = community_daily_index(all_series, params.sudden_drop)
    found = [
        f
        for s in all_series
        for f in detect_meter(s, params, hourly_index.get(s.quantity), daily_index.get(s.quantity))
    ]
    found.extend(detect_flat_zero(all_series, params.flat_zero))
    return sorted(found, key=lambda f: (f.detected_at, f.meter, f.kind))
