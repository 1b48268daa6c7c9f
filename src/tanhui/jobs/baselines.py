"""The baseline job: fit every household of a community and store its avoided use and emissions.

For each quantity with daily use in ``consumption_months`` (the daily intervals):

1. households not (yet) enrolled are the comparison pool: each is fitted on the ``baseline_days``
   before the community's first enrolment and predicts every later day; within each baseline-use
   quantile the pool's daily actual/counterfactual ratio is the comparison factor;
2. each enrolled household is assessed (``tanhui.baseline.assessment``) with its group's factors;
3. fits go to ``baseline_fits`` and daily results to ``avoided_daily``, replacing the previous run's
   rows for this factor set, in the caller's transaction.

Weather comes from the community's station (``weather_stations``), as local daily means.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection, select

from tanhui.accounting.factors import FactorSet
from tanhui.baseline.assessment import assess, fit_baseline
from tanhui.baseline.avoided import clean_usage
from tanhui.baseline.errors import BaselineError
from tanhui.baseline.gaming import comparison_factors, comparison_groups
from tanhui.baseline.metrics import portfolio_fsu
from tanhui.baseline.rules import BaselineRules
from tanhui.baseline.series import DailySeries, daily_temperature, hourly_temperatures
from tanhui.domain.ids import CommunityId, HouseholdId
from tanhui.domain.quantity import Quantity
from tanhui.store import baselines, registry, weather
from tanhui.store.schema import households

__all__ = ["BaselineSummary", "fit_community"]

_MG_PER_KG = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class BaselineSummary:
    """What a run did: households assessed and eligible, rows written, counted kg, portfolio FSU."""

    assessed: int
    eligible: int
    controls: int
    rows: int
    counted_kg: Decimal
    avoided_kg: Decimal
    portfolio_fsu: float | None
    skipped: dict[str, int] = field(default_factory=dict)


def _temperatures(
    conn: Connection, station: str, tz: ZoneInfo, first: date, last: date
) -> tuple[dict[date, float], dict[date, list[float]]]:
    """Daily mean temperatures and each day's hourly temperatures (for degree-hours) of the station."""
    begin = int(datetime.combine(first, time(0), tz).timestamp())
    end = int(datetime.combine(last + timedelta(days=1), time(0), tz).timestamp()) - 1
    points = [
        (o.at.astimezone(tz).replace(tzinfo=None), o.temperature_c)
        for o in weather.observations(conn, station, begin, end)
    ]
    return daily_temperature(points, 0.5), hourly_temperatures(points)


def fit_community(
    conn: Connection,
    community_id: CommunityId,
    factor_set: FactorSet,
    *,
    rules: BaselineRules,
    now: int,
    country: str = "CN",
) -> BaselineSummary:
    """Fit and assess every household of ``community_id`` under ``factor_set``; see the module docstring."""
    community = registry.get_community(conn, community_id)
    tz = ZoneInfo(community.timezone)
    station = weather.station_of_community(conn, community_id)
    if station is None:
        raise BaselineError(
            f"community {community.slug} has no weather station; import one with `tanhui weather import`",
            code="no_weather_station",
        )
    enrolled: dict[HouseholdId, date | None] = {
        HouseholdId(r.id): r.enrolled_on
        for r in conn.execute(
            select(households.c.id, households.c.enrolled_on).where(households.c.community_id == community_id)
        )
    }
    usage = baselines.daily_usage(conn, community_id, factor_set.id)
    if not usage:
        baselines.replace_avoided(conn, community_id, factor_set.id, [], now=now)
        return BaselineSummary(0, 0, 0, 0, Decimal(0), Decimal(0), None)
    first = min(min(d) for d in usage.values())
    last = max(max(d) for d in usage.values())
    temps, hourly_temps = _temperatures(conn, station, tz, first, last)
    rows: list[baselines.AvoidedRow] = []
    skipped: dict[str, int] = {}
    assessed = eligible = controls_used = 0
    uncertainties: list[float] = []
    savings: list[float] = []
    avoided_mg = counted_mg = 0
    for kind in sorted({k for _, k in usage}):
        quantity = Quantity(kind)
        factor = factor_set.factor(quantity).value
        series_of = _series(usage, kind, first, last, (temps, hourly_temps), rules)
        # CalTRACK 2.0 §3: gas gets no cooling term.
        cooling = quantity is not Quantity.GAS
        members = [h for h in series_of if enrolled.get(h) is not None]
        pool = [h for h in series_of if enrolled.get(h) is None]
        adjustments = _comparison(series_of, members, pool, enrolled, rules, country, cooling)
        controls_used += len(pool)
        for hid in members:
            try:
                result = assess(
                    series_of[hid],
                    enrolled[hid] or first,
                    rules,
                    factor_kg_per_unit=factor,
                    models=rules.job_models,
                    country=country,
                    adjustment=adjustments.get(hid),
                    cooling=cooling,
                )
            except BaselineError as exc:
                skipped[exc.code] = skipped.get(exc.code, 0) + 1
                continue
            assessed += 1
            eligible += int(result.eligible)
            fit_id = baselines.add_fit(
                conn, hid, kind, result.record, eligible=result.eligible, reasons=result.reasons, now=now
            )
            if result.avoided is not None and result.eligible and not math.isnan(result.avoided.uncertainty):
                uncertainties.append(result.avoided.uncertainty * float(factor))
                savings.append(result.avoided.avoided * float(factor))
            for day in result.days:
                avoided_mg += day.avoided_co2e_mg
                counted_mg += day.counted_co2e_mg
                rows.append(
                    baselines.AvoidedRow(
                        household_id=hid,
                        day=day.day,
                        kind=kind,
                        fit_id=fit_id,
                        model=result.record.name,
                        model_version=result.record.version,
                        counterfactual_micro=day.counterfactual_micro,
                        actual_micro=day.actual_micro,
                        avoided_co2e_mg=day.avoided_co2e_mg,
                        counted_co2e_mg=day.counted_co2e_mg,
                        eligible=day.eligible,
                    )
                )
    baselines.replace_avoided(conn, community_id, factor_set.id, rows, now=now)
    fsu = portfolio_fsu(uncertainties, savings) if savings else math.nan
    return BaselineSummary(
        assessed,
        eligible,
        controls_used,
        len(rows),
        Decimal(counted_mg) / _MG_PER_KG,
        Decimal(avoided_mg) / _MG_PER_KG,
        None if math.isnan(fsu) else fsu,
        skipped,
    )


