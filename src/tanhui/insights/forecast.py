"""Year-end forecasts of a daily series (community consumption, avoided emissions) with prediction intervals.

The county plans with the year-end figure: will the community reach 3,000 t CO2e avoided? The forecast
must be honest about its uncertainty, so the interval is not a formula's assumption but the method's own
measured error: the same forecast is re-run from earlier origins in the series' history (a backtest) and
the spread of its relative errors at the same horizon gives the band (the empirical approach of Hyndman &
Athanasopoulos, *Forecasting: Principles and Practice*, 3rd ed., 2021, §5.5 and §5.10, time-series
cross-validation). Where history is too short for a backtest, the band widens with the square root of the
horizon from the day-to-day scatter of the recent weeks (§5.5, "benchmark methods"), and says so.

Point forecast, by the history available at the origin:

- **seasonal ratio** (a year or more): each remaining day is the same weekday 52 weeks earlier, scaled by
  the ratio of the last four weeks to the same four weeks a year before; cooling in a Baoting summer
  returns every year, and the ratio carries this year's level (more households, savings);
- **weekday level** (less than a year): each remaining day is the mean of the same weekday over the last
  four weeks;
- **mean of the known days** (fewer than four unbroken weeks, e.g. just after enrolment): each remaining
  day is the mean of the year's known days.

Pure: the series and the dates come in; nothing is read or measured here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from statistics import pstdev

WINDOW_DAYS = 28
SEASON_DAYS = 364  # 52 weeks: the same weekday a year earlier
MIN_BACKTESTS = 8
# z for a central 80 % band of a normal distribution (the fallback band only).
Z80 = 1.2816


@dataclass(frozen=True, slots=True)
class Forecast:
    """The year's total so far, the forecast of the whole year and its 80 % prediction interval."""

    year: int
    origin: date
    to_date: Decimal
    remaining_days: int
    point: Decimal
    low: Decimal
    high: Decimal
    method: str
    band: str

    def reaches(self, target: Decimal) -> str:
        """``likely`` when the band lies above ``target``, ``unlikely`` when below, else ``uncertain``."""
        if self.low >= target:
            return "likely"
        if self.high < target:
            return "unlikely"
        return "uncertain"


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """How the method did from earlier origins: the error of the total over the next ``horizon`` days."""

    horizon: int
    origins: int
    mape: float
    bias: float
    coverage80: float


def _point(series: Mapping[date, float], origin: date, days: list[date]) -> tuple[list[float], str] | None:
    """Forecasts for ``days`` (all after ``origin``) from the data up to and including ``origin``."""
    recent = [origin - timedelta(days=i) for i in range(WINDOW_DAYS)]
    if any(d not in series for d in recent):
        return None
    a_year_before = [d - timedelta(days=SEASON_DAYS) for d in recent]
    if all(d in series for d in a_year_before) and all(
        d - timedelta(days=SEASON_DAYS) in series for d in days
    ):
        before = sum(series[d] for d in a_year_before)
        if before > 0:
            ratio = sum(series[d] for d in recent) / before
            return [series[d - timedelta(days=SEASON_DAYS)] * ratio for d in days], "seasonal ratio"
    by_weekday: dict[int, list[float]] = {}
    for d in recent:
        by_weekday.setdefault(d.weekday(), []).append(series[d])
    level = {w: sum(v) / len(v) for w, v in by_weekday.items()}
    return [level[d.weekday()] for d in days], "weekday level"


def _total_forecast(series: Mapping[date, float], origin: date, horizon: int) -> float | None:
    days = [origin + timedelta(days=i) for i in range(1, horizon + 1)]
    found = _point(series, origin, days)
    return None if found is None else sum(found[0])


