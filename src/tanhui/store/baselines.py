"""Fitted baselines and avoided use per household and day: writes for the baseline job, reads for points
issuance (:func:`household_avoided`) and the roadmap forecast (:func:`community_daily_avoided_kg`).

Amounts are exact integers: millionths of a kWh or m3 and milligrams CO2e, like ``consumption_months``.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from tanhui.accounting import months
from tanhui.accounting.months import KINDS
from tanhui.baseline.record import ModelRecord
from tanhui.baseline.rules import BaselineRules
from tanhui.domain.ids import CommunityId, HouseholdId
from tanhui.store import intervals
from tanhui.store.schema import avoided_daily, baseline_fits, households

__all__ = [
    "DEFAULT_RULES",
    "AvoidedRow",
    "HouseholdAvoided",
    "StoredFit",
    "add_fit",
    "community_daily_avoided_kg",
    "daily_usage",
    "fits_of_household",
    "household_avoided",
    "load_rules",
    "replace_avoided",
]

DEFAULT_RULES = Path(__file__).resolve().parents[3] / "data" / "baseline" / "rules.toml"
_MG_PER_KG = Decimal(1_000_000)


def load_rules(path: Path = DEFAULT_RULES) -> BaselineRules:
    """The baseline rules from ``path`` (``data/baseline/rules.toml`` by default)."""
    with path.open("rb") as handle:
        return BaselineRules.from_mapping(tomllib.load(handle))


def daily_usage(
    conn: Connection, community_id: CommunityId, factor_set_id: str | None = None
) -> dict[tuple[HouseholdId, str], dict[date, int]]:
    """Each household's daily use per quantity (millionths of the unit), summed over its meters, from the
    daily consumption intervals (``consumption_months``), which depend on readings only, never on a
    factor set (``factor_set_id`` is accepted for callers that name one and otherwise ignored)."""
    out: dict[tuple[HouseholdId, str], dict[date, int]] = {}
    for table in intervals.tables_of_community(conn, community_id):
        for row in range(len(table)):
            key = (HouseholdId(int(table.household_id[row])), KINDS[int(table.kind[row])].value)
            days = out.setdefault(key, {})
            for day, value in months.daily(table.first_day(row), table.values[row]):
                days[day] = days.get(day, 0) + value
    return out


def add_fit(
    conn: Connection,
    household_id: HouseholdId,
    kind: str,
    record: ModelRecord,
    *,
    eligible: bool,
    reasons: Sequence[str],
    now: int,
) -> int:
    """Store one fitted baseline; returns its id."""
    result = conn.execute(
        insert(baseline_fits)
        .values(
            household_id=household_id,
            kind=kind,
            model=record.name,
            version=record.version,
            params=json.dumps(record.params, sort_keys=True, allow_nan=False, default=str),
            metrics=json.dumps(record.metrics.as_dict(), sort_keys=True, allow_nan=False),
            train_first=record.train_first,
            train_last=record.train_last,
            eligible=eligible,
            reasons=json.dumps(list(reasons)),
            fitted_at=now,
        )
        .returning(baseline_fits.c.id)
    )
    return int(result.scalar_one())


@dataclass(frozen=True, slots=True)
class StoredFit:
    """A stored fit as a verifier sees it."""

    id: int
    kind: str
    model: str
    version: str
    params: dict[str, Any]
    metrics: dict[str, Any]
    train_first: date
    train_last: date
    eligible: bool
    reasons: list[str]
    fitted_at: int


def fits_of_household(conn: Connection, household_id: HouseholdId) -> list[StoredFit]:
    """Every stored fit of the household, newest first."""
    b = baseline_fits.c
    rows = conn.execute(
        select(baseline_fits).where(b.household_id == household_id).order_by(b.fitted_at.desc(), b.id.desc())
    )
    return [
        StoredFit(
            r.id,
            r.kind,
            r.model,
            r.version,
            json.loads(r.params),
            json.loads(r.metrics),
            r.train_first,
            r.train_last,
            bool(r.eligible),
            json.loads(r.reasons),
            r.fitted_at,
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class AvoidedRow:
    """One household, quantity and day of avoided use (integers: µunit and mg CO2e)."""

    household_id: HouseholdId
    day: date
    kind: str
    fit_id: int
    model: str
    model_version: str
    counterfactual_micro: int
    actual_micro: int
    avoided_co2e_mg: int
    counted_co2e_mg: int
    eligible: bool

    @property
    def avoided_micro(self) -> int:
        return self.counterfactual_micro - self.actual_micro


def replace_avoided(
    conn: Connection,
    community_id: CommunityId,
    factor_set_id: str,
    rows: Sequence[AvoidedRow],
    *,
    now: int,
) -> None:
    """Replace the community's avoided rows under ``factor_set_id`` by ``rows`` (caller's transaction)."""
    members = select(households.c.id).where(households.c.community_id == community_id)
    conn.execute(
        delete(avoided_daily)
        .where(avoided_daily.c.factor_set_id == factor_set_id)
        .where(avoided_daily.c.household_id.in_(members))
    )
    values = [
        {
            "household_id": r.household_id,
            "day": r.day,
            "factor_set_id": factor_set_id,
            "kind": r.kind,
            "fit_id": r.fit_id,
            "model": r.model,
            "model_version": r.model_version,
            "counterfactual_micro": r.counterfactual_micro,
            "actual_micro": r.actual_micro,
            "avoided_micro": r.avoided_micro,
            "avoided_co2e_mg": r.avoided_co2e_mg,
            "counted_co2e_mg": r.counted_co2e_mg,
            "eligible": r.eligible,
            "computed_at": now,
        }
        for r in rows
    ]
    for start in range(0, len(values), 5000):
        conn.execute(insert(avoided_daily), values[start : start + 5000])


def community_daily_avoided_kg(
    conn: Connection, community_id: CommunityId, factor_set_id: str, first: date, last: date
) -> dict[date, Decimal]:
    """Counted (conservative, eligible) avoided emissions of the community per day, in kg CO2e.

    Days without any row are absent; a day whose rows count nothing maps to 0.
    """
    a = avoided_daily.c
    query = (
        select(a.day, func.sum(a.counted_co2e_mg))
        .join(households, households.c.id == a.household_id)
        .where(households.c.community_id == community_id)
        .where(a.factor_set_id == factor_set_id)
        .where(a.eligible.is_(True))
        .where(a.day >= first)
        .where(a.day <= last)
        .group_by(a.day)
        .order_by(a.day)
    )
    return {day: Decimal(int(mg)) / _MG_PER_KG for day, mg in conn.execute(query)}


@dataclass(frozen=True, slots=True)
class HouseholdAvoided:
    """A household's avoided use and emissions over ``[first, last]``, all quantities together.

    ``counted_co2e_mg`` is what points may be paid on; ``avoided_g_co2e`` is that in whole grams
    (rounded down: conservative). ``data_quality_ok`` holds when rows cover at least 90 % of the period's
    days (CalTRACK 2.0 §2.2's 10 % missing-data bound applied to the reporting period).
    """

    household_id: HouseholdId
    first: date
    last: date
    days: int
    counterfactual_micro: dict[str, int]
    actual_micro: dict[str, int]
    avoided_co2e_mg: int
    counted_co2e_mg: int
    baseline_eligible: bool
    fit_ids: tuple[int, ...]

    @property
    def avoided_g_co2e(self) -> int:
        return max(0, self.counted_co2e_mg) // 1000

    @property
    def data_quality_ok(self) -> bool:
        return self.days >= 0.9 * ((self.last - self.first).days + 1)

    @property
    def evidence(self) -> str:
        return "baseline_fits:" + ",".join(str(i) for i in self.fit_ids)


def household_avoided(
    conn: Connection, household_id: int, factor_set_id: str, first: date, last: date
) -> HouseholdAvoided | None:
    """The household's avoided rows over ``[first, last]`` summed, or None when it has none."""
    a = avoided_daily.c
    query = (
        select(a.day, a.kind, a.fit_id, a.counterfactual_micro, a.actual_micro, a.avoided_co2e_mg)
        .add_columns(a.counted_co2e_mg, a.eligible)
        .where(a.household_id == household_id)
        .where(a.factor_set_id == factor_set_id)
        .where(a.day >= first)
        .where(a.day <= last)
    )
    rows = list(conn.execute(query))
    if not rows:
        return None
    cf: dict[str, int] = {}
    act: dict[str, int] = {}
    for r in rows:
        cf[r.kind] = cf.get(r.kind, 0) + int(r.counterfactual_micro)
        act[r.kind] = act.get(r.kind, 0) + int(r.actual_micro)
    eligible = all(bool(r.eligible) for r in rows)
    return HouseholdAvoided(
        household_id=HouseholdId(household_id),
        first=first,
        last=last,
        days=len({r.day for r in rows}),
        counterfactual_micro=cf,
        actual_micro=act,
        avoided_co2e_mg=sum(int(r.avoided_co2e_mg) for r in rows),
        counted_co2e_mg=sum(int(r.counted_co2e_mg) for r in rows if r.eligible),
        baseline_eligible=eligible,
        fit_ids=tuple(sorted({int(r.fit_id) for r in rows})),
    )
