"""The batch checks on arrays against the per-reading path: same stored rows, same quarantine, same answers.

Two stores get the same deliveries, one through an ingestor with the batch checks on, one with them off
(the reference). Deliveries are random sequences of envelopes, mostly clean, with every kind of fault the
checks know mixed in at random rates, redeliveries and replays among them.
"""

from __future__ import annotations

import random
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select, update

from tanhui.domain.ids import MeterId
from tanhui.domain.quantity import Quantity
from tanhui.ingest.pipeline import Ingestor, IngestResult
from tanhui.jobs.compaction import compact
from tanhui.meters import envelope
from tanhui.store import migrate, registry
from tanhui.store import readings as readings_repo
from tanhui.store.engine import make_engine
from tanhui.store.registry import Gateway
from tanhui.store.schema import gateways, ingest_batches, meters, quarantine

NOW = datetime(2026, 11, 25, 2, tzinfo=UTC)
CST = timezone(timedelta(hours=8))
ORIGIN = datetime(2026, 10, 25, 0, tzinfo=CST)  # day 0 of the senders; day 30 is the day before NOW
# serial -> (unit, decimals of its resolution)
METERS = {
    "110000000001": ("kWh", 2),
    "210000000001": ("m3", 3),
    "310000000001": ("m3", 3),
    "110000000002": ("kWh", 2),
    "210000000002": ("m3", 3),
}
READING_FAULTS = (
    "fall",
    "wrong_unit",
    "unit_alias",
    "unknown_meter",
    "clock_ahead",
    "clock_behind",
    "too_fine",
    "odd_value",
    "utc_time",
    "fraction_time",
    "duplicate",
    "conflict",
)
ENVELOPE_FAULTS = ("redeliver", "replay", "wrong_gateway", "other_gateway")


def _clock() -> datetime:
    return NOW


def _register(engine: Engine) -> None:
    with engine.begin() as conn:
        cid = registry.create_community(
            conn,
            slug="baoting",
            name="Baoting",
            name_zh="保亭",
            timezone="Asia/Shanghai",
            factor_regime="cn",
            factor_set_id="cn-mee-2023@v1",
            now=0,
        )
        gid, _ = registry.create_gateway(conn, community_id=cid, name="gw-1", now=0)
        registry.create_gateway(conn, community_id=cid, name="gw-2", now=0)
        household = registry.create_household(
            conn, community_id=cid, code="H1", persons=3, enrolled_on=None, now=0
        )
        for serial, (unit, decimals) in METERS.items():
            registry.create_meter(
                conn,
                community_id=cid,
                household_id=household,
                gateway_id=gid,
                serial=serial,
                kind=Quantity.ELECTRICITY if unit == "kWh" else Quantity.WATER,
                protocol="json",
                resolution=Decimal(1).scaleb(-decimals),
                capacity=100_000_000,
                installed_on=date(2026, 1, 1),
            )


