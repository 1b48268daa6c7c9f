"""Points ledger throughput on PostgreSQL, with every invariant enforced.

- ``posted transfers/s, batched``: issuance transfers pool -> household posted through
  ``tanhui.store.ledger.create_transfers`` in batches, one transaction per batch, as TigerBeetle batches
  events: each batch locks its accounts (``SELECT ... FOR UPDATE``), reads the ids it names, checks
  every rule (idempotency, no overdraft, no pool overspend) and writes transfers and balances. Target
  from issue 7: at least 2,000/s on this machine.
- ``posted transfers/s, one per transaction``: the same with a batch of one, the floor a caller gets
  without batching (one commit, one fsync per transfer).
- ``spends/s, batched``: household -> merchant transfers, each checked against the household's
  balance (``debits_must_not_exceed_credits``).
- ``voucher validations/s``: distinct vouchers validated from several processes (as web workers run),
  each on its own connection, one transaction per validation: first all for one merchant (they queue on
  its account row, the price of exact balances), then spread over as many merchants as processes.

``ledger check`` time over the final ledger is reported too.
"""

from __future__ import annotations

import multiprocessing
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import psycopg
from sqlalchemy import Engine

from tanhui.domain.ids import CommunityId
from tanhui.points.catalogue import Reward, RewardKind
from tanhui.points.ledger import AccountKind, Code, TransferRequest, transfer_id
from tanhui.store import catalogue, ledger, migrate, registry, vouchers
from tanhui.store.engine import make_engine

PG_ADMIN = "postgresql://root@127.0.0.1:5432/test"
NOW = 1_795_000_000
KEY = b"bench"
TARGET = 2000  # transfers/s, issue 7


@contextmanager
def pg_engine() -> Iterator[Engine]:
    """A migrated store in a database of its own, dropped afterwards."""
    name = f"tanhui_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(f"postgresql+psycopg://root@127.0.0.1:5432/{name}")
    try:
        migrate.upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _setup(
    engine: Engine, households: int
) -> tuple[CommunityId, dict[AccountKind, int], list[int], list[int]]:
    with engine.begin() as conn:
        community = registry.create_community(
            conn,
            slug="bench",
            name="Bench",
            name_zh="基准",
            timezone="Asia/Shanghai",
            factor_regime="cn",
            factor_set_id="cn-mee-2023@v1",
            now=NOW,
        )
        accounts = ledger.community_accounts(conn, community, now=NOW)
        homes = [
            registry.create_household(
                conn, community_id=community, code=f"B{i}", persons=3, enrolled_on=None, now=NOW
            )
            for i in range(households)
        ]
        home_accounts = [ledger.household_account(conn, community, h, now=NOW) for h in homes]
        ledger.create_transfer(
            conn,
            TransferRequest(
                transfer_id("bench-allot"),
                accounts[AccountKind.BUDGET],
                accounts[AccountKind.POOL],
                10**15,
                Code.ALLOT,
            ),
            now=NOW,
        )
    return community, accounts, homes, home_accounts


def _post(engine: Engine, requests: list[TransferRequest], batch: int) -> float:
    started = time.perf_counter()
    for start in range(0, len(requests), batch):
        with engine.begin() as conn:
            ledger.create_transfers(conn, requests[start : start + batch], now=NOW)
    return time.perf_counter() - started


def _validations(
    engine: Engine, community: CommunityId, homes: list[int], count: int, workers: int, merchants: int
) -> float:
    """Seconds to validate ``count`` vouchers of ``merchants`` merchants from ``workers`` workers."""
    first = 1 + 10**6 * merchants  # voucher ids of this run, apart from other runs'
    with engine.begin() as conn:
        offers = []
        for m in range(merchants):
            merchant = catalogue.create_merchant(
                conn, community, slug=f"m{merchants}-{m}", name_zh="商户", name_en="M", demo=True, now=NOW
            )
            reward = catalogue.create_reward(
                conn,
                community,
                Reward(
                    0,
                    merchant,
                    RewardKind.TICKET,
                    "票",
                    "Ticket",
                    "",
                    "",
                    1,
                    count,
                    date(2026, 1, 1),
                    date(2027, 1, 1),
                    86400,
                    True,
                    True,
                ),
                now=NOW,
            )
            offers.append((merchant, reward))
        issued = []
        for i in range(count):
            merchant, reward = offers[i % merchants]
            issued.append(
                (
                    merchant,
                    vouchers.redeem(
                        conn,
                        community,
                        household_id=homes[i % len(homes)],
                        reward_id=reward,
                        voucher_id=first + i,
                        key=KEY,
                        now=NOW,
                        today=date(2026, 11, 18),
                    ).code,
                )
            )
    shares = [issued[i::workers] for i in range(workers)]
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()  # no pooled connection crosses the fork
    # Processes, as uvicorn workers are: threads of one interpreter would measure the GIL instead.
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        spans = pool.starmap(_validate_share, [(url, community, share) for share in shares])
    return max(end for _, end in spans) - min(start for start, _ in spans)


