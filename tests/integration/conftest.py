"""A small registered community for the store, ingest and API tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from tanhui.domain.ids import CommunityId, GatewayId, HouseholdId, MeterId
from tanhui.domain.quantity import Quantity
from tanhui.domain.roles import Role
from tanhui.store import registry, users
from tanhui.store.registry import Gateway
from tanhui.web.passwords import hash_password

NOW = 1_795_000_000  # 2026-11-18, a fixed clock for the stored rows


@dataclass
class World:
    community_id: CommunityId
    gateway: Gateway
    gateway_token: str
    other_gateway: Gateway
    households: list[HouseholdId]
    meters: dict[str, MeterId]


@pytest.fixture
def world(engine: Engine) -> World:
    with engine.begin() as conn:
        cid = registry.create_community(
            conn,
            slug="baoting",
            name="Baoting",
            name_zh="保亭",
            timezone="Asia/Shanghai",
            factor_regime="cn",
            factor_set_id="cn-mee-2023@v1",
            now=NOW,
        )
        gid, token = registry.create_gateway(conn, community_id=cid, name="gw-1", now=NOW)
        other_gid, _ = registry.create_gateway(conn, community_id=cid, name="gw-2", now=NOW)
        households = [
            registry.create_household(
                conn, community_id=cid, code=f"H{i}", persons=3, enrolled_on=None, now=NOW
            )
            for i in (1, 2)
        ]
        meters: dict[str, MeterId] = {}
        for i, household in enumerate(households, start=1):
            for kind, prefix, resolution in (
                (Quantity.ELECTRICITY, "11", Decimal("0.01")),
                (Quantity.WATER, "21", Decimal("0.001")),
                (Quantity.GAS, "31", Decimal("0.001")),
            ):
                serial = f"{prefix}000000000{i}"
                meters[serial] = registry.create_meter(
                    conn,
                    community_id=cid,
                    household_id=household,
                    gateway_id=gid,
                    serial=serial,
                    kind=kind,
                    protocol="json",
                    resolution=resolution,
                    capacity=100_000_000,
                    installed_on=date(2026, 1, 1),
                )
        for username, role, household in (
            ("alice", Role.RESIDENT, households[0]),
            ("bob", Role.RESIDENT, households[1]),
            ("olga", Role.OPERATOR, None),
        ):
            users.create_user(
                conn,
                community_id=cid,
                username=username,
                password_hash=hash_password(f"{username}-password"),
                role=role,
                household_id=household,
                locale="zh_CN",
                now=NOW,
            )
        gateway = registry.gateway_by_name(conn, "gw-1")
        other = registry.gateway_by_name(conn, "gw-2")
    assert (
        gateway is not None and other is not None and gateway.id == GatewayId(gid) and other.id == other_gid
    )
    return World(cid, gateway, token, other, households, meters)