@dataclass
class _Sender:
    """Builds a random delivery sequence; register values follow one rising curve per meter."""

    rng: random.Random
    fault_rate: float
    day: int
    seqs: dict[str, int] = field(default_factory=dict)
    sent: list[tuple[str, bytes]] = field(default_factory=list)

    @staticmethod
    def value(serial: str, hour: int) -> int:
        base = (int(serial[-1]) * 7919 + int(serial[0]) * 104_729) % 90_000
        return base + 50 * hour + sum((h * 37 + int(serial[0]) * 11) % 400 for h in range(hour))

    def reading(self, serial: str, hour: int) -> dict[str, str]:
        unit, decimals = METERS[serial]
        hour += 24 * self.day
        text = str(Decimal(self.value(serial, hour)).scaleb(-decimals))
        moment = ORIGIN + timedelta(hours=hour)
        return {
            "meter": serial,
            "register": "volume" if unit == "m3" else "energy_import",
            "value": text,
            "unit": unit,
            "time": moment.isoformat(),
        }

    def fault(self, item: dict[str, str], items: list[dict[str, str]]) -> None:
        kind = self.rng.choice(READING_FAULTS)
        unit, decimals = METERS.get(item["meter"], ("kWh", 2))
        if kind == "fall":
            item["value"] = str(Decimal(self.rng.randrange(0, 500)).scaleb(-decimals))
        elif kind == "wrong_unit":
            item["unit"] = "kWh" if unit == "m3" else "m3"
        elif kind == "unit_alias":
            item["unit"] = "KWH" if unit == "kWh" else " M3"
        elif kind == "unknown_meter":
            item["meter"] = "999999999999"
        elif kind == "clock_ahead":
            item["time"] = (NOW + timedelta(hours=2)).isoformat()
        elif kind == "clock_behind":
            item["time"] = datetime(2020, 1, 1, tzinfo=CST).isoformat()
        elif kind == "too_fine":
            item["value"] = item["value"] + "7"
        elif kind == "odd_value":
            item["value"] = self.rng.choice(
                [
                    "+" + item["value"],
                    item["value"] + "0",
                    "00" + item["value"],
                    item["value"] + ".",
                    "1e3",
                    " 5",
                    "-1",
                    "12_0",
                    "NaN",
                    "",
                    "٣",
                ]
            )
        elif kind == "utc_time":
            item["time"] = (
                datetime.fromisoformat(item["time"]).astimezone(UTC).isoformat().replace("+00:00", "Z")
            )
        elif kind == "fraction_time":
            item["time"] = item["time"].replace(":00+", ":00.250000+")
        elif kind == "duplicate" and items:
            item.update(self.rng.choice(items))
        elif kind == "conflict" and items:
            item.update(self.rng.choice(items))
            # Another last digit (the copied value may itself be a fault, even empty).
            item["value"] = item["value"][:-1] + ("1" if item["value"][-1:] != "1" else "2")

    def envelope(self, gateway: str, hours: list[int] | None = None) -> tuple[str, bytes]:
        serials = self.rng.sample(sorted(METERS), self.rng.randint(1, len(METERS)))
        if hours is None:
            hours = sorted(self.rng.sample(range(24), self.rng.randint(1, 6)))
        items: list[dict[str, str]] = []
        for hour in hours:
            for serial in serials:
                item = self.reading(serial, hour)
                if self.rng.random() < self.fault_rate:
                    self.fault(item, items)
                items.append(item)
        self.rng.shuffle(items)
        fault = self.rng.choice(ENVELOPE_FAULTS) if self.rng.random() < self.fault_rate else None
        if fault == "redeliver" and self.sent:
            return self.rng.choice(self.sent)
        seq = self.seqs.get(gateway, 0) + 1
        if fault == "replay" and seq > 1:
            seq = self.rng.randrange(1, seq)
        else:
            self.seqs[gateway] = seq
        name = gateway
        if fault == "wrong_gateway":
            name = "gw-2" if gateway == "gw-1" else "gw-1"
        body = {"v": 1, "gateway": name, "seq": seq, "sent_at": NOW.isoformat(), "readings": items}
        payload = envelope._encoder.encode(body)
        sent_with = "gw-2" if fault == "other_gateway" else gateway
        self.sent.append((sent_with, payload))
        return sent_with, payload


def _deliveries(seed: int, calls: int, first_seq: int = 0) -> list[list[tuple[str, bytes]]]:
    rng = random.Random(seed)
    sender = _Sender(rng, rng.choice([0.0, 0.0, 0.02, 0.1, 0.4]), day=seed % 30)
    sender.seqs["gw-1"] = sender.seqs["gw-2"] = first_seq
    return [[sender.envelope("gw-1") for _ in range(rng.randint(1, 3))] for _ in range(calls)]


