"""Communities, households, meters and gateways: the registry every reading is checked against."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from tanhui.domain import mosquitto_password
from tanhui.domain.ids import CommunityId, GatewayId, HouseholdId, MeterId
from tanhui.domain.quantity import Quantity
from tanhui.store.schema import communities, gateways, households, meters


@dataclass(frozen=True, slots=True)
class Community:
    id: CommunityId
    slug: str
    name: str
    name_zh: str
    timezone: str
    factor_regime: str
    factor_set_id: str


@dataclass(frozen=True, slots=True)
class Meter:
    """What ingest and accounting need to know about a meter."""

    id: MeterId
    community_id: CommunityId
    household_id: HouseholdId | None
    gateway_id: GatewayId | None
    serial: str
    kind: Quantity
    unit: str
    resolution: Decimal
    capacity: int
    installed_on: date = date(1970, 1, 1)
    removed_on: date | None = None
    protocol: str = "json"


@dataclass(frozen=True, slots=True)
class Gateway:
    id: GatewayId
    community_id: CommunityId
    name: str
    last_seq: int | None


def token_digest(token: str) -> str:
    """The stored form of a gateway token (SHA-256; see docs/decisions/0004-gateway-tokens.md)."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_community(
    conn: Connection,
    *,
    slug: str,
    name: str,
    name_zh: str,
    timezone: str,
    factor_regime: str,
    factor_set_id: str,
    now: int,
) -> CommunityId:
    result = conn.execute(
        insert(communities)
        .returning(communities.c.id)
        .values(
            slug=slug,
            name=name,
            name_zh=name_zh,
            timezone=timezone,
            factor_regime=factor_regime,
            factor_set_id=factor_set_id,
            created_at=now,
        )
    )
    return CommunityId(result.scalar_one())


def get_community(conn: Connection, community_id: CommunityId) -> Community:
    row = conn.execute(select(communities).where(communities.c.id == community_id)).one()
    return Community(
        CommunityId(row.id),
        row.slug,
        row.name,
        row.name_zh,
        row.timezone,
        row.factor_regime,
        row.factor_set_id,
    )


def find_community(conn: Connection, slug: str) -> Community | None:
    row = conn.execute(select(communities.c.id).where(communities.c.slug == slug)).first()
    return None if row is None else get_community(conn, CommunityId(row.id))


def create_household(
    conn: Connection,
    *,
    community_id: CommunityId,
    code: str,
    persons: int,
    enrolled_on: date | None,
    now: int,
) -> HouseholdId:
    result = conn.execute(
        insert(households)
        .returning(households.c.id)
        .values(
            community_id=community_id, code=code, persons=persons, enrolled_on=enrolled_on, created_at=now
        )
    )
    return HouseholdId(result.scalar_one())


def household_by_code(conn: Connection, community_id: CommunityId, code: str) -> HouseholdId | None:
    row = conn.execute(
        select(households.c.id).where(households.c.community_id == community_id, households.c.code == code)
    ).first()
    return None if row is None else HouseholdId(row.id)


def create_gateway(
    conn: Connection, *, community_id: CommunityId, name: str, now: int
) -> tuple[GatewayId, str]:
    """Register a gateway and return its id and its bearer token; the token is shown only once.

    The token is also the gateway's MQTT password (its user name is ``name``): its hash is stored in
    Mosquitto's password-file format so that ``tanhui broker-config`` can write the broker's files.
    """
    token = secrets.token_urlsafe(32)
    mqtt_hash = mosquitto_password.password_hash(token, secrets.token_bytes(mosquitto_password.SALT_BYTES))
    result = conn.execute(
        insert(gateways)
        .returning(gateways.c.id)
        .values(
            community_id=community_id,
            name=name,
            token_sha256=token_digest(token),
            mqtt_password_hash=mqtt_hash,
            created_at=now,
        )
    )
    return GatewayId(result.scalar_one()), token


def gateway_by_token(conn: Connection, token: str) -> Gateway | None:
    row = conn.execute(select(gateways).where(gateways.c.token_sha256 == token_digest(token))).first()
    return None if row is None else _gateway(row)


def gateway_by_name(conn: Connection, name: str) -> Gateway | None:
    return gateways_by_name(conn, [name]).get(name)


