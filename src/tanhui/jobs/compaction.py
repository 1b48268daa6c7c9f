"""Compaction: pack closed days of hot reading rows into one packed row per meter, register and day.

Ingest writes one narrow row per reading (``readings_hot``); once a UTC day is closed, this job moves its
readings into ``readings_packed``, where a day of 15-minute readings takes a few bytes per reading instead
of about a hundred (docs/decisions/0006-compact-readings.md). Nothing about a reading changes: its meter
time, value and batch come back out of the packed day exactly, and every read of the store sees a reading
in exactly one of the two tables.

Each chunk of meters moves in one transaction of its own, holding the compaction lock that keeps ingest's
check-then-insert out for that short time; a crash between chunks leaves every reading in one place. The
job is idempotent: run again, it finds nothing left to move, and a late reading for a packed day is merged
into that day on the next run.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from sqlalchemy import Engine

from tanhui.store import readings

log = structlog.get_logger(__name__)

DAY = readings.DAY

# A UTC day is packed once this long has passed since its end. Readings that arrive later still land in
# the hot rows and are merged into their packed day by the next run; the delay only saves that merge for
# the usual gateway backlog.
SETTLE_SECONDS = 6 * 3600

# Raw payloads recompressed per transaction (tanhui.store.archive): a few seconds of xz at most.
CHUNK_BATCHES = 200

# Meter ids per transaction: about a day of 15-minute readings for 1,000 meters (~100k readings) moves in
# well under a second, which is how long ingest waits for the lock.
CHUNK_METERS = 1000


@dataclass(frozen=True, slots=True)
class CompactionSummary:
    """What one run did: readings moved, packed days written new or merged, partitions created or dropped."""

    before: int
    readings: int
    days_written: int
    days_merged: int
    duplicates: int
    partitions_created: tuple[str, ...]
    partitions_dropped: tuple[str, ...]
    batches_recompressed: int = 0


def closed_before(now: int, settle: int = SETTLE_SECONDS) -> int:
    """The start (epoch seconds) of the first UTC day that is not yet closed at ``now``."""
    return (now - settle) // DAY * DAY


def compact(
    engine: Engine, *, now: int, settle: int = SETTLE_SECONDS, chunk_meters: int = CHUNK_METERS
) -> CompactionSummary:
    """Pack every reading of a closed UTC day (see :func:`closed_before`), keep the partitions ready, and
    recompress the raw payloads received before that day's end.

    Packs meter by meter in chunks of ``chunk_meters``, one transaction each; then, in one more, creates
    the monthly partitions due at ``now`` (moving in the readings that waited in a default partition) and
    drops the hot partitions of months now wholly packed. Raises
    :class:`tanhui.store.readings.ReadingConflictError` if a hot reading contradicts a packed one (the
    chunks before it stay committed; nothing is lost).
    """
    if chunk_meters < 1:
        raise ValueError(f"chunk_meters must be at least 1, got {chunk_meters}")
    before = closed_before(now, settle)
    with engine.connect() as conn:
        meter_range = readings.hot_meter_range(conn)
    moved = written = merged = duplicates = 0
    if meter_range is not None:
        first, last = meter_range
        for start in range(first, last + 1, chunk_meters):
            with engine.begin() as conn:
                result = readings.pack(
                    conn, first_meter=start, last_meter=start + chunk_meters - 1, before=before
                )
            moved += result.readings
            written += result.days_written
            merged += result.days_merged
            duplicates += result.duplicates
    # Partitions last: a month's readings that wait in a default partition are moved into their new
    # partition, and by now the hot ones among them are packed and gone, so little is left to move.
    with engine.begin() as conn:
        created = readings.maintain_partitions(conn, now=now)
        dropped = readings.drop_packed_hot_partitions(conn, before=before)
    # Payloads ingest compressed fast get the archive's best codec once their readings' days are closed.
    recompressed = 0
    while True:
        with engine.begin() as conn:
            done = readings.recompress_batches(conn, received_before=before, limit=CHUNK_BATCHES)
        recompressed += done
        if done < CHUNK_BATCHES:
            break
    summary = CompactionSummary(
        before, moved, written, merged, duplicates, tuple(created), tuple(dropped), recompressed
    )
    log.info(
        "compaction.done",
        before=before,
        readings=moved,
        days_written=written,
        days_merged=merged,
        duplicates=duplicates,
        partitions_created=len(created),
        partitions_dropped=len(dropped),
        batches_recompressed=recompressed,
    )
    return summary
