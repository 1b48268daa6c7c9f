"""``tanhui insights ...``: evaluate the detectors on the simulator, run them on a community, list alerts,
and rank and evaluate saving tips.

``evaluate`` and ``tips-evaluate`` need no database: they simulate a county, inject labelled anomalies
(:mod:`tanhui.sim.anomalies`) or tip uptake (:mod:`tanhui.sim.uptake`), and print one JSON object.
"""

from __future__ import annotations

import json
import random
import time
from datetime import date
from typing import Annotated, Any

import numpy as np
import typer

from tanhui.clock import utc_now
from tanhui.domain.quantity import Quantity
from tanhui.insights.detect import detect
from tanhui.insights.evaluation import Label, score
from tanhui.insights.findings import FindingKind
from tanhui.insights.parameters import DetectorParameters
from tanhui.insights.series import RegisterSeries
from tanhui.insights.tips import HouseholdProfile, TipCatalogue, catalogue_from_toml, profile, rank_tips
from tanhui.jobs.insights import household_profiles, load_messages, load_parameters, run_community
from tanhui.settings import get_settings
from tanhui.sim.anomalies import AnomalousSeries, AnomalyKind, AnomalyRates, inject_anomalies
from tanhui.sim.county import build_county
from tanhui.sim.uptake import UptakeModel, apply_tip, choose_adopters, hourly_loads
from tanhui.store import alerts, registry
from tanhui.store.engine import make_engine

insights_app = typer.Typer(
    help="Leak and meter-fault detection, alerts, and personal saving tips.", no_args_is_help=True
)

# The evaluation's county: the simulator's Baoting-like defaults, from a date in the hot season when
# cooling makes electricity use most variable (the hardest case for the unusual-use rule).
EVALUATION_START = date(2026, 6, 1)
_SHANGHAI_OFFSET = 8 * 3600


def to_register_series(simulated: AnomalousSeries) -> RegisterSeries:
    """A simulated meter's (possibly altered) readings as detector input."""
    meter = simulated.meter
    return RegisterSeries(
        meter=meter.serial,
        quantity=meter.kind,
        times=np.array(simulated.times, dtype=np.int64),
        counts=np.array(simulated.counts, dtype=np.int64),
        counts_per_unit=meter.counts_per_unit,
        capacity=meter.capacity,
        utc_offset=_SHANGHAI_OFFSET,
    )


def evaluation_report(
    *, households: int, days: int, seed: int, params: DetectorParameters, rates: AnomalyRates | None = None
) -> tuple[dict[str, dict[str, float | int | None]], dict[str, float]]:
    """Simulate, inject, detect and score: the per-kind report and timings (seconds, meters)."""
    began = time.perf_counter()
    county = build_county(seed=seed, households=households, start=EVALUATION_START, days=days)
    simulated, injected = inject_anomalies(county, rates or AnomalyRates(), seed=seed)
    series = [to_register_series(s) for s in simulated]
    simulated_at = time.perf_counter()
    findings = detect(series, params)
    detected_at = time.perf_counter()
    labels = [Label(a.kind.value, a.meter, a.start) for a in injected]
    report = score(findings, labels, [kind.value for kind in AnomalyKind])
    timing = {
        "simulate_s": round(simulated_at - began, 3),
        "detect_s": round(detected_at - simulated_at, 3),
        "meters": float(len(series)),
    }
    return report, timing


def _grid(values: Any, start: int, end: int) -> Any:
    """Hours ``start`` to ``end`` (whole local days from local midnight) as a days × 24 grid."""
    return np.asarray(values[start:end]).reshape(-1, 24)


def simulated_profiles(
    county: Any, loads: dict[str, dict[Quantity, Any]], hours: int
) -> dict[str, HouseholdProfile]:
    """Each simulated household's tip profile from its first ``hours`` hours (whole days)."""
    persons = {home.code: home.persons for home in county.households}
    return {
        code: profile(
            code,
            persons[code],
            _grid(load[Quantity.ELECTRICITY], 0, hours),
            _grid(load[Quantity.WATER], 0, hours),
            _grid(load[Quantity.GAS], 0, hours),
        )
        for code, load in loads.items()
    }