def backtest(series: Mapping[date, float], horizon: int, *, step: int = 7) -> tuple[list[float], list[float]]:
    """Relative errors ``(forecast - actual) / actual`` of the ``horizon``-day total from every ``step``-th
    origin whose next ``horizon`` days are all known, and the actual totals; newest origin first."""
    if not series or horizon < 1:
        return [], []
    last = max(series)
    errors: list[float] = []
    actuals: list[float] = []
    origin = last - timedelta(days=horizon)
    first = min(series)
    while origin - timedelta(days=WINDOW_DAYS) >= first:
        future = [origin + timedelta(days=i) for i in range(1, horizon + 1)]
        if all(d in series for d in future):
            actual = sum(series[d] for d in future)
            predicted = _total_forecast(series, origin, horizon)
            if predicted is not None and actual > 0:
                errors.append((predicted - actual) / actual)
                actuals.append(actual)
        origin -= timedelta(days=step)
    return errors, actuals


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def forecast_year_end(series: Mapping[date, float], year: int, origin: date) -> Forecast:
    """The total of ``year`` forecast at ``origin`` (the last day with data to use) with an 80 % band.

    ``series`` may hold earlier years (the seasonal method and the backtest use them); days after
    ``origin`` are ignored. Without four unbroken weeks up to ``origin`` it falls back to the mean of the
    year's known days. Raises ``ValueError`` when no day of ``year`` is known.
    """
    known = {d: v for d, v in series.items() if d <= origin}
    to_date = sum(v for d, v in known.items() if d.year == year)
    year_end = date(year, 12, 31)
    remaining = [origin + timedelta(days=i) for i in range(1, (year_end - origin).days + 1)]
    if not remaining:
        total = Decimal(str(round(to_date, 6)))
        return Forecast(year, origin, total, 0, total, total, total, "complete", "none: the year is over")
    found = _point(known, origin, remaining)
    if found is None:
        return _from_the_mean(known, year, origin, to_date, len(remaining))
    values, method = found
    rest = sum(values)
    errors, _ = backtest(known, len(remaining))
    # A backtest that forecast nothing (e = -1: the series was still zero at its origin, as avoided use is
    # before anyone enrols) says nothing about the size of the error in proportion: leave it out.
    errors = [e for e in errors if e > -1]
    if len(errors) >= MIN_BACKTESTS:
        # The method over-forecast by e when the error was e: the actual was forecast / (1 + e).
        low_rest = rest / (1 + _quantile(errors, 0.9))
        high_rest = rest / (1 + _quantile(errors, 0.1))
        band = f"80 % of {len(errors)} backtests at a {len(remaining)}-day horizon"
    else:
        recent = [known[origin - timedelta(days=i)] for i in range(WINDOW_DAYS)]
        spread = Z80 * pstdev(recent) * math.sqrt(len(remaining))
        low_rest, high_rest = rest - spread, rest + spread
        band = f"normal approximation from {WINDOW_DAYS} days' scatter (history too short to backtest)"
    low_rest, high_rest = max(0.0, min(low_rest, rest)), max(high_rest, rest)
    return Forecast(
        year,
        origin,
        _dec(to_date),
        len(remaining),
        _dec(to_date + rest),
        _dec(to_date + low_rest),
        _dec(to_date + high_rest),
        method,
        band,
    )


def _from_the_mean(
    known: Mapping[date, float], year: int, origin: date, to_date: float, left: int
) -> Forecast:
    # Fewer than four unbroken weeks (a community that enrolled last week, or a gap): each remaining day
    # is the mean of the year's known days; the band adds the uncertainty of that mean to the scatter of
    # the days, U·s² + U²·s²/n, days taken as independent.
    values = [v for d, v in known.items() if d.year == year]
    if not values:
        raise ValueError(f"no value of {year} up to {origin}: nothing to forecast from")
    n = len(values)
    mean = sum(values) / n
    rest = mean * left
    if n >= 2:
        half = Z80 * pstdev(values) * math.sqrt(n / (n - 1)) * math.sqrt(left * (1 + left / n))
        low_rest, high_rest = max(0.0, rest - half), rest + half
        band = f"normal approximation from {n} days (fewer than {WINDOW_DAYS} unbroken days)"
    else:
        low_rest = high_rest = rest
        band = "unknown: one day of data"
    return Forecast(
        year,
        origin,
        _dec(to_date),
        left,
        _dec(to_date + rest),
        _dec(to_date + low_rest),
        _dec(to_date + high_rest),
        "mean of the known days",
        band,
    )


def _dec(x: float) -> Decimal:
    return Decimal(str(round(x, 6)))


def backtest_summary(series: Mapping[date, float], horizon: int) -> BacktestResult:
    """Mean absolute percentage error, mean bias and how often the 80 % band held the actual, for the
    ``horizon``-day total; each origin's band comes from the backtests of origins before it only."""
    errors, _ = backtest(series, horizon)
    chronological = list(reversed(errors))
    inside = tested = 0
    for i, error in enumerate(chronological):
        earlier = chronological[:i]
        if len(earlier) < MIN_BACKTESTS:
            continue
        tested += 1
        if _quantile(earlier, 0.1) <= error <= _quantile(earlier, 0.9):
            inside += 1
    return BacktestResult(
        horizon=horizon,
        origins=len(errors),
        mape=_mean_abs(errors),
        bias=sum(errors) / len(errors) if errors else math.nan,
        coverage80=inside / tested if tested else math.nan,
    )


def _mean_abs(values: list[float]) -> float:
    return sum(abs(v) for v in values) / len(values) if values else math.nan
