"""Batch checks on arrays: the fast way through ingest for envelopes in which every reading is good.

Almost every envelope a gateway sends is clean: plain readings of known meters, in their units and ranges,
new, each continuing its register. The per-reading path of :mod:`tanhui.ingest.pipeline` spends most of
its time building objects for them; here the same rules run once per batch on numpy arrays.

This path can only *accept* a whole batch. If any reading of it is anything but a plain new reading that
passes every rule (a frame item, an unknown meter, a duplicate, a fall of a register, a clock off, a
meter with two installations, ...), it declines, and the per-reading path takes the whole batch and
names each rule broken. So the two can differ only by this path declining; a differential test holds
them to the same stored rows and the same quarantine.

Pure: the pipeline reads the store and passes what it read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from numpy.typing import NDArray

from tanhui.domain.ids import CommunityId
from tanhui.domain.quantity import canonical_unit
from tanhui.ingest.rules import IngestRules
from tanhui.meters.envelope import ReadingColumns
from tanhui.store.registry import Gateway, Meter

Ints = NDArray[np.int64]
Bools = NDArray[np.bool_]

_NO_END = np.iinfo(np.int64).max
_MAX_REGISTERS = 1024  # distinct register names in one batch; more declines (group keys stay small)
_MAX_UP_SCALE = 3  # a value with 3 fewer decimals than the meter's resolution still fits int64 exactly
_POW10 = 10 ** np.arange(19, dtype=np.int64)


def resolution_scale(resolution: Decimal) -> int | None:
    """``k`` when ``resolution`` is ``10**-k`` (k >= 0): counts are then a decimal shift; else None."""
    sign, digits, exponent = resolution.normalize().as_tuple()
    if sign or digits != (1,) or not isinstance(exponent, int) or exponent > 0:
        return None
    return -exponent


@dataclass(frozen=True, slots=True)
class MeterTable:
    """The registry as arrays, one row per meter serial that has exactly one installation.

    A serial with several installations (a meter taken out and put back) has no row: its readings take
    the per-reading path, which picks the installation covering each reading.
    """

    rows: dict[CommunityId, dict[str, int]]
    meter_id: Ints
    gateway_id: Ints  # -1: any gateway of the community may forward it
    unit: Ints  # code in ``units``
    scale: Ints  # resolution 10**-scale; -1: another resolution (declines)
    capacity: Ints
    limit: Ints  # largest fall read as a rollover
    start: Ints  # installation span, epoch seconds, [start, end)
    end: Ints
    units: dict[str, int]
    # Serials of each community with an installation bound to no gateway (any gateway may forward them).
    unbound: dict[CommunityId, frozenset[str]]
    keys: list[tuple[CommunityId, str]]  # (community, serial) of each row

    @classmethod
    def build(cls, installations: Iterable[tuple[Meter, int, int | None]], rules: IngestRules) -> MeterTable:
        """From ``(meter, start, end)`` of each installation (epoch seconds; ``end`` None while installed)."""
        spans = list(installations)
        per_serial: dict[tuple[CommunityId, str], int] = {}
        for meter, _, _ in spans:
            key = (meter.community_id, meter.serial)
            per_serial[key] = per_serial.get(key, 0) + 1
        single = [s for s in spans if per_serial[(s[0].community_id, s[0].serial)] == 1]
        units: dict[str, int] = {}
        rows: dict[CommunityId, dict[str, int]] = {}
        for row, (meter, _, _) in enumerate(single):
            rows.setdefault(meter.community_id, {})[meter.serial] = row
            units.setdefault(meter.unit, len(units))

        def column(values: Iterable[int]) -> Ints:
            return np.fromiter(values, dtype=np.int64, count=len(single))

        scales = [resolution_scale(m.resolution) for m, _, _ in single]
        return cls(
            rows=rows,
            meter_id=column(int(m.id) for m, _, _ in single),
            gateway_id=column(-1 if m.gateway_id is None else int(m.gateway_id) for m, _, _ in single),
            unit=column(units[m.unit] for m, _, _ in single),
            scale=column(-1 if k is None else k for k in scales),
            capacity=column(m.capacity for m, _, _ in single),
            limit=column(rules.max_rollover_counts(m.capacity) for m, _, _ in single),
            start=column(start for _, start, _ in single),
            end=column(_NO_END if end is None else end for _, _, end in single),
            units=units,
            unbound=_unbound(spans),
            keys=[(m.community_id, m.serial) for m, _, _ in single],
        )


def _unbound(spans: Iterable[tuple[Meter, int, int | None]]) -> dict[CommunityId, frozenset[str]]:
    found: dict[CommunityId, set[str]] = {}
    for meter, _, _ in spans:
        if meter.gateway_id is None:
            found.setdefault(meter.community_id, set()).add(meter.serial)
    return {community: frozenset(serials) for community, serials in found.items()}


@dataclass(frozen=True, slots=True)
class Candidates:
    """The readings of a batch, every one past the per-reading rules, in arrival order."""

    envelope: Ints  # index of the envelope in the batch
    meter_id: Ints
    register: Ints  # index into ``names``
    time: Ints
    counts: Ints
    capacity: Ints
    limit: Ints
    names: list[str]

    def __len__(self) -> int:
        return len(self.meter_id)


def candidates(
    table: MeterTable,
    batch: Sequence[tuple[ReadingColumns, Gateway]],
    received_at: int,
    rules: IngestRules,
    exclude: Set[tuple[CommunityId, str]] = frozenset(),
) -> tuple[Candidates | None, set[tuple[CommunityId, str]]]:
    """The batch's readings as arrays, those of the meters in ``exclude`` (community, serial) left out,
    when every one passes the per-reading checks. Else None and the meters with a failing reading; None
    and no meter when the rest does not fit the arrays (or nothing is left).

    The rules are those of :mod:`tanhui.ingest.checks` and of the pipeline's meter lookup: a registered
    meter installed at the reading's time, forwarded by an allowed gateway, in the meter's unit, a whole
    number of counts within the register's range, a meter clock within the limits of the receive time;
    and no key twice in the batch.
    """
    names: dict[str, int] = {}
    parts: list[tuple[int, Ints, Ints, Ints, Ints]] = []
    failing: set[tuple[CommunityId, str]] = set()
    for index, (columns, gateway) in enumerate(batch):
        community = gateway.community_id
        rows, counts, ok = _checked(table, columns, gateway, received_at, rules)
        keep = np.ones(len(rows), dtype=np.bool_)
        if exclude:
            left_out = np.array([(community, k) in exclude for k in columns.meter_keys], dtype=np.bool_)
            keep = ~left_out[columns.meter_index]
        bad = np.unique(columns.meter_index[keep & ~ok])
        failing.update((community, columns.meter_keys[k]) for k in bad.tolist())
        local = np.array(
            [names.setdefault(name, len(names)) for name in columns.register_keys], dtype=np.int64
        )
        use = keep & ok
        parts.append((index, rows[use], local[columns.register_index][use], columns.times[use], counts[use]))
    if failing:
        return None, failing
    if not any(len(p[1]) for p in parts) or len(names) > _MAX_REGISTERS:
        return None, set()
    rows = np.concatenate([p[1] for p in parts])
    found = Candidates(
        envelope=np.concatenate([np.full(len(p[1]), p[0], dtype=np.int64) for p in parts]),
        meter_id=table.meter_id[rows],
        register=np.concatenate([p[2] for p in parts]),
        time=np.concatenate([p[3] for p in parts]),
        counts=np.concatenate([p[4] for p in parts]),
        capacity=table.capacity[rows],
        limit=table.limit[rows],
        names=list(names),
    )
    order = np.lexsort((found.time, found.register, found.meter_id))
    same = (
        (np.diff(found.meter_id[order]) == 0)
        & (np.diff(found.register[order]) == 0)
        & (np.diff(found.time[order]) == 0)
    )
    if same.any():
        # A key given twice: its meter goes the per-reading way, which judges the copies in order.
        return None, {table.keys[r] for r in np.unique(rows[order[1:][same]]).tolist()}
    return found, set()


def _checked(
    table: MeterTable, columns: ReadingColumns, gateway: Gateway, received_at: int, rules: IngestRules
) -> tuple[Ints, Ints, NDArray[np.bool_]]:
    """``(table rows, counts, passes)`` of each of one envelope's readings (row and counts are only
    meaningful where it passes)."""
    serials = table.rows.get(gateway.community_id, {})
    known = np.array([serials.get(key, -1) for key in columns.meter_keys], dtype=np.int64)
    rows = known[columns.meter_index]
    ok = rows >= 0
    if not len(table.meter_id):
        return np.zeros(len(rows), dtype=np.int64), np.zeros(len(rows), dtype=np.int64), ok
    rows = np.where(ok, rows, 0)
    allowed = table.gateway_id[rows]
    ok &= ((allowed < 0) | (allowed == int(gateway.id))) & _units_match(table, rows, columns)
    counts, whole = _counts(table.scale[rows], columns.mantissas, columns.decimals)
    t = columns.times
    ok &= (
        whole
        & (counts < table.capacity[rows])
        & (t - received_at <= rules.max_ahead_seconds)
        & (received_at - t <= rules.max_behind_seconds)
        & (table.start[rows] <= t)
        & (t < table.end[rows])
    )
    return rows, counts, ok


def _units_match(table: MeterTable, rows: Ints, columns: ReadingColumns) -> NDArray[np.bool_]:
    # As the checks: the reading's unit is the meter's, as spelled or once made canonical.
    codes = [
        (table.units.get(unit, -2), table.units.get(canonical_unit(unit) or "", -2))
        for unit in columns.unit_keys
    ]
    pairs = np.array(codes, dtype=np.int64).reshape(-1, 2)[columns.unit_index]
    expected = table.unit[rows]
    matched: NDArray[np.bool_] = (expected == pairs[:, 0]) | (expected == pairs[:, 1])
    return matched


def _counts(scale: Ints, mantissa: Ints, decimals: Ints) -> tuple[Ints, NDArray[np.bool_]]:
    """``value / resolution`` of each reading, and whether it is a whole number the arrays hold exactly
    (a resolution not a power of ten, scale -1, never is)."""
    shift = scale - decimals
    up = shift >= 0
    down = _POW10[np.clip(-shift, 0, len(_POW10) - 1)]
    whole = (scale >= 0) & np.where(
        up, shift <= _MAX_UP_SCALE, (-shift < len(_POW10)) & (mantissa % down == 0)
    )
    counts: Ints = np.where(up, mantissa * _POW10[np.clip(shift, 0, _MAX_UP_SCALE)], mantissa // down)
    return counts, whole


@dataclass(frozen=True, slots=True)
class Stored:
    """Stored readings near a batch: ``register`` indexes the batch's ``names``."""

    meter_id: Ints
    register: Ints
    time: Ints
    value: Ints

    @classmethod
    def empty(cls) -> Stored:
        nothing = np.zeros(0, dtype=np.int64)
        return cls(nothing, nothing, nothing, nothing)

    def __add__(self, other: Stored) -> Stored:
        return Stored(
            np.concatenate([self.meter_id, other.meter_id]),
            np.concatenate([self.register, other.register]),
            np.concatenate([self.time, other.time]),
            np.concatenate([self.value, other.value]),
        )


