"""Distinct identifier types, so that a meter id is never passed where a household id is meant."""

from __future__ import annotations

from typing import NewType

CommunityId = NewType("CommunityId", int)
HouseholdId = NewType("HouseholdId", int)
MeterId = NewType("MeterId", int)
GatewayId = NewType("GatewayId", int)
UserId = NewType("UserId", int)