def evaluate_uptake(
    *, households: int, days: int, seed: int, catalogue: TipCatalogue, model: UptakeModel | None = None
) -> dict[str, Any]:
    """Rank tips on the first half of a simulated period, let a share of households adopt their top tip for
    the second half, and compare the expected saving with the measured and the true one.

    Measured as the platform would without knowing the truth: each adopter's second-half use against its
    first-half use scaled by the non-adopters' change (a control group absorbs weather and calendar, as
    Opower's randomised evaluations do; baseline-methods.md §3.3).
    """
    model = model or UptakeModel()
    county = build_county(
        seed=seed, households=households, start=EVALUATION_START, days=days, enrol_share=0.0
    )
    rng = random.Random(f"tanhui.sim/{seed}/uptake")  # noqa: S311 - simulation noise
    hour_of_day, loads, leaks = hourly_loads(county, model, rng)
    half = days // 2 * 24
    end = 2 * half
    profiles = simulated_profiles(county, loads, half)
    peers = list(profiles.values())
    top = {}
    for code, home in profiles.items():
        ranked = rank_tips(home, peers, catalogue)
        if ranked:
            top[code] = ranked[0]
    adopters = choose_adopters(list(top), model, rng)
    base_median = float(np.median([p.base_kw for p in peers]))
    actual = {}
    for code, load in loads.items():
        if code not in adopters:
            actual[code] = load
            continue
        tip = top[code].tip
        parameters = {**tip.parameters, "excess_kw": max(0.0, profiles[code].base_kw - base_median)}
        actual[code] = apply_tip(
            tip.id, load, hour_of_day, half, adopters[code], parameters, leaks.get(code, 0.0)
        )

    def total(values: Any, a: int, b: int) -> float:
        return float(np.sum(values[a:b]))

    control = [code for code in loads if code not in adopters]
    trend = {
        kind: sum(total(actual[c][kind], half, end) for c in control)
        / max(sum(total(actual[c][kind], 0, half) for c in control), 1e-9)
        for kind in Quantity
    }
    post_share = (end - half) / 24 / 365
    per_tip: dict[str, dict[str, float]] = {}
    for code in adopters:
        chosen = top[code]
        kind = chosen.tip.quantity
        entry = per_tip.setdefault(
            chosen.tip.id, {"adopters": 0, "expected": 0.0, "measured": 0.0, "true": 0.0}
        )
        entry["adopters"] += 1
        entry["expected"] += chosen.expected_per_year * post_share
        entry["measured"] += total(actual[code][kind], 0, half) * trend[kind] - total(
            actual[code][kind], half, end
        )
        entry["true"] += total(loads[code][kind], half, end) - total(actual[code][kind], half, end)
    tips_by_id = {t.id: t for t in catalogue.tips}
    co2 = {"expected": 0.0, "measured": 0.0, "true": 0.0}
    for tip_id, entry in per_tip.items():
        factor = catalogue.kg_co2_per_unit[tips_by_id[tip_id].quantity]
        entry["unit"] = tips_by_id[tip_id].quantity.unit  # type: ignore[assignment]
        for key in co2:
            co2[key] += entry[key] * factor
            entry[key] = round(entry[key], 2)
    return {
        "households": households,
        "households_with_a_tip": len(top),
        "adopters": len(adopters),
        "uptake": round(len(adopters) / households, 4),
        "period_days": days // 2,
        "per_tip": per_tip,
        "kg_co2e": {key: round(value, 1) for key, value in co2.items()},
        "measured_over_expected": round(co2["measured"] / co2["expected"], 3) if co2["expected"] else None,
        "measured_over_true": round(co2["measured"] / co2["true"], 3) if co2["true"] else None,
    }


@insights_app.command("evaluate")
def evaluate(
    households: Annotated[int, typer.Option(min=10, help="Simulated households (3 meters each).")] = 200,
    days: Annotated[int, typer.Option(min=14, help="Simulated days (the first week is warm-up).")] = 28,
    seed: Annotated[int, typer.Option(help="Seed of the county and of the injected anomalies.")] = 1,
) -> None:
    """Simulate a county with labelled anomalies, detect, and print precision, recall and time to detect
    per kind as one JSON object."""
    params = load_parameters(get_settings().data_dir)
    report, _ = evaluation_report(households=households, days=days, seed=seed, params=params)
    typer.echo(json.dumps(report, sort_keys=True))


def _tips() -> TipCatalogue:
    return catalogue_from_toml((get_settings().data_dir / "insights" / "tips.toml").read_text("utf-8"))


def _community(conn: Any, slug: str) -> registry.Community:
    found = registry.find_community(conn, slug)
    if found is None:
        typer.echo(f"unknown community {slug!r}; create it first (tanhui community create)", err=True)
        raise typer.Exit(2)
    return found


@insights_app.command("run")
def run(
    community: Annotated[str, typer.Option(help="Community slug.")],
    days: Annotated[int, typer.Option(min=2, help="Days of readings to examine, up to now.")] = 35,
    now: Annotated[
        int | None, typer.Option(help="Judge as of this epoch second (a backfill); default: the clock.")
    ] = None,
) -> None:
    """Run the detectors over the community's recent readings and record alerts (deduplicated)."""
    settings = get_settings()
    as_of = now if now is not None else int(utc_now().timestamp())
    params = load_parameters(settings.data_dir)
    engine = make_engine(settings.database_url)
    try:
        with engine.begin() as conn:
            found = _community(conn, community)
            result = run_community(conn, found.id, now=as_of, params=params, days=days)
    finally:
        engine.dispose()
    typer.echo(
        json.dumps(
            {
                "community": community,
                "meters": result.meters,
                "findings": result.findings,
                "alerts_created": result.created,
                "alerts_refreshed": result.refreshed,
                "already_resolved": result.already_resolved,
            }
        )
    )


