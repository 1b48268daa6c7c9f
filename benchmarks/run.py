"""`make bench`: run every benchmark in one process and write benchmarks/results.{md,json}."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import ingest_http, machine

HERE = Path(__file__).resolve().parent


def main() -> None:
    quick = "--quick" in sys.argv
    started = datetime.now(UTC)
    results = {
        "ingest_http": ingest_http.run(households=20 if quick else 100, days=2 if quick else 7),
    }
    report = {
        "ran_at": started.isoformat(timespec="seconds"),
        "machine": machine.describe(),
        "results": results,
    }
    (HERE / "results.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    lines = [
        "# Benchmark results",
        "",
        f"Ran {report['ran_at']} on {report['machine']['cpu']} ({report['machine']['cores']} cores, "
        f"{report['machine']['memory']}), Python {report['machine']['python']}, load average "
        f"{report['machine']['load_average']} at the end.",
        "",
        "## Ingest over HTTP (issue 3)",
        "",
        "Envelopes of up to 5,000 readings posted one request at a time to the app on loopback;",
        "the limit is a binary COPY of the same stored rows into an identical table on the same PostgreSQL.",
        "",
        "| path | readings | seconds | readings/s | share of COPY |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in results["ingest_http"]:
        lines.append(
            f"| {row['name']} | {row['readings']:,} | {row['seconds']} | {row['readings_per_s']:,} | "
            f"{row['share_of_copy']:.1%} |"
        )
    (HERE / "results.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
