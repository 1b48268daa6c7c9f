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
from tanhui.sim.county import County, CountyProtocol
from tanhui.store import registry, users
from tanhui.web.passwords import hash_password

DEMO_COMMUNITY = "baoting"


@dataclass(frozen=True, slots=True)
class CommunityIdentity:
    slug: str
    name: str
    name_zh: str
    regime: str
    factor_set_id: str


# The simulator's communities (demo data): Baoting, and a European partner town whose meters speak DSMR.
IDENTITIES = {
    CountyProtocol.JSON: CommunityIdentity(
        DEMO_COMMUNITY,
        "Baoting Li and Miao Autonomous County (demo)",
        "保亭黎族苗族自治县（演示）",
        "cn",
        "cn-mee-2023@v1",
    ),
    CountyProtocol.BAOTING: CommunityIdentity(
        DEMO_COMMUNITY,
        "Baoting Li and Miao Autonomous County (demo)",
        "保亭黎族苗族自治县（演示）",
        "cn",
        "cn-mee-2023@v1",
    ),
    CountyProtocol.DSMR: CommunityIdentity(
        "eu-demo", "European partner town (demo)", "欧洲伙伴城镇（演示）", "eu", "eu-eea-2023@v1"
    ),
}


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
    identity = IDENTITIES[CountyProtocol(county.protocol)]
    with engine.begin() as conn:
        community_id = registry.create_community(
            conn,
            slug=identity.slug,
            name=identity.name,
            name_zh=identity.name_zh,
            timezone=str(county.tz),
            factor_regime=identity.regime,
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
                protocol=meter.protocol,
                resolution=meter.resolution,
                capacity=meter.capacity,
                installed_on=county.start,
            )
        # Usernames are unique across the installation: a second community's users carry its slug.
        prefix = "" if identity.slug == DEMO_COMMUNITY else f"{identity.slug}-"
        accounts: list[tuple[Role, str, HouseholdId | None]] = [(Role.OPERATOR, f"{prefix}operator", None)]
        for index, household in enumerate(county.households[:residents], start=1):
            accounts.append((Role.RESIDENT, f"{prefix}resident{index}", result.households[household.code]))
        # A partner merchant's till (linked to a merchant once the catalogue exists) and a verifier.
        accounts += [(Role.MERCHANT, f"{prefix}merchant", None), (Role.VERIFIER, f"{prefix}verifier", None)]
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
