"""Thresholds of the ingest checks, from ``data/ingest/checks.toml`` (each with its rationale there)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

DEFAULT_FILE = Path(__file__).resolve().parents[3] / "data" / "ingest" / "checks.toml"


@dataclass(frozen=True, slots=True)
class IngestRules:
    max_ahead_seconds: int
    max_behind_seconds: int
    max_rollover_share_denominator: int
    expected_interval_seconds: int
    gap_factor: int

    def max_rollover_counts(self, capacity: int) -> int:
        """The largest fall of a register of ``capacity`` counts that is read as a rollover."""
        return capacity // self.max_rollover_share_denominator

    @classmethod
    def load(cls, path: Path = DEFAULT_FILE) -> IngestRules:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
        return cls(
            max_ahead_seconds=int(data["clock"]["max_ahead_seconds"]),
            max_behind_seconds=int(data["clock"]["max_behind_seconds"]),
            max_rollover_share_denominator=int(data["continuity"]["max_rollover_share_denominator"]),
            expected_interval_seconds=int(data["gaps"]["expected_interval_seconds"]),
            gap_factor=int(data["gaps"]["gap_factor"]),
        )
