"""Local days as rows of 24 hourly values: the grid the night-flow, daily and hour-of-day rules read."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from tanhui.insights.series import DAY, HOUR, HourlyView

__all__ = ["DayGrid", "day_grid", "nan_median", "robust_reference"]


class DayGrid:
    """``values[d, h]``: the flow in local hour ``h`` of local day ``d`` (NaN where not measured)."""

    def __init__(self, view: HourlyView) -> None:
        pad = view.first_day_offset
        flow = np.concatenate([np.full(pad, np.nan), view.flow])
        days = -(-flow.size // 24) if flow.size else 0
        flow = np.concatenate([flow, np.full(days * 24 - flow.size, np.nan)])
        self.values: NDArray[np.float64] = flow.reshape(days, 24)
        self.first_day = (view.first_hour - pad) // 24  # local epoch day of row 0
        self.utc_offset = view.utc_offset

    @property
    def days(self) -> int:
        return int(self.values.shape[0])

    def utc(self, day: int, hour: float = 0) -> int:
        """Epoch seconds (UTC) of local ``hour`` on row ``day``."""
        return int((self.first_day + day) * DAY + hour * HOUR) - self.utc_offset


def day_grid(view: HourlyView) -> DayGrid:
    """The hourly view laid out as local days."""
    return DayGrid(view)


def nan_median(values: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Median over the last axis ignoring NaN (sorting puts NaN last), and the count of values it used."""
    ordered = np.sort(values, axis=-1)
    count = np.sum(~np.isnan(values), axis=-1)
    low = np.take_along_axis(ordered, np.maximum((count - 1) // 2, 0)[..., None], axis=-1)[..., 0]
    high = np.take_along_axis(ordered, np.maximum(count // 2, 0)[..., None], axis=-1)[..., 0]
    return np.where(count > 0, (low + high) / 2, np.nan), count


def robust_reference(
    values: NDArray[np.float64], window: int, minimum: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """For every row ``d`` of ``values`` (days × hours): median and median absolute deviation of each column
    over the ``window`` rows before it; NaN where fewer than ``minimum`` of them are measured."""
    padded = np.concatenate([np.full((window, values.shape[1]), np.nan), values])
    windows = sliding_window_view(padded, window, axis=0)[: values.shape[0]]  # days × hours × window
    median, count = nan_median(windows)
    mad, _ = nan_median(np.abs(windows - median[..., None]))
    enough = count >= minimum
    return np.where(enough, median, np.nan), np.where(enough, mad, np.nan)
