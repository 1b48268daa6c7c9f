"""Register a simulated county in the store: community, households, gateways, meters and users.

This is how the demo and ``tanhui sim`` onboard a county; operators onboard real ones by CSV import
(a later issue) through the same registry functions.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import Engine

from tanhui.domain.ids import CommunityId, GatewayId, HouseholdId
from tanhui.domain.roles import Role
from tanhui.sim.county import County
from tanhui.store import registry, users
from tanhui.web.passwords import hash_password

DEMO_COMMUNITY = "baoting"


@dataclass(frozen=True, slots=True)
class DemoLogin:
    role: Role
    username: str
    password: str
    household_id: HouseholdId | None


@dataclass(slots=True)
class Onboarded:
    community_id: CommunityId
    gateway_tokens: dict[str, str] = field(default_factory=dict)
    households: dict[str, HouseholdId] = field(default_factory=dict)
    logins: list[DemoLogin] = field(default_factory=list)


def onboard(
    engine: Engine,
    county: County,
    *,
    factor_set_id: str,
    now: int,
    passwords: Mapping[str, str] | None = None,
    residents: int = 2,
) -> Onboarded:
    """Register ``county`` and create demo users: an operator and ``residents`` residents.

    Passwords are random unless given (tests give them); they are printed once by the demo and stored
    only as Argon2 hashes.
    """
    chosen = dict(passwords or {})
    with engine.begin() as conn:
        community_id = registry.create_community(
            conn,
            slug=DEMO_COMMUNITY,
            name="Baoting Li and Miao Autonomous County (demo)",
            name_zh="保亭黎族苗族自治县（演示）",
            timezone=str(county.tz),
            factor_regime="cn",
            factor_set_id=factor_set_id,
            now=now,
        )
        result = Onboarded(community_id)
        gateway_ids: dict[str, GatewayId] = {}
        for gateway in county.gateways:
            gateway_id, token = registry.create_gateway(
                conn, community_id=community_id, name=gateway.name, now=now
            )
            gateway_ids[gateway.name] = gateway_id
            result.gateway_tokens[gateway.name] = token
        for household in county.households:
            result.households[household.code] = registry.create_household(
                conn,
                community_id=community_id,
                code=household.code,
                persons=household.persons,
                enrolled_on=household.enrolled_on,
                now=now,
            )
        for meter in county.meters:
            registry.create_meter(
                conn,
                community_id=community_id,
                household_id=result.households[meter.household],
                gateway_id=gateway_ids[meter.gateway],
                serial=meter.serial,
                kind=meter.kind,
                protocol="json",
                resolution=meter.resolution,
                capacity=meter.capacity,
                installed_on=county.start,
            )
        accounts: list[tuple[Role, str, HouseholdId | None]] = [(Role.OPERATOR, "operator", None)]
        for index, household in enumerate(county.households[:residents], start=1):
            accounts.append((Role.RESIDENT, f"resident{index}", result.households[household.code]))
        for role, username, household_id in accounts:
            password = chosen.get(username) or secrets.token_urlsafe(9)
            users.create_user(
                conn,
                community_id=community_id,
                username=username,
                password_hash=hash_password(password),
                role=role,
                household_id=household_id,
                locale="zh_CN",
                now=now,
            )
            result.logins.append(DemoLogin(role, username, password, household_id))
    return result
