"""What every fitted baseline records: model name and version, parameters, training window, fit metrics.

The record is plain data (JSON round trip), stored with every avoided-consumption result so that a
verifier can see which model produced a number and refit it from the same readings and weather.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from tanhui.baseline.metrics import Metrics

__all__ = ["ModelRecord"]


@dataclass(frozen=True, slots=True)
class ModelRecord:
    """A fitted model's identity and parameters (JSON-safe values only)."""

    name: str
    version: str
    granularity: str
    train_first: date
    train_last: date
    params: Mapping[str, Any]
    metrics: Metrics
    warnings: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "granularity": self.granularity,
            "train_first": self.train_first.isoformat(),
            "train_last": self.train_last.isoformat(),
            "params": dict(self.params),
            "metrics": self.metrics.as_dict(),
            "warnings": list(self.warnings),
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> ModelRecord:
        data = json.loads(text)
        m = {k: (float("nan") if v is None else v) for k, v in data["metrics"].items()}
        return cls(
            name=data["name"],
            version=data["version"],
            granularity=data["granularity"],
            train_first=date.fromisoformat(data["train_first"]),
            train_last=date.fromisoformat(data["train_last"]),
            params=data["params"],
            metrics=Metrics(
                n=int(m["n"]),
                p=int(m["p"]),
                cv_rmse=float(m["cv_rmse"]),
                nmbe=float(m["nmbe"]),
                r2=float(m["r2"]),
                rho=float(m["rho"]),
                mean=float(m["mean"]),
            ),
            warnings=tuple(data.get("warnings", ())),
        )
