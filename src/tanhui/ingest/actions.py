"""Operator actions on ingest: replay or discard quarantined data, register a meter.

Each action is one transaction and logs who did what (the audit log will take these entries when it
lands); web and CLI call these, never the store directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import structlog
from sqlalchemy import Engine

from tanhui.domain.errors import TanhuiError
from tanhui.domain.ids import CommunityId, GatewayId, HouseholdId, MeterId
from tanhui.domain.quantity import Quantity
from tanhui.ingest.pipeline import Ingestor
from tanhui.store import quarantine, registry
from tanhui.store.schema import gateways

log = structlog.get_logger(__name__)


class ActionError(TanhuiError):
    """An operator action that cannot be done as asked."""

    code = "action_refused"


@dataclass(frozen=True, slots=True)
class ReplayOutcome:
    entry_id: int
    accepted: bool
    stored: int
    duplicates: int
    reasons: tuple[str, ...]
    messages: tuple[str, ...]


def replay(
    engine: Engine, ingestor: Ingestor, community_id: CommunityId, entry_id: int, *, operator: str
) -> ReplayOutcome:
    """Run a quarantined entry through the checks again; close it as ``replayed`` when it passes."""
    with engine.connect() as conn:
        entry = quarantine.get(conn, entry_id)
        if entry is None or entry.community_id != community_id:
            raise ActionError(f"no quarantine entry {entry_id} in this community", code="not_found")
        if entry.status != "open":
            raise ActionError(f"entry {entry_id} is already {entry.status}", code="not_open")
        if entry.gateway_id is None:
            raise ActionError(
                f"entry {entry_id} came from no registered gateway; register the gateway, then let it resend",
                code="no_gateway",
            )
        row = conn.execute(gateways.select().where(gateways.c.id == entry.gateway_id)).one()
    gateway = registry.Gateway(GatewayId(row.id), CommunityId(row.community_id), row.name, row.last_seq)
    ingestor.forget_meters()
    result = ingestor.replay_item(entry.raw, gateway=gateway)
    accepted = not result.rejections
    if accepted:
        with engine.begin() as conn:
            quarantine.resolve(conn, entry_id, "replayed")
    log.info(
        "operator.quarantine_replay",
        operator=operator,
        entry=entry_id,
        accepted=accepted,
        stored=result.stored,
    )
    return ReplayOutcome(
        entry_id,
        accepted,
        result.stored,
        result.duplicates,
        tuple(r.reason for r in result.rejections),
        tuple(r.message for r in result.rejections),
    )


def discard(engine: Engine, community_id: CommunityId, entry_id: int, *, operator: str, note: str) -> None:
    """Close an open entry without storing it (its raw bytes stay in quarantine)."""
    if not note.strip():
        raise ActionError("say why the entry is discarded", code="note_required")
    with engine.begin() as conn:
        entry = quarantine.get(conn, entry_id)
        if entry is None or entry.community_id != community_id:
            raise ActionError(f"no quarantine entry {entry_id} in this community", code="not_found")
        if not quarantine.resolve(conn, entry_id, "discarded"):
            raise ActionError(f"entry {entry_id} is already {entry.status}", code="not_open")
    log.info("operator.quarantine_discard", operator=operator, entry=entry_id, note=note)


def register_meter(
    engine: Engine,
    community_id: CommunityId,
    *,
    operator: str,
    serial: str,
    kind: Quantity,
    household_code: str,
    protocol: str,
    resolution: Decimal,
    capacity: int,
    installed_on: date,
    gateway_name: str | None = None,
) -> MeterId:
    """Register a meter for a household (e.g. the unknown meter a quarantine entry names)."""
    with engine.begin() as conn:
        household = registry.household_by_code(conn, community_id, household_code)
        if household is None:
            raise ActionError(f"no household {household_code!r} in this community", code="not_found")
        if registry.meter_by_serial(conn, community_id, serial) is not None:
            raise ActionError(f"meter {serial} is already registered", code="exists")
        gateway_id: GatewayId | None = None
        if gateway_name is not None:
            gateway = registry.gateway_by_name(conn, gateway_name)
            if gateway is None or gateway.community_id != community_id:
                raise ActionError(f"no gateway {gateway_name!r} in this community", code="not_found")
            gateway_id = gateway.id
        meter_id = registry.create_meter(
            conn,
            community_id=community_id,
            household_id=HouseholdId(household),
            gateway_id=gateway_id,
            serial=serial,
            kind=kind,
            protocol=protocol,
            resolution=resolution,
            capacity=capacity,
            installed_on=installed_on,
        )
    log.info("operator.meter_registered", operator=operator, serial=serial, household=household_code)
    return meter_id


def replace_meter(
    engine: Engine,
    community_id: CommunityId,
    *,
    operator: str,
    serial: str,
    replaced_on: date,
    new_serial: str | None = None,
    resolution: Decimal | None = None,
    capacity: int | None = None,
    protocol: str | None = None,
) -> MeterId:
    """Replace the meter installed as ``serial``: it is removed on ``replaced_on`` and a new meter, for
    the same household and gateway, is installed that day (``new_serial``, or the same address when the
    replacement was programmed with it). The new meter starts from its own register: no consumption is
    ever computed across the two (meter-protocols.md §7, meter replacement)."""
    with engine.begin() as conn:
        old = registry.meter_by_serial(conn, community_id, serial)
        if old is None or old.removed_on is not None:
            raise ActionError(f"no installed meter {serial} in this community", code="not_found")
        if replaced_on <= old.installed_on:
            raise ActionError(
                f"meter {serial} was installed on {old.installed_on}; it cannot be replaced on {replaced_on}",
                code="invalid_date",
            )
        target = new_serial or serial
        if target != serial and registry.meter_by_serial(conn, community_id, target) is not None:
            raise ActionError(f"meter {target} is already registered", code="exists")
        registry.remove_meter(conn, old.id, replaced_on)
        meter_id = registry.create_meter(
            conn,
            community_id=community_id,
            household_id=old.household_id,
            gateway_id=old.gateway_id,
            serial=target,
            kind=old.kind,
            protocol=protocol or old.protocol,
            resolution=resolution or old.resolution,
            capacity=capacity or old.capacity,
            installed_on=replaced_on,
        )
    log.info("operator.meter_replaced", operator=operator, old=serial, new=target, on=str(replaced_on))
    return meter_id