def within_reach(found: Candidates, stored: Stored, window: int) -> Stored:
    """The rows of ``stored`` within ``window`` seconds of their own register's new readings in ``found``
    (from its earliest new one minus ``window`` to its latest plus ``window``).

    A batch reads the store over the time span of all its readings; keeping each register to its own span
    makes the checks independent of what else a batch holds, so the array path and the per-reading path
    (which may see the same readings in a smaller batch) check every reading against the same neighbours.
    """
    if not len(stored.meter_id):
        return stored
    order = np.lexsort((found.time, found.register, found.meter_id))
    meter, register, time = found.meter_id[order], found.register[order], found.time[order]
    head = np.ones(len(meter), dtype=np.bool_)
    head[1:] = (meter[1:] != meter[:-1]) | (register[1:] != register[:-1])
    tail = np.append(head[1:], True)
    # One key per register: meter id and the register's index among the batch's names.
    width = int(max(found.register.max(initial=0), stored.register.max(initial=0))) + 1
    keys = meter[head] * width + register[head]
    lows, highs = time[head] - window, time[tail] + window
    wanted = stored.meter_id * width + stored.register
    at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    keep = (
        (keys[at] == wanted) & (stored.register >= 0) & (lows[at] <= stored.time) & (stored.time <= highs[at])
    )
    return Stored(stored.meter_id[keep], stored.register[keep], stored.time[keep], stored.value[keep])


