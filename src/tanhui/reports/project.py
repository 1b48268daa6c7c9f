"""An ISO 14064-2-style project report of the household-saving programme of one community and year.

ISO 14064-2:2019 asks a project proponent to describe the project and its boundary (§6.3, §6.4), to
identify the baseline scenario (§6.4), to quantify project and baseline emissions and the reduction with
its uncertainty (§6.6-6.10), to monitor (§6.10: data, frequency, QA/QC, custody) and to manage the data
(§6.11) so that a verifier (ISO 14064-3:2019) can trace every figure to its source. This report gathers
what the platform knows for each:

- boundary: households, meters per kind, their protocols; project emissions (the metered footprint)
  under the chosen factor set, with its content hash;
- monitoring: expected reading interval, readings received against expected (data completeness, from
  :func:`tanhui.store.health.meter_health`), quarantined frames;
- data management: raw ingest batches archived with their SHA-256;
- quantification (baseline, avoided emissions, uncertainty) and the audit-log checkpoint come from the
  baseline and audit packages; until those are wired in they are typed optional inputs shown as pending.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, select

from tanhui.accounting.account import community_account
from tanhui.accounting.factors import FactorSet
from tanhui.domain.ids import CommunityId
from tanhui.domain.quantity import Quantity
from tanhui.reports.rendering import html_to_pdf, render_html
from tanhui.reports.statement import QUANTITY_ORDER, FactorSetRef
from tanhui.reports.usage import community_by_slug, consumption
from tanhui.store import registry
from tanhui.store.health import GapRules, meter_health
from tanhui.store.schema import gateways, households, ingest_batches, quarantine

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Quantification:
    """Baseline and project emissions and their difference (ISO 14064-2:2019 §6.6-6.10).

    Filled by ``tanhui.baseline``: the model that produced the baseline, and the uncertainty of the
    avoided emissions at the stated confidence level.
    """

    baseline_kg: Decimal
    project_kg: Decimal
    avoided_kg: Decimal
    uncertainty_kg: Decimal | None
    confidence_level: str
    baseline_model: str
    factor_set_id: str


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement of the audit log's size and root hash (filled by ``tanhui.audit``)."""

    origin: str
    size: int
    root_hash: str
    signed_at: datetime


@dataclass(frozen=True, slots=True)
class MeterKind:
    """The meters of one kind in the project boundary and how completely they reported."""

    quantity: Quantity
    meters: int
    protocols: tuple[str, ...]
    readings: int
    expected: int
    amount: Decimal
    kg: Decimal

    @property
    def completeness(self) -> float:
        return 0.0 if self.expected == 0 else min(1.0, self.readings / self.expected)


@dataclass(frozen=True, slots=True)
class ProjectReport:
    """Everything the project report shows."""

    community: str
    community_zh: str
    first_day: date
    last_day: date
    households: int
    households_with_data: int
    kinds: tuple[MeterKind, ...]
    factor_set: FactorSetRef
    interval_seconds: int
    monitored_until: date
    batches: int
    quarantined: int
    generated_on: date
    quantification: Quantification | None = None
    checkpoint: Checkpoint | None = None

    @property
    def project_kg(self) -> Decimal:
        """The metered footprint of the households in the boundary: the project emissions."""
        return sum((k.kg for k in self.kinds), ZERO)

    @property
    def completeness(self) -> float:
        expected = sum(k.expected for k in self.kinds)
        return 0.0 if expected == 0 else min(1.0, sum(k.readings for k in self.kinds) / expected)


def _epoch(day: date, zone: ZoneInfo) -> int:
    return int(datetime.combine(day, time(), zone).timestamp())


def load_project(
    conn: Connection,
    *,
    community: str,
    first_day: date,
    last_day: date,
    factor_set: FactorSet,
    rules: GapRules,
    generated_on: date,
    quantification: Quantification | None = None,
    checkpoint: Checkpoint | None = None,
) -> ProjectReport:
    """The project report of community ``community`` (slug) over ``first_day``..``last_day``."""
    found = community_by_slug(conn, community)
    cid = CommunityId(found.id)
    zone = ZoneInfo(found.timezone)
    data = consumption(conn, found, first=first_day, last=last_day)
    account = community_account(
        data.usage, factor_set, community_id=cid, report=f"project:{found.slug}:{first_day}:{last_day}"
    )
    kg = {q: t.location_kg for q, t in account.by_quantity().items()}
    amounts: dict[Quantity, Decimal] = defaultdict(Decimal)
    for item in data.usage:
        amounts[item.quantity] += item.amount
    start, end = _epoch(first_day, zone), _epoch(last_day + timedelta(days=1), zone)
    # Readings cannot be expected from days that have not ended yet: completeness stops at yesterday.
    monitored_until = max(first_day, min(last_day, generated_on - timedelta(days=1)))
    health = meter_health(
        conn, cid, start=start, end=_epoch(monitored_until + timedelta(days=1), zone), rules=rules
    )
    protocols: dict[Quantity, set[str]] = defaultdict(set)
    for installed in registry.meters_of_community(conn, cid):
        if installed.household_id is not None:
            protocols[installed.kind].add(installed.protocol)
    counted: dict[Quantity, list[int]] = defaultdict(lambda: [0, 0, 0])
    for meter in health:
        if meter.household is None:
            continue
        tally = counted[meter.kind]
        tally[0] += 1
        tally[1] += meter.readings
        tally[2] += meter.expected
    kinds = tuple(
        MeterKind(
            quantity=q,
            meters=counted[q][0],
            protocols=tuple(sorted(protocols[q])),
            readings=counted[q][1],
            expected=counted[q][2],
            amount=amounts.get(q, ZERO),
            kg=kg.get(q, ZERO),
        )
        for q in QUANTITY_ORDER
        if q in counted
    )
    batches = conn.execute(
        select(func.count())
        .select_from(ingest_batches)
        .join(gateways, gateways.c.id == ingest_batches.c.gateway_id)
        .where(gateways.c.community_id == cid)
        .where(ingest_batches.c.received_at >= start, ingest_batches.c.received_at < end)
    ).scalar_one()
    held = conn.execute(
        select(func.count())
        .select_from(quarantine)
        .where(quarantine.c.community_id == cid)
        .where(quarantine.c.received_at >= start, quarantine.c.received_at < end)
    ).scalar_one()
    enrolled = conn.execute(
        select(func.count()).select_from(households).where(households.c.community_id == cid)
    ).scalar_one()
    return ProjectReport(
        community=found.name,
        community_zh=found.name_zh,
        first_day=first_day,
        last_day=last_day,
        households=int(enrolled),
        households_with_data=len({u.household_id for u in data.usage}),
        kinds=kinds,
        factor_set=FactorSetRef.of(factor_set),
        interval_seconds=rules.expected_interval_seconds,
        monitored_until=monitored_until,
        batches=int(batches),
        quarantined=int(held),
        generated_on=generated_on,
        quantification=quantification,
        checkpoint=checkpoint,
    )


def project_html(report: ProjectReport, locale: str) -> str:
    """The project report as an HTML document in ``locale``."""
    return render_html("project.html", locale, report=report)


def project_pdf(report: ProjectReport, locale: str) -> bytes:
    """The project report on A4 pages."""
    return html_to_pdf(project_html(report, locale))
