"""The year-end forecast backtested on simulated history (issue 10, forecasts).

A Baoting-like community (households with the simulator's weather, cooling, holidays and enrolments)
gives three years of daily electricity use, as metered, and of avoided use (the simulator's counterfactual
minus actual: the quantity the baselines estimate). :mod:`tanhui.insights.forecast` is re-run from every
7th day of that history at each horizon and its forecast of the total over the horizon compared with what
happened: mean absolute percentage error, mean bias, and how often the 80 % band (from backtests of
earlier origins only) held the actual. Then the year-end forecast made on 30 June of the last year is
compared with the year's actual total.
"""

from __future__ import annotations

import time
from datetime import date

from tanhui.insights.forecast import backtest_summary, forecast_year_end
from tanhui.sim.usage import daily_sums, histories

HORIZONS = (30, 91, 182)


def _series(households: int, years: int) -> tuple[dict[date, float], dict[date, float]]:
    hours, homes = histories(seed=2026, households=households, start=date(2023, 1, 1), days=365 * years)
    moments = [moment for moment, _ in hours]
    use: dict[date, float] = {}
    avoided: dict[date, float] = {}
    for home in homes:
        for day, value in daily_sums(moments, home.actual).items():
            use[day] = use.get(day, 0.0) + value
        for day, value in daily_sums(moments, home.counterfactual).items():
            avoided[day] = avoided.get(day, 0.0) + value
    for day, value in use.items():
        avoided[day] -= value
    return use, avoided


def run(quick: bool) -> list[dict[str, object]]:
    households = 60 if quick else 300
    use, avoided = _series(households, 3)
    rows: list[dict[str, object]] = []
    last = max(use)
    for name, series in (("community electricity use", use), ("community avoided use", avoided)):
        for horizon in HORIZONS:
            started = time.perf_counter()
            result = backtest_summary(series, horizon)
            rows.append(
                {
                    "series": name,
                    "households": households,
                    "horizon_days": horizon,
                    "origins": result.origins,
                    "mape": round(result.mape, 4),
                    "bias": round(result.bias, 4),
                    "coverage80": round(result.coverage80, 3),
                    "seconds": round(time.perf_counter() - started, 2),
                }
            )
        origin = date(last.year, 6, 30)
        forecast = forecast_year_end(series, last.year, origin)
        actual = sum(v for d, v in series.items() if d.year == last.year)
        rows.append(
            {
                "series": name,
                "households": households,
                "horizon_days": (date(last.year, 12, 31) - origin).days,
                "origins": 1,
                "year_end_forecast": str(round(forecast.point, 1)),
                "band80": f"{round(forecast.low, 1)} .. {round(forecast.high, 1)}",
                "actual": round(actual, 1),
                "error": round((float(forecast.point) - actual) / actual, 4) if actual else None,
                "method": forecast.method,
            }
        )
    return rows


def markdown(rows: list[dict[str, object]]) -> list[str]:
    lines = [
        "## Year-end forecast backtested on simulated history (issue 10)",
        "",
        "Three simulated years of a community's daily electricity use and avoided use; the forecast re-run",
        "from every 7th day at each horizon. MAPE and bias are of the horizon's total; coverage is how often",
        "the 80 % band, measured from earlier origins only, held the actual (0.8 is calibrated).",
        "",
        "| series | households | horizon (days) | origins | MAPE | bias | 80 % coverage |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "mape" in r:
            lines.append(
                f"| {r['series']} | {r['households']} | {r['horizon_days']} | {r['origins']} | "
                f"{float(str(r['mape'])):.1%} | {float(str(r['bias'])):+.1%} | {r['coverage80']} |"
            )
    lines += ["", "Year-end forecast made on 30 June of the last simulated year:", ""]
    lines += ["| series | forecast | 80 % band | actual | error | method |", "|---|---|---|---|---|---|"]
    for r in rows:
        if "year_end_forecast" in r:
            lines.append(
                f"| {r['series']} | {r['year_end_forecast']} | {r['band80']} | {r['actual']} | "
                f"{float(str(r['error'])):+.1%} | {r['method']} |"
            )
    return lines


if __name__ == "__main__":
    import sys

    print("\n".join(markdown(run("--quick" in sys.argv))))
