"""Unusual electricity or gas use against the household's own history, by hour of day.

For each hour, the reference is the median and median absolute deviation (MAD) of the same local hour of
day over the previous weeks; an hour whose robust z-score, (x − median) / (1.4826 · MAD), exceeds the
threshold for several consecutive hours is unusual (baseline-methods.md §4.3: robust z per hour of week
above about 3–4 for k consecutive intervals). Hour of day rather than hour of week: four weeks of data
give only four values per hour of week, too few for a median and a MAD. Independent of ``tanhui.baseline``
so that it runs on a household's first weeks of data.

Weather moves every household at once (the first hot week switches every air conditioner on), so the
reference is scaled by the community's own departure from its usual level at that hour
(:func:`community_index`: the median household's use over its own hour-of-day median); a household is
unusual only against what its peers did in the same hour (baseline-methods.md §4.3 item 4, peer
comparison).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tanhui.domain.quantity import Quantity
from tanhui.insights.days import DayGrid, day_grid, nan_median, robust_reference
from tanhui.insights.findings import Finding, FindingKind, Severity
from tanhui.insights.parameters import UnusualParameters
from tanhui.insights.series import HourlyView, RegisterSeries, hourly

__all__ = ["CommunityIndex", "community_index", "detect_unusual_use"]

# MAD × 1.4826 estimates the standard deviation of normally distributed data (Rousseeuw & Croux 1993).
_MAD_TO_SD = 1.4826


@dataclass(frozen=True, slots=True, eq=False)
class CommunityIndex:
    """Per local hour (from ``first_hour``, local epoch hours): the community's use over its usual use at
    that hour of day; 1 where unknown."""

    first_hour: int
    ratio: NDArray[np.float64]

    def on(self, grid: DayGrid) -> NDArray[np.float64]:
        """The ratio for every cell of ``grid`` (days × 24)."""
        hours = (grid.first_day * 24 + np.arange(grid.days * 24)) - self.first_hour
        inside = (hours >= 0) & (hours < self.ratio.size)
        out = np.ones(hours.size)
        out[inside] = self.ratio[hours[inside]]
        return out.reshape(grid.days, 24)


def community_index(
    all_series: Sequence[RegisterSeries], params: UnusualParameters
) -> dict[Quantity, CommunityIndex]:
    """For each quantity the rule watches: the median meter's hourly use relative to its usual level."""
    out: dict[Quantity, CommunityIndex] = {}
    for quantity in params.quantities:
        views: list[HourlyView] = [hourly(s) for s in all_series if s.quantity is quantity]
        views = [v for v in views if v.flow.size]
        if not views:
            continue
        first = min(v.first_hour for v in views)
        last = max(v.first_hour + v.flow.size for v in views)
        stack = np.full((last - first, len(views)), np.nan)
        for j, view in enumerate(views):
            stack[view.first_hour - first : view.first_hour - first + view.flow.size, j] = view.flow
        median, _ = nan_median(stack)
        grid = day_grid(HourlyView(first, median, views[0].utc_offset))
        usual, _ = robust_reference(grid.values, params.reference_days, params.min_reference_days)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(usual > 0, grid.values / usual, np.nan)
        flat = ratio.ravel()[first - grid.first_day * 24 :][: last - first]
        out[quantity] = CommunityIndex(first, np.nan_to_num(flat, nan=1.0))
    return out


def detect_unusual_use(
    series: RegisterSeries, params: UnusualParameters, community: CommunityIndex | None = None
) -> list[Finding]:
    """Runs of ``consecutive_hours`` or more hours above the robust z threshold; one finding per day."""
    if series.quantity not in params.quantities:
        return []
    grid = day_grid(hourly(series))
    values = grid.values
    median, mad = robust_reference(values, params.reference_days, params.min_reference_days)
    if community is not None:
        # What the household's usual use becomes when the whole community is running above its own.
        factor = community.on(grid)
        median, mad = median * factor, mad * factor
    scale = np.maximum(_MAD_TO_SD * mad, params.mad_floor_share * median)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(scale > 0, (values - median) / scale, np.nan)
    flags = np.nan_to_num(z.ravel(), nan=0.0) >= params.robust_z
    findings: list[Finding] = []
    run = 0
    last_day = -1
    for index, flagged in enumerate(flags):
        run = run + 1 if flagged else 0
        if run < params.consecutive_hours:
            continue
        day = index // 24
        if day == last_day:
            continue
        last_day = day
        first = index - run + 1
        hours = slice(first, index + 1)
        observed = float(np.mean(values.ravel()[hours]))
        expected = float(np.mean(median.ravel()[hours]))
        findings.append(
            Finding(
                kind=FindingKind.UNUSUAL_USE,
                meter=series.meter,
                start=grid.utc(0, first),
                detected_at=grid.utc(0, index + 1),
                severity=Severity.INFO,
                evidence={
                    "hours": run,
                    "observed_per_hour": round(observed, 3),
                    "usual_per_hour": round(expected, 3),
                    "min_robust_z": round(float(np.min(z.ravel()[hours])), 1),
                },
            )
        )
    return findings
