"""The resident's comparison with similar households: same size, opted-in peers only, never fewer than 5."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
from sqlalchemy import Engine, insert

from tanhui.accounting import months
from tanhui.accounting.pricing import NO_DATA
from tanhui.domain.ids import HouseholdId, UserId
from tanhui.domain.roles import Role
from tanhui.store import registry, settings, users
from tanhui.store.schema import consumption_months, footprint_months
from tanhui.web import account

from .conftest import NOW, World

SET = "cn-mee-2023@v1"
MONTH = date(2026, 10, 1)


def _month(conn: object, household: HouseholdId, meter: int, kg_per_day: int) -> None:
    days = np.full(months.SLOTS, NO_DATA, dtype=np.int64)
    days[:31] = kg_per_day * 1_000_000
    for table, values in (
        (consumption_months, {"days": months.pack(days), "total_micro": int(days.sum())}),
        (
            footprint_months,
            {
                "co2e_mg": months.pack(days),
                "total_mg": int(days.sum()),
                "factor_set_id": SET,
                "factor_set_hash": "h",
            },
        ),
    ):
        conn.execute(  # type: ignore[attr-defined]
            insert(table).values(
                meter_id=meter,
                month=MONTH,
                household_id=household,
                kind="electricity",
                computed_at=NOW,
                **values,
            )
        )


def test_the_median_of_opted_in_peers_of_the_same_size(engine: Engine, world: World) -> None:
    h1, h2 = world.households  # both of 3 people
    with engine.begin() as conn:
        _month(conn, h1, 9001, 10)
        _month(conn, h2, 9002, 2)
        peers = []
        for i, kg in enumerate([4, 6, 8, 12, 14], start=1):  # five more households of 3 people
            peer = registry.create_household(
                conn, community_id=world.community_id, code=f"P{i}", persons=3, enrolled_on=None, now=NOW
            )
            peers.append(peer)
            _month(conn, peer, 9100 + i, kg)
        # A household of another size never counts.
        other = registry.create_household(
            conn, community_id=world.community_id, code="BIG", persons=6, enrolled_on=None, now=NOW
        )
        _month(conn, other, 9200, 100)
    view = account.Account(h1, "H1", 3, SET, [account.AccountDay(date(2026, 10, 31))])
    with engine.connect() as conn:
        found = account.peer_comparison(conn, view, world.community_id, SET)
    # Peers: H2 (2 kg a day) and P1..P5 (4, 6, 8, 12, 14): median of 6 values = (6 + 8) / 2 = 7 kg a day.
    assert found is not None
    assert (found.month, found.persons, found.peers) == (MONTH, 3, 6)
    assert found.median_kg == Decimal(7 * 31)
    assert found.yours_kg == Decimal(10 * 31)

    # Bob (H2) leaves the comparison: five peers remain, median 8 kg a day.
    with engine.begin() as conn:
        bob = users.credentials(conn, "bob")
        assert bob is not None
        settings.save(conn, UserId(bob[0].id), settings.UserSettings("zh_CN", peer_comparison=False), now=NOW)
    with engine.connect() as conn:
        found = account.peer_comparison(conn, view, world.community_id, SET)
    assert found is not None and (found.peers, found.median_kg) == (5, Decimal(8 * 31))

    # One more opting out leaves four: no comparison is shown at all.
    with engine.begin() as conn:
        user = users.create_user(
            conn,
            community_id=world.community_id,
            username="p1",
            password_hash="x",
            role=Role.RESIDENT,
            household_id=peers[0],
            locale="en",
            now=NOW,
        )
        settings.save(conn, user, settings.UserSettings("en", peer_comparison=False), now=NOW)
    with engine.connect() as conn:
        assert account.peer_comparison(conn, view, world.community_id, SET) is None
