"""The ``tanhui`` command line. Every command takes its database from ``TANHUI_DATABASE_URL``."""

from __future__ import annotations

import gc
import json
import os
import secrets
import signal
import socket
import sys
import threading
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine

from tanhui.cli import publish
from tanhui.cli.accounting_commands import register as register_accounting
from tanhui.cli.audit_commands import audit_app, merkle_app, note_app, verify_app, witness_app
from tanhui.cli.baseline_commands import baseline_app, weather_app
from tanhui.cli.database import command_engine
from tanhui.cli.demo import build_demo, demo_start
from tanhui.cli.health_commands import register as register_health
from tanhui.cli.insights_commands import insights_app
from tanhui.cli.inventory_commands import inventory_app, roadmap_app
from tanhui.cli.onboarding import IDENTITIES, onboard
from tanhui.cli.onboarding_commands import onboard_app
from tanhui.cli.points_commands import catalogue_app, ledger_app, merchants_app, points_app, vouchers_app
from tanhui.cli.report_commands import report_app
from tanhui.cli.server import BackgroundServer
from tanhui.clock import utc_now
from tanhui.domain.quantity import Quantity
from tanhui.ingest import actions, broker
from tanhui.ingest.broker import DEFAULT_SHARE_GROUP
from tanhui.ingest.mqtt import DEFAULT_BATCH_BYTES, DEFAULT_BATCH_SIZE, MqttIngestWorker
from tanhui.ingest.pipeline import Ingestor
from tanhui.jobs import compaction
from tanhui.jobs.accounting import account_community
from tanhui.meters.errors import MeterError
from tanhui.meters.protocols import PROTOCOLS, input_bytes
from tanhui.settings import get_settings
from tanhui.sim.county import CountyProtocol, build_county, envelopes
from tanhui.store import migrate, quarantine, registry
from tanhui.store import readings as readings_repo
from tanhui.store.factor_files import load_factor_sets
from tanhui.store.registry import Community
from tanhui.web.app import create_app