def earliest_new(found: Candidates) -> dict[tuple[int, int], int]:
    """The earliest new time of each ``(meter id, register)`` of the batch."""
    order = np.lexsort((found.time, found.register, found.meter_id))
    meter, register, time = found.meter_id[order], found.register[order], found.time[order]
    first = np.ones(len(meter), dtype=np.bool_)
    first[1:] = (meter[1:] != meter[:-1]) | (register[1:] != register[:-1])
    keys = zip(meter[first].tolist(), register[first].tolist(), strict=True)
    return dict(zip(keys, time[first].tolist(), strict=True))


def without_predecessor(earliest: dict[tuple[int, int], int], stored: Stored) -> list[tuple[int, int]]:
    """The registers of ``earliest`` with no stored reading before their earliest new one. Their last
    reading before, however old, must be looked up too (a reset after a silence is still caught)."""
    # The oldest stored time of each register: a register is preceded when that is before its first new.
    order = np.lexsort((stored.time, stored.register, stored.meter_id))
    meter, register, time = stored.meter_id[order], stored.register[order], stored.time[order]
    head = np.ones(len(meter), dtype=np.bool_)
    head[1:] = (meter[1:] != meter[:-1]) | (register[1:] != register[:-1])
    keys = zip(meter[head].tolist(), register[head].tolist(), strict=True)
    oldest = dict(zip(keys, time[head].tolist(), strict=True))
    return [key for key, first in earliest.items() if not oldest.get(key, first) < first]


