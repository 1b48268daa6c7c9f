"""`make bench`: run every benchmark in one process and write benchmarks/results.{md,json}.

`python -m benchmarks.run --quick` runs smaller workloads (for checking the harness, not for figures).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import (
    accounting,
    audit,
    baseline,
    codecs,
    forecast,
    ingest_http,
    ingest_mqtt,
    insights,
    inventory,
    ledger,
    machine,
    reports,
    storage,
)

HERE = Path(__file__).resolve().parent


def _table(rows: list[dict[str, object]], columns: list[tuple[str, str]]) -> list[str]:
    lines = ["| " + " | ".join(title for title, _ in columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = []
        for _, key in columns:
            value = row.get(key, "–")
            cells.append(f"{value:,}" if isinstance(value, int) else str(value))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _runners(quick: bool) -> dict[str, Callable[[], list[dict[str, object]]]]:
    return {
        "codecs": lambda: codecs.run(frames_per_codec=50 if quick else 200, seconds=0.3 if quick else 2.0),
        "ingest_http": lambda: ingest_http.run(households=20 if quick else 100, days=2 if quick else 7),
        # Four days: about five seconds of ingest at two workers' rate, long enough to call sustained.
        "ingest_mqtt": lambda: ingest_mqtt.run(households=200 if quick else 8000, days=4),
        "storage": lambda: storage.run(households=50 if quick else 500, days=2),
        "accounting": lambda: accounting.run(quick),
        "inventory": lambda: inventory.run(quick),
        "reports": lambda: reports.run(quick),
        "baseline": lambda: baseline.run(quick),
        "ledger": lambda: ledger.run(quick),
        "audit": lambda: audit.run(quick),
        "insights": lambda: insights.run(quick),
        "forecast": lambda: forecast.run(quick),
    }


def main() -> None:
    """Run every benchmark, or with ``--only a,b`` re-run those and keep the others' committed results
    (each section then says when it ran)."""
    quick = "--quick" in sys.argv
    only = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--only=")), "")
    started = datetime.now(UTC)
    runners = _runners(quick)
    chosen = [name for name in only.split(",") if name] or list(runners)
    unknown = set(chosen) - set(runners)
    if unknown:
        raise SystemExit(f"no benchmark named {sorted(unknown)}; choose from {sorted(runners)}")
    previous: dict[str, Any] = {}
    if only and (HERE / "results.json").exists():
        previous = json.loads((HERE / "results.json").read_text(encoding="utf-8"))
    results: dict[str, list[dict[str, object]]] = dict(previous.get("results", {}))
    ran_at: dict[str, str] = dict(previous.get("ran_at_by_section", {}))
    for name in runners:
        if name in chosen:
            section_start = datetime.now(UTC).isoformat(timespec="seconds")
            results[name] = runners[name]()
            ran_at[name] = section_start
        else:
            ran_at.setdefault(name, str(previous.get("ran_at", "")))
    # Sections re-run alone since the last full run, kept across several --only runs.
    rerun = [n for n in runners if n in chosen or n in previous.get("rerun_sections", [])] if only else []
    info = machine.describe()
    report = {
        "ran_at": str(previous.get("ran_at", "")) if only else started.isoformat(timespec="seconds"),
        "ran_at_by_section": ran_at,
        "rerun_sections": rerun,
        "machine": info,
        "results": results,
    }
    (HERE / "results.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    lines = [
        "# Benchmark results",
        "",
        f"Ran {report['ran_at']} on {info['cpu']} ({info['cores']} cores, {info['memory']}), "
        f"Python {info['python']}, {info['postgresql_client']}; "
        f"load average {info['load_average']} at the end.",
        *(
            [
                "",
                "Sections re-run since, alone on the machine: "
                + ", ".join(f"{n} at {ran_at[n]}" for n in rerun)
                + ".",
            ]
            if rerun
            else []
        ),
        "",
        "## Codecs beside their peers (issue 4)",
        "",
        "The same frames through each decoder; whole passes for at least two seconds.",
        "",
        *_table(
            results["codecs"],
            [("protocol", "protocol"), ("decoder", "decoder"), ("frames/s", "frames_per_s")],
        ),
        "",
        "## Ingest over HTTP (issue 3)",
        "",
        "Envelopes of up to 5,000 readings posted one request at a time to the app on loopback;",
        "the limit is a binary COPY of the same stored rows into an identical table on the same PostgreSQL.",
        "",
        *_table(
            results["ingest_http"],
            [
                ("path", "name"),
                ("readings", "readings"),
                ("seconds", "seconds"),
                ("readings/s", "readings_per_s"),
                ("share of COPY", "share_of_copy"),
            ],
        ),
    ]
    lines += [
        "",
        "## End to end: MQTT → ingest workers → PostgreSQL (issue 4)",
        "",
        "A private Mosquitto holds a simulated county's backlog (envelopes of up to 1,000 readings); N",
        "`tanhui ingest-mqtt` processes drain it, each committing batches of envelopes (up to 2 MiB of",
        "payload) with one COPY; the rate counts what is stored while all N run. Envelopes in the usual",
        "form are read by the C reader (docs/decisions/0015-native-envelope-reader.md) and clean batches",
        "are checked on arrays (docs/decisions/0014-batch-checks-on-arrays.md).",
        "The limit is a binary COPY of the same stored rows, in key order, into an empty table with the",
        "same primary key (not partitioned) on the same PostgreSQL. Every path and the limit run three",
        "times; the median run is shown, with the three rates.",
        "CPU per reading: user + system time of the worker processes, of every PostgreSQL process and of",
        "Mosquitto over the measurement, divided by the readings stored (from /proc).",
        "The faulty path: the simulator's JSON faults (conflicting copies, unknown meters, clocks ahead,",
        "wrong units, redelivered and swapped envelopes, gaps) at 1 in 40,000 each, so about 1 reading in",
        "10,000 is quarantined and most batches hold one; an envelope with a fault (and any sharing its",
        "meters) goes reading by reading, the rest of its batch on arrays.",
        "",
        *_table(
            results["ingest_mqtt"],
            [
                ("path", "name"),
                ("readings", "readings"),
                ("envelopes", "envelopes"),
                ("seconds", "seconds"),
                ("readings/s", "readings_per_s"),
                ("share of COPY", "share_of_copy"),
                ("rates of the 3 runs", "readings_per_s_runs"),
                ("CPU µs/reading: workers", "cpu_us_per_reading_workers"),
                ("PostgreSQL", "cpu_us_per_reading_postgres"),
                ("Mosquitto", "cpu_us_per_reading_mosquitto"),
            ],
        ),
        "",
        "## Storage per reading on PostgreSQL (issue 4)",
        "",
        "Readings of a simulated county at 15 minutes through the pipeline, then compaction, CHECKPOINT and",
        "VACUUM; bytes from pg_total_relation_size over every partition, raw-frame archive included.",
        "",
        "```",
        *(json.dumps(row, ensure_ascii=False) for row in results["storage"]),
        "```",
        "",
        *accounting.markdown(results["accounting"]),
    ]
    for name, module in (
        ("inventory", inventory),
        ("reports", reports),
        ("baseline", baseline),
        ("ledger", ledger),
        ("audit", audit),
        ("insights", insights),
        ("forecast", forecast),
    ):
        lines += ["", *module.markdown(results[name])]
    (HERE / "results.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
