"""``tanhui baseline evaluate|run`` and ``tanhui weather import|subscribe``.

``evaluate`` needs no database: it reads a usage CSV (``start,value``, daily or hourly, ISO 8601 with
offset) and a temperature CSV (``start,temperature_c``), fits before ``--baseline-end``, predicts after
it, and prints one JSON object (``model``, ``cv_rmse``, ``nmbe``, ``r2``, ``fsu``, ``fit_seconds``,
``avoided`` and more); ``--predictions FILE`` writes ``start,observed,predicted`` for every period of both
windows. ``run`` fits a community's households from the store; ``weather import`` loads station data
from CSV and ``weather subscribe`` receives it over MQTT. Bad input exits 2 naming the rule.
"""

from __future__ import annotations

import csv
import io
import json
import math
import signal
import socket
import threading
import time
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer

from tanhui.baseline.errors import BaselineError
from tanhui.baseline.evaluation import AUTO, evaluate
from tanhui.cli.database import command_engine
from tanhui.clock import utc_now
from tanhui.ingest.weather_feed import WeatherSubscriber
from tanhui.jobs.baselines import fit_community
from tanhui.settings import get_settings
from tanhui.store import registry
from tanhui.store import weather as weather_store
from tanhui.store.baselines import DEFAULT_RULES, load_rules
from tanhui.store.factor_files import load_factor_sets

baseline_app = typer.Typer(
    help="Baselines: evaluate a model on CSV files, fit a community.", no_args_is_help=True
)
weather_app = typer.Typer(help="Weather station data.", no_args_is_help=True)


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(2)