def _series(
    usage: dict[tuple[HouseholdId, str], dict[date, int]],
    kind: str,
    first: date,
    last: date,
    temps: tuple[dict[date, float], dict[date, list[float]]],
    rules: BaselineRules,
) -> dict[HouseholdId, DailySeries]:
    """Every household's cleaned daily series of ``kind``, all over the same days ``first..last``."""
    electricity = kind == Quantity.ELECTRICITY.value
    out: dict[HouseholdId, DailySeries] = {}
    for (hid, k), by_day in usage.items():
        if k != kind:
            continue
        values = {d: v / 1_000_000 for d, v in by_day.items()}
        values.setdefault(first, math.nan)
        values.setdefault(last, math.nan)
        s = DailySeries.from_mappings(values, *temps)
        out[hid] = s.with_usage(clean_usage(s.usage, electricity=electricity, rules=rules))
    return out


def _comparison(
    series_of: dict[HouseholdId, DailySeries],
    members: list[HouseholdId],
    pool: list[HouseholdId],
    enrolled: dict[HouseholdId, date | None],
    rules: BaselineRules,
    country: str,
    cooling: bool,
) -> dict[HouseholdId, NDArray[np.float64]]:
    """Per enrolled household, the daily comparison factors of its baseline-use quantile (or none)."""
    if not members or len(pool) < rules.comparison_min_households:
        return {}
    end = min(d for h in members if (d := enrolled[h]) is not None)
    predictions: dict[HouseholdId, NDArray[np.float64]] = {}
    for h in pool:
        try:
            model, _, _ = fit_baseline(
                series_of[h], end, rules, rules.job_models[:1], country, cooling=cooling
            )
        except BaselineError:
            continue
        predictions[h] = model.predict(series_of[h])
    means = {
        int(h): float(np.nanmean(s.window(s.first, end - timedelta(days=1)).usage))
        for h, s in series_of.items()
        if s.first < end and np.any(~np.isnan(s.window(s.first, end - timedelta(days=1)).usage))
    }
    groups = comparison_groups(means, rules.comparison_quantiles)
    after = np.array([d >= end for d in next(iter(series_of.values())).days])
    out: dict[HouseholdId, NDArray[np.float64]] = {}
    for group in set(groups.values()):
        controls = [h for h in predictions if groups.get(int(h)) == group]
        if len(controls) < rules.comparison_min_households:
            continue
        cf = np.vstack([predictions[h] for h in controls])
        actual = np.vstack([series_of[h].usage for h in controls])
        factors = np.where(after, comparison_factors(cf, actual, rules.comparison_min_households), 1.0)
        for h in members:
            if groups.get(int(h)) == group:
                out[h] = factors
    return out
