"""The operator chooses the community's factor set; the change is logged and nothing else moves."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from tanhui.store import registry
from tanhui.store.schema import operator_actions

from .conftest import World
from .test_web_rewards import CSRF, _client, _sign_in


@pytest.fixture
def client(engine: Engine, world: World, store_url: str) -> Iterator[TestClient]:
    with _client(engine, store_url, datetime(2026, 11, 20, 3, tzinfo=UTC)) as c:
        yield c


def test_an_operator_switches_the_factor_set_and_the_change_is_logged(
    client: TestClient, engine: Engine, world: World
) -> None:
    _sign_in(client, engine, "olga")
    page = client.get("/operator/configuration")
    assert page.status_code == 200
    assert "eu-eea-2023@v1" in page.text and "data/points/rules.toml" in page.text
    refused = client.post("/operator/configuration/factor-set", data={"csrf": "forged", "factor_set": "x"})
    assert refused.status_code == 400
    unknown = client.post("/operator/configuration/factor-set", data={"csrf": CSRF, "factor_set": "nope@v9"})
    assert unknown.status_code == 422
    with engine.connect() as conn:
        before = registry.get_community(conn, world.community_id).factor_set_id
    done = client.post(
        "/operator/configuration/factor-set",
        data={"csrf": CSRF, "factor_set": "eu-eea-2023@v1"},
        follow_redirects=False,
    )
    assert (done.status_code, done.headers["location"]) == (303, "/operator/configuration?changed=1")
    with engine.connect() as conn:
        assert registry.get_community(conn, world.community_id).factor_set_id == "eu-eea-2023@v1"
        logged = conn.execute(
            select(operator_actions.c.action, operator_actions.c.target, operator_actions.c.detail)
        ).all()
    assert [(a, t) for a, t, _ in logged] == [("factor_set.select", "eu-eea-2023@v1")]
    assert before in logged[0][2]
    # A resident may not.
    _sign_in(client, engine, "alice")
    assert client.get("/operator/configuration", follow_redirects=False).status_code in {403, 404}