def _read_usage(path: Path) -> list[tuple[datetime, float]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise _fail(f"--usage: cannot read {path}: {exc.strerror}") from None
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or not {"start", "value"} <= set(reader.fieldnames):
        raise _fail(f"--usage: the header must name start and value, got {reader.fieldnames}")
    out = []
    for line, row in enumerate(reader, start=2):
        raw = (row.get("value") or "").strip()
        try:
            at = datetime.fromisoformat((row.get("start") or "").strip())
            value = float(raw) if raw else math.nan
        except ValueError:
            raise _fail(
                f"--usage line {line}: {row.get('start')!r},{raw!r} is not an ISO 8601 time and a number"
            ) from None
        if at.tzinfo is None:
            raise _fail(f"--usage line {line}: start {row.get('start')!r} needs a UTC offset")
        out.append((at, value))
    if not out:
        raise _fail("--usage: the file has no rows")
    return out


def _read_temperature(path: Path) -> list[tuple[datetime, float]]:
    try:
        observations = weather_store.parse_csv(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise _fail(f"--temperature: cannot read {path}: {exc.strerror}") from None
    except weather_store.WeatherInputError as exc:
        raise _fail(f"--temperature: {exc.diagnostics()}") from None
    return weather_store.as_points(observations)


def _local(points: list[tuple[datetime, float]], like: datetime) -> list[tuple[datetime, float]]:
    """Temperatures in the usage series' offset, so both split days at the same local midnight."""
    tz = like.tzinfo
    return [(t.astimezone(tz), v) for t, v in points]


@baseline_app.command("evaluate")
def evaluate_command(
    usage: Annotated[Path, typer.Option("--usage", help="CSV start,value (daily or hourly)")],
    temperature: Annotated[Path, typer.Option("--temperature", help="CSV start,temperature_c")],
    baseline_end: Annotated[str, typer.Option("--baseline-end", help="first reporting day, ISO date")],
    model: Annotated[
        str, typer.Option("--model", help="caltrack-daily, gbm-daily, towt-hourly or auto")
    ] = AUTO,
    predictions: Annotated[
        Path | None, typer.Option("--predictions", help="write start,observed,predicted here")
    ] = None,
    calendar: Annotated[str, typer.Option(help="holiday calendar (ISO country code)")] = "CN",
    zero_is_missing: Annotated[
        bool, typer.Option("--zero-is-missing/--zero-is-data", help="CalTRACK: electricity 0 = missing")
    ] = True,
    rules_file: Annotated[Path, typer.Option("--rules", help="baseline rules TOML")] = DEFAULT_RULES,
) -> None:
    """Fit before --baseline-end, predict after it, print the metrics and avoided use as JSON."""
    try:
        end = date.fromisoformat(baseline_end)
    except ValueError:
        raise _fail(f"--baseline-end: {baseline_end!r} is not an ISO date") from None
    points = _read_usage(usage)
    temps = _local(_read_temperature(temperature), points[0][0])
    try:
        result = evaluate(
            points,
            temps,
            end,
            load_rules(rules_file),
            model=model,
            country=calendar,
            electricity=zero_is_missing,
            timer=time.perf_counter,
        )
    except BaselineError as exc:
        raise _fail(exc.diagnostics()) from None
    if predictions is not None:
        with predictions.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["start", "observed", "predicted"])
            for start, observed, predicted in result.predictions:
                writer.writerow(
                    [
                        start.isoformat(),
                        "" if math.isnan(observed) else repr(observed),
                        "" if math.isnan(predicted) else repr(predicted),
                    ]
                )
    typer.echo(json.dumps(result.as_dict(), ensure_ascii=False, allow_nan=False, default=str))


@baseline_app.command("run")
def run_command(
    community: Annotated[str, typer.Option(help="community slug")] = "baoting",
    factor_set: Annotated[str | None, typer.Option(help="factor set id (default: the community's)")] = None,
    calendar: Annotated[str, typer.Option(help="holiday calendar (ISO country code)")] = "CN",
) -> None:
    """Fit every household of the community and store avoided use (run after accounting)."""
    settings = get_settings()
    engine = command_engine(settings.database_url)
    with engine.connect() as conn:
        found = registry.find_community(conn, community)
    if found is None:
        raise _fail(f"no community {community!r}")
    sets = load_factor_sets(settings.data_dir / "factors")
    wanted = factor_set or found.factor_set_id
    chosen = sets.get(wanted)
    if chosen is None:
        raise _fail(f"unknown factor set {wanted!r}; choose one of {', '.join(sorted(sets))}")
    rules = load_rules(settings.data_dir / "baseline" / "rules.toml")
    try:
        with engine.begin() as conn:
            summary = fit_community(
                conn, found.id, chosen, rules=rules, now=int(utc_now().timestamp()), country=calendar
            )
    except BaselineError as exc:
        raise _fail(exc.diagnostics()) from None
    typer.echo(
        json.dumps(
            {
                "community": community,
                "factor_set": chosen.id,
                "assessed": summary.assessed,
                "eligible": summary.eligible,
                "comparison_pool": summary.controls,
                "rows": summary.rows,
                "avoided_kg_co2e": str(summary.avoided_kg),
                "counted_kg_co2e": str(summary.counted_kg),
                "portfolio_fsu": summary.portfolio_fsu,
                "skipped": summary.skipped,
            }
        )
    )


@weather_app.command("import")
def weather_import(
    file: Annotated[Path, typer.Argument(metavar="FILE.csv", help="CSV start,temperature_c")],
    station: Annotated[str, typer.Option(help="station id")],
    community: Annotated[str | None, typer.Option(help="link the station to this community")] = None,
    name: Annotated[str, typer.Option(help="station name")] = "",
) -> None:
    """Import a station's temperatures (idempotent: known times are kept)."""
    try:
        items = weather_store.parse_csv(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise _fail(f"cannot read {file}: {exc.strerror}") from None
    except weather_store.WeatherInputError as exc:
        raise _fail(exc.diagnostics()) from None
    engine = command_engine()
    now = int(utc_now().timestamp())
    with engine.begin() as conn:
        community_id = None
        if community is not None:
            found = registry.find_community(conn, community)
            if found is None:
                raise _fail(f"no community {community!r}")
            community_id = found.id
        weather_store.ensure_station(conn, station, community_id=community_id, name=name, now=now)
        added = weather_store.add_observations(conn, station, items, source="csv", now=now)
    typer.echo(json.dumps({"station": station, "read": len(items), "added": added}))


def _broker(value: str | None, host: str, port: int) -> tuple[str, int]:
    """``HOST:PORT``, ``HOST`` or ``[IPv6]:PORT``; the settings' broker when not given."""
    if value is None:
        return host, port
    text = value.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":") if rest else str(port)
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, str(port)
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise _fail(f"--broker {value!r} must be HOST:PORT with a port from 1 to 65535")
    return host, int(port_text)


@weather_app.command("subscribe")
def weather_subscribe(
    broker: Annotated[
        str | None,
        typer.Option(help="HOST:PORT of the MQTT broker (default TANHUI_MQTT_HOST:TANHUI_MQTT_PORT)"),
    ] = None,
    username: Annotated[
        str | None, typer.Option(envvar="TANHUI_MQTT_USERNAME", help="MQTT user name (the ingest user)")
    ] = None,
    password: Annotated[
        str | None,
        typer.Option(envvar="TANHUI_MQTT_PASSWORD", help="MQTT password (prefer the env variable)"),
    ] = None,
    client_id: Annotated[
        str | None,
        typer.Option(
            help="MQTT client id: the persistent session; keep it stable across restarts "
            "(default: tanhui-weather-<host name>)"
        ),
    ] = None,
) -> None:
    """Store station observations from <prefix>/<community>/weather/<station> until interrupted.

    QoS 1 with a persistent session; each message is acknowledged after it is committed. Bad messages
    are kept whole in quarantine with their reason (see docs/baseline.md §1).
    """
    settings = get_settings()
    host, port = _broker(broker, settings.mqtt_host, settings.mqtt_port)
    engine = command_engine(settings.database_url)
    subscriber = WeatherSubscriber(
        engine,
        host=host,
        port=port,
        prefix=settings.mqtt_topic_prefix,
        now=utc_now,
        client_id=client_id or f"tanhui-weather-{socket.gethostname()}",
        username=username,
        password=password,
    )
    stop = threading.Event()
    # systemd and container runtimes stop a service with SIGTERM: finish the message in hand first.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    subscriber.start()
    typer.echo(f"connecting to {host}:{port}")
    try:
        while not subscriber.subscribed.wait(1):
            if stop.is_set():
                break
        if subscriber.subscribed.is_set():
            typer.echo(f"subscribed to {subscriber.topic_filter}")
        while not stop.wait(10):
            s = subscriber.stats
            with s.lock:
                typer.echo(
                    f"messages {s.messages} stored {s.stored} duplicates {s.duplicates} "
                    f"quarantined {s.quarantined} retries {s.retries} failed {s.failed}"
                )
    except KeyboardInterrupt:
        pass
    finally:
        subscriber.stop()
        engine.dispose()