app = typer.Typer(help="Tanhui (碳惠): community carbon platform.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
quarantine_app = typer.Typer(
    help="Rejected payloads and readings: list, replay, discard.", no_args_is_help=True
)
app.add_typer(quarantine_app, name="quarantine")
meters_app = typer.Typer(help="Meters of a community.", no_args_is_help=True)
app.add_typer(meters_app, name="meters")
# Sub-command groups that live in their own modules register here, one line each.
# --- inventory, roadmap and report commands ---
app.add_typer(inventory_app, name="inventory")
app.add_typer(roadmap_app, name="roadmap")
app.add_typer(report_app, name="report")
# --- baseline and weather commands ---
app.add_typer(baseline_app, name="baseline")
app.add_typer(weather_app, name="weather")
# --- points ledger and voucher commands ---
app.add_typer(ledger_app, name="ledger")
app.add_typer(points_app, name="points")
app.add_typer(catalogue_app, name="catalogue")
app.add_typer(merchants_app, name="merchants")
app.add_typer(vouchers_app, name="vouchers")
# --- audit log, merkle, note, witness and verify commands ---
# --- insights commands ---
app.add_typer(insights_app, name="insights")
# --- web onboarding commands ---
app.add_typer(onboard_app, name="onboard")
app.add_typer(audit_app, name="audit")
app.add_typer(merkle_app, name="merkle")
app.add_typer(note_app, name="note")
app.add_typer(witness_app, name="witness")
app.add_typer(verify_app, name="verify")


def _community(engine: Engine, slug: str) -> Community:
    with engine.connect() as conn:
        found = registry.find_community(conn, slug)
    if found is None:
        console.print(f"no community {slug!r}")
        raise typer.Exit(2)
    return found


console = Console()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations to the database named by TANHUI_DATABASE_URL, and create due partitions."""
    engine = command_engine()
    migrate.upgrade(engine)
    with engine.begin() as conn:
        created = readings_repo.maintain_partitions(conn, now=int(utc_now().timestamp()))
    console.print(f"database is at the latest schema; {len(created)} partitions created")


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
    engine = command_engine(settings.database_url)
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
            f"metered days: {summary.days}\n"
            f"history meter-months: {summary.history_months}\n"
            f"readings stored: {summary.readings_stored}\n"
            f"quarantined: {summary.quarantined}\n"
            f"total kg CO2e: {summary.kg_co2e.quantize(1)}\n"
            f"total kg CO2e, European factors: {summary.kg_co2e_european.quantize(1)}\n"
            f"baselines eligible: {summary.baselines_eligible}\n"
            f"avoided kg CO2e counted: {summary.avoided_kg_counted.quantize(1)}\n"
            f"points period: {summary.points_period}\n"
            f"points issued: {summary.points_issued}\n"
            f"points redeemed: {summary.points_redeemed}\n"
            f"vouchers: {summary.vouchers}\n"
            f"alerts raised: {summary.alerts}",
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
    engine = command_engine(settings.database_url)
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
    client_id: Annotated[
        str | None,
        typer.Option(
            help="MQTT client id: the worker's persistent session. Keep it stable across restarts and "
            "unique among workers (default: tanhui-ingest-<host name>)"
        ),
    ] = None,
    mqtt_username: Annotated[str | None, typer.Option(help="the worker's MQTT user name")] = None,
    mqtt_password: Annotated[str | None, typer.Option(help="the worker's MQTT password")] = None,
    group: Annotated[
        str, typer.Option(help="shared-subscription group of the workers")
    ] = DEFAULT_SHARE_GROUP,
    batch_size: Annotated[int, typer.Option(min=1, help="envelopes taken from the queue at once")] = (
        DEFAULT_BATCH_SIZE
    ),
    batch_bytes: Annotated[
        int, typer.Option(min=1, help="payload bytes taken into one transaction (at least one envelope)")
    ] = DEFAULT_BATCH_BYTES,
) -> None:
    """Run an ingest worker on TANHUI_MQTT_HOST:TANHUI_MQTT_PORT until interrupted (Ctrl-C or SIGTERM).

    Start N workers with N different client ids to split the load; each keeps its session, so a worker
    restarted under the same id picks up the messages that arrived while it was down.
    """
    settings = get_settings()
    engine = command_engine(settings.database_url)
    # Ingest allocates about one tracked object per reading and makes almost no reference cycles; at
    # CPython's default first-generation threshold (700) the collector ran every ~1,000 readings and took
    # 0.45 µs of the worker's ~3 µs per reading (MQTT benchmark). Collect every 100,000 allocations instead
    # (a few per second), and keep what start-up loaded out of the collector's scans.
    gc.set_threshold(100_000, 20, 20)
    gc.freeze()
    worker = MqttIngestWorker(
        engine,
        Ingestor(engine, utc_now),
        host=settings.mqtt_host,
        port=settings.mqtt_port,
        prefix=settings.mqtt_topic_prefix,
        client_id=client_id or f"tanhui-ingest-{socket.gethostname()}",
        username=mqtt_username,
        password=mqtt_password,
        group=group,
        batch_size=batch_size,
        batch_bytes=batch_bytes,
    )
    stop = threading.Event()
    # systemd and container runtimes stop a service with SIGTERM: finish the envelope in hand first.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    worker.start()
    console.print(f"connecting to {settings.mqtt_host}:{settings.mqtt_port}", highlight=False)
    try:
        while not worker.subscribed.wait(1):
            if stop.is_set():
                break
        if worker.subscribed.is_set():
            console.print(f"subscribed to {worker.topic_filter}", highlight=False)
        while not stop.wait(10):
            stats = worker.stats
            console.print(
                f"messages {stats.messages} stored {stats.stored} duplicates {stats.duplicates} "
                f"quarantined {stats.quarantined} deferred {stats.deferred} retries {stats.retries} "
                f"failed {stats.failed}",
                highlight=False,
            )
    except KeyboardInterrupt:
        pass
    finally:
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
    protocol: Annotated[
        CountyProtocol,
        typer.Option(help="json readings; baoting: DL/T 645 and CJ/T 188 frames; dsmr: a European town"),
    ] = CountyProtocol.JSON,
) -> None:
    """Simulate a county and publish its readings as its gateways would.

    The first run registers the county (community, households, meters, gateways) in the database named by
    TANHUI_DATABASE_URL and keeps the gateways' tokens in var/sim-gateways.json for later runs.
    """
    if via not in {"http", "mqtt"}:
        console.print("--via must be http or mqtt")
        raise typer.Exit(2)
    settings = get_settings()
    engine = command_engine(settings.database_url)
    migrate.upgrade(engine)
    county = build_county(
        seed=seed, households=households, start=demo_start(days), days=days, protocol=protocol
    )
    identity = IDENTITIES[protocol]
    tokens_file = settings.data_dir.parent / "var" / f"sim-gateways-{identity.slug}.json"
    with engine.connect() as conn:
        existing = registry.find_community(conn, identity.slug)
    if existing is None:
        onboarded = onboard(
            engine, county, factor_set_id=identity.factor_set_id, now=int(utc_now().timestamp())
        )
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

        tokens = json.loads(tokens_file.read_text(encoding="utf-8"))
        if via == "http":
            totals = publish.over_http(url, batches, tokens, progress=advance)
            console.print(json.dumps(totals))
        else:
            try:
                count = publish.over_mqtt(
                    settings.mqtt_host,
                    settings.mqtt_port,
                    settings.mqtt_topic_prefix,
                    identity.slug,
                    batches,
                    tokens,
                    advance,
                )
            except publish.PublishError as exc:
                console.print(str(exc), highlight=False)
                raise typer.Exit(1) from None
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


@app.command("broker-config")
def broker_config(
    out: Annotated[Path, typer.Option(help="directory to write passwd, acl and mosquitto.conf into")],
    port: Annotated[int, typer.Option(min=1, max=65535, help="the broker's port on 127.0.0.1")] = 1883,
    worker_password_file: Annotated[
        Path | None,
        typer.Option(
            help="file holding the ingest workers' MQTT password; created with a random one when missing "
            "(default: OUT/ingest-worker.password)"
        ),
    ] = None,
    worker_username: Annotated[
        str, typer.Option(help="the ingest workers' MQTT user name")
    ] = broker.DEFAULT_WORKER_USERNAME,
) -> None:
    """Write Mosquitto's password file, ACL file and configuration from the gateway registry.

    Every gateway logs in with its name and token and may publish only to its own uplink topic; the
    ingest workers may only read the uplink topics. Run it again after registering gateways, then send
    the broker SIGHUP to reload the password and ACL files.
    """
    settings = get_settings()
    engine = command_engine(settings.database_url)
    with engine.connect() as conn:
        gateways = registry.gateway_credentials(conn)
    engine.dispose()
    out = out.resolve()
    password_path = (worker_password_file or out / "ingest-worker.password").resolve()
    if password_path.exists():
        worker_password = password_path.read_text(encoding="utf-8").strip()
        if not worker_password:
            console.print(f"{password_path} is empty; delete it to get a new random password")
            raise typer.Exit(2)
    else:
        worker_password = secrets.token_urlsafe(32)
        password_path.parent.mkdir(parents=True, exist_ok=True)
        _write_private(password_path, worker_password + "\n", 0o600)
    accounts = [
        broker.GatewayAccount(g.name, g.community_slug, g.mqtt_password_hash)
        for g in gateways
        if g.mqtt_password_hash is not None
    ]
    without_password = [g.name for g in gateways if g.mqtt_password_hash is None]
    worker_hash = broker.password_hash(worker_password, secrets.token_bytes(broker.SALT_BYTES))
    try:
        files = broker.config_files(
            accounts,
            directory=out,
            port=port,
            prefix=settings.mqtt_topic_prefix,
            worker_username=worker_username,
            worker_password_hash=worker_hash,
        )
    except broker.BrokerConfigError as exc:
        console.print(str(exc), highlight=False)
        raise typer.Exit(2) from exc
    (out / "data").mkdir(parents=True, exist_ok=True)
    # The password file readable by the broker's group (chgrp mosquitto), not by everyone: the hashes
    # guard the tokens.
    for name, text in files.items():
        _write_private(out / name, text, 0o640 if name == "passwd" else 0o644)
    console.print(
        f"wrote {out / 'mosquitto.conf'}, passwd and acl: {len(accounts)} gateways, worker user "
        f"{worker_username!r} (password in {password_path})",
        highlight=False,
    )
    if without_password:
        console.print(
            f"left out {len(without_password)} gateways without an MQTT password (issue them a new "
            f"token): {', '.join(without_password)}",
            highlight=False,
        )


def _write_private(path: Path, text: str, mode: int) -> None:
    # Created with its final mode, so a secret is never readable by others, not even for a moment, and
    # renamed into place, so a broker reloading on SIGHUP never reads half a file.
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    partial.replace(path)


@quarantine_app.command("list")
def quarantine_list(
    community: Annotated[str, typer.Option(help="community slug")] = "baoting",
    reason: Annotated[str | None, typer.Option(help="only this reason")] = None,
    status: Annotated[str, typer.Option(help="open, replayed, discarded or all")] = "open",
    meter: Annotated[str | None, typer.Option(help="only this meter serial")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """List quarantined entries, newest first."""
    engine = command_engine()
    found = _community(engine, community)
    with engine.connect() as conn:
        rows = quarantine.entries(
            conn,
            found.id,
            reason=reason,
            status=None if status == "all" else status,
            meter_serial=meter,
            limit=limit,
        )
    for e in rows:
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "id": e.id,
                        "reason": e.reason,
                        "meter": e.meter_serial,
                        "status": e.status,
                        "received_at": e.received_at,
                        "message": e.message,
                    },
                    ensure_ascii=False,
                )
            )
        else:
            typer.echo(f"{e.id}\t{e.status}\t{e.reason}\t{e.meter_serial or '-'}\t{e.message}")


@quarantine_app.command("replay")
def quarantine_replay(
    entry_ids: Annotated[list[int], typer.Argument(help="entry ids")],
    community: Annotated[str, typer.Option(help="community slug")] = "baoting",
) -> None:
    """Run entries through the checks again; each closes as replayed when it passes."""
    engine = command_engine()
    found = _community(engine, community)
    ingestor = Ingestor(engine, utc_now)
    failed = 0
    for entry_id in entry_ids:
        try:
            outcome = actions.replay(engine, ingestor, found.id, entry_id, operator="cli")
        except actions.ActionError as exc:
            typer.echo(f"{entry_id}: {exc.diagnostics()}")
            failed += 1
            continue
        if outcome.accepted:
            typer.echo(f"{entry_id}: accepted, {outcome.stored} stored, {outcome.duplicates} duplicates")
        else:
            failed += 1
            typer.echo(f"{entry_id}: still refused: {'; '.join(outcome.messages)}")
    raise typer.Exit(1 if failed else 0)


@quarantine_app.command("discard")
def quarantine_discard(
    entry_id: Annotated[int, typer.Argument(help="entry id")],
    note: Annotated[str, typer.Option(help="why it is discarded")],
    community: Annotated[str, typer.Option(help="community slug")] = "baoting",
) -> None:
    """Close an entry without storing it; its raw bytes stay in quarantine."""
    engine = command_engine()
    found = _community(engine, community)
    try:
        actions.discard(engine, found.id, entry_id, operator="cli", note=note)
    except actions.ActionError as exc:
        typer.echo(exc.diagnostics())
        raise typer.Exit(1) from None


@meters_app.command("add")
def meters_add(
    serial: Annotated[str, typer.Argument(help="the meter's address or serial")],
    kind: Annotated[Quantity, typer.Option(help="electricity, water or gas")],
    household: Annotated[str, typer.Option(help="household code")],
    resolution: Annotated[str, typer.Option(help="register resolution, e.g. 0.01")],
    capacity: Annotated[int, typer.Option(help="register counts at which it wraps, e.g. 100000000")],
    protocol: Annotated[str, typer.Option(help="json, dlt645, cjt188 or dsmr")] = "json",
    installed_on: Annotated[str | None, typer.Option(help="ISO date (default today)")] = None,
    gateway: Annotated[str | None, typer.Option(help="the only gateway that may forward it")] = None,
    community: Annotated[str, typer.Option(help="community slug")] = "baoting",
) -> None:
    """Register a meter (e.g. the unknown meter of a quarantine entry), then replay the entry."""
    engine = command_engine()
    found = _community(engine, community)
    try:
        meter_id = actions.register_meter(
            engine,
            found.id,
            operator="cli",
            serial=serial,
            kind=kind,
            household_code=household,
            protocol=protocol,
            resolution=Decimal(resolution),
            capacity=capacity,
            installed_on=date.fromisoformat(installed_on) if installed_on else utc_now().date(),
            gateway_name=gateway,
        )
    except actions.ActionError as exc:
        typer.echo(exc.diagnostics())
        raise typer.Exit(1) from None
    typer.echo(f"meter {serial} registered as {meter_id}")


@meters_app.command("replace")
def meters_replace(
    serial: Annotated[str, typer.Argument(help="the installed meter's serial")],
    on: Annotated[str, typer.Option(help="ISO date of the replacement")],
    new_serial: Annotated[str | None, typer.Option(help="the new meter's serial (default: the same)")] = None,
    resolution: Annotated[str | None, typer.Option(help="the new register's resolution")] = None,
    capacity: Annotated[int | None, typer.Option(help="the new register's capacity in counts")] = None,
    community: Annotated[str, typer.Option(help="community slug")] = "baoting",
) -> None:
    """Replace a meter: the old one is removed that day; the new one starts from its own register."""
    engine = command_engine()
    found = _community(engine, community)
    try:
        meter_id = actions.replace_meter(
            engine,
            found.id,
            operator="cli",
            serial=serial,
            replaced_on=date.fromisoformat(on),
            new_serial=new_serial,
            resolution=Decimal(resolution) if resolution else None,
            capacity=capacity,
        )
    except actions.ActionError as exc:
        typer.echo(exc.diagnostics())
        raise typer.Exit(1) from None
    typer.echo(f"meter {new_serial or serial} installed as {meter_id} from {on}")


@app.command()
def compact() -> None:
    """Pack closed days of readings, recompress their raw payloads and keep the monthly partitions ready
    (run it daily)."""
    summary = compaction.compact(command_engine(), now=int(utc_now().timestamp()))
    console.print(
        json.dumps(
            {
                "readings_packed": summary.readings,
                "days_written": summary.days_written,
                "days_merged": summary.days_merged,
                "duplicates_dropped": summary.duplicates,
                "partitions_created": list(summary.partitions_created),
                "partitions_dropped": list(summary.partitions_dropped),
                "payloads_recompressed": summary.batches_recompressed,
            }
        )
    )


register_accounting(app)
register_health(app)


if __name__ == "__main__":
    app()
