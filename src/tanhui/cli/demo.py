"""``tanhui demo``: a simulated county through every stage of the platform, then served.

The county is simulated for a year of history plus the demo's days. The last ``days`` days reach the
platform as gateways send them (over HTTP); the year before arrives as imported daily billing history
(``intervals.add_history``), as a utility's records would when a county installs smart meters, so that
baselines have the year CalTRACK asks for. Then: daily accounting under the Chinese and the European
factor sets, baselines and avoided emissions, a month of points with some vouchers redeemed and validated,
and the insights detectors.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, text

from tanhui.accounting import months
from tanhui.accounting.pricing import total
from tanhui.cli import publish
from tanhui.cli.onboarding import DemoLogin, Onboarded, onboard
from tanhui.cli.points_commands import demo_points
from tanhui.domain.ids import CommunityId, HouseholdId
from tanhui.domain.quantity import Quantity
from tanhui.domain.roles import Role
from tanhui.jobs import insights
from tanhui.jobs.accounting import account_community, price_community
from tanhui.jobs.baselines import fit_community
from tanhui.points.ledger import AccountKind
from tanhui.settings import Settings
from tanhui.sim.county import County, build_county, envelopes, truth
from tanhui.store import (
    baselines,
    catalogue,
    intervals,
    ledger,
    migrate,
    quarantine,
    readings,
    registry,
    users,
    weather,
)
from tanhui.store.factor_files import load_factor_sets
from tanhui.store.intervals import MonthRow
from tanhui.store.schema import metadata
from tanhui.web.passwords import hash_password

DEMO_TIMEZONE = ZoneInfo("Asia/Shanghai")
DEFAULT_FACTOR_SET = "cn-mee-2023@v1"
EUROPEAN_FACTOR_SET = "eu-eea-2023@v1"
# CalTRACK 2.0 §2.2: a baseline is the 365 days before enrolment (data/baseline/rules.toml).
HISTORY_DAYS = 365
STATION = "baoting-sim"
CHEAPEST_DEMO_MERCHANT = "sanya-duty-free"  # data/points/demo-catalogue.toml
MICRO = Decimal(1_000_000)


@dataclass(slots=True)
class DemoSummary:
    households: int
    days: int
    readings_sent: int = 0
    readings_stored: int = 0
    quarantined: int = 0
    kg_co2e: Decimal = Decimal(0)
    kg_co2e_european: Decimal = Decimal(0)
    history_months: int = 0
    baselines_eligible: int = 0
    avoided_kg_counted: Decimal = Decimal(0)
    points_period: str = ""
    points_issued: int = 0
    points_redeemed: int = 0
    vouchers: int = 0
    alerts: int = 0
    logins: list[DemoLogin] = field(default_factory=list)


def reset_database(engine: Engine) -> None:
    """Empty the demo database so every demo run starts from the same state."""
    metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


def demo_start(days: int, today: date | None = None) -> date:
    """The first simulated day: ``days`` before today, so the demo's data ends yesterday."""
    return (today or datetime.now(DEMO_TIMEZONE).date()) - timedelta(days=days)


