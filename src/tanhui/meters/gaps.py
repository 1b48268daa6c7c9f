"""Gaps in a meter's series: silences longer than the meter's expected reporting interval allows.

A gap is recorded, never filled: a cumulative register still gives the total over the gap, and
spreading it over the missing intervals would invent data (meter-protocols.md §7, Gaps).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise


@dataclass(frozen=True, slots=True)
class Gap:
    """No reading strictly between ``after`` and ``before`` (epoch seconds), for ``seconds``."""

    after: int
    before: int

    @property
    def seconds(self) -> int:
        return self.before - self.after


def gaps(times: Sequence[int], *, expected_interval: int, factor: int) -> list[Gap]:
    """Silences longer than ``factor`` × ``expected_interval`` between successive reading times."""
    limit = expected_interval * factor
    ordered = sorted(set(times))
    return [Gap(a, b) for a, b in pairwise(ordered) if b - a > limit]


def completeness(times: Sequence[int], *, start: int, end: int, expected_interval: int) -> float:
    """Share of the expected readings in ``[start, end)`` that arrived (1.0 = every interval reported)."""
    if end <= start:
        return 1.0
    expected = max(1, (end - start) // expected_interval)
    received = sum(1 for t in set(times) if start <= t < end)
    return min(1.0, received / expected)
