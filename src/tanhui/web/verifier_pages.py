"""The verifier's pages (read-only): the community log's latest checkpoint with its witness cosignatures,
size and root, and evidence bundles to download with the way to check them (docs/verifying.md).

The checkpoint and tiles are public anyway; evidence bundles open commitments, so they are served to
verifiers of the same community only (residents fetch their own through the API).
"""

from __future__ import annotations

import base64
import json
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Engine, select

from tanhui.audit import evidence
from tanhui.audit.errors import AuditError
from tanhui.jobs import checkpoints
from tanhui.store import audit_log, registry
from tanhui.store.schema import households
from tanhui.store.users import User
from tanhui.web.access import VERIFIER, NotFound, RowId
from tanhui.web.pages import render

router = APIRouter(include_in_schema=False)
Verifier = Annotated[User, Depends(VERIFIER)]


@router.get("/verifier", response_class=HTMLResponse)
def verifier_page(request: Request, user: Verifier) -> Response:
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        community = registry.get_community(conn, user.community_id)
        log = audit_log.log_of(conn, user.community_id)
        latest = None if log is None else audit_log.latest_checkpoint(conn, log)
        note = None if log is None or latest is None else audit_log.published_note(conn, log, latest)
        homes = conn.execute(
            select(households.c.id, households.c.code)
            .where(households.c.community_id == user.community_id)
            .order_by(households.c.code)
        ).all()
    # Signature lines after the blank line: the log's own first, then one per witness cosignature.
    signatures = [] if note is None else [line for line in note.split("\n\n", 1)[1].splitlines() if line]
    return render(
        request,
        "verifier.html",
        {
            "slug": community.slug,
            "origin": None if log is None else log.origin,
            "checkpoint": latest,
            "root_b64": None if latest is None else base64.b64encode(latest.root).decode("ascii"),
            "root_hex": None if latest is None else latest.root.hex(),
            "note": note,
            "signatures": signatures,
            "households": homes,
        },
    )


@router.get("/verifier/households/{household_id}/evidence.json")
def household_evidence(request: Request, household_id: RowId, user: Verifier) -> Response:
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        code = conn.execute(
            select(households.c.code).where(
                households.c.id == household_id, households.c.community_id == user.community_id
            )
        ).scalar_one_or_none()
        if code is None:
            raise NotFound()
        try:
            bundle = checkpoints.evidence_bundle(
                conn, user.community_id, household_id, request.app.state.factor_sets
            )
        except AuditError:
            raise NotFound() from None
    body = json.dumps(evidence.to_json(bundle), ensure_ascii=False, indent=1)
    return Response(
        body,
        media_type="application/json; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="evidence-{code}.json"'},
    )
