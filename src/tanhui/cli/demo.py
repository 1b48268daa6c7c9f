"""``tanhui demo``: a simulated county, ingested through the real HTTP path, accounted and served."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, text

from tanhui.cli import publish
from tanhui.cli.onboarding import DemoLogin, Onboarded, onboard
from tanhui.jobs.accounting import account_community
from tanhui.settings import Settings
from tanhui.sim.county import build_county, envelopes
from tanhui.store import migrate, quarantine, readings
from tanhui.store.factor_files import load_factor_sets
from tanhui.store.schema import metadata

DEMO_TIMEZONE = ZoneInfo("Asia/Shanghai")
DEFAULT_FACTOR_SET = "cn-mee-2023@v1"


@dataclass(slots=True)
class DemoSummary:
    households: int
    days: int
    readings_sent: int = 0
    readings_stored: int = 0
    quarantined: int = 0
    kg_co2e: Decimal = Decimal(0)
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
    county = build_county(
        seed=seed, households=households, start=start or demo_start(days), days=days, tz=DEMO_TIMEZONE
    )
    onboarded = onboard(
        engine, county, factor_set_id=factor_set.id, now=int(now().timestamp()), passwords=passwords
    )
    summary = DemoSummary(households=households, days=days, logins=onboarded.logins)
    batches = list(envelopes(county))
    totals = publish.over_http(
        base_url,
        batches,
        onboarded.gateway_tokens,
        progress=None if progress is None else lambda done: progress(done, len(batches)),
    )
    summary.readings_sent = sum(totals.values())
    with engine.begin() as conn:
        accounted = account_community(conn, onboarded.community_id, factor_set, now=int(now().timestamp()))
        summary.readings_stored = readings.count(conn, onboarded.community_id)
        summary.quarantined = sum(quarantine.count_by_reason(conn, onboarded.community_id).values())
    summary.kg_co2e = accounted.kg_co2e
    return summary, onboarded
