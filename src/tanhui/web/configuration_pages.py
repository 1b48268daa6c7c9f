"""The operator's configuration page: which factor set the community reports under, and the rule files in
force, each with the hash that the audit log publishes. Choosing another factor set is one transaction
with its ``operator_actions`` row; figures under the new set appear at the next accounting run, and
results under the old set stay as they were (a set never changes a published result)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine

from tanhui.accounting.factors import FactorSet
from tanhui.store import operator_log, registry
from tanhui.web.access import Operator
from tanhui.web.pages import check_csrf, render

router = APIRouter(prefix="/operator", include_in_schema=False)

# The versioned rule files the platform runs on, relative to the data directory.
RULE_FILES = (
    ("ingest checks", "ingest/checks.toml"),
    ("baseline rules", "baseline/rules.toml"),
    ("points issuance rules", "points/rules.toml"),
    ("detector thresholds", "insights/detectors.toml"),
    ("GPC layout", "gpc/subsectors.toml"),
)


@dataclass(frozen=True, slots=True)
class RuleFile:
    name: str
    path: str
    sha256: str


def _rule_files(data_dir: Path) -> list[RuleFile]:
    found = []
    for name, relative in RULE_FILES:
        path = data_dir / relative
        if path.is_file():
            found.append(RuleFile(name, relative, hashlib.sha256(path.read_bytes()).hexdigest()))
    return found


def _page(request: Request, user: Operator, *, status: str = "", status_code: int = 200) -> Response:
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        community = registry.get_community(conn, user.community_id)
    sets: dict[str, FactorSet] = request.app.state.factor_sets
    return render(
        request,
        "configuration.html",
        {
            "community": community,
            "factor_sets": sorted(sets.values(), key=lambda s: (s.regime, -s.year, s.id)),
            "rules": _rule_files(request.app.state.settings.data_dir),
            "status": status,
        },
        status_code=status_code,
    )


@router.get("/configuration", response_class=HTMLResponse)
def configuration_page(request: Request, user: Operator) -> Response:
    return _page(request, user)


@router.post("/configuration/factor-set", response_class=HTMLResponse)
def choose_factor_set(
    request: Request, user: Operator, csrf: Annotated[str, Form()], factor_set: Annotated[str, Form()]
) -> Response:
    if not check_csrf(request, csrf):
        return Response("CSRF check failed", status_code=400, media_type="text/plain; charset=utf-8")
    sets: dict[str, FactorSet] = request.app.state.factor_sets
    chosen = sets.get(factor_set)
    if chosen is None:
        return _page(request, user, status="unknown", status_code=422)
    engine: Engine = request.app.state.engine
    with engine.begin() as conn:
        previous = registry.set_factor_set(conn, user.community_id, chosen.id)
        operator_log.record(
            conn,
            community_id=user.community_id,
            user_id=user.id,
            actor=user.username,
            action="factor_set.select",
            target=chosen.id,
            now=int(request.app.state.clock().timestamp()),
            detail={"previous": previous, "content_hash": chosen.content_hash},
        )
    return RedirectResponse("/operator/configuration?changed=1", status_code=303)