def gateways_by_name(conn: Connection, names: Iterable[str]) -> dict[str, Gateway]:
    """The registered gateways among ``names``, by name, in one query (an ingest worker meets the first
    message of hundreds of gateways in one batch)."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    rows = conn.execute(select(gateways).where(gateways.c.name.in_(wanted)))
    return {row.name: _gateway(row) for row in rows}


def _gateway(row: Row[Any]) -> Gateway:
    return Gateway(GatewayId(row.id), CommunityId(row.community_id), row.name, row.last_seq)


def advance_gateway_seq(conn: Connection, gateway_id: GatewayId, seq: int) -> None:
    """Remember the highest envelope sequence number seen from a gateway."""
    conn.execute(
        update(gateways)
        .where(gateways.c.id == gateway_id)
        .where((gateways.c.last_seq.is_(None)) | (gateways.c.last_seq < seq))
        .values(last_seq=seq)
    )


def advance_gateway_seqs(conn: Connection, highest: dict[GatewayId, int]) -> None:
    """:func:`advance_gateway_seq` for several gateways in one statement (one round trip per batch).

    Ingest calls it after its batch has committed, in a short transaction of its own: the sequence number
    is for operators to see (replays are found by the batches' keys), and holding gateway rows locked for
    a whole batch would make workers wait for each other. On PostgreSQL that transaction commits without
    waiting for its WAL flush."""
    if not highest:
        return
    if conn.dialect.name != "postgresql":
        for gateway_id, seq in highest.items():
            advance_gateway_seq(conn, gateway_id, seq)
        return
    # Not worth a wait for the disk: a crash can lose only the last few hundred milliseconds of advances,
    # which the gateways' next envelopes redo; ingest's own transactions stay synchronous. The wait was a
    # second WAL flush per batch (about 4 ms here), time an ingest worker spent idle.
    conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
    # Rows locked in id order first, so that two workers updating overlapping gateways cannot deadlock.
    conn.exec_driver_sql(
        "WITH v AS (SELECT * FROM unnest(%(ids)s::int[], %(seqs)s::bigint[]) AS v(id, seq)), "
        "locked AS (SELECT g.id FROM gateways g JOIN v ON g.id = v.id ORDER BY g.id FOR UPDATE OF g) "
        "UPDATE gateways SET last_seq = v.seq FROM v JOIN locked ON locked.id = v.id "
        "WHERE gateways.id = v.id AND (gateways.last_seq IS NULL OR gateways.last_seq < v.seq)",
        {"ids": list(highest), "seqs": list(highest.values())},
    )


def create_meter(
    conn: Connection,
    *,
    community_id: CommunityId,
    household_id: HouseholdId | None,
    gateway_id: GatewayId | None,
    serial: str,
    kind: Quantity,
    protocol: str,
    resolution: Decimal,
    capacity: int,
    installed_on: date,
) -> MeterId:
    result = conn.execute(
        insert(meters)
        .returning(meters.c.id)
        .values(
            community_id=community_id,
            household_id=household_id,
            gateway_id=gateway_id,
            serial=serial,
            kind=kind.value,
            protocol=protocol,
            unit=kind.unit,
            resolution=str(resolution),
            capacity=capacity,
            installed_on=installed_on,
        )
    )
    return MeterId(result.scalar_one())


def meters_of_community(conn: Connection, community_id: CommunityId) -> list[Meter]:
    rows = conn.execute(select(meters).where(meters.c.community_id == community_id)).all()
    return [_meter(row) for row in rows]


def meter_by_serial(conn: Connection, community_id: CommunityId, serial: str) -> Meter | None:
    """The current installation of ``serial`` (not removed), else its latest one."""
    found = installations(conn, community_id, serial)
    current = [m for m in found if m.removed_on is None]
    chosen = current or found
    return chosen[-1] if chosen else None


def installations(conn: Connection, community_id: CommunityId, serial: str) -> list[Meter]:
    """Every installation of ``serial`` in the community, oldest first (a serial can be reprogrammed into
    a replacement meter)."""
    rows = conn.execute(
        select(meters)
        .where(meters.c.community_id == community_id, meters.c.serial == serial)
        .order_by(meters.c.installed_on)
    )
    return [_meter(r) for r in rows]


def remove_meter(conn: Connection, meter_id: MeterId, removed_on: date) -> None:
    """Close an installation: readings from ``removed_on`` on belong to another meter, or to none."""
    conn.execute(update(meters).where(meters.c.id == meter_id).values(removed_on=removed_on))


def _meter(r: Row[Any]) -> Meter:
    return Meter(
        id=MeterId(r.id),
        community_id=CommunityId(r.community_id),
        household_id=None if r.household_id is None else HouseholdId(r.household_id),
        gateway_id=None if r.gateway_id is None else GatewayId(r.gateway_id),
        serial=r.serial,
        kind=Quantity(r.kind),
        unit=r.unit,
        resolution=Decimal(r.resolution),
        capacity=int(r.capacity),
        installed_on=r.installed_on,
        removed_on=r.removed_on,
        protocol=r.protocol,
    )


@dataclass(frozen=True, slots=True)
class GatewayCredential:
    """A gateway's broker identity: its name (the MQTT user name), its community and its password hash.

    ``mqtt_password_hash`` is ``None`` for gateways registered before the broker took its passwords from
    the registry; such a gateway needs a new token before it can log in to the broker.
    """

    name: str
    community_slug: str
    mqtt_password_hash: str | None


def gateway_credentials(conn: Connection) -> list[GatewayCredential]:
    """Every gateway with its community and MQTT password hash, by name: the broker's user list."""
    rows = conn.execute(
        select(gateways.c.name, communities.c.slug, gateways.c.mqtt_password_hash)
        .join(communities, communities.c.id == gateways.c.community_id)
        .order_by(gateways.c.name)
    ).all()
    return [GatewayCredential(row.name, row.slug, row.mqtt_password_hash) for row in rows]


def set_factor_set(conn: Connection, community_id: CommunityId, factor_set_id: str) -> str:
    """Make ``factor_set_id`` the community's factor set; returns the one it replaces."""
    previous = get_community(conn, community_id).factor_set_id
    conn.execute(
        update(communities).where(communities.c.id == community_id).values(factor_set_id=factor_set_id)
    )
    return previous