def build_demo(
    settings: Settings,
    engine: Engine,
    base_url: str,
    *,
    households: int,
    days: int,
    seed: int,
    now: Callable[[], datetime],
    passwords: Mapping[str, str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    start: date | None = None,
) -> tuple[DemoSummary, Onboarded]:
    """Simulate, onboard, post every envelope to ``base_url``/api/v1/ingest, then account."""
    if settings.environment == "production":
        raise RuntimeError(
            "the demo resets its database; it refuses to run with TANHUI_ENVIRONMENT=production"
        )
    factor_sets = load_factor_sets(settings.data_dir / "factors")
    factor_set = factor_sets[DEFAULT_FACTOR_SET]
    reset_database(engine)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        readings.maintain_partitions(conn, now=int(now().timestamp()))
    live_start = start or demo_start(days)
    county = build_county(
        seed=seed,
        households=households,
        start=live_start - timedelta(days=HISTORY_DAYS),
        days=HISTORY_DAYS + days,
        tz=DEMO_TIMEZONE,
        min_history_days=HISTORY_DAYS,
    )
    stamp = int(now().timestamp())
    onboarded = onboard(engine, county, factor_set_id=factor_set.id, now=stamp, passwords=passwords)
    summary = DemoSummary(households=households, days=days, logins=onboarded.logins)
    since = datetime.combine(live_start, time(0), DEMO_TIMEZONE)
    batches = list(envelopes(county, since=since))
    totals = publish.over_http(
        base_url,
        batches,
        onboarded.gateway_tokens,
        progress=None if progress is None else lambda done: progress(done, len(batches)),
    )
    summary.readings_sent = sum(totals.values())
    community_id = onboarded.community_id
    with engine.begin() as conn:
        summary.history_months = _import_history(conn, county, onboarded, before=live_start, now=stamp)
        _import_weather(conn, county, community_id, now=stamp)
        accounted = account_community(conn, community_id, factor_set, now=stamp)
        european = price_community(conn, community_id, factor_sets[EUROPEAN_FACTOR_SET], now=stamp)
        summary.readings_stored = readings.count(conn, community_id)
        summary.quarantined = sum(quarantine.count_by_reason(conn, community_id).values())
    summary.kg_co2e = accounted.kg_co2e
    summary.kg_co2e_european = european.kg_co2e
    with engine.begin() as conn:
        fitted = fit_community(conn, community_id, factor_set, rules=baselines.load_rules(), now=stamp)
    summary.baselines_eligible = fitted.eligible
    summary.avoided_kg_counted = fitted.counted_kg
    period_first, period_last = _last_whole_month(live_start, live_start + timedelta(days=days - 1))
    summary.points_period = f"{period_first:%Y-%m}"
    with engine.begin() as conn:
        avoided_g: dict[int, int] = {}
        for household_id in onboarded.households.values():
            found = baselines.household_avoided(
                conn, HouseholdId(household_id), factor_set.id, period_first, period_last
            )
            if found is not None and found.data_quality_ok and found.baseline_eligible:
                avoided_g[int(household_id)] = found.avoided_g_co2e
        points = demo_points(
            conn,
            community_id,
            period=summary.points_period,
            avoided_g=avoided_g,
            data_dir=settings.data_dir,
            secret_key=settings.secret_key,
            now=stamp,
            today=live_start + timedelta(days=days),
        )
        summary.logins.append(_saver_login(conn, onboarded, passwords or {}, now=stamp))
        merchant = next(login for login in onboarded.logins if login.role is Role.MERCHANT)
        found_user = users.credentials(conn, merchant.username)
        if found_user is not None and points.merchants:
            # The till of the merchant whose demo reward is cheapest, where the demo's vouchers go.
            till = points.merchants.get(CHEAPEST_DEMO_MERCHANT) or min(points.merchants.values())
            catalogue.add_staff(conn, till, found_user[0].id)
    summary.points_issued, summary.points_redeemed, summary.vouchers = (
        points.issued,
        points.redeemed,
        points.vouchers,
    )
    with engine.begin() as conn:
        run = insights.run_community(
            conn, community_id, now=stamp, params=insights.load_parameters(settings.data_dir)
        )
    summary.alerts = run.created
    return summary, onboarded


def _saver_login(
    conn: Connection, onboarded: Onboarded, passwords: Mapping[str, str], *, now: int
) -> DemoLogin:
    """A resident login for the household holding the most points, so the demo can redeem a reward."""
    balances: dict[HouseholdId, int] = {}
    for household_id in onboarded.households.values():
        account = ledger.find_account(conn, onboarded.community_id, AccountKind.HOUSEHOLD, household_id)
        balances[household_id] = 0 if account is None else ledger.get_account(conn, account).available
    household_id = max(sorted(balances), key=lambda h: balances[h])
    password = passwords.get("saver") or secrets.token_urlsafe(9)
    users.create_user(
        conn,
        community_id=onboarded.community_id,
        username="saver",
        password_hash=hash_password(password),
        role=Role.RESIDENT,
        household_id=household_id,
        locale="zh_CN",
        now=now,
    )
    return DemoLogin(Role.RESIDENT, "saver", password, household_id)


def _last_whole_month(first: date, last: date) -> tuple[date, date]:
    """The last calendar month lying wholly inside ``[first, last]`` (else the part up to ``last``)."""
    month_end = last.replace(day=1) - timedelta(days=1)
    if (last + timedelta(days=1)).day == 1:
        month_end = last
    month_start = month_end.replace(day=1)
    if month_start < first:
        return max(first, last.replace(day=1)), last
    return month_start, month_end


def _import_history(conn: Connection, county: County, onboarded: Onboarded, *, before: date, now: int) -> int:
    """The simulated year before the meters went live, as daily billing history per meter."""
    known = truth(county)
    meter_of = {
        (m.household_id, m.kind.value): m.id
        for m in registry.meters_of_community(conn, onboarded.community_id)
        if m.household_id is not None
    }
    rows: list[MonthRow] = []
    for code, household_id in onboarded.households.items():
        for quantity in Quantity:
            meter_id = meter_of.get((household_id, quantity.value))
            if meter_id is None or code not in known.households:
                continue
            by_day = {day: int(amount * MICRO) for day, amount in known.daily(code, quantity) if day < before}
            for month, days in sorted(months.group(by_day).items()):
                rows.append(
                    MonthRow(meter_id, month, household_id, quantity.value, months.pack(days), total(days))
                )
    return intervals.add_history(conn, rows, now=now)


def _import_weather(conn: Connection, county: County, community_id: CommunityId, *, now: int) -> None:
    weather.ensure_station(conn, STATION, community_id=community_id, name="Baoting (simulated)", now=now)
    observations = [weather.Observation(at.astimezone(UTC), value) for at, value in county.temperatures]
    weather.add_observations(conn, STATION, observations, source="simulation", now=now)
