"""The CalTRACK-family daily model: base load + heating and cooling degree days + day-type terms.

usage(day) = μ + β_off·day_off + β_hol·holiday + β_H·max(T_h − T, 0) + β_C·max(T − T_c, 0)

following CalTRACK 2.0 §3 (PRISM-like daily model): a grid search over balance points, candidate models
intercept-only, HDD-only, CDD-only and HDD+CDD, qualification by positive degree-day coefficients with
p < 0.1, selection by the highest adjusted R². Tanhui adds the day-type terms (weekends and public
holidays off, 调休 make-up workdays on) that CalTRACK 2.1 approximates with weekday/weekend splits.

Speed: all candidates are solved at once from one set of Gram blocks (X'X, X'y assembled from B'B, B'H,
H'H, …), so a meter-year costs a few small matrix products and one batched solve rather than hundreds of
regressions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from tanhui.baseline.calendar import day_types
from tanhui.baseline.errors import BaselineError
from tanhui.baseline.metrics import fit_metrics
from tanhui.baseline.record import ModelRecord
from tanhui.baseline.rules import BaselineRules
from tanhui.baseline.series import DailySeries

__all__ = ["NAME", "VERSION", "DailyFit", "fit_daily"]

NAME = "caltrack-daily"
VERSION = "1.0.0"
Float = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class DailyFit:
    """A fitted daily model; :meth:`predict` gives the counterfactual for any days with temperatures."""

    record: ModelRecord
    coefficients: dict[str, float]
    heating_balance_c: float | None
    cooling_balance_c: float | None
    country: str

    def predict(self, series: DailySeries) -> Float:
        dt = day_types(series.days, self.country)
        t = series.temperature
        out = np.full(len(series), self.coefficients["intercept"])
        out += self.coefficients.get("day_off", 0.0) * dt.day_off
        out += self.coefficients.get("holiday", 0.0) * dt.holiday
        if self.heating_balance_c is not None:
            out += self.coefficients["hdd"] * np.maximum(self.heating_balance_c - t, 0.0)
        if self.cooling_balance_c is not None:
            out += self.coefficients["cdd"] * np.maximum(t - self.cooling_balance_c, 0.0)
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
    pvalues = 2 * stats.t.sf(np.abs(beta / se), dof)
    return beta, ss_res, pvalues


def fit_daily(series: DailySeries, rules: BaselineRules, *, country: str = "CN") -> DailyFit:
    """Fit the daily model on every day of ``series`` with usage and temperature (CalTRACK 2.0 §3)."""
    keep = ~(np.isnan(series.usage) | np.isnan(series.temperature))
    n = int(keep.sum())
    if n < 15:
        raise BaselineError(
            f"only {n} days with usage and temperature; a daily fit needs 15", code="too_few_days"
        )
    days = [d for d, k in zip(series.days, keep, strict=True) if k]
    y = series.usage[keep]
    t = series.temperature[keep]
    dt = day_types(days, country)
    base_names = ["intercept"]
    base_cols = [np.ones(n)]
    for name, col in (("day_off", dt.day_off), ("holiday", dt.holiday)):
        # A column without variation (no holiday in the window) or equal to another would be singular.
        if 2 <= col.sum() <= n - 2 and not any(np.array_equal(col, c) for c in base_cols):
            base_names.append(name)
            base_cols.append(col)
    b = np.column_stack(base_cols)
    grid = np.arange(rules.balance_min_c, rules.balance_max_c + 1e-9, rules.balance_step_c)
    candidates = _candidates(y, t, b, grid, rules)
    ss_tot = float(np.sum((y - y.mean()) ** 2))

    def adjusted(candidate: _Candidate) -> float:
        params = candidate[3].size
        if ss_tot == 0 or n - params <= 0:
            return 0.0
        return 1 - (candidate[4] / (n - params)) / (ss_tot / (n - 1))

    best = max(candidates, key=adjusted)
    # Day-type terms stay only when they pass the same significance test as the degree-day terms
    # (CalTRACK 2.0 §3.4's p < 0.1): a calendar without a real effect would only add noise.
    weak = [i for i in range(1, len(base_names)) if best[5][i] >= rules.max_p_value]
    if weak:
        keep_cols = [i for i in range(len(base_names)) if i not in weak]
        base_names = [base_names[i] for i in keep_cols]
        candidates = _candidates(y, t, b[:, keep_cols], grid, rules)
        best = max(candidates, key=adjusted)
    label, h_index, c_index, beta, _, pvalues = best
    names = base_names + (["hdd"] if h_index is not None else []) + (["cdd"] if c_index is not None else [])
    coefficients = {name: float(v) for name, v in zip(names, beta, strict=True)}
    fit = DailyFit(
        record=ModelRecord(NAME, VERSION, "daily", series.first, series.last, {}, fit_metrics(y, y, 0)),
        coefficients=coefficients,
        heating_balance_c=None if h_index is None else float(grid[h_index]),
        cooling_balance_c=None if c_index is None else float(grid[c_index]),
        country=country,
    )
    predicted = fit.predict(series)
    metrics = fit_metrics(series.usage, predicted, len(names))
    params: dict[str, Any] = {
        "model_type": label,
        "coefficients": coefficients,
        "p_values": {name: float(v) for name, v in zip(names, pvalues, strict=True)},
        "heating_balance_c": fit.heating_balance_c,
        "cooling_balance_c": fit.cooling_balance_c,
        "adj_r2": adjusted(best),
        "calendar": country,
    }
    record = ModelRecord(NAME, VERSION, "daily", series.first, series.last, params, metrics)
    return DailyFit(record, coefficients, fit.heating_balance_c, fit.cooling_balance_c, country)


_Candidate = tuple[str, int | None, int | None, Float, float, Float]


def _candidates(y: Float, t: Float, b: Float, grid: Float, rules: BaselineRules) -> list[_Candidate]:
    """Every qualifying candidate: (label, heating index, cooling index, coefficients, SS_res, p-values).

    Balance points need enough degree days (CalTRACK 2.0 §3.2); degree-day coefficients must be positive
    with p below the rules' limit (§3.4). The intercept-only model always qualifies.
    """
    n = y.size
    h = np.maximum(grid[None, :] - t[:, None], 0.0)
    c = np.maximum(t[:, None] - grid[None, :], 0.0)
    need_dd = rules.min_degree_days_per_year_c * n / 365.0
    h_ok = ((h > 0).sum(axis=0) >= rules.min_degree_days_nonzero) & (h.sum(axis=0) >= need_dd)
    c_ok = ((c > 0).sum(axis=0) >= rules.min_degree_days_nonzero) & (c.sum(axis=0) >= need_dd)

    bb, bh, bc = b.T @ b, b.T @ h, b.T @ c
    hh, cc, hc = h.T @ h, c.T @ c, h.T @ c
    by, hy, cy = b.T @ y, h.T @ y, c.T @ y
    yty = float(y @ y)
    q = b.shape[1]

    # (label, heating index, cooling index, coefficients, ss_res, p-values) for each qualifying candidate.
    candidates: list[_Candidate] = []

    def add(label: str, hi: Any, ci: Any, xtx: Float, xty: Float) -> None:
        if xtx.shape[0] == 0:
            return
        beta, ss, pv = _solve(xtx, xty, yty, n)
        for j in range(xtx.shape[0]):
            dd = beta[j, q:]
            if np.all(dd > 0) and np.all(pv[j, q:] < rules.max_p_value):
                candidates.append(
                    (
                        label,
                        None if hi is None else int(hi[j]),
                        None if ci is None else int(ci[j]),
                        beta[j],
                        float(ss[j]),
                        pv[j],
                    )
                )

    add("intercept_only", None, None, bb[None], by[None])
    hi = np.flatnonzero(h_ok)
    ci = np.flatnonzero(c_ok)
    add(
        "hdd_only",
        hi,
        None,
        _blocks1(bb, bh[:, hi], hh[hi, hi]),
        np.column_stack([np.tile(by, (hi.size, 1)), hy[hi]]) if hi.size else np.empty((0, q + 1)),
    )
    add(
        "cdd_only",
        None,
        ci,
        _blocks1(bb, bc[:, ci], cc[ci, ci]),
        np.column_stack([np.tile(by, (ci.size, 1)), cy[ci]]) if ci.size else np.empty((0, q + 1)),
    )
    pairs = [(i, j) for i in hi for j in ci if grid[j] >= grid[i]]
    if pairs:
        pi = np.array([i for i, _ in pairs])
        pj = np.array([j for _, j in pairs])
        xtx = _blocks2(bb, bh[:, pi], bc[:, pj], hh[pi, pi], cc[pj, pj], hc[pi, pj])
        xty = np.column_stack([np.tile(by, (pi.size, 1)), hy[pi], cy[pj]])
        add("hdd_cdd", pi, pj, xtx, xty)

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
