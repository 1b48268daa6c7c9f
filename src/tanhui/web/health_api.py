"""``GET /api/v1/meters/health``: data health per meter for the operators of a community.

The numbers come from :func:`tanhui.store.health.meter_health`; this module only picks the window and
shapes the JSON. ``tanhui health --json`` prints the same objects (:func:`health_out`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from tanhui.ingest.pipeline import Ingestor
from tanhui.store.health import MeterHealth, meter_health
from tanhui.store.readings import DAY
from tanhui.web.access import Operator

router = APIRouter(prefix="/api/v1")

# A year and a day: a leap year's data health at once, and a bound on the work one request may ask for.
MAX_DAYS = 366


class GapOut(BaseModel):
    """A silence longer than the rules allow: no reading of the primary register strictly between."""

    after: datetime = Field(description="the last reading before the silence, or the window's start")
    before: datetime = Field(description="the first reading after the silence, or the window's end")
    hours: float = Field(description="length of the silence in hours, to 0.01 h")


class MeterHealthOut(BaseModel):
    """One meter's data health over the window (docs/operations.md, Data health)."""

    serial: str
    kind: str
    household: str | None = Field(description="household code, null for a meter not assigned to one")
    last_seen: datetime | None = Field(description="latest meter time of any register, over all time")
    readings: int = Field(description="readings of the primary register in the window")
    expected: int = Field(description="readings expected while the meter was in service in the window")
    completeness: float = Field(ge=0, le=1, description="share of the expected readings received")
    gaps: list[GapOut]
    quarantined_open: int
    quarantined_total: int


def _utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def health_out(health: MeterHealth) -> MeterHealthOut:
    """The API's (and ``tanhui health --json``'s) view of one meter's data health."""
    return MeterHealthOut(
        serial=health.serial,
        kind=health.kind.value,
        household=health.household,
        last_seen=None if health.last_seen is None else _utc(health.last_seen),
        readings=health.readings,
        expected=health.expected,
        completeness=round(health.completeness, 3),
        gaps=[
            GapOut(after=_utc(g.after), before=_utc(g.before), hours=round(g.seconds / 3600, 2))
            for g in health.gaps
        ],
        quarantined_open=health.quarantined_open,
        quarantined_total=health.quarantined_total,
    )


@router.get(
    "/meters/health",
    responses={401: {"description": "not signed in"}, 403: {"description": "operators only"}},
)
def meters_health(
    request: Request,
    user: Operator,
    days: Annotated[int, Query(ge=1, le=MAX_DAYS, description="window length, ending now")] = 7,
) -> list[MeterHealthOut]:
    """Every meter of the operator's community over the last ``days`` days, worst completeness first."""
    state = request.app.state
    end = int(state.clock().timestamp())
    engine: Engine = state.engine
    ingestor: Ingestor = state.ingestor
    with engine.connect() as conn:
        # The rules ingest runs under, so that health and ingest never disagree on what a gap is.
        found = meter_health(conn, user.community_id, start=end - days * DAY, end=end, rules=ingestor.rules)
    return [health_out(h) for h in found]