def _batches(engine: Engine) -> dict[int, tuple[Any, ...]]:
    """Each ingest batch by id: what it is (gateway, boot, seq, transport, payload digest). The two paths
    may number batches in another order (the array path writes its envelopes first), so batches are
    compared by what they are."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                ingest_batches.c.id,
                ingest_batches.c.gateway_id,
                ingest_batches.c.boot,
                ingest_batches.c.seq,
                ingest_batches.c.transport,
                ingest_batches.c.sha256,
            )
        )
        return {int(row[0]): tuple(row[1:]) for row in rows}


def _outcome(result: IngestResult, batches: dict[int, tuple[Any, ...]]) -> tuple[Any, ...]:
    return (
        None if result.batch_id is None else batches[result.batch_id],
        result.stored,
        result.duplicates,
        result.quarantined,
        sorted(result.reasons.items()),
    )


def _state(engine: Engine) -> tuple[list[Any], list[Any], list[Any]]:
    batches = _batches(engine)
    with engine.connect() as conn:
        stored = sorted(
            (r.meter_id, r.register, r.meter_time, r.value, batches[r.batch_id])
            for r in readings_repo.scan(conn)
        )
        held = [
            tuple(row)
            for row in conn.execute(
                select(
                    quarantine.c.gateway_id,
                    quarantine.c.transport,
                    quarantine.c.reason,
                    quarantine.c.message,
                    quarantine.c.meter_serial,
                    quarantine.c.raw,
                ).order_by(quarantine.c.id)
            )
        ]
        seqs = [
            tuple(row)
            for row in conn.execute(select(gateways.c.name, gateways.c.last_seq).order_by(gateways.c.id))
        ]
    return stored, held, seqs


def _run(
    engine: Engine, batch_checks: bool, calls: list[list[tuple[str, bytes]]]
) -> tuple[list[Any], Ingestor]:
    ingestor = Ingestor(engine, _clock, batch_checks=batch_checks)
    with engine.connect() as conn:
        by_name: dict[str, Gateway] = {}
        for name in ("gw-1", "gw-2"):
            gateway = registry.gateway_by_name(conn, name)
            assert gateway is not None
            by_name[name] = gateway
    results = [ingestor.ingest_many([(p, by_name[g]) for g, p in call], transport="mqtt") for call in calls]
    batches = _batches(engine)
    return [[_outcome(r, batches) for r in call] for call in results], ingestor


def _compare(fast: Engine, reference: Engine, calls: list[list[tuple[str, bytes]]]) -> Ingestor:
    fast_outcomes, ingestor = _run(fast, True, calls)
    reference_outcomes, _ = _run(reference, False, calls)
    assert fast_outcomes == reference_outcomes
    assert _state(fast) == _state(reference)
    return ingestor


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("batch-checks") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    _register(engine)
    engine.dispose()
    return path


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), calls=st.integers(1, 6))
@example(seed=211, calls=6)  # a conflict copied from a reading whose value was made empty
def test_batch_checks_store_and_quarantine_exactly_what_the_per_reading_path_does(
    template: Path, tmp_path: Path, seed: int, calls: int
) -> None:
    copies = []
    for name in ("fast", "reference"):
        target = tmp_path / f"{name}-{seed}-{calls}.db"
        shutil.copy(template, target)
        copies.append(make_engine(f"sqlite:///{target}"))
    try:
        _compare(copies[0], copies[1], _deliveries(seed, calls))
    finally:
        for engine in copies:
            engine.dispose()


def test_clean_batches_take_the_array_path_and_faulty_ones_do_not(template: Path, tmp_path: Path) -> None:
    target = tmp_path / "one.db"
    shutil.copy(template, target)
    engine = make_engine(f"sqlite:///{target}")
    try:
        sender = _Sender(random.Random(1), 0.0, day=29)
        clean = [[sender.envelope("gw-1", list(range(h, h + 6)))] for h in (0, 6, 12)]
        _, ingestor = _run(engine, True, clean)
        assert ingestor.batches_on_arrays == 3
        faulty = sender.reading("110000000001", 18)
        faulty["value"] = "0.01"  # far below what that meter has already reported
        body = {"v": 1, "gateway": "gw-1", "seq": 99, "sent_at": NOW.isoformat(), "readings": [faulty]}
        outcomes, ingestor = _run(engine, True, [[("gw-1", envelope._encoder.encode(body))]])
        assert ingestor.batches_on_arrays == 0
        assert outcomes[0][0][4] in ([("decreasing_register", 1)], [])
    finally:
        engine.dispose()


def _envelope(sender: _Sender, serials: list[str], hours: list[int], *, fall: str | None = None) -> bytes:
    """An envelope of gw-1 with the readings of ``serials`` at ``hours``; ``fall``: that meter's last
    reading far below what it reported before."""
    items = [sender.reading(serial, hour) for hour in hours for serial in serials]
    if fall is not None:
        item = next(i for i in reversed(items) if i["meter"] == fall)
        item["value"] = "0.001"
    seq = sender.seqs.get("gw-1", 0) + 1
    sender.seqs["gw-1"] = seq
    return envelope._encoder.encode(
        {"v": 1, "gateway": "gw-1", "seq": seq, "sent_at": NOW.isoformat(), "readings": items}
    )


@pytest.mark.parametrize(
    ("faulty_meters", "readings_on_arrays"),
    [
        # The faulty envelope carries only the falling meter: it goes the per-reading way, the other two
        # envelopes stay on arrays.
        (["310000000001"], 2 * 2 + 2),
        # It also carries a meter of the second envelope: that meter's readings in it stay on arrays too.
        (["310000000001", "210000000001"], 2 * 2 + 2 + 2),
    ],
)
def test_a_faulty_envelope_leaves_the_batch_s_other_meters_on_the_array_path(
    sqlite_pair: list[Engine], faulty_meters: list[str], readings_on_arrays: int
) -> None:
    sender = _Sender(random.Random(3), 0.0, day=28)
    history = [[("gw-1", _envelope(sender, sorted(METERS), list(range(6))))]]
    batch = [
        ("gw-1", _envelope(sender, ["110000000001", "110000000002"], [6, 7])),
        ("gw-1", _envelope(sender, ["210000000001"], [6, 7])),
        ("gw-1", _envelope(sender, faulty_meters, [8, 9], fall="310000000001")),
    ]
    ingestor = _compare(sqlite_pair[0], sqlite_pair[1], [*history, batch])
    assert ingestor.batches_on_arrays == 1  # the history
    assert ingestor.envelopes_on_arrays == 1 + 2
    assert ingestor.readings_on_arrays == 6 * len(METERS) + readings_on_arrays
    stored, held, _ = _state(sqlite_pair[0])
    assert [h[2] for h in held] == ["decreasing_register"]
    assert len(stored) == 6 * len(METERS) + 2 * 2 + 2 + 2 * len(faulty_meters) - 1


def test_a_register_is_checked_against_its_own_neighbours_whatever_else_its_batch_holds(
    sqlite_pair: list[Engine],
) -> None:
    """A late reading above the next stored one, three hours on (beyond the two-hour gap window), beside
    another meter's reading that stretches the batch's time span over it: both paths check the late one
    against its own neighbours only, as they would were it alone, and store it."""
    sender = _Sender(random.Random(11), 0.0, day=28)
    history = [[("gw-1", _envelope(sender, ["310000000001"], [0, 7]))]]
    late = sender.reading("310000000001", 4)
    late["value"] = str(Decimal(sender.value("310000000001", 24 * 28 + 7) + 5).scaleb(-3))
    body = {"v": 1, "gateway": "gw-1", "seq": 50, "sent_at": NOW.isoformat(), "readings": [late]}
    batch = [("gw-1", envelope._encoder.encode(body)), ("gw-1", _envelope(sender, ["110000000001"], [10]))]
    _compare(sqlite_pair[0], sqlite_pair[1], [*history, batch])
    stored, held, _ = _state(sqlite_pair[0])
    assert held == []
    assert len(stored) == 2 + 1 + 1


def test_a_fall_after_a_silence_is_caught_on_arrays_as_reading_by_reading(sqlite_pair: list[Engine]) -> None:
    """The array path reads stored readings one reporting interval back; a reading two intervals after
    its meter's last one is still checked against it (the lookup of registers with none that near)."""
    sender = _Sender(random.Random(5), 0.0, day=28)
    history = [[("gw-1", _envelope(sender, sorted(METERS), list(range(6))))]]
    late = [
        ("gw-1", _envelope(sender, ["110000000001", "310000000001"], [7], fall="310000000001")),
        ("gw-1", _envelope(sender, ["210000000001"], [8])),
    ]
    ingestor = _compare(sqlite_pair[0], sqlite_pair[1], [*history, late])
    assert ingestor.envelopes_on_arrays == 1 + 1  # the history, and the envelope without the fall
    stored, held, _ = _state(sqlite_pair[0])
    assert [h[2] for h in held] == ["decreasing_register"]
    assert len(stored) == 6 * len(METERS) + 2


