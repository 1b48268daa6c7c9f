"""Factor sets from their data files (``data/factors/*.toml``)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from tanhui.accounting.factors import FactorSet, parse_factor_set


def load_factor_sets(directory: Path) -> dict[str, FactorSet]:
    """Every factor set in ``directory``, by id; a malformed file raises naming the file and rule."""
    sets: dict[str, FactorSet] = {}
    for path in sorted(directory.glob("*.toml")):
        with path.open("rb") as handle:
            factor_set = parse_factor_set(tomllib.load(handle))
        if factor_set.id in sets:
            raise ValueError(f"{path}: factor set id {factor_set.id} is also defined in another file")
        sets[factor_set.id] = factor_set
    return sets
