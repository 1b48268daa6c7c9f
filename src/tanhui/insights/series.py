"""A meter's register series as the detectors read it, and the interval and hourly views derived from it.

Detectors receive register readings (meter time, cumulative counts), never database rows, so they run the
same on stored readings (:mod:`tanhui.jobs.insights`) and on the simulator (``tanhui insights evaluate``).
A register that wraps at its capacity is unwrapped here, as the continuity rules of ingest do
(:mod:`tanhui.meters.continuity`): a step down by more than half the capacity is a rollover, any other
step down is a decrease (reverse flow or tampering), which the detectors report.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tanhui.domain.quantity import Quantity

__all__ = ["HourlyView", "RegisterSeries", "hourly"]

HOUR = 3600
DAY = 86_400


@dataclass(frozen=True, slots=True, eq=False)
class RegisterSeries:
    """One meter's register readings in meter-time order.

    ``times`` are epoch seconds (UTC) as the meter stated them; ``counts`` the register in counts of the
    meter's resolution (``counts_per_unit`` counts make one kWh or m³); ``capacity`` is where the register
    wraps to zero (``None`` if unknown). ``utc_offset`` is the community's offset from UTC in seconds,
    which places the local night and hour of day (Baoting: +8 h, no daylight saving).
    """

    meter: str
    quantity: Quantity
    times: NDArray[np.int64]
    counts: NDArray[np.int64]
    counts_per_unit: int
    capacity: int | None = None
    utc_offset: int = 8 * HOUR

    def __post_init__(self) -> None:
        if self.times.shape != self.counts.shape or self.times.ndim != 1:
            raise ValueError(
                f"meter {self.meter}: times and counts must be one-dimensional and of equal length, "
                f"got {self.times.shape} and {self.counts.shape}"
            )
        if self.counts_per_unit < 1:
            raise ValueError(
                f"meter {self.meter}: counts_per_unit must be positive, got {self.counts_per_unit}"
            )

    def deltas(self) -> NDArray[np.int64]:
        """Counts consumed in each interval between consecutive readings, rollovers unwrapped.

        A negative value is a decrease that no rollover explains.
        """
        steps = np.diff(self.counts)
        if self.capacity is not None:
            wrapped = steps < -(self.capacity // 2)
            steps = np.where(wrapped, steps + self.capacity, steps)
        return steps


@dataclass(frozen=True, slots=True, eq=False)
class HourlyView:
    """Consumption per local clock hour, in accounting units (kWh or m³) per hour.

    ``first_hour`` is the first hour's start in *local* epoch hours (UTC epoch plus the offset, divided by
    3600); ``flow[i]`` is NaN for an hour no interval covers.
    """

    first_hour: int
    flow: NDArray[np.float64]
    utc_offset: int

    def start_utc(self, index: int) -> int:
        """Epoch seconds (UTC) at which hour ``index`` starts."""
        return (self.first_hour + index) * HOUR - self.utc_offset

    @property
    def first_day_offset(self) -> int:
        """Hours from the first hour back to its local midnight."""
        return self.first_hour % 24


def hourly(series: RegisterSeries) -> HourlyView:
    """The series as local clock hours: each interval's consumption spread evenly over the hours it spans.

    Readings out of time order (a clock that jumped back) are skipped for this view; the clock detector
    reports them.
    """
    times = series.times
    if times.size < 2:
        return HourlyView(0, np.zeros(0), series.utc_offset)
    local = times + series.utc_offset
    deltas = series.deltas().astype(np.float64) / series.counts_per_unit
    begin, end = local[:-1], local[1:]
    keep = end > begin
    begin, end, deltas = begin[keep], end[keep], deltas[keep]
    if begin.size == 0:
        return HourlyView(0, np.zeros(0), series.utc_offset)
    first = int(begin.min()) // HOUR
    last = int(end.max() - 1) // HOUR
    total = np.zeros(last - first + 1)
    covered = np.zeros(last - first + 1)
    start_bin = begin // HOUR - first
    end_bin = (end - 1) // HOUR - first
    single = start_bin == end_bin
    # The usual case: an interval within one clock hour (hourly or 15-minute readings on the grid).
    np.add.at(total, start_bin[single], deltas[single])
    np.add.at(covered, start_bin[single], (end - begin)[single])
    # Longer intervals (gaps, off-grid clocks) are shared by time among the hours they overlap.
    for b, e, value in zip(begin[~single], end[~single], deltas[~single], strict=True):
        span = float(e - b)
        for hour in range(int(b) // HOUR, (int(e) - 1) // HOUR + 1):
            overlap = min(int(e), (hour + 1) * HOUR) - max(int(b), hour * HOUR)
            total[hour - first] += value * overlap / span
            covered[hour - first] += overlap
    # An hour counts as measured when intervals cover at least half of it (CalTRACK 2.0 §2.2's 50 % rule,
    # applied per hour); its flow is scaled to the whole hour.
    flow = np.where(covered >= HOUR / 2, total * HOUR / np.maximum(covered, 1), np.nan)
    return HourlyView(first, flow, series.utc_offset)
