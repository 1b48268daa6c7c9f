"""The audit log over a real store: sequencing, checkpoints, evidence bundles, and tampering caught.

Every tamper case edits the database directly, as an operator with SQL access could, and must be
caught both by ``tanhui audit check`` (the operator's recomputation) and by ``tanhui verify`` (the
third party with only a bundle and the keys), each naming the entry that fails.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, insert, select, text, update
from typer.testing import CliRunner

from tanhui.accounting import months
from tanhui.accounting.pricing import NO_DATA
from tanhui.audit import evidence, note
from tanhui.audit.errors import EvidenceError
from tanhui.cli.main import app
from tanhui.jobs import checkpoints, sequencer
from tanhui.jobs.accounting import account_community
from tanhui.settings import ROOT, get_settings
from tanhui.store import audit_log, readings
from tanhui.store.factor_files import load_factor_sets
from tanhui.store.readings import StoredReading
from tanhui.store.schema import (
    footprint_months,
    points_accounts,
    points_transfers,
    readings_hot,
    register_codes,
)

from .conftest import World

CST = timezone(timedelta(hours=8))
FACTOR_SET = "cn-mee-2023@v1"
SETS = load_factor_sets(ROOT / "data" / "factors")
SEED = bytes(range(32))
runner = CliRunner()


def _signer() -> note.Signer:
    return note.Signer.from_seed(sequencer.default_origin("baoting"), SEED)


def _store(engine: Engine, world: World) -> None:
    """Three days of electricity for H1 and H2 over two gateway batches, then account them."""
    start = int(datetime(2026, 11, 20, tzinfo=CST).timestamp())
    with engine.begin() as conn:
        for n, (first, last) in enumerate(((0, 36), (36, 73))):
            batch = readings.add_batch(
                conn,
                gateway_id=world.gateway.id,
                seq=n + 1,
                transport="http",
                received_at=start + last * 3600,
                sha256="0" * 64,
                payload=f"payload {n}".encode(),
            )
            rows = [
                StoredReading(
                    world.meters[serial], "energy_import", start + h * 3600, base + h * 37 + (h % 5)
                )
                for serial, base in (("110000000001", 48_000), ("110000000002", 91_000))
                for h in range(first, last)
            ]
            readings.add(conn, rows, batch_id=batch, received_at=start + last * 3600)
    # add_batch stores the digest it is given; keep the archive consistent with the payload.
    with engine.begin() as conn:
        for n in (0, 1):
            conn.execute(
                text("UPDATE ingest_batches SET sha256 = :d WHERE seq = :s"),
                {"d": hashlib.sha256(f"payload {n}".encode()).hexdigest(), "s": n + 1},
            )
        account_community(conn, world.community_id, SETS[FACTOR_SET], now=0)
        # Two points accounts and a transfer, written as the points ledger writes them.
        for kind, owner in (("pool", 0), ("household", world.households[0])):
            conn.execute(
                insert(points_accounts).values(
                    community_id=world.community_id, kind=kind, owner_id=owner, ledger=1,
                    debits_must_not_exceed_credits=False, debits_pending=0, debits_posted=0,
                    credits_pending=0, credits_posted=0, created_at=0,
                )
            )  # fmt: skip
        pool, house = conn.execute(select(points_accounts.c.id).order_by(points_accounts.c.id)).scalars()
        conn.execute(insert(points_transfers).values(_transfer("a1" * 16, pool, house)))


def _transfer(transfer_id: str, debit: int, credit: int) -> dict[str, object]:
    return {
        "id": transfer_id, "debit_account_id": debit, "credit_account_id": credit, "amount": 120,
        "pending_id": None, "ledger": 1, "code": 1, "flags": 0, "timeout": 0, "reference": "issue",
        "timestamp": 5,
    }  # fmt: skip


@pytest.fixture
def logged(engine: Engine, world: World) -> Iterator[World]:
    _store(engine, world)
    with engine.begin() as conn:
        summary = sequencer.sequence(conn, world.community_id, SETS, now=1)
        assert summary.refused == []
        assert summary.batches == 2 and summary.results > 0 and summary.publications == 2
        assert summary.transfers == 1
        checkpoints.publish(conn, world.community_id, _signer(), now=2)
    yield world


def _bundle(engine: Engine, world: World, household: int = 0) -> evidence.Bundle:
    with engine.connect() as conn:
        return checkpoints.evidence_bundle(conn, world.community_id, world.households[household], SETS)


def _published() -> dict[str, tuple[str, dict[str, object]]]:
    return {
        fs.id: (fs.content_hash, {q.value: f.value for q, f in fs.factors.items()}) for fs in SETS.values()
    }


def _verify(engine: Engine, world: World) -> evidence.Report:
    return evidence.verify(
        _bundle(engine, world),
        log_key=_signer().verifier,
        witnesses=[],
        quorum=0,
        factor_sets=_published(),  # type: ignore[arg-type]
    )


def _check(engine: Engine, world: World) -> list[EvidenceError]:
    with engine.connect() as conn:
        return sequencer.check(conn, world.community_id, SETS).failures


def test_sequencing_is_idempotent_and_everything_recomputes(engine: Engine, logged: World) -> None:
    with engine.begin() as conn:
        again = sequencer.sequence(conn, logged.community_id, SETS, now=3)
        assert again.appended == 0
        log = audit_log.log_of(conn, logged.community_id)
        assert log is not None and log.size == again.size
        h1_mg = conn.execute(
            select(footprint_months.c.total_mg).where(footprint_months.c.household_id == logged.households[0])
        ).scalars()
        expected = sum(h1_mg)
    assert _check(engine, logged) == []
    report = _verify(engine, logged)
    assert report.co2e_mg == expected > 0
    assert report.results == len(report.by_day) and report.checkpoint.size == log.size
    assert report.transfers == 1
    # The bundle of H1 opens none of H2's readings, though they share both batches.
    bundle = _bundle(engine, logged)
    meters = {g.group.meter_id for b in bundle.batches for g in b.groups}
    assert meters == {logged.meters["110000000001"]}
    assert all(len(b.group_commitments) == 2 for b in bundle.batches)
    _late_reading_logs_a_new_version_of_the_result(engine, logged)


def _late_reading_logs_a_new_version_of_the_result(engine: Engine, logged: World) -> None:
    t = int(datetime(2026, 11, 22, 12, 30, tzinfo=CST).timestamp())
    with engine.begin() as conn:
        batch = readings.add_batch(
            conn,
            gateway_id=logged.gateway.id,
            seq=9,
            transport="http",
            received_at=t,
            sha256="",
            payload=b"late",
        )
        conn.execute(
            text("UPDATE ingest_batches SET sha256 = :d WHERE id = :i"),
            {"d": hashlib.sha256(b"late").hexdigest(), "i": batch},
        )
        readings.add(
            conn,
            [StoredReading(logged.meters["110000000001"], "energy_import", t, 49_900)],
            batch_id=batch,
            received_at=t,
        )
        account_community(conn, logged.community_id, SETS[FACTOR_SET], now=5)
        summary = sequencer.sequence(conn, logged.community_id, SETS, now=6)
        assert summary.batches == 1 and summary.superseded >= 1 and summary.refused == []
        checkpoints.publish(conn, logged.community_id, _signer(), now=7)
    assert _check(engine, logged) == []
    _verify(engine, logged)


def _hot(meter: int, register: str = "energy_import") -> object:
    code = select(register_codes.c.code).where(register_codes.c.name == register).scalar_subquery()
    return (readings_hot.c.meter_id == meter) & (readings_hot.c.register == code)


MID = int(datetime(2026, 11, 21, 10, tzinfo=CST).timestamp())


def _edit_reading(conn: object, world: World) -> None:
    conn.execute(
        update(readings_hot)
        .where(_hot(world.meters["110000000001"]), readings_hot.c.meter_time == MID)
        .values(value=readings_hot.c.value + 500)
    )  # type: ignore[attr-defined]


def _delete_reading(conn: object, world: World) -> None:
    conn.execute(
        delete(readings_hot).where(_hot(world.meters["110000000001"]), readings_hot.c.meter_time == MID)
    )  # type: ignore[attr-defined]


def _insert_reading(conn: object, world: World) -> None:
    row = conn.execute(
        select(readings_hot).where(_hot(world.meters["110000000001"]), readings_hot.c.meter_time == MID)
    ).one()  # type: ignore[attr-defined]
    conn.execute(
        insert(readings_hot).values(
            meter_id=row.meter_id,
            register=row.register,
            meter_time=MID + 60,
            value=row.value + 1,
            batch_id=row.batch_id,
        )
    )  # type: ignore[attr-defined]


def _set_result_day(conn: object, world: World, day: date, change: Callable[[int], int]) -> None:
    # Results are packed per meter and month (footprint_months): rewrite one day's mg in place, as a
    # person with database access would.
    where = (
        footprint_months.c.meter_id == world.meters["110000000001"],
        footprint_months.c.month == day.replace(day=1),
        footprint_months.c.factor_set_id == FACTOR_SET,
    )
    packed = conn.execute(select(footprint_months.c.co2e_mg).where(*where)).scalar_one()  # type: ignore[attr-defined]
    days = months.unpack(day.replace(day=1), bytes(packed)).copy()
    days[day.day - 1] = change(int(days[day.day - 1]))
    conn.execute(update(footprint_months).where(*where).values(co2e_mg=months.pack(days)))  # type: ignore[attr-defined]


def _edit_result(conn: object, world: World) -> None:
    _set_result_day(conn, world, date(2026, 11, 21), lambda mg: mg - 1000)


def _delete_result(conn: object, world: World) -> None:
    _set_result_day(conn, world, date(2026, 11, 21), lambda _: NO_DATA)


def _insert_result(conn: object, world: World) -> None:
    _set_result_day(conn, world, date(2026, 11, 25), lambda _: 2_500_000)


def _edit_transfer(conn: object, world: World) -> None:
    conn.execute(update(points_transfers).values(amount=12_000))  # type: ignore[attr-defined]


def _delete_transfer(conn: object, world: World) -> None:
    conn.execute(delete(points_transfers))  # type: ignore[attr-defined]


def _insert_transfer(conn: object, world: World) -> None:
    row = conn.execute(select(points_transfers)).one()  # type: ignore[attr-defined]
    conn.execute(
        insert(points_transfers).values(_transfer("b2" * 16, row.debit_account_id, row.credit_account_id))
    )  # type: ignore[attr-defined]


TRANSFER_TAMPERS = {
    "edit transfer": (_edit_transfer, "transfer:" + "a1" * 16),
    "delete transfer": (_delete_transfer, "transfer:" + "a1" * 16),
    "insert transfer": (_insert_transfer, "transfer:" + "b2" * 16),
}

TAMPERS = {
    "edit reading": (_edit_reading, "batch:1"),
    "delete reading": (_delete_reading, "batch:1"),
    "insert reading": (_insert_reading, "batch:1"),
    "edit result": (_edit_result, "2026-11-21"),
    "delete result": (_delete_result, "2026-11-21"),
    "insert result": (_insert_result, "2026-11-25"),
}


def test_tampering_is_caught_by_the_operator_and_the_verifier(engine: Engine, logged: World) -> None:
    for case, (tamper, names) in sorted(TAMPERS.items()):
        with engine.connect() as conn:
            trans = conn.begin()
            tamper(conn, logged)
            failures = sequencer.check(conn, logged.community_id, SETS).failures
            assert failures, case
            expected = names.replace("batch:", "batch ")
            assert names in failures[0].entry or expected in failures[0].entry, (case, failures[0].entry)
            bundle = checkpoints.evidence_bundle(conn, logged.community_id, logged.households[0], SETS)
            with pytest.raises(EvidenceError) as caught:
                evidence.verify(
                    bundle,
                    log_key=_signer().verifier,
                    witnesses=[],
                    quorum=0,
                    factor_sets=_published(),  # type: ignore[arg-type]
                )
            assert expected in caught.value.entry, (case, caught.value.entry)
            # The sequencer never launders a tampered result into the log.
            summary = sequencer.sequence(conn, logged.community_id, SETS, now=9)
            if case in ("edit result", "insert result"):
                assert summary.results == 0 and summary.refused, case
            trans.rollback()
    for case, (tamper, names) in sorted(TRANSFER_TAMPERS.items()):
        with engine.connect() as conn:
            trans = conn.begin()
            tamper(conn, logged)
            failures = sequencer.check(conn, logged.community_id, SETS).failures
            assert failures and names in failures[0].entry, (case, failures)
            bundle = checkpoints.evidence_bundle(conn, logged.community_id, logged.households[0], SETS)
            with pytest.raises(EvidenceError) as caught:
                evidence.verify(
                    bundle,
                    log_key=_signer().verifier,
                    witnesses=[],
                    quorum=0,
                    factor_sets=_published(),  # type: ignore[arg-type]
                )
            assert names.replace(":", " ") in caught.value.entry, (case, caught.value.entry)
            trans.rollback()
    assert _check(engine, logged) == []


def test_audit_check_and_verify_commands_exit_non_zero_naming_the_entry(
    engine: Engine, logged: World, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TANHUI_DATABASE_URL", store_url)
    get_settings.cache_clear()
    try:
        sequenced = runner.invoke(app, ["audit", "sequence"])
        assert sequenced.exit_code == 0 and json.loads(sequenced.output)["appended"] == 0
        key = tmp_path / "log.key"
        key.write_text(_signer().skey + "\n")
        monkeypatch.setenv("TANHUI_AUDIT_KEY_FILE", str(key))
        signed = runner.invoke(app, ["audit", "checkpoint"])
        assert signed.exit_code == 0 and signed.output.startswith(sequencer.default_origin("baoting") + "\n")
        assert runner.invoke(app, ["audit", "check"]).exit_code == 0
        out = tmp_path / "bundle.json"
        exported = runner.invoke(app, ["audit", "evidence", "--household", "H1", "--out", str(out)])
        assert exported.exit_code == 0, exported.output
        vkey = _signer().verifier.vkey
        ok = runner.invoke(app, ["verify", "--bundle", str(out), "--log-vkey", vkey])
        assert ok.exit_code == 0, ok.output
        assert "kg CO2e recomputed" in ok.output
        with engine.begin() as conn:
            _edit_reading(conn, logged)
        checked = runner.invoke(app, ["audit", "check"])
        assert checked.exit_code == 1 and "FAILED leaf" in checked.output and "batch:1" in checked.output
        runner.invoke(app, ["audit", "evidence", "--household", "H1", "--out", str(out)])
        bad = runner.invoke(app, ["verify", "--bundle", str(out), "--log-vkey", vkey])
        assert bad.exit_code == 1 and "FAILED batch 1" in bad.output
        # A bundle claiming a quorum of witnesses that did not cosign is refused too.
        quorum = runner.invoke(app, ["verify", "--bundle", str(out), "--log-vkey", vkey, "--quorum", "1"])
        assert quorum.exit_code == 1 and "checkpoint" in quorum.output
    finally:
        get_settings.cache_clear()
    assert json.loads(out.read_text())["format"] == evidence.FORMAT
