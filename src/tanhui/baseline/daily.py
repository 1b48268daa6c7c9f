"""The CalTRACK-family daily model: base load + heating and cooling degree days + day-type terms.

usage(day) = μ + β_off·day_off + β_hol·holiday + β_H·HDD(T_h) + β_C·CDD(T_c)

following CalTRACK 2.0 §3 (PRISM-like daily model): a grid search over balance points, candidate models
intercept-only, HDD-only, CDD-only and HDD+CDD, qualification by positive degree-day coefficients with
p < 0.1, selection by the highest adjusted R². Tanhui adds the day-type terms (weekends and public
holidays off, 调休 make-up workdays on) that CalTRACK 2.1 approximates with weekday/weekend splits.

Model version 1.1 (see docs/baseline.md §2.1 for the evidence):

- **Degree-hours.** When the series carries hourly temperatures, degree days are also computed as the
  day's mean of hourly degrees above/below the balance point (ASHRAE Handbook—Fundamentals 2021,
  ch. 14, degree-days from hourly data) instead of from the daily mean only. A day that is warm in the
  afternoon and cool at night needs cooling although its mean sits below the balance point; degree-hours
  see that, the daily mean does not. Both aggregations are fitted and the one with the higher adjusted R²
  on the baseline window wins (ties keep the daily mean, CalTRACK's form); days with fewer than half of
  their hours use the daily mean (CalTRACK 2.0 §2.2's coverage rule).
- **Coarse-to-fine balance points.** The grid is searched in ``balance_coarse_step_c`` steps, then the
  neighbours at ``balance_step_c`` around the best candidate are tried (CalTRACK 2.0 §3.1 asks for steps of
  at most 3 °F; 0.5 °C = 0.9 °F).
- **No cooling term for gas** (``cooling=False``), as CalTRACK 2.0 §3 prescribes for gas meters.

Speed: all candidates are solved at once from one set of Gram blocks (X'X, X'y assembled from B'B, B'H,
H'H, …), so a meter-year costs a few small matrix products and batched solves rather than hundreds of
regressions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special

from tanhui.baseline.calendar import day_types
from tanhui.baseline.errors import BaselineError
from tanhui.baseline.metrics import cv_rmse, fit_metrics
from tanhui.baseline.record import ModelRecord
from tanhui.baseline.rules import BaselineRules
from tanhui.baseline.series import HOURS, DailySeries

__all__ = [
    "ADJUSTED_R2",
    "AGGREGATIONS",
    "AGGREGATION_RULES",
    "CROSS_VALIDATION",
    "NAME",
    "VERSION",
    "DailyFit",
    "degree_days",
    "fit_daily",
]

NAME = "caltrack-daily"
# 1.1.0: degree-hours beside daily-mean degree days, 0.5 °C balance points, no cooling term for gas.
VERSION = "1.1.0"
DAILY_MEAN = "daily_mean"
DEGREE_HOURS = "degree_hours"
AGGREGATIONS = (DAILY_MEAN, DEGREE_HOURS)
ADJUSTED_R2 = "adjusted_r2"
CROSS_VALIDATION = "cross_validation"
AGGREGATION_RULES = (ADJUSTED_R2, CROSS_VALIDATION)
MIN_DAYS = 15
Float = NDArray[np.float64]
# (label, heating index, cooling index, coefficients, SS_res, p-values)
_Candidate = tuple[str, int | None, int | None, Float, float, Float]


def degree_days(
    temperature: Float, hourly: Float | None, grid: Float, *, min_hours: int
) -> tuple[Float, Float]:
    """Heating and cooling degree days (°C·day per day) of each day at each balance point in ``grid``.

    Returns two arrays of shape (days, len(grid)): max(T_bp − T, 0) and max(T − T_bp, 0) of the daily mean
    ``temperature``, or — for days whose ``hourly`` row (days, 24) has at least ``min_hours`` values — the
    mean over those hours of the hourly degrees (degree-hours / hours). Sorted ``grid`` required.
    """
    heating = np.maximum(grid[None, :] - temperature[:, None], 0.0)
    cooling = np.maximum(temperature[:, None] - grid[None, :], 0.0)
    if hourly is None:
        return heating, cooling
    present = ~np.isnan(hourly)
    count = present.sum(axis=1)
    rows = np.flatnonzero(count >= min_hours)
    if rows.size == 0:
        return heating, cooling
    values = hourly[rows]
    mask = present[rows]
    g = grid.size
    # position[r, h] = how many balance points lie strictly below that hour's temperature; one histogram
    # per day over those positions gives, for every balance point at once, the count and the sum of the
    # hours above it (reverse cumulative sums) and below it (cumulative sums): O(hours + grid) per day.
    position = np.searchsorted(grid, np.where(mask, values, 0.0), side="left")
    flat = (np.arange(rows.size)[:, None] * (g + 1) + position)[mask]
    n_hist = np.bincount(flat, minlength=rows.size * (g + 1)).reshape(rows.size, g + 1)
    s_hist = np.bincount(flat, weights=values[mask], minlength=rows.size * (g + 1)).reshape(rows.size, g + 1)
    n_below, s_below = np.cumsum(n_hist, axis=1)[:, :g], np.cumsum(s_hist, axis=1)[:, :g]
    n_above = n_hist.sum(axis=1)[:, None] - n_below
    s_above = s_hist.sum(axis=1)[:, None] - s_below
    hours = count[rows][:, None].astype(np.float64)
    heating[rows] = (grid[None, :] * n_below - s_below) / hours
    cooling[rows] = (s_above - grid[None, :] * n_above) / hours
    return np.maximum(heating, 0.0), np.maximum(cooling, 0.0)


def _min_hours(rules: BaselineRules) -> int:
    # CalTRACK 2.0 §2.2: a daily value built from intervals needs at least half of them.
    return int(np.ceil(rules.min_interval_coverage * HOURS))


@dataclass(frozen=True, slots=True)
class DailyFit:
    """A fitted daily model; :meth:`predict` gives the counterfactual for any days with temperatures."""

    record: ModelRecord
    coefficients: dict[str, float]
    heating_balance_c: float | None
    cooling_balance_c: float | None
    country: str
    aggregation: str = DAILY_MEAN
    min_hours: int = HOURS // 2

    def predict(self, series: DailySeries) -> Float:
        dt = day_types(series.days, self.country)
        t = series.temperature
        hourly = series.hourly_temperature if self.aggregation == DEGREE_HOURS else None
        out = np.full(len(series), self.coefficients["intercept"])
        out += self.coefficients.get("day_off", 0.0) * dt.day_off
        out += self.coefficients.get("holiday", 0.0) * dt.holiday
        if self.heating_balance_c is not None:
            h, _ = degree_days(t, hourly, np.array([self.heating_balance_c]), min_hours=self.min_hours)
            out += self.coefficients["hdd"] * h[:, 0]
        if self.cooling_balance_c is not None:
            _, c = degree_days(t, hourly, np.array([self.cooling_balance_c]), min_hours=self.min_hours)
            out += self.coefficients["cdd"] * c[:, 0]
        out[np.isnan(t)] = np.nan
        return out


def _solve(xtx: Float, xty: Float, yty: float, n: int) -> tuple[Float, Float, Float]:
    """Batched OLS from normal equations: coefficients (K,p), residual sum of squares (K,), p-values (K,p)."""
    p = xtx.shape[1]
    ridge = 1e-10 * np.trace(xtx, axis1=1, axis2=2)[:, None, None] * np.eye(p)
    inv = np.linalg.inv(xtx + ridge)
    beta = np.einsum("kij,kj->ki", inv, xty)
    ss_res = yty - 2 * np.einsum("ki,ki->k", beta, xty) + np.einsum("ki,kij,kj->k", beta, xtx, beta)
    ss_res = np.maximum(ss_res, 0.0)
    dof = max(n - p, 1)
    sigma2 = ss_res / dof
    se = np.sqrt(np.maximum(np.einsum("kii->ki", inv) * sigma2[:, None], 1e-300))
    # stats.t.sf(x, dof) is special.stdtr(dof, -x); the ufunc skips scipy.stats' per-call argument checks,
    # which cost more than the solve itself at these sizes.
    pvalues = 2 * special.stdtr(dof, -np.abs(beta / se))
    return beta, ss_res, pvalues


@dataclass(frozen=True, slots=True)
class _Best:
    candidate: _Candidate
    names: list[str]
    adj_r2: float
    aggregation: str


def _adjusted_r2(y: Float) -> Callable[[_Candidate], float]:
    """Adjusted R² of a candidate fitted to ``y`` (the score CalTRACK 2.0 §3.4 selects by)."""
    n = y.size
    ss_tot = float(np.sum((y - y.mean()) ** 2))

    def adjusted(candidate: _Candidate) -> float:
        params = candidate[3].size
        if ss_tot == 0 or n - params <= 0:
            return 0.0
        return 1 - (candidate[4] / (n - params)) / (ss_tot / (n - 1))

    return adjusted


class _Window:
    """The usable days of a baseline window, with each aggregation's degree days computed once, so that
    the whole window and every cross-validation training set search the same columns."""

    def __init__(
        self, series: DailySeries, rules: BaselineRules, country: str, cooling: bool, keep: NDArray[np.bool_]
    ) -> None:
        self.rules, self.cooling = rules, cooling
        self.y = series.usage[keep]
        self.t = series.temperature[keep]
        self.hourly = None if series.hourly_temperature is None else series.hourly_temperature[keep]
        self.min_hours = _min_hours(rules)
        dt = day_types([d for d, k in zip(series.days, keep, strict=True) if k], country)
        self.columns = {"intercept": np.ones(self.y.size), "day_off": dt.day_off, "holiday": dt.holiday}
        self.grid = np.arange(rules.balance_min_c, rules.balance_max_c + 1e-9, rules.balance_step_c)
        steps = (self.grid - self.grid[0]) / rules.balance_coarse_step_c
        self.coarse = np.isclose(steps, np.round(steps))
        self._degrees: dict[str, tuple[Float, Float]] = {}

    def has_hours(self) -> bool:
        return self.hourly is not None and bool(
            np.any(np.sum(~np.isnan(self.hourly), axis=1) >= self.min_hours)
        )

    def degrees(self, aggregation: str) -> tuple[Float, Float]:
        if aggregation not in self._degrees:
            source = self.hourly if aggregation == DEGREE_HOURS else None
            self._degrees[aggregation] = degree_days(self.t, source, self.grid, min_hours=self.min_hours)
        return self._degrees[aggregation]

    def best(self, aggregation: str, rows: NDArray[np.bool_]) -> _Best:
        """The CalTRACK choice among the candidates fitted on the days in ``rows``."""
        y = self.y[rows]
        h, c = (d[rows] for d in self.degrees(aggregation))
        names = ["intercept"]
        cols = [self.columns["intercept"][rows]]
        for name in ("day_off", "holiday"):
            col = self.columns[name][rows]
            # A column without variation (no holiday in the window) or equal to another would be singular.
            if 2 <= col.sum() <= y.size - 2 and not any(np.array_equal(col, x) for x in cols):
                names.append(name)
                cols.append(col)
        b = np.column_stack(cols)
        adjusted = _adjusted_r2(y)
        search = _Search(y, h, c, self.grid, self.rules, self.coarse, self.cooling, adjusted)
        found = search.best(b)
        # Day-type terms stay only when they pass the same significance test as the degree-day terms
        # (CalTRACK 2.0 §3.4's p < 0.1): a calendar without a real effect would only add noise.
        weak = [i for i in range(1, len(names)) if found[5][i] >= self.rules.max_p_value]
        if weak:
            keep_cols = [i for i in range(len(names)) if i not in weak]
            names = [names[i] for i in keep_cols]
            found = search.best(b[:, keep_cols])
        return _Best(found, names, adjusted(found), aggregation)

    def predict(self, best: _Best, rows: NDArray[np.bool_]) -> Float:
        _, h_index, c_index, beta, _, _ = best.candidate
        cols = [self.columns[name][rows] for name in best.names]
        h, c = self.degrees(best.aggregation)
        if h_index is not None:
            cols.append(h[rows, h_index])
        if c_index is not None:
            cols.append(c[rows, c_index])
        out: Float = np.column_stack(cols) @ beta
        return out

    def cv_score(self, aggregation: str) -> float:
        """CV(RMSE) of the whole CalTRACK selection under blocked cross-validation (§2.4's scheme: blocks
        of ``block_days`` usable days dealt to ``folds`` folds in turn), NaN when a training set would be
        too short for a daily fit."""
        n = self.y.size
        fold = (np.arange(n) // self.rules.block_days) % self.rules.folds
        if any(int(np.sum(fold != f)) < MIN_DAYS for f in range(self.rules.folds)):
            return float("nan")
        predicted = np.full(n, np.nan)
        for f in range(self.rules.folds):
            held = fold == f
            if held.any():
                predicted[held] = self.predict(self.best(aggregation, ~held), held)
        return cv_rmse(self.y, predicted)


def _choose(window: _Window, rule: str) -> tuple[_Best, str | None, dict[str, float]]:
    """The chosen fit, the rule that chose the aggregation (None: no hours, nothing to choose) and each
    aggregation's score under it. Ties keep the daily mean, CalTRACK's own aggregation."""
    everything = np.ones(window.y.size, dtype=bool)
    best = window.best(DAILY_MEAN, everything)
    if not window.has_hours():
        return best, None, {}
    other = window.best(DEGREE_HOURS, everything)
    if rule == CROSS_VALIDATION:
        scores = {agg: window.cv_score(agg) for agg in AGGREGATIONS}
        if not any(np.isnan(v) for v in scores.values()):
            return (other if scores[DEGREE_HOURS] < scores[DAILY_MEAN] else best), rule, scores
        # Too few days for three training sets: the in-sample rule decides.
    scores = {DAILY_MEAN: best.adj_r2, DEGREE_HOURS: other.adj_r2}
    return (other if other.adj_r2 > best.adj_r2 else best), ADJUSTED_R2, scores


def fit_daily(
    series: DailySeries,
    rules: BaselineRules,
    *,
    country: str = "CN",
    cooling: bool = True,
    aggregation_rule: str = ADJUSTED_R2,
) -> DailyFit:
    """Fit the daily model on every day of ``series`` with usage and temperature (CalTRACK 2.0 §3).

    ``cooling=False`` leaves out the cooling term (CalTRACK 2.0 §3: gas meters get no CDD term).
    ``aggregation_rule`` decides between daily-mean degree days and degree-hours when the series has
    hourly temperatures: ``adjusted_r2`` (in-sample) or ``cross_validation`` (blocked CV inside the
    window, as §2.4 scores whole models). Either way the candidates within an aggregation are chosen by
    adjusted R².
    """
    if aggregation_rule not in AGGREGATION_RULES:
        raise BaselineError(
            f"unknown aggregation rule {aggregation_rule!r}; choose one of {', '.join(AGGREGATION_RULES)}",
            code="unknown_rule",
        )
    keep = ~(np.isnan(series.usage) | np.isnan(series.temperature))
    n = int(keep.sum())
    if n < MIN_DAYS:
        raise BaselineError(
            f"only {n} days with usage and temperature; a daily fit needs {MIN_DAYS}", code="too_few_days"
        )
    window = _Window(series, rules, country, cooling, keep)
    best, rule_used, scores = _choose(window, aggregation_rule)
    label, h_index, c_index, beta, _, pvalues = best.candidate
    names = best.names + (["hdd"] if h_index is not None else []) + (["cdd"] if c_index is not None else [])
    coefficients = {name: float(v) for name, v in zip(names, beta, strict=True)}
    y = window.y
    fit = DailyFit(
        record=ModelRecord(NAME, VERSION, "daily", series.first, series.last, {}, fit_metrics(y, y, 0)),
        coefficients=coefficients,
        heating_balance_c=None if h_index is None else float(window.grid[h_index]),
        cooling_balance_c=None if c_index is None else float(window.grid[c_index]),
        country=country,
        aggregation=best.aggregation,
        min_hours=window.min_hours,
    )
    predicted = fit.predict(series)
    metrics = fit_metrics(series.usage, predicted, len(names))
    params: dict[str, Any] = {
        "model_type": label,
        "coefficients": coefficients,
        "p_values": {name: float(v) for name, v in zip(names, pvalues, strict=True)},
        "heating_balance_c": fit.heating_balance_c,
        "cooling_balance_c": fit.cooling_balance_c,
        "temperature_aggregation": best.aggregation,
        # How the aggregation was chosen, with each one's score (adjusted R² or blocked-CV CV(RMSE)), so a
        # verifier can check the choice.
        "aggregation_rule": rule_used,
        "aggregation_scores": scores,
        "cooling_allowed": cooling,
        "adj_r2": best.adj_r2,
        "calendar": country,
    }
    record = ModelRecord(NAME, VERSION, "daily", series.first, series.last, params, metrics)
    return DailyFit(
        record,
        coefficients,
        fit.heating_balance_c,
        fit.cooling_balance_c,
        country,
        best.aggregation,
        window.min_hours,
    )


class _Search:
    """Coarse-to-fine balance-point search for one set of degree-day columns."""

    def __init__(
        self,
        y: Float,
        h: Float,
        c: Float,
        grid: Float,
        rules: BaselineRules,
        coarse: NDArray[np.bool_],
        cooling: bool,
        score: Callable[[_Candidate], float],
    ) -> None:
        self.y, self.h, self.c, self.grid, self.rules = y, h, c, grid, rules
        self.coarse, self.cooling, self.score = coarse, cooling, score
        # Balance points need enough degree days (CalTRACK 2.0 §3.2); checked once per search, not per call.
        need_dd = rules.min_degree_days_per_year_c * y.size / 365.0
        self.h_ok = ((h > 0).sum(axis=0) >= rules.min_degree_days_nonzero) & (h.sum(axis=0) >= need_dd)
        self.c_ok = ((c > 0).sum(axis=0) >= rules.min_degree_days_nonzero) & (c.sum(axis=0) >= need_dd)

    def best(self, b: Float) -> _Candidate:
        """The best candidate after searching the coarse grid, then the fine-grid neighbours of each model
        type's best coarse candidate (refining every type, not only the leader: a kink between two coarse
        points can make a two-term model look best until the one-term model sits on the right point)."""
        none = np.zeros(self.grid.size, dtype=bool)
        coarse_c = self.coarse if self.cooling else none
        found = self._candidates(b, self.coarse, coarse_c)
        index = np.arange(self.grid.size)

        def near(i: int | None) -> NDArray[np.bool_]:
            return none if i is None else np.abs(index - i) <= 1

        finer = [
            refined
            for label, hi, ci, *_ in found
            if label != "intercept_only"
            for refined in self._candidates(b, near(hi), near(ci), label)
        ]
        return max([*found, *finer], key=self.score)

    def _candidates(
        self, b: Float, allow_h: NDArray[np.bool_], allow_c: NDArray[np.bool_], only: str | None = None
    ) -> list[_Candidate]:
        return _candidates(
            self.y, self.h, self.c, b, self.grid, self.rules, allow_h & self.h_ok, allow_c & self.c_ok, only
        )


def _candidates(
    y: Float,
    h: Float,
    c: Float,
    b: Float,
    grid: Float,
    rules: BaselineRules,
    allow_h: NDArray[np.bool_],
    allow_c: NDArray[np.bool_],
    only: str | None = None,
) -> list[_Candidate]:
    """The best qualifying candidate of each model type: (label, heating index, cooling index,
    coefficients, SS_res, p-values). Within a type all candidates have as many parameters, so the lowest
    SS_res is also the highest adjusted R².

    ``h`` and ``c`` are the degree days at each balance point of ``grid``; only points in ``allow_h`` /
    ``allow_c`` are tried (the caller leaves out those without enough degree days, CalTRACK 2.0 §3.2), and
    only models labelled ``only`` when given. Degree-day coefficients must be positive with p below the
    rules' limit (§3.4). The intercept-only model always qualifies.
    """
    n = y.size
    hi = np.flatnonzero(allow_h)
    ci = np.flatnonzero(allow_c)
    # Products over the columns in play only (row k of hs is balance point hi[k]).
    hs, cs = h[:, hi], c[:, ci]
    bb, bh, bc = b.T @ b, b.T @ hs, b.T @ cs
    hh, cc, hc = np.sum(hs * hs, axis=0), np.sum(cs * cs, axis=0), hs.T @ cs
    by, hy, cy = b.T @ y, hs.T @ y, cs.T @ y
    yty = float(y @ y)
    q = b.shape[1]

    candidates: list[_Candidate] = []

    def add(label: str, hk: Any, ck: Any, xtx: Float, xty: Float) -> None:
        if xtx.shape[0] == 0 or (only is not None and label != only):
            return
        beta, ss, pv = _solve(xtx, xty, yty, n)
        good = np.all(beta[:, q:] > 0, axis=1) & np.all(pv[:, q:] < rules.max_p_value, axis=1)
        if not good.any():
            return
        j = int(np.flatnonzero(good)[np.argmin(ss[good])])
        candidates.append(
            (
                label,
                None if hk is None else int(hk[j]),
                None if ck is None else int(ck[j]),
                beta[j],
                float(ss[j]),
                pv[j],
            )
        )

    add("intercept_only", None, None, bb[None], by[None])
    add(
        "hdd_only",
        hi,
        None,
        _blocks1(bb, bh, hh),
        np.column_stack([np.tile(by, (hi.size, 1)), hy]),
    )
    add(
        "cdd_only",
        None,
        ci,
        _blocks1(bb, bc, cc),
        np.column_stack([np.tile(by, (ci.size, 1)), cy]),
    )
    # HDD+CDD pairs with the cooling balance point at or above the heating one (CalTRACK 2.0 §3.1).
    a, k = np.meshgrid(np.arange(hi.size), np.arange(ci.size), indexing="ij")
    pair = grid[ci][k] >= grid[hi][a]
    a, k = a[pair], k[pair]
    if a.size:
        xtx = _blocks2(bb, bh[:, a], bc[:, k], hh[a], cc[k], hc[a, k])
        xty = np.column_stack([np.tile(by, (a.size, 1)), hy[a], cy[k]])
        add("hdd_cdd", hi[a], ci[k], xtx, xty)

    return candidates


def _blocks1(bb: Float, bx: Float, xx: Float) -> Float:
    """X'X for [B, x_k] over K candidates: bb (q,q), bx (q,K), xx (K,)."""
    q, k = bx.shape
    out = np.empty((k, q + 1, q + 1))
    out[:, :q, :q] = bb
    out[:, :q, q] = bx.T
    out[:, q, :q] = bx.T
    out[:, q, q] = xx
    return out


def _blocks2(bb: Float, bh: Float, bc: Float, hh: Float, cc: Float, hc: Float) -> Float:
    """X'X for [B, h_k, c_k] over K candidate pairs."""
    q, k = bh.shape
    out = np.empty((k, q + 2, q + 2))
    out[:, :q, :q] = bb
    out[:, :q, q] = bh.T
    out[:, q, :q] = bh.T
    out[:, :q, q + 1] = bc.T
    out[:, q + 1, :q] = bc.T
    out[:, q, q] = hh
    out[:, q + 1, q + 1] = cc
    out[:, q, q + 1] = hc
    out[:, q + 1, q] = hc
    return out
