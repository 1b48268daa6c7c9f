"""Meter faults and tampering read from the register itself: stuck, flat zero, sudden drop, reverse flow,
clock jumps.

Signatures from ``shared/reference/baseline-methods.md`` §4.2 (CalTRACK 2.0 §2.3 data hygiene; stuck
registers; step drops from bypasses and magnets; negative energy from reversed wiring; timestamp faults).
Each rule compares the meter with its own history or, for a meter that never advanced, with its peers, so a
household that simply uses little is not a fault. Parameters: ``data/insights/detectors.toml``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from tanhui.domain.quantity import Quantity
from tanhui.insights.days import DayGrid, day_grid, robust_reference
from tanhui.insights.findings import Finding, FindingKind, Severity
from tanhui.insights.parameters import (
    ClockParameters,
    DropParameters,
    FlatZeroParameters,
    ReverseParameters,
    StuckParameters,
)
from tanhui.insights.series import DAY, HOUR, RegisterSeries, hourly

__all__ = [
    "community_daily_index",
    "detect_clock_jumps",
    "detect_flat_zero",
    "detect_reverse_flow",
    "detect_stuck",
    "detect_sudden_drop",
]


def _zero_runs(series: RegisterSeries) -> list[tuple[int, int]]:
    """(first, last) reading indices of each run of readings with an unchanged register (length ≥ 2)."""
    still = np.concatenate([[False], series.deltas() == 0, [False]])
    edges = np.flatnonzero(np.diff(still.astype(np.int8)))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def detect_stuck(series: RegisterSeries, params: StuckParameters) -> list[Finding]:
    """A register that has advanced before and now stays unchanged for longer than it ever did.

    The run must last at least the quantity's minimum and ``history_factor`` times the longest still run of
    the previous ``history_days`` (a gas meter rests every night; an electricity meter with a refrigerator
    behind it never does), and the meter needs ``min_history_days`` of readings before the run.
    """
    times = series.times
    if times.size < 2:
        return []
    minimum = params.min_hours.get(series.quantity, 24.0) * HOUR
    runs = _zero_runs(series)
    # advanced[k]: the register moved somewhere before reading k.
    advanced = np.concatenate([[False], np.cumsum(series.deltas() != 0) > 0])
    findings: list[Finding] = []
    for i, (first, last) in enumerate(runs):
        begin = int(times[first])
        if begin - int(times[0]) < params.min_history_days * DAY:
            continue
        if not advanced[first]:
            continue  # never advanced before: the flat-zero rule's case
        prior = [
            int(times[b] - times[a]) for a, b in runs[:i] if int(times[b]) > begin - params.history_days * DAY
        ]
        threshold = max(minimum, params.history_factor * max(prior, default=0))
        end_index = int(np.searchsorted(times[first : last + 1], begin + threshold, side="left")) + first
        if end_index > last:
            continue
        findings.append(
            Finding(
                kind=FindingKind.STUCK,
                meter=series.meter,
                start=begin,
                detected_at=int(times[end_index]),
                severity=Severity.WARNING,
                evidence={
                    "register_counts": int(series.counts[first]),
                    "still_hours": round((int(times[end_index]) - begin) / HOUR, 1),
                    "longest_prior_still_hours": round(max(prior, default=0) / HOUR, 1),
                    "threshold_hours": round(threshold / HOUR, 1),
                },
            )
        )
    return findings


def detect_flat_zero(all_series: Sequence[RegisterSeries], params: FlatZeroParameters) -> list[Finding]:
    """Meters whose register never moved while most meters of the same quantity consumed in that time.

    Compared with peers, not with itself: a meter that never advanced has no history to compare with.
    """
    findings: list[Finding] = []
    span = params.min_zero_hours * HOUR
    for series in all_series:
        times, counts = series.times, series.counts
        if times.size < 2 or int(times[-1] - times[0]) < span or np.any(counts != counts[0]):
            continue
        begin = int(times[0])
        at = int(times[int(np.searchsorted(times, begin + span, side="left"))])
        peers = [p for p in all_series if p is not series and p.quantity is series.quantity]
        consuming = 0
        for peer in peers:
            lo, hi = np.searchsorted(peer.times, [begin, at])
            hi = min(int(hi), peer.times.size - 1)
            if hi > lo and np.any(peer.counts[lo : hi + 1] != peer.counts[lo]):
                consuming += 1
        if len(peers) < params.min_peers or consuming < params.min_peer_share_consuming * len(peers):
            continue
        findings.append(
            Finding(
                kind=FindingKind.FLAT_ZERO,
                meter=series.meter,
                start=begin,
                detected_at=at,
                severity=Severity.WARNING,
                evidence={
                    "zero_hours": round((at - begin) / HOUR, 1),
                    "peers": len(peers),
                    "peers_consuming": consuming,
                },
            )
        )
    return findings


def _daily(grid: DayGrid) -> NDArray[np.float64]:
    """Each local day's use, scaled up from the hours measured; NaN with fewer than half measured."""
    measured = np.sum(~np.isnan(grid.values), axis=1)
    return np.where(measured >= 12, np.nansum(grid.values, axis=1) * 24 / np.maximum(measured, 1), np.nan)