@pytest.mark.parametrize("again", ["redelivered", "replayed", "wrong_gateway"])
def test_an_envelope_judged_whole_leaves_its_meters_on_the_array_path(
    sqlite_pair: list[Engine], again: str
) -> None:
    """A redelivery (counted), a replay or an envelope naming another gateway (quarantined whole) has no
    reading judged by a rule, so the batch's other envelopes of the same meters stay on arrays."""
    sender = _Sender(random.Random(4), 0.0, day=28)
    first = _envelope(sender, sorted(METERS), list(range(6)))
    odd = first
    if again == "replayed":
        odd = first.replace(b'"seq":1,', b'"seq":1,"sent_at_note":"x",', 1)
    elif again == "wrong_gateway":
        odd = _envelope(sender, sorted(METERS), [6]).replace(b'"gw-1"', b'"gw-2"', 1)
    assert odd != first or again == "redelivered"
    later = _envelope(sender, sorted(METERS), list(range(7, 12)))
    ingestor = _compare(sqlite_pair[0], sqlite_pair[1], [[("gw-1", first)], [("gw-1", odd), ("gw-1", later)]])
    assert ingestor.envelopes_on_arrays == 2  # the first, then the later one beside the odd one
    stored, held, _ = _state(sqlite_pair[0])
    assert len(stored) == 11 * len(METERS)
    expected = {
        "redelivered": [],
        "replayed": ["replayed_sequence"],
        "wrong_gateway": ["gateway_mismatch"],
    }
    assert [h[2] for h in held] == expected[again]


