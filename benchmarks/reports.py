"""Time to produce the reports, and what a monthly run of every household's statement would cost.

Each stage is timed on its own with synthetic input (no database): a household-month of 30 days and three
meters priced under a Chinese and a European set (``build_statement``), rendered to HTML (Jinja2) and to
a PDF (WeasyPrint); and a county-year GPC inventory laid out as CSV, XLSX and PDF. The limit beside it:
a monthly run must print every household's statement in one night on one core, i.e. 55,600 households
(shared/docs/baoting.md) within 8 hours, which allows about 0.52 s per statement.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from tanhui.accounting.account import Usage
from tanhui.accounting.inventory import MeterTotal, build_inventory
from tanhui.domain.ids import HouseholdId, MeterId
from tanhui.domain.quantity import Quantity
from tanhui.reports.gpc import inventory_csv, inventory_pdf, inventory_xlsx
from tanhui.reports.statement import Statement, build_statement, statement_html, statement_pdf
from tanhui.settings import Settings
from tanhui.store.factor_files import load_factor_sets

HOUSEHOLDS = 55_600  # Baoting, shared/docs/baoting.md
NIGHT_SECONDS = 8 * 3600
SETS = load_factor_sets(Settings().data_dir / "factors")
CN, EU = SETS["cn-mee-2023@v1"], SETS["eu-eea-2023@v1"]


def _statement() -> Statement:
    usage = []
    for d in range(1, 31):
        day = date(2026, 11, d)
        usage += [
            Usage(MeterId(1), HouseholdId(1), Quantity.ELECTRICITY, day, Decimal("7.25") + d % 5),
            Usage(MeterId(2), HouseholdId(1), Quantity.WATER, day, Decimal("0.412")),
            Usage(MeterId(3), HouseholdId(1), Quantity.GAS, day, Decimal("0.236")),
        ]
    return build_statement(
        usage,
        {MeterId(1): "110000000001", MeterId(2): "210000000001", MeterId(3): "310000000001"},
        CN,
        EU,
        community="Baoting",
        community_zh="保亭",
        household="H1",
        month="2026-11",
        generated_on=date(2026, 12, 1),
    )


def _timed(stage: str, action: Callable[[], object], repeats: int) -> dict[str, object]:
    action()  # warm the template and font caches
    started = time.perf_counter()
    for _ in range(repeats):
        action()
    seconds = (time.perf_counter() - started) / repeats
    return {"stage": stage, "repeats": repeats, "ms": round(seconds * 1000, 1)}


def run(quick: bool) -> list[dict[str, object]]:
    """Milliseconds per report stage, and the night's budget per statement beside the measured cost."""
    repeats = 2 if quick else 10
    statement = _statement()
    totals = [MeterTotal(h, q, 1, Decimal(1000)) for h in range(1, 201) for q in Quantity]
    inventory = build_inventory("Baoting", date(2026, 1, 1), date(2026, 12, 31), CN, totals)
    rows = [
        _timed("statement: price both sets and compare (build_statement)", _statement, repeats * 5),
        _timed("statement: HTML (zh-CN)", lambda: statement_html(statement, "zh_CN"), repeats * 5),
        _timed("statement: PDF (zh-CN)", lambda: statement_pdf(statement, "zh_CN"), repeats),
        _timed("inventory: CSV", lambda: inventory_csv(inventory), repeats * 5),
        _timed(
            "inventory: XLSX", lambda: inventory_xlsx(inventory, CN, generated_on=date(2027, 1, 5)), repeats
        ),
        _timed(
            "inventory: PDF (zh-CN)",
            lambda: inventory_pdf(inventory, CN, "zh_CN", generated_on=date(2027, 1, 5)),
            max(1, repeats // 2),
        ),
    ]
    build, html, pdf = (float(str(rows[i]["ms"])) / 1000 for i in range(3))
    # statement_pdf renders the HTML itself: build + PDF is the whole cost of one printed statement.
    for name, seconds in (("HTML", build + html), ("PDF", build + pdf)):
        rows.append(
            {
                "stage": f"every household's {name} statement, {HOUSEHOLDS:,} households, one core",
                "repeats": 0,
                "ms": round(seconds * HOUSEHOLDS * 1000, 1),
                "hours": round(seconds * HOUSEHOLDS / 3600, 2),
                "budget_hours": NIGHT_SECONDS / 3600,
            }
        )
    return rows


def markdown(rows: list[dict[str, object]]) -> list[str]:
    """A "## Reports" section: ms per stage, and the monthly statement run beside one night."""
    lines = [
        "## Reports (issue 5)",
        "",
        "Milliseconds per report, synthetic input, one core: a household-month of 30 days and three meters",
        "under two factor sets; a county inventory of 200 households. The last lines extrapolate one",
        "statement to every Baoting household; the limit is one night (8 h) on one core.",
        "",
        "| stage | repeats | ms |",
        "|---|---|---|",
    ]
    for row in rows[:-2]:
        lines.append(f"| {row['stage']} | {row['repeats']} | {row['ms']:,} |")
    lines.append("")
    for row in rows[-2:]:
        lines.append(f"- {row['stage']}: {row['hours']} h against a budget of {row['budget_hours']} h.")
    lines += [
        "",
        "WeasyPrint's layout dominates a PDF; residents read the HTML statement, and PDFs are rendered on",
        "demand (API, CLI) rather than for every household each month.",
    ]
    return lines


if __name__ == "__main__":
    result = run(quick=True)
    print("\n".join(markdown(result)))
