"""The ``tanhui`` command line. Every command takes its database from ``TANHUI_DATABASE_URL``."""

from __future__ import annotations

import json
import sys
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tanhui.cli import publish
from tanhui.cli.demo import DEFAULT_FACTOR_SET, DEMO_TIMEZONE, build_demo, demo_start
from tanhui.cli.onboarding import DEMO_COMMUNITY, onboard
from tanhui.cli.server import BackgroundServer
from tanhui.clock import utc_now
from tanhui.ingest.mqtt import MqttIngestWorker
from tanhui.ingest.pipeline import Ingestor
from tanhui.jobs.accounting import account_community
from tanhui.meters.errors import MeterError
from tanhui.meters.protocols import PROTOCOLS, input_bytes
from tanhui.settings import get_settings
from tanhui.sim.county import build_county, envelopes
from tanhui.store import migrate, registry
from tanhui.store.engine import make_engine
from tanhui.store.factor_files import load_factor_sets
from tanhui.web.app import create_app

app = typer.Typer(help="Tanhui (碳惠): community carbon platform.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
console = Console()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations to the database named by TANHUI_DATABASE_URL."""
    migrate.upgrade(make_engine(get_settings().database_url))
    console.print("database is at the latest schema")


@app.command()
def demo(
    households: Annotated[int, typer.Option(min=1, help="simulated households")] = 200,
    days: Annotated[int, typer.Option(min=2, help="simulated days, ending yesterday")] = 60,
    seed: Annotated[int, typer.Option(help="simulation seed")] = 20261125,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="keep serving the web app")] = True,
    host: Annotated[str, typer.Option(help="address to serve on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to serve on")] = 8000,
) -> None:
    """Simulate a county, ingest it over HTTP, account it, and serve the web app.

    The demo resets the database named by TANHUI_DATABASE_URL (default: SQLite under ./var/).
    """

    settings = get_settings()
    engine = make_engine(settings.database_url)
    server = BackgroundServer(create_app(settings, engine=engine), host=host, port=port if serve else 0)
    server.start()
    try:
        with Progress(
            TextColumn("ingesting over HTTP"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task("ingest", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            summary, _ = build_demo(
                settings,
                engine,
                server.url,
                households=households,
                days=days,
                seed=seed,
                now=utc_now,
                progress=progress,
            )
        console.print(
            f"households: {summary.households}\n"
            f"days: {summary.days}\n"
            f"readings stored: {summary.readings_stored}\n"
            f"quarantined: {summary.quarantined}\n"
            f"total kg CO2e: {summary.kg_co2e.quantize(1)}",
            highlight=False,
        )
        if not serve:
            return
        console.print(f"\nTanhui is serving at {server.url}", highlight=False)
        for login in summary.logins:
            console.print(f"login: {login.role.value} {login.username} {login.password}", highlight=False)
        console.print("Ctrl-C stops the server.")
        server.wait()
    finally:
        server.stop()


@app.command()
def account(
    community: Annotated[str, typer.Option(help="community slug")] = "baoting",
    factor_set: Annotated[str | None, typer.Option(help="factor set id (default: the community's)")] = None,
) -> None:
    """Recompute a community's daily footprint."""

    settings = get_settings()
    engine = make_engine(settings.database_url)
    sets = load_factor_sets(settings.data_dir / "factors")
    with engine.begin() as conn:
        found = registry.find_community(conn, community)
        if found is None:
            console.print(f"no community {community!r}")
            raise typer.Exit(2)
        chosen = sets[factor_set or found.factor_set_id]
        summary = account_community(conn, found.id, chosen, now=int(utc_now().timestamp()))
    console.print(
        json.dumps({"meters": summary.meters, "rows": summary.rows, "kg_co2e": str(summary.kg_co2e)})
    )


@app.command("ingest-mqtt")
def ingest_mqtt(
    client_id: Annotated[str | None, typer.Option(help="MQTT client id (default: random)")] = None,
) -> None:
    """Run an ingest worker on TANHUI_MQTT_HOST:TANHUI_MQTT_PORT until interrupted."""
    settings = get_settings()
    engine = make_engine(settings.database_url)
    worker = MqttIngestWorker(
        engine,
        Ingestor(engine, utc_now),
        host=settings.mqtt_host,
        port=settings.mqtt_port,
        prefix=settings.mqtt_topic_prefix,
        client_id=client_id,
    )
    worker.start()
    console.print(
        f"ingesting {settings.mqtt_topic_prefix}/+/gw/+/up from {settings.mqtt_host}:{settings.mqtt_port}"
    )
    try:
        while True:
            time.sleep(10)
            stats = worker.stats
            console.print(
                f"messages {stats.messages} stored {stats.stored} duplicates {stats.duplicates} "
                f"quarantined {stats.quarantined}",
                highlight=False,
            )
    except KeyboardInterrupt:
        worker.stop()


@app.command()
def sim(
    households: Annotated[int, typer.Option(min=1, help="simulated households")] = 200,
    days: Annotated[int, typer.Option(min=1, help="simulated days, ending yesterday")] = 60,
    seed: Annotated[int, typer.Option(help="simulation seed")] = 20261125,
    via: Annotated[str, typer.Option(help="transport: http or mqtt")] = "http",
    url: Annotated[
        str, typer.Option(help="base URL of a running Tanhui (for --via http)")
    ] = "http://127.0.0.1:8000",
) -> None:
    """Simulate a county and publish its readings as its gateways would.

    The first run registers the county (community, households, meters, gateways) in the database named by
    TANHUI_DATABASE_URL and keeps the gateways' tokens in var/sim-gateways.json for later runs.
    """
    if via not in {"http", "mqtt"}:
        console.print("--via must be http or mqtt")
        raise typer.Exit(2)
    settings = get_settings()
    engine = make_engine(settings.database_url)
    migrate.upgrade(engine)
    county = build_county(
        seed=seed, households=households, start=demo_start(days), days=days, tz=DEMO_TIMEZONE
    )
    tokens_file = settings.data_dir.parent / "var" / "sim-gateways.json"
    with engine.connect() as conn:
        existing = registry.find_community(conn, DEMO_COMMUNITY)
    if existing is None:
        onboarded = onboard(engine, county, factor_set_id=DEFAULT_FACTOR_SET, now=int(utc_now().timestamp()))
        tokens_file.parent.mkdir(parents=True, exist_ok=True)
        tokens_file.touch(mode=0o600)
        tokens_file.write_text(json.dumps(onboarded.gateway_tokens), encoding="utf-8")
        for login in onboarded.logins:
            console.print(f"login: {login.role.value} {login.username} {login.password}", highlight=False)
    batches = list(envelopes(county))
    with Progress(
        TextColumn(f"publishing over {via}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("publish", total=len(batches))

        def advance(done: int) -> None:
            bar.update(task, completed=done)

        if via == "http":
            tokens = json.loads(tokens_file.read_text(encoding="utf-8"))
            totals = publish.over_http(url, batches, tokens, progress=advance)
            console.print(json.dumps(totals))
        else:
            count = publish.over_mqtt(
                settings.mqtt_host,
                settings.mqtt_port,
                settings.mqtt_topic_prefix,
                DEMO_COMMUNITY,
                batches,
                advance,
            )
            console.print(json.dumps({"envelopes_published": count}))


@app.command()
def decode(
    protocol: Annotated[str, typer.Option(help="dlt645, cjt188, dsmr or json")],
    frame: Annotated[str, typer.Argument(help="the frame as hex, or - to read it from standard input")] = "-",
) -> None:
    """Decode one frame and print it as JSON; on bad input print the broken rule and exit 2."""
    chosen = PROTOCOLS.get(protocol)
    if chosen is None:
        typer.echo(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}", err=True)
        raise typer.Exit(2)
    # Standard input is read as bytes: text mode would turn a DSMR telegram's CR LF into LF.
    raw = sys.stdin.buffer.read() if frame == "-" else frame.encode("utf-8")
    try:
        described = chosen.describe(input_bytes(raw, chosen))
    except MeterError as exc:
        typer.echo(exc.diagnostics())
        raise typer.Exit(2) from None
    typer.echo(json.dumps(described, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    app()