@pytest.fixture
def sqlite_pair(template: Path, tmp_path: Path) -> Iterator[list[Engine]]:
    """Two copies of the template store: ``[fast, reference]``."""
    engines = []
    for name in ("fast", "reference"):
        shutil.copy(template, tmp_path / f"{name}.db")
        engines.append(make_engine(f"sqlite:///{tmp_path / name}.db"))
    yield engines
    for engine in engines:
        engine.dispose()


@pytest.fixture
def pg_pair() -> Iterator[tuple[Engine, Engine]]:
    from tests.conftest import PG_ADMIN  # noqa: PLC0415

    names = [f"tanhui_t_batch_{random.getrandbits(40):010x}" for _ in range(2)]
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        for name in names:
            admin.execute(f'CREATE DATABASE "{name}"')
    engines = [make_engine(f"postgresql+psycopg://root@127.0.0.1:5432/{n}") for n in names]
    try:
        for engine in engines:
            migrate.upgrade(engine)
            _register(engine)
        yield engines[0], engines[1]
    finally:
        for engine in engines:
            engine.dispose()
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
def test_batch_checks_match_the_per_reading_path_on_postgresql(pg_pair: tuple[Engine, Engine]) -> None:
    fast, reference = pg_pair
    calls = [call for seed in range(8) for call in _deliveries(seed, 5, first_seq=1000 * seed)]
    ingestor = _compare(fast, reference, calls)
    assert ingestor.batches_on_arrays > 0


