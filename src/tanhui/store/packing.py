"""Lossless packing of one register's readings over one day into a few bytes each.

A packed day is what the compaction job writes to ``readings_packed``: the readings of one meter register
within one UTC day, each with the ingest batch that delivered it. Pure functions on integers; no database.

Format, version 1 (all integers are LEB128 varints; signed ones zig-zag mapped first, as in Protocol
Buffers' ``sint64``, so that small negative numbers stay short)::

    version            = 1
    n                  readings in the day, n >= 1
    times              zigzag(t[0] - base), then the n - 1 steps t[i] - t[i - 1] as runs
    values             zigzag(v[0]), then n - 1 zigzag deltas v[i] - v[i - 1]
    batches            zigzag(b[0]), then the n - 1 steps b[i] - b[i - 1] as runs

    runs               (zigzag(step), run length - 1) for each stretch of equal consecutive steps

Why these choices: meters report at a fixed interval, so the times of a regular day are one run (a few
bytes for the whole day); register values grow by a small amount per interval, so a delta fits one byte
for most readings (a rollover is just one large negative delta); and batch ids repeat while one envelope
carries a meter's readings (step 0) or advance by the same stride while every gateway sends one round per
interval, so provenance costs a few bytes per run, not per reading. Python integers are unbounded, so the
format is lossless for any integers, not only the 64-bit ones the database holds.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from tanhui.domain.errors import TanhuiError

VERSION = 1


class PackingError(TanhuiError):
    """Readings cannot be packed, or bytes are not a packed day (truncated, corrupt or another version)."""

    code = "packing"


@dataclass(frozen=True, slots=True)
class PackedReading:
    """One reading as a packed day holds it: meter time (UTC epoch seconds), register value, batch id."""

    meter_time: int
    value: int
    batch_id: int


def encode(base: int, readings: Sequence[PackedReading]) -> bytes:
    """Pack ``readings`` (strictly increasing meter times) with their times stored relative to ``base``.

    ``base`` is usually the start of the UTC day; any integer round-trips, it only keeps the first time
    short. Raises :class:`PackingError` for an empty sequence or times that are not strictly increasing.
    """
    if not readings:
        raise PackingError("a packed day needs at least one reading; store nothing instead")
    out = bytearray()
    _uvarint(out, VERSION)
    _uvarint(out, len(readings))
    times = [r.meter_time for r in readings]
    for earlier, later in itertools.pairwise(times):
        if later <= earlier:
            raise PackingError(f"meter times must be strictly increasing; {later} follows {earlier}")
    _uvarint(out, _zigzag(times[0] - base))
    _put_runs(out, times)
    _uvarint(out, _zigzag(readings[0].value))
    for earlier, later in itertools.pairwise(r.value for r in readings):
        _uvarint(out, _zigzag(later - earlier))
    batches = [r.batch_id for r in readings]
    _uvarint(out, _zigzag(batches[0]))
    _put_runs(out, batches)
    return bytes(out)


def decode(base: int, data: bytes) -> list[PackedReading]:
    """The readings packed in ``data`` by :func:`encode` with the same ``base``, in meter-time order.

    Raises :class:`PackingError` when ``data`` is not a complete packed day of a known version.
    """
    reader = _Reader(data)
    version = reader.uvarint()
    if version != VERSION:
        raise PackingError(f"packed day version {version} is unknown; this code reads version {VERSION}")
    n = reader.uvarint()
    # Every reading takes at least one byte (its value delta), which also bounds the work a corrupt count
    # can ask for.
    if not 1 <= n <= len(data):
        raise PackingError(f"a packed day of {len(data)} bytes cannot hold {n} readings")

    times = _get_runs(reader, base + _unzigzag(reader.uvarint()), n, "time")
    if any(later <= earlier for earlier, later in itertools.pairwise(times)):
        raise PackingError("the meter times of a packed day must be strictly increasing")
    values = [_unzigzag(reader.uvarint())]
    for _ in range(n - 1):
        values.append(values[-1] + _unzigzag(reader.uvarint()))
    batches = _get_runs(reader, _unzigzag(reader.uvarint()), n, "batch")

    if not reader.at_end():
        raise PackingError(f"{len(data) - reader.position} bytes follow the end of the packed day")
    return [PackedReading(t, v, b) for t, v, b in zip(times, values, batches, strict=True)]


def _put_runs(out: bytearray, series: Sequence[int]) -> None:
    """The steps between consecutive numbers of ``series``, as (step, run length - 1) pairs."""
    step = run = 0
    for earlier, later in itertools.pairwise(series):
        if later - earlier == step and run:
            run += 1
            continue
        if run:
            _uvarint(out, _zigzag(step))
            _uvarint(out, run - 1)
        step, run = later - earlier, 1
    if run:
        _uvarint(out, _zigzag(step))
        _uvarint(out, run - 1)


def _get_runs(reader: _Reader, first: int, n: int, what: str) -> list[int]:
    series = [first]
    while len(series) < n:
        step = _unzigzag(reader.uvarint())
        run = reader.uvarint() + 1
        if len(series) + run > n:
            raise PackingError(f"the {what} steps describe more than the {n} readings of this day")
        last = series[-1]
        series.extend(last + step * k for k in range(1, run + 1))
    return series


def _zigzag(n: int) -> int:
    return 2 * n if n >= 0 else -2 * n - 1


def _unzigzag(z: int) -> int:
    return z >> 1 if not z & 1 else -((z + 1) >> 1)


def _uvarint(out: bytearray, n: int) -> None:
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


class _Reader:
    __slots__ = ("data", "position")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.position = 0

    def uvarint(self) -> int:
        data, position = self.data, self.position
        result = shift = 0
        while True:
            if position >= len(data):
                raise PackingError(f"packed day ends inside a number at byte {position}")
            byte = data[position]
            position += 1
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                self.position = position
                return result
            shift += 7

    def at_end(self) -> bool:
        return self.position == len(self.data)
