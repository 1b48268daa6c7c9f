"""Run the insight detectors over a community's recent readings and record their findings as alerts.

Each run reads every installed meter's accounting register over the last ``days`` days up to ``now``,
runs :func:`tanhui.insights.detect.detect` and records each finding with
:func:`tanhui.store.alerts.record_finding` (deduplicated: a finding already open refreshes its alert).
Running it again over the same readings changes no alert but ``last_seen`` and ``occurrences``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection, select

from tanhui.domain.ids import CommunityId, HouseholdId, MeterId
from tanhui.domain.quantity import Quantity
from tanhui.insights.days import day_grid
from tanhui.insights.detect import detect
from tanhui.insights.findings import Finding
from tanhui.insights.messages import MessageCatalogue, catalogue_from_toml
from tanhui.insights.parameters import DetectorParameters, parameters_from_toml
from tanhui.insights.series import DAY, RegisterSeries, hourly
from tanhui.insights.tips import HouseholdProfile, TipCatalogue, profile
from tanhui.insights.tips import catalogue_from_toml as tips_from_toml
from tanhui.store import alerts, readings, registry
from tanhui.store.schema import households

__all__ = [
    "InsightsRun",
    "community_series",
    "household_profiles",
    "load_messages",
    "load_parameters",
    "load_tips",
    "run_community",
]

# Four weeks: the unusual-use rule's reference (28 days, detectors.toml) plus the days being judged
# would need more, so the rule judges the last days against what the window holds.
DEFAULT_DAYS = 35


def load_parameters(data_dir: Path) -> DetectorParameters:
    """The detector parameters from ``<data_dir>/insights/detectors.toml``."""
    return parameters_from_toml((data_dir / "insights" / "detectors.toml").read_text(encoding="utf-8"))


def load_tips(data_dir: Path) -> TipCatalogue:
    """The saving tips from ``<data_dir>/insights/tips.toml``."""
    return tips_from_toml((data_dir / "insights" / "tips.toml").read_text(encoding="utf-8"))


def load_messages(data_dir: Path) -> MessageCatalogue:
    """The alert texts from ``<data_dir>/insights/messages.toml``."""
    return catalogue_from_toml((data_dir / "insights" / "messages.toml").read_text(encoding="utf-8"))


@dataclass(frozen=True, slots=True)
class InsightsRun:
    meters: int
    findings: int
    created: int
    refreshed: int
    already_resolved: int


def community_series(
    conn: Connection, community_id: CommunityId, *, now: int, days: int
) -> tuple[list[RegisterSeries], dict[str, registry.Meter]]:
    """Each installed meter's accounting register over ``days`` days before ``now``, as detector input."""
    community = registry.get_community(conn, community_id)
    offset = ZoneInfo(community.timezone).utcoffset(datetime.fromtimestamp(now, UTC))
    utc_offset = int(offset.total_seconds()) if offset is not None else 0
    since = now - days * DAY
    out: list[RegisterSeries] = []
    by_label: dict[str, registry.Meter] = {}
    for meter in registry.meters_of_community(conn, community_id):
        if meter.removed_on is not None:
            continue
        points = [
            (t, v) for t, v in readings.of_meter(conn, meter.id, meter.kind.register) if since <= t <= now
        ]
        if len(points) < 2:
            continue
        label = str(meter.id)
        by_label[label] = meter
        out.append(
            RegisterSeries(
                meter=label,
                quantity=meter.kind,
                times=np.array([t for t, _ in points], dtype=np.int64),
                counts=np.array([v for _, v in points], dtype=np.int64),
                counts_per_unit=int(1 / meter.resolution),
                capacity=meter.capacity,
                utc_offset=utc_offset,
            )
        )
    return out, by_label


def run_community(
    conn: Connection,
    community_id: CommunityId,
    *,
    now: int,
    params: DetectorParameters,
    days: int = DEFAULT_DAYS,
) -> InsightsRun:
    """Detect over the community's last ``days`` days and record the findings as alerts."""
    series, by_label = community_series(conn, community_id, now=now, days=days)
    findings: list[Finding] = detect(series, params)
    created = refreshed = skipped = 0
    for finding in findings:
        meter = by_label[finding.meter]
        outcome = alerts.record_finding(
            conn,
            community_id=community_id,
            household_id=meter.household_id,
            meter_id=MeterId(meter.id),
            finding=finding,
            now=now,
        )
        if outcome is None:
            skipped += 1
        elif outcome[1]:
            created += 1
        else:
            refreshed += 1
    return InsightsRun(len(series), len(findings), created, refreshed, skipped)


# Tips need a few weeks of a household's load shape: four weeks, as the unusual-use reference.
TIP_DAYS = 28


def household_profiles(
    conn: Connection, community_id: CommunityId, *, now: int, days: int = TIP_DAYS
) -> dict[HouseholdId, HouseholdProfile]:
    """The tip profile of every household with readings from all three of its meters in the window."""
    series, by_label = community_series(conn, community_id, now=now, days=days)
    grids: dict[HouseholdId, dict[Quantity, NDArray[np.float64]]] = {}
    for item in series:
        household = by_label[item.meter].household_id
        if household is None:
            continue
        grid = day_grid(hourly(item))
        if grid.days and not np.all(np.isnan(grid.values)):
            grids.setdefault(household, {})[item.quantity] = grid.values
    persons = {
        HouseholdId(row.id): int(row.persons)
        for row in conn.execute(
            select(households.c.id, households.c.persons).where(households.c.community_id == community_id)
        )
    }
    out: dict[HouseholdId, HouseholdProfile] = {}
    for household, by_kind in grids.items():
        if set(by_kind) != set(Quantity):
            continue
        out[household] = profile(
            str(household),
            max(1, persons.get(household, 1)),
            by_kind[Quantity.ELECTRICITY],
            by_kind[Quantity.WATER],
            by_kind[Quantity.GAS],
        )
    return out
