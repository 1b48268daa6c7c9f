"""A county-year of daily accounting recomputed from intervals stored in PostgreSQL (issue 5).

55,000 households × 3 meters × 365 days: the daily consumption intervals (``consumption_months``, one row
per meter and month, 1.98 million rows) are generated and stored first (not timed); then the timed part is
:func:`tanhui.jobs.accounting.price_community` in one transaction: read every interval of the community,
price each meter-day under a factor set, write the result per meter and month (``footprint_months``) and
commit. It runs three times: the first result under the Chinese set, a recompute of the same set (which
replaces the stored result), and the European set beside it. The limit named in the issue is 60 s.
"""

from __future__ import annotations

import time
from datetime import date

import numpy as np
from sqlalchemy import Engine, text

from benchmarks.storage import pg_engine
from tanhui.accounting import months
from tanhui.accounting.pricing import NO_DATA
from tanhui.jobs.accounting import price_community
from tanhui.settings import Settings
from tanhui.store import bulk
from tanhui.store.factor_files import load_factor_sets

LIMIT_SECONDS = 60.0
YEAR = 2025
# Typical daily amounts in millionths of the unit (kWh, m3): means of a Baoting-like household.
KINDS = (("electricity", 9_000_000), ("water", 350_000), ("gas", 250_000))


def _populate(engine: Engine, households: int, seed: int) -> int:
    with engine.begin() as conn:
        community = conn.execute(
            text(
                "INSERT INTO communities (slug, name, timezone, factor_regime, factor_set_id, created_at) "
                "VALUES ('bench', 'Bench county', 'Asia/Shanghai', 'cn', 'cn-mee-2023@v1', 0) RETURNING id"
            )
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO households (community_id, code, persons, created_at) "
                "SELECT :c, 'H' || g, 3, 0 FROM generate_series(1, :n) g"
            ),
            {"c": community, "n": households},
        )
        conn.execute(
            text(
                "INSERT INTO meters (community_id, household_id, serial, kind, protocol, unit, resolution, "
                "capacity, installed_on) "
                "SELECT :c, h.id, k.kind || '-' || h.id, k.kind, 'json', k.unit, '0.01', 100000000, "
                "DATE '2024-01-01' FROM households h CROSS JOIN (VALUES ('electricity', 'kWh'), "
                "('water', 'm3'), ('gas', 'm3')) AS k(kind, unit) WHERE h.community_id = :c"
            ),
            {"c": community},
        )
        meter_rows = conn.execute(
            text("SELECT id, household_id, kind FROM meters WHERE community_id = :c ORDER BY id"),
            {"c": community},
        ).all()
    rng = np.random.default_rng(seed)
    means = dict(KINDS)
    mean = np.array([means[kind] for _, _, kind in meter_rows], dtype=np.float64)
    for month_number in range(1, 13):
        month = date(YEAR, month_number, 1)
        size = months.days_in(month)
        amounts = rng.gamma(4.0, 0.25, size=(len(meter_rows), months.SLOTS)) * mean[:, None]
        days = np.rint(amounts).astype(np.int64)
        days[rng.random(days.shape) < 0.005] = NO_DATA  # a few gaps, as real meters have
        days[:, size:] = NO_DATA  # slots past the month's last day
        values = [
            (meter_id, month, household_id, kind, months.pack(row), int(row[row >= 0].sum()), 0)
            for (meter_id, household_id, kind), row in zip(meter_rows, days, strict=True)
        ]
        with engine.begin() as conn:
            bulk.append_rows(
                conn,
                "consumption_months",
                ["meter_id", "month", "household_id", "kind", "days", "total_micro", "computed_at"],
                ["int4", "date", "int4", "text", "bytea", "int8", "int8"],
                values,
            )
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return int(community)


def run(quick: bool) -> list[dict[str, object]]:
    households = 2_000 if quick else 55_000
    factor_sets = load_factor_sets(Settings().data_dir / "factors")
    rows: list[dict[str, object]] = []
    with pg_engine() as engine:
        community = _populate(engine, households, seed=2025)
        for label, set_id in (
            ("first result", "cn-mee-2023@v1"),
            ("recompute, replacing it", "cn-mee-2023@v1"),
            ("European set beside it", "eu-eea-2023@v1"),
        ):
            started = time.perf_counter()
            with engine.begin() as conn:
                summary = price_community(conn, community, factor_sets[set_id], now=1)
                committing = time.perf_counter()
            done = time.perf_counter()
            seconds = done - started
            rows.append(
                {
                    "run": label,
                    "factor_set": set_id,
                    "households": households,
                    "meter_days": summary.meter_days,
                    "month_rows": summary.months,
                    "read_s": round(summary.seconds["read"], 1),
                    "price_s": round(summary.seconds["price"], 1),
                    "write_s": round(summary.seconds["write"], 1),
                    "commit_s": round(done - committing, 1),
                    "seconds": round(seconds, 1),
                    "meter_days_per_s": int(summary.meter_days / seconds),
                    "t_co2e": str(round(summary.kg_co2e / 1000, 1)),
                    "limit_s": LIMIT_SECONDS,
                    "within_limit": seconds < LIMIT_SECONDS,
                }
            )
    return rows


def markdown(rows: list[dict[str, object]]) -> list[str]:
    lines = [
        "## Daily accounting of a county-year from PostgreSQL (issue 5)",
        "",
        "55,000 households × 3 meters × 365 days of daily consumption intervals stored in PostgreSQL (one",
        "row per meter and month, days packed); timed: read them all, price every meter-day under a factor",
        "set exactly as the Decimal path rounds, write the result per meter and month, commit. The issue's",
        f"limit is {LIMIT_SECONDS:.0f} s. Generating and storing the intervals is not timed.",
        "",
        "| run | factor set | meter-days | read s | price s | write s | commit s | total s | meter-days/s "
        "| t CO2e | within limit |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['run']} | {r['factor_set']} | {r['meter_days']:,} | {r['read_s']} | {r['price_s']} | "
            f"{r['write_s']} | {r['commit_s']} | {r['seconds']} | {r['meter_days_per_s']:,} | {r['t_co2e']} "
            f"| {'yes' if r['within_limit'] else 'no'} |"
        )
    return lines


if __name__ == "__main__":
    import sys

    result = run("--quick" in sys.argv)
    print("\n".join(markdown(result)))