def _validate_share(url: str, community: CommunityId, share: list[tuple[int, str]]) -> tuple[float, float]:
    """Validate ``share`` on a connection of this process; its (start, end) wall-clock times."""
    engine = make_engine(url)
    try:
        with engine.connect():
            pass  # connect before the clock starts
        started = time.time()
        for merchant, code in share:
            with engine.begin() as conn:
                vouchers.validate(
                    conn, community, merchant_id=merchant, code=code, attempt="bench", key=KEY, now=NOW + 1
                )
        return started, time.time()
    finally:
        engine.dispose()


def run(quick: bool) -> list[dict[str, object]]:
    """Measure; ``quick`` uses small sizes (seconds), otherwise the sizes quoted in the report."""
    households, batches, batch, singles, spends, validations, workers = (
        (200, 10, 500, 200, 2000, 200, 4) if quick else (2000, 40, 1000, 1000, 20000, 2000, 8)
    )
    rows: list[dict[str, object]] = []
    with pg_engine() as engine:
        community, accounts, homes, home_accounts = _setup(engine, households)
        pool = accounts[AccountKind.POOL]
        issues = [
            TransferRequest(
                transfer_id("bench-issue", n), pool, home_accounts[n % households], 100, Code.ISSUE
            )
            for n in range(batches * batch)
        ]
        seconds = _post(engine, issues, batch)
        rows.append(
            {
                "measure": f"posted transfers/s, batches of {batch}",
                "count": len(issues),
                "seconds": round(seconds, 2),
                "per_second": round(len(issues) / seconds),
                "target": TARGET,
            }
        )
        one_by_one = [
            TransferRequest(
                transfer_id("bench-single", n), pool, home_accounts[n % households], 1, Code.ISSUE
            )
            for n in range(singles)
        ]
        seconds = _post(engine, one_by_one, 1)
        rows.append(
            {
                "measure": "posted transfers/s, one per transaction",
                "count": singles,
                "seconds": round(seconds, 2),
                "per_second": round(singles / seconds),
                "target": None,
            }
        )
        with engine.begin() as conn:
            shop = ledger.open_account(conn, community, AccountKind.MERCHANT, 0, now=NOW)
        spending = [
            TransferRequest(
                transfer_id("bench-spend", n), home_accounts[n % households], shop, 1, Code.REDEEM
            )
            for n in range(spends)
        ]
        seconds = _post(engine, spending, batch)
        rows.append(
            {
                "measure": f"household spends/s (overdraft checked), batches of {batch}",
                "count": spends,
                "seconds": round(seconds, 2),
                "per_second": round(spends / seconds),
                "target": None,
            }
        )
        for merchants in (1, workers):
            seconds = _validations(engine, community, homes, validations, workers, merchants)
            rows.append(
                {
                    "measure": f"voucher validations/s, {workers} processes, {merchants} merchant(s)",
                    "count": validations,
                    "seconds": round(seconds, 2),
                    "per_second": round(validations / seconds),
                    "target": None,
                }
            )
        started = time.perf_counter()
        with engine.connect() as conn:
            violations = ledger.check(conn)
        seconds = time.perf_counter() - started
        total = len(issues) + singles + spends + 4 * validations + 1
        rows.append(
            {
                "measure": f"ledger check over {total} transfers ({len(violations)} violations)",
                "count": total,
                "seconds": round(seconds, 2),
                "per_second": round(total / seconds),
                "target": None,
            }
        )
    return rows


def markdown(rows: list[dict[str, object]]) -> list[str]:
    """The "Points ledger" section of the benchmark report."""
    lines = [
        "## Points ledger (PostgreSQL, invariants enforced)",
        "",
        "Transfers posted through `tanhui.store.ledger.create_transfers`: row locks on the touched accounts,",
        "idempotency and balance checks, transfer rows and balance updates in one transaction per batch,",
        "as TigerBeetle batches events. Issue 7 asks for at least 2,000 posted transfers/s on this machine.",
        "Voucher validations run from several processes, one connection each. Those of one merchant queue",
        "on its account row, each holding it until its commit is durable (synchronous_commit on), so one",
        "merchant's rate is about one commit latency; different merchants validate in parallel.",
        "",
        "| measure | count | seconds | per second | target |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        target = row.get("target")
        lines.append(
            f"| {row['measure']} | {row['count']:,} | {row['seconds']} | {row['per_second']:,} | "
            f"{'' if target is None else f'≥ {target:,}'} |"
        )
    return [*lines, ""]


if __name__ == "__main__":
    for line in markdown(run(quick=True)):
        print(line)