def _late_readings_after_compaction(engine: Engine, batch_checks: bool) -> tuple[list[Any], int]:
    """Days 0-2 stored and packed; then late readings between packed ones: one fine, one falling."""
    sender = _Sender(random.Random(5), 0.0, day=27)
    calls = [[sender.envelope("gw-1", list(range(h, h + 6)))] for h in range(0, 72, 6)]
    outcomes, _ = _run(engine, batch_checks, calls)
    compact(engine, now=int((ORIGIN + timedelta(days=31)).timestamp()))
    late: list[list[tuple[str, bytes]]] = []
    for serial, value in (("110000000001", None), ("210000000001", "0.001")):
        item = sender.reading(serial, 36)
        item["time"] = (datetime.fromisoformat(item["time"]) + timedelta(minutes=30)).isoformat()
        if value is not None:
            item["value"] = value  # far below its packed neighbours
        body = {
            "v": 1,
            "gateway": "gw-1",
            "seq": 500 + len(late),
            "sent_at": NOW.isoformat(),
            "readings": [item],
        }
        late.append([("gw-1", envelope._encoder.encode(body))])
    late_outcomes, ingestor = _run(engine, batch_checks, late)
    return [outcomes + late_outcomes, _state(engine)], ingestor.batches_on_arrays


def test_late_readings_are_checked_against_packed_days_the_same_way(sqlite_pair: list[Engine]) -> None:
    fast, on_arrays = _late_readings_after_compaction(sqlite_pair[0], True)
    assert fast == _late_readings_after_compaction(sqlite_pair[1], False)[0]
    assert on_arrays == 1  # the fine late reading took the array path, against the packed days
    late_outcomes = fast[0][-2:]
    assert late_outcomes[0][0][1] == 1  # the fine one is stored
    assert late_outcomes[1][0][4] == [("decreasing_register", 1)]


@pytest.mark.postgres
def test_late_readings_against_packed_days_on_postgresql(pg_pair: tuple[Engine, Engine]) -> None:
    fast, reference = pg_pair
    on_arrays = _late_readings_after_compaction(fast, True)
    assert on_arrays[0] == _late_readings_after_compaction(reference, False)[0]
    assert on_arrays[1] == 1


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    migrate.upgrade(engine)
    _register(engine)
    yield engine
    engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("batch_checks", [True, False])
@pytest.mark.parametrize("second_gateway", ["gw-1", "gw-2"])
def test_two_workers_never_store_a_fall_between_their_batches(
    pg_store: Engine, monkeypatch: pytest.MonkeyPatch, batch_checks: bool, second_gateway: str
) -> None:
    """Worker A checks a reading and, before it commits, worker B checks the next reading of the same
    register, lower than A's: B must see A's reading (it waits for A's gateway, or for the meter itself
    when it is bound to no gateway and B's envelope comes through another), so B's is quarantined as a
    fall instead of both being stored."""
    serial = "110000000001"
    if second_gateway == "gw-2":
        with pg_store.begin() as conn:
            conn.execute(update(meters).where(meters.c.serial == serial).values(gateway_id=None))
    sender = _Sender(random.Random(6), 0.0, day=28)
    history = _envelope(sender, [serial], list(range(6)))
    first = _envelope(sender, [serial], [6])
    falls = sender.reading(serial, 7)
    below = sender.reading(serial, 6)
    falls["value"] = str(Decimal(below["value"]) - Decimal("0.01"))  # above hour 5, below hour 6
    second = envelope._encoder.encode(
        {"v": 1, "gateway": second_gateway, "seq": 99, "sent_at": NOW.isoformat(), "readings": [falls]}
    )
    with pg_store.connect() as conn:
        gateway = registry.gateway_by_name(conn, "gw-1")
        other = registry.gateway_by_name(conn, second_gateway)
    assert gateway is not None
    assert other is not None
    Ingestor(pg_store, _clock).ingest(history, gateway=gateway, transport="mqtt")

    paused, release = threading.Event(), threading.Event()
    for name in ("add_columns", "add_many"):
        original = getattr(readings_repo, name)

        def hold(*args: Any, _original: Any = original, **kwargs: Any) -> None:
            if threading.current_thread().name == "A":
                paused.set()
                release.wait(10)
            _original(*args, **kwargs)

        monkeypatch.setattr(readings_repo, name, hold)
    results: dict[str, IngestResult] = {}

    def run(name: str, payload: bytes, sender: Gateway) -> None:
        ingestor = Ingestor(pg_store, _clock, batch_checks=batch_checks)
        results[name] = ingestor.ingest(payload, gateway=sender, transport="mqtt")

    a = threading.Thread(target=run, args=("A", first, gateway), name="A")
    a.start()
    assert paused.wait(10)
    b = threading.Thread(target=run, args=("B", second, other), name="B")
    b.start()
    b.join(1.0)
    waited = b.is_alive()
    release.set()
    a.join(10)
    b.join(10)
    assert waited  # B waited for A's meters
    assert (results["A"].stored, results["B"].stored) == (1, 0)
    assert results["B"].reasons == {"decreasing_register": 1}
    with pg_store.connect() as conn:
        values = [value for _, value in readings_repo.of_meter(conn, MeterId(1), "energy_import")]
    assert values == sorted(values)


