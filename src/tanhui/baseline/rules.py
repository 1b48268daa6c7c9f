"""Thresholds of the baseline engine, read from a mapping (``data/baseline/rules.toml`` at the edges).

Every value's source sits beside it in the data file; this module only gives the values types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tanhui.baseline.errors import BaselineError

__all__ = ["BaselineRules"]


@dataclass(frozen=True, slots=True)
class BaselineRules:
    """Typed view of ``rules.toml``; see that file for the source of each number."""

    baseline_days: int
    max_missing_share: float
    electricity_zero_is_missing: bool
    min_interval_coverage: float
    max_missing_temperature_share: float
    balance_min_c: float
    balance_max_c: float
    balance_step_c: float
    balance_coarse_step_c: float
    min_degree_days_nonzero: int
    min_degree_days_per_year_c: float
    max_p_value: float
    knots_c: tuple[float, ...]
    min_bin_hours: int
    occupancy_heating_c: float
    occupancy_cooling_c: float
    occupancy_threshold: float
    gbm_max_iter: int
    gbm_learning_rate: float
    gbm_max_leaf_nodes: int
    gbm_min_samples_leaf: int
    gbm_l2_regularization: float
    gbm_random_state: int
    folds: int
    block_days: int
    job_models: tuple[str, ...]
    confidence: float
    fsu_a: float
    fsu_b: float
    fsu_d: float
    absence_ratio: float
    absence_days: int
    arrival_ratio: float
    arrival_days: int
    cap_share: float
    comparison_quantiles: int
    comparison_min_households: int

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> BaselineRules:
        """Rules from the parsed TOML document; a missing or mistyped key raises :class:`BaselineError`."""
        try:
            s, d, h, g = data["sufficiency"], data["daily"], data["hourly"], data["gbm"]
            sel, u, gm = data["selection"], data["uncertainty"], data["gaming"]
            return cls(
                baseline_days=int(s["baseline_days"]),
                max_missing_share=float(s["max_missing_share"]),
                electricity_zero_is_missing=bool(s["electricity_zero_is_missing"]),
                min_interval_coverage=float(s["min_interval_coverage"]),
                max_missing_temperature_share=float(s["max_missing_temperature_share"]),
                balance_min_c=float(d["balance_min_c"]),
                balance_max_c=float(d["balance_max_c"]),
                balance_step_c=float(d["balance_step_c"]),
                balance_coarse_step_c=float(d["balance_coarse_step_c"]),
                min_degree_days_nonzero=int(d["min_degree_days_nonzero"]),
                min_degree_days_per_year_c=float(d["min_degree_days_per_year_c"]),
                max_p_value=float(d["max_p_value"]),
                knots_c=tuple(float(k) for k in h["knots_c"]),
                min_bin_hours=int(h["min_bin_hours"]),
                occupancy_heating_c=float(h["occupancy_heating_c"]),
                occupancy_cooling_c=float(h["occupancy_cooling_c"]),
                occupancy_threshold=float(h["occupancy_threshold"]),
                gbm_max_iter=int(g["max_iter"]),
                gbm_learning_rate=float(g["learning_rate"]),
                gbm_max_leaf_nodes=int(g["max_leaf_nodes"]),
                gbm_min_samples_leaf=int(g["min_samples_leaf"]),
                gbm_l2_regularization=float(g["l2_regularization"]),
                gbm_random_state=int(g["random_state"]),
                folds=int(sel["folds"]),
                block_days=int(sel["block_days"]),
                job_models=tuple(str(m) for m in sel["job_models"]),
                confidence=float(u["confidence"]),
                fsu_a=float(u["fsu_a"]),
                fsu_b=float(u["fsu_b"]),
                fsu_d=float(u["fsu_d"]),
                absence_ratio=float(gm["absence_ratio"]),
                absence_days=int(gm["absence_days"]),
                arrival_ratio=float(gm["arrival_ratio"]),
                arrival_days=int(gm["arrival_days"]),
                cap_share=float(gm["cap_share"]),
                comparison_quantiles=int(gm["comparison_quantiles"]),
                comparison_min_households=int(gm["comparison_min_households"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BaselineError(
                f"baseline rules are incomplete or mistyped ({exc!r}); compare with data/baseline/rules.toml",
                code="baseline_rules",
            ) from exc