def community_daily_index(
    all_series: Sequence[RegisterSeries], params: DropParameters
) -> dict[Quantity, dict[int, float]]:
    """Per quantity and local epoch day: the median meter's daily use over its median of the previous
    ``reference_days``. A cool week lowers every air-conditioned home at once; the drop rule compares a
    meter with its own past scaled by this, so weather alone is never a drop."""
    out: dict[Quantity, dict[int, float]] = {}
    for quantity in {s.quantity for s in all_series}:
        per_day: dict[int, list[float]] = {}
        for series in all_series:
            if series.quantity is not quantity:
                continue
            grid = day_grid(hourly(series))
            for d, total in enumerate(_daily(grid)):
                if not np.isnan(total):
                    per_day.setdefault(grid.first_day + d, []).append(float(total))
        days = sorted(per_day)
        medians = {day: float(np.median(per_day[day])) for day in days}
        index: dict[int, float] = {}
        for day in days:
            prior = [medians[p] for p in range(day - params.reference_days, day) if p in medians]
            usual = float(np.median(prior)) if len(prior) >= params.min_reference_days else 0.0
            index[day] = medians[day] / usual if usual > 0 else 1.0
        out[quantity] = index
    return out


def detect_sudden_drop(
    series: RegisterSeries, params: DropParameters, community: dict[int, float] | None = None
) -> list[Finding]:
    """Daily use that falls below ``ratio`` of the meter's own recent median (scaled by the community's
    departure from its own, ``community``: local epoch day → ratio) for consecutive days, but not to zero
    (zero is the stuck rule's)."""
    grid = day_grid(hourly(series))
    daily = _daily(grid)
    findings: list[Finding] = []
    run = 0
    reference = np.nan
    # The median of the previous days for every day at once; a run freezes its first day's value.
    rolling, _ = robust_reference(daily[:, None], params.reference_days, params.min_reference_days)
    for d, total in enumerate(daily):
        if np.isnan(total):
            run = 0
            continue
        if run == 0:
            reference = float(rolling[d, 0])
        expected = reference * (community or {}).get(grid.first_day + d, 1.0)
        if not np.isnan(expected) and expected > 0 and 0 < total < params.ratio * expected:
            run += 1
        else:
            run = 0
            continue
        if run == params.consecutive_days:
            first = d - run + 1
            findings.append(
                Finding(
                    kind=FindingKind.SUDDEN_DROP,
                    meter=series.meter,
                    start=grid.utc(first),
                    detected_at=grid.utc(d + 1),
                    severity=Severity.WARNING,
                    evidence={
                        "days": run,
                        "daily_mean": round(float(np.mean(daily[first : d + 1])), 3),
                        "reference_daily_median": round(reference, 3),
                        "ratio": round(float(np.mean(daily[first : d + 1])) / reference, 3),
                    },
                )
            )
    return findings


def detect_reverse_flow(series: RegisterSeries, params: ReverseParameters) -> list[Finding]:
    """A register that steps down ``min_decreasing_steps`` times within ``within_hours``, rollovers aside.

    One step down alone is a meter exchange or a correction (ingest's continuity rules handle those);
    a register that keeps counting backwards is reversed wiring, unreported generation or tampering.
    """
    deltas = series.deltas()
    down = np.flatnonzero(deltas < 0)
    times = series.times
    window = params.within_hours * HOUR
    need = params.min_decreasing_steps
    for k in range(need - 1, down.size):
        first = int(down[k - need + 1])
        if int(times[down[k] + 1] - times[first]) <= window:
            return [
                Finding(
                    kind=FindingKind.REVERSE_FLOW,
                    meter=series.meter,
                    start=int(times[first]),
                    detected_at=int(times[down[k] + 1]),
                    severity=Severity.CRITICAL,
                    evidence={
                        "decreasing_steps": need,
                        "counts_reversed": int(-deltas[down[k - need + 1] : down[k] + 1].clip(max=0).sum()),
                    },
                )
            ]
    return []


def detect_clock_jumps(series: RegisterSeries, params: ClockParameters) -> list[Finding]:
    """Readings whose meter time steps backwards, repeats, or lands off the meter's reading grid.

    The grid is the median step between readings; a forward step of a whole number of steps is a gap in
    the data, not a clock fault (data health reports gaps).
    """
    times = series.times
    if times.size < 3:
        return []
    steps = np.diff(times)
    positive = steps[steps > 0]
    if positive.size == 0:
        return []
    nominal = int(np.median(positive))
    off_grid = np.abs(steps - np.round(steps / nominal) * nominal) > params.tolerance_s
    bad = np.flatnonzero((steps <= 0) | off_grid)
    if bad.size == 0:
        return []
    k = int(bad[0])
    return [
        Finding(
            kind=FindingKind.CLOCK_JUMP,
            meter=series.meter,
            start=int(times[k]),
            detected_at=int(times[k + 1]),
            severity=Severity.WARNING,
            evidence={"step_s": int(steps[k]), "nominal_step_s": nominal, "jumps": int(bad.size)},
        )
    ]