@pytest.mark.postgres
def test_a_worker_defers_the_envelopes_of_a_gateway_another_is_checking(
    pg_store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While worker A holds gw-1, worker B's batch of a gw-1 and a gw-2 envelope stores gw-2's at once and
    hands gw-1's back as deferred; a batch of gw-1 envelopes only waits for A instead."""
    with pg_store.begin() as conn:
        conn.execute(update(meters).where(meters.c.serial == "310000000001").values(gateway_id=None))
        gw1, gw2 = (registry.gateway_by_name(conn, name) for name in ("gw-1", "gw-2"))
    assert gw1 is not None
    assert gw2 is not None
    sender = _Sender(random.Random(7), 0.0, day=28)
    first = _envelope(sender, ["110000000001"], [0, 1])
    mine = _envelope(sender, ["110000000002"], [0, 1])
    theirs = envelope._encoder.encode(
        {
            "v": 1,
            "gateway": "gw-2",
            "seq": 1,
            "sent_at": NOW.isoformat(),
            "readings": [sender.reading("310000000001", 0)],
        }
    )
    paused, release = threading.Event(), threading.Event()
    original = readings_repo.add_columns

    def hold(*args: Any, **kwargs: Any) -> None:
        if threading.current_thread().name == "A":
            paused.set()
            release.wait(10)
        original(*args, **kwargs)

    monkeypatch.setattr(readings_repo, "add_columns", hold)
    a = threading.Thread(
        target=lambda: Ingestor(pg_store, _clock).ingest(first, gateway=gw1, transport="mqtt"), name="A"
    )
    a.start()
    assert paused.wait(10)
    try:
        worker_b = Ingestor(pg_store, _clock)
        results = worker_b.ingest_many([(mine, gw1), (theirs, gw2)], transport="mqtt", defer_busy=True)
        assert [r.deferred for r in results] == [True, False]
        assert (results[0].stored, results[1].stored) == (0, 1)
        alone: list[list[IngestResult]] = []
        b = threading.Thread(
            target=lambda: alone.append(
                worker_b.ingest_many([(mine, gw1)], transport="mqtt", defer_busy=True)
            )
        )
        b.start()
        b.join(1.0)
        assert b.is_alive()  # every gateway of its batch is busy: it waits rather than spin
    finally:
        release.set()
        a.join(10)
    b.join(10)
    assert [(r.deferred, r.stored) for r in alone[0]] == [(False, 2)]


@pytest.mark.postgres
def test_a_register_code_is_cached_only_once_committed(pg_store: Engine) -> None:
    """A code assigned in a transaction that rolls back never reaches the ingestor's cache."""
    ingestor = Ingestor(pg_store, _clock)
    with pytest.raises(RuntimeError), pg_store.begin() as conn:
        first = ingestor._codes_assigned(conn, {"made_up_register"})["made_up_register"]
        assert ingestor._committed_codes(conn, {"made_up_register"}) == {}
        raise RuntimeError("the batch fails after its codes were assigned")
    with pg_store.begin() as conn:
        again = ingestor._codes_assigned(conn, {"made_up_register"})["made_up_register"]
    assert again != first  # the rolled-back code is gone; a cache that kept it would store under it
    with pg_store.connect() as conn:
        stored = readings_repo.known_register_codes(conn, {"made_up_register"})
        assert ingestor._committed_codes(conn, {"made_up_register"}) == stored == {"made_up_register": again}
