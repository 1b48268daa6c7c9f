"""The audit log over HTTP: checkpoints and tiles in the c2sp.org/tlog-tiles layout, evidence bundles.

``/api/v1/audit/<community>/`` is a tlog-tiles prefix: ``checkpoint`` (the latest signed checkpoint
with its witness cosignatures; cache seconds), ``tile/<L>/<N>[.p/<W>]`` (hash tiles) and
``tile/entries/<N>[.p/<W>]`` (entry bundles), both immutable and cacheable forever. Clients compute
proofs from tiles themselves (tanhui.audit.tiles.TileNodes). All of it is public: leaves carry
commitments, never readings or households.

``/api/v1/audit/households/<id>/evidence`` returns a household's evidence bundle, which opens its
commitments: the household's own residents, the community's operators and verifiers only (others 404).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import Connection, Engine

from tanhui.audit import evidence, tiles
from tanhui.audit.errors import AuditError
from tanhui.domain.roles import Role
from tanhui.jobs import checkpoints
from tanhui.store import audit_log, registry
from tanhui.store.footprints import household_community
from tanhui.store.users import User
from tanhui.web.access import PUBLIC, Allow, NotFound, RowId

router = APIRouter(prefix="/api/v1/audit")
EVIDENCE_READERS = Allow(Role.RESIDENT, Role.OPERATOR, Role.VERIFIER)
IMMUTABLE = "public, max-age=31536000, immutable"


def _log(conn: Connection, slug: str) -> audit_log.Log:
    community = registry.find_community(conn, slug)
    log = None if community is None else audit_log.log_of(conn, community.id)
    if log is None:
        raise NotFound()
    return log


@router.get(
    "/{community}/checkpoint",
    dependencies=[Depends(PUBLIC)],
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}, 404: {"description": "no log or no checkpoint yet"}},
)
def checkpoint(request: Request, community: str) -> Response:
    """The latest signed checkpoint with every witness cosignature (c2sp.org/tlog-checkpoint)."""
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        log = _log(conn, community)
        latest = audit_log.latest_checkpoint(conn, log)
        if latest is None:
            raise NotFound()
        text = audit_log.published_note(conn, log, latest)
    return Response(
        text, media_type="text/plain; charset=utf-8", headers={"Cache-Control": "public, max-age=5"}
    )


@router.get(
    "/{community}/tile/{rest:path}",
    dependencies=[Depends(PUBLIC)],
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}, 404: {"description": "no such tile"}},
)
def tile(request: Request, community: str, rest: str) -> Response:
    """A hash tile or an entry bundle (c2sp.org/tlog-tiles); only tiles of signed sizes are served."""
    try:
        level, index, width = tiles.parse_path(f"tile/{rest}")
    except AuditError:
        raise NotFound() from None
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        log = _log(conn, community)
        latest = audit_log.latest_checkpoint(conn, log)
        signed = 0 if latest is None else latest.size
        count = signed if level is None else signed >> (tiles.TILE_HEIGHT * level)
        if index * tiles.TILE_WIDTH + width > count:
            raise NotFound()
        if level is None:
            data: bytes | None = tiles.bundle(audit_log.entries(conn, log, index * tiles.TILE_WIDTH, width))
        else:
            data = audit_log.tile(conn, log, level, index, width)
    if data is None:
        raise NotFound()
    return Response(data, media_type="application/octet-stream", headers={"Cache-Control": IMMUTABLE})


@router.get(
    "/households/{household_id}/evidence",
    responses={401: {"description": "not signed in"}, 404: {"description": "no such household for you"}},
)
def household_evidence(
    request: Request,
    household_id: RowId,
    user: Annotated[User, Depends(EVIDENCE_READERS)],
    first_day: Annotated[date | None, Query(alias="from")] = None,
    last_day: Annotated[date | None, Query(alias="to")] = None,
) -> dict[str, Any]:
    """A household's evidence bundle (tanhui-evidence/v1): verify it offline with `tanhui verify`."""
    if user.role is Role.RESIDENT and user.household_id != household_id:
        raise NotFound()
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        if household_community(conn, household_id) != user.community_id:
            raise NotFound()
        try:
            bundle = checkpoints.evidence_bundle(
                conn,
                user.community_id,
                household_id,
                request.app.state.factor_sets,
                first_day=first_day,
                last_day=last_day,
            )
        except AuditError:
            raise NotFound() from None
    return evidence.to_json(bundle)
