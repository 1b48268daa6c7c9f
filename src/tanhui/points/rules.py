"""Issuance rules: a versioned, sourced rule file turned into a :class:`RuleSet`.

The file (``data/points/rules.toml``) gives every number as a table with ``value``, ``source`` and
``rationale``, so a number without its source is refused at load. The caller reads the file; this
module only parses its text.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from tanhui.points.errors import RulesError

_NUMBERS = (
    "points_per_kg_co2e",
    "household_cap_per_period",
    "community_budget_per_period",
    "expiry_months",
    "voucher_ttl_seconds",
)


@dataclass(frozen=True, slots=True)
class RuleSet:
    """One version of the issuance rules. Periods are calendar months (``YYYY-MM``)."""

    version: str
    valid_from: date
    points_per_kg_co2e: int
    household_cap_per_period: int
    community_budget_per_period: int
    expiry_months: int
    voucher_ttl_seconds: int
    content_hash: str  # SHA-256 of the rule file, so an award names exactly the rules it used


def _number(doc: dict[str, Any], key: str) -> int:
    entry = doc.get(key)
    if not isinstance(entry, dict):
        raise RulesError(f"rule {key!r} is missing; give it as a table with value, source and rationale")
    value = entry.get("value")
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise RulesError(f"rule {key!r} must have a non-negative integer value, not {value!r}")
    for meta in ("source", "rationale"):
        if not str(entry.get(meta, "")).strip():
            raise RulesError(f"rule {key!r} has no {meta}: every number carries its source and reason")
    return value


def parse_rules(text: str) -> RuleSet:
    """Parse a rule file's text, refusing any number that lacks a value, source or rationale."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"rule file is not valid TOML: {exc}") from exc
    version = doc.get("version")
    if not isinstance(version, str) or "@" not in version:
        raise RulesError(f"rule file needs a version like 'baoting-2026@v1', not {version!r}")
    valid_from = doc.get("valid_from")
    if not isinstance(valid_from, date):
        raise RulesError("rule file needs valid_from as a TOML date (2026-01-01)")
    numbers = {key: _number(doc, key) for key in _NUMBERS}
    if numbers["expiry_months"] < 1 or numbers["voucher_ttl_seconds"] < 60:
        raise RulesError("expiry_months must be at least 1 and voucher_ttl_seconds at least 60")
    return RuleSet(
        version=version,
        valid_from=valid_from,
        content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        **numbers,
    )


def parse_period(period: str) -> tuple[date, date]:
    """The first and last day of a ``YYYY-MM`` period."""
    try:
        year, month = (int(part) for part in period.split("-"))
        first = date(year, month, 1)
    except ValueError as exc:
        raise RulesError(f"period must be YYYY-MM, not {period!r}") from exc
    if len(period) != 7:
        raise RulesError(f"period must be YYYY-MM, not {period!r}")
    following = date(year + month // 12, month % 12 + 1, 1)
    return first, date.fromordinal(following.toordinal() - 1)


def period_bounds(period: str) -> tuple[int, int]:
    """UTC epoch seconds ``[start, end)`` of a ``YYYY-MM`` period (ledger time is UTC)."""
    first, last = parse_period(period)
    start = int(datetime(first.year, first.month, first.day, tzinfo=UTC).timestamp())
    end = int(datetime(last.year, last.month, last.day, tzinfo=UTC).timestamp()) + 86400
    return start, end
