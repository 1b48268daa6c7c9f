"""Expiry of posted points: the rolling rule of shared/reference/ledger.md §7.5.

At each run, a household keeps at most the points issued to it within the last ``months`` months;
anything above that has been held longer and expires. Deterministic from the household's transfers,
so a verifier can recompute it.
"""

from __future__ import annotations

from datetime import date


def window_start(as_of: date, months: int) -> date:
    """The first day still inside the window: ``as_of`` minus ``months`` months (day clamped to 28)."""
    index = as_of.year * 12 + as_of.month - 1 - months
    return date(index // 12, index % 12 + 1, min(as_of.day, 28))


def expiring(available: int, issued_within_window: int) -> int:
    """Points to expire: what is available beyond the points issued inside the window."""
    return max(0, available - issued_within_window)