@insights_app.command("alerts")
def list_community_alerts(
    community: Annotated[str, typer.Option(help="Community slug.")],
    status: Annotated[str | None, typer.Option(help="open or resolved.")] = None,
    kind: Annotated[str | None, typer.Option(help="leak, stuck, flat_zero, ...")] = None,
    locale: Annotated[str, typer.Option(help="Language of the texts: zh_CN or en.")] = "zh_CN",
) -> None:
    """The community's alerts, newest first, one JSON object per line."""
    settings = get_settings()
    messages = load_messages(settings.data_dir)
    try:
        chosen = FindingKind(kind) if kind is not None else None
    except ValueError:
        typer.echo(
            f"unknown kind {kind!r}; choose one of {', '.join(k.value for k in FindingKind)}", err=True
        )
        raise typer.Exit(2) from None
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            found = _community(conn, community)
            listed = alerts.list_alerts(conn, found.id, status=status, kind=chosen)
    finally:
        engine.dispose()
    for alert in listed:
        text = messages.render(alert.kind, locale, alert.evidence)
        row = {
            "id": alert.id,
            "kind": alert.kind.value,
            "meter": alert.meter_serial,
            "status": alert.status,
            "severity": alert.severity,
            "audience": alert.audience,
            "detected_at": alert.detected_at,
            "last_seen": alert.last_seen,
            "acknowledged": alert.acknowledged_at is not None,
            "title": text.title,
            "body": text.body,
        }
        typer.echo(json.dumps(row, ensure_ascii=False))


@insights_app.command("tips")
def tips(
    household: Annotated[str, typer.Option(help="Household code (e.g. BT-00001).")],
    community: Annotated[
        str | None,
        typer.Option(help="Community slug: rank from its stored readings (else a simulated county)."),
    ] = None,
    households: Annotated[int, typer.Option(min=5, help="Simulated households (its peers).")] = 100,
    days: Annotated[int, typer.Option(min=7, help="Days of history.")] = 28,
    seed: Annotated[int, typer.Option(help="Seed of the simulated county.")] = 1,
    locale: Annotated[str, typer.Option(help="zh_CN or en.")] = "zh_CN",
    now: Annotated[int | None, typer.Option(help="With --community: as of this epoch second.")] = None,
) -> None:
    """A household's saving tips, ranked by the saving expected for it, as JSON."""
    catalogue = _tips()
    if community is not None:
        settings = get_settings()
        engine = make_engine(settings.database_url)
        try:
            with engine.connect() as conn:
                found = _community(conn, community)
                household_id = registry.household_by_code(conn, found.id, household)
                as_of = now if now is not None else int(utc_now().timestamp())
                stored = household_profiles(conn, found.id, now=as_of, days=days)
        finally:
            engine.dispose()
        if household_id is None or household_id not in stored:
            typer.echo(f"no household {household!r} with {days} days of readings in {community}", err=True)
            raise typer.Exit(2)
        ranked = rank_tips(stored[household_id], list(stored.values()), catalogue)
    else:
        county = build_county(
            seed=seed, households=households, start=EVALUATION_START, days=days, enrol_share=0.0
        )
        rng = random.Random(f"tanhui.sim/{seed}/uptake")  # noqa: S311 - simulation noise
        _, loads, _ = hourly_loads(county, UptakeModel(), rng)
        profiles = simulated_profiles(county, loads, days * 24)
        if household not in profiles:
            typer.echo(
                f"unknown household {household!r}; codes run BT-00001 to BT-{households:05d}", err=True
            )
            raise typer.Exit(2)
        ranked = rank_tips(profiles[household], list(profiles.values()), catalogue)
    typer.echo(json.dumps([tip.as_json(locale) for tip in ranked], ensure_ascii=False))


@insights_app.command("tips-evaluate")
def tips_evaluate(
    households: Annotated[int, typer.Option(min=10, help="Simulated households.")] = 200,
    days: Annotated[int, typer.Option(min=28, help="Simulated days: history, then the tips' effect.")] = 56,
    seed: Annotated[int, typer.Option(help="Seed of the county and of uptake.")] = 1,
) -> None:
    """Simulate tip uptake and print uptake and the measured versus expected saving as one JSON object."""
    report = evaluate_uptake(households=households, days=days, seed=seed, catalogue=_tips())
    typer.echo(json.dumps(report, sort_keys=True))


__all__ = ["evaluate_uptake", "evaluation_report", "insights_app", "simulated_profiles", "to_register_series"]