def discontinuous(found: Candidates, stored: Stored) -> set[int]:
    """The meter ids with a new reading that is already stored or that makes its register fall; empty
    when every register only rises (or rolls over).

    Each new reading is checked against the reading just before it (stored or new) and against the
    next stored one after it, with the rule of :func:`tanhui.meters.continuity.step`. The caller sends
    every reading of such a meter the per-reading way, which decides which reading is at fault.
    """
    n_new = len(found)
    meter = np.concatenate([found.meter_id, stored.meter_id])
    register = np.concatenate([found.register, stored.register])
    time = np.concatenate([found.time, stored.time])
    value = np.concatenate([found.counts, stored.value])
    new = np.arange(len(meter)) < n_new
    capacity = np.concatenate([found.capacity, np.zeros(len(stored.meter_id), dtype=np.int64)])
    limit = np.concatenate([found.limit, np.zeros(len(stored.meter_id), dtype=np.int64)])
    # Stored before new at the same key, so that a new reading already stored sits right after it.
    order = np.lexsort((new, time, register, meter))
    meter, register, time, value = meter[order], register[order], time[order], value[order]
    new, capacity, limit = new[order], capacity[order], limit[order]
    bad = np.zeros(len(meter), dtype=np.bool_)
    same_register = (meter[1:] == meter[:-1]) & (register[1:] == register[:-1])
    bad[1:] |= same_register & (time[1:] == time[:-1]) & new[1:] & ~new[:-1]
    # From the reading before to each new one.
    checked = same_register & new[1:]
    bad[1:] |= checked & ~_steps_ok(value[:-1], value[1:], capacity[1:], limit[1:])
    # From each new reading to the next stored one of its register.
    positions = np.arange(len(meter))
    stored_at = np.where(new, len(meter), positions)
    next_stored = np.minimum.accumulate(stored_at[::-1])[::-1]
    after = np.append(next_stored[1:], len(meter))
    has_after = new & (after < len(meter))
    mine = positions[has_after]
    theirs = after[has_after]
    same = (meter[theirs] == meter[mine]) & (register[theirs] == register[mine])
    mine, theirs = mine[same], theirs[same]
    bad[mine[~_steps_ok(value[mine], value[theirs], capacity[mine], limit[mine])]] = True
    return set(meter[bad & new].tolist())


def _steps_ok(before: Ints, after: Ints, capacity: Ints, limit: Ints) -> NDArray[np.bool_]:
    """For each pair, whether ``before`` → ``after`` is a rise or a rollover of the register."""
    in_range = (before >= 0) & (before < capacity) & (after >= 0) & (after < capacity)
    rises = after >= before
    rolls_over = capacity - before + after <= limit
    result: NDArray[np.bool_] = in_range & (rises | rolls_over)
    return result
