"""``tanhui ledger|points|catalogue|merchants|vouchers``: the points ledger from a terminal.

- ``ledger check`` verifies the ledger's invariants on TANHUI_DATABASE_URL; it exits 1 naming the first
  violation (every violation is listed), 0 when the ledger is sound.
- ``points issue`` runs the issuance job for a community and month; ``points expire`` expires posted
  points beyond the rule's window and releases timed-out voucher holds; ``points settlement`` writes a
  merchant's settlement report (CSV).
- ``merchants add``, ``catalogue add|list`` manage partners and rewards; ``vouchers validate`` accepts a
  voucher at a merchant.

Bad input exits 2 naming the rule; a refused ledger operation exits 1 with its status code.
"""

from __future__ import annotations

import csv
import json
import uuid
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Connection, Engine

from tanhui.clock import utc_now
from tanhui.domain.ids import CommunityId
from tanhui.jobs.issuance import AvoidedSource, baseline_source, issue_period
from tanhui.points import voucher as codes
from tanhui.points.catalogue import Reward, RewardKind
from tanhui.points.errors import PointsError
from tanhui.points.issuance import AvoidedEmissions
from tanhui.points.rules import RuleSet, parse_period, parse_rules, period_bounds
from tanhui.points.settlement import settlement_csv, settlement_html
from tanhui.settings import get_settings
from tanhui.store import catalogue, ledger, registry, users, vouchers
from tanhui.store.engine import make_engine
from tanhui.store.registry import Community

ledger_app = typer.Typer(help="The points ledger: check its invariants.", no_args_is_help=True)
points_app = typer.Typer(help="Carbon points: issue, expire, settle.", no_args_is_help=True)
catalogue_app = typer.Typer(help="The rewards catalogue.", no_args_is_help=True)
merchants_app = typer.Typer(help="Partner merchants.", no_args_is_help=True)
vouchers_app = typer.Typer(help="Vouchers: validate at a merchant.", no_args_is_help=True)

CommunityOption = Annotated[str, typer.Option("--community", help="community slug")]


def _engine() -> Engine:
    return make_engine(get_settings().database_url)


def _now() -> int:
    return int(utc_now().timestamp())


def _community(conn: Connection, slug: str) -> Community:
    found = registry.find_community(conn, slug)
    if found is None:
        typer.echo(f"no community {slug!r}; give --community with a registered slug", err=True)
        raise typer.Exit(2)
    return found


def _merchant(conn: Connection, community_id: CommunityId, slug: str) -> int:
    found = catalogue.find_merchant(conn, community_id, slug)
    if found is None:
        typer.echo(f"no merchant {slug!r}; add it with `tanhui merchants add`", err=True)
        raise typer.Exit(2)
    return found


def load_rules(path: Path | None = None) -> RuleSet:
    """The rule set in ``path`` (default ``<data_dir>/points/rules.toml``)."""
    chosen = path or get_settings().data_dir / "points" / "rules.toml"
    try:
        return parse_rules(chosen.read_text(encoding="utf-8"))
    except (OSError, PointsError) as exc:
        typer.echo(f"cannot load rules from {chosen}: {exc}", err=True)
        raise typer.Exit(2) from None


def _fail(exc: PointsError) -> typer.Exit:
    typer.echo(exc.diagnostics(), err=True)
    return typer.Exit(1)


@ledger_app.command("check")
def ledger_check() -> None:
    """Verify: balances equal their transfers, balances sum to zero, no household below zero, no pool
    overspent. Exits 1 naming the first violation."""
    engine = _engine()
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                # One snapshot for every query, so concurrent transfers cannot look like a violation.
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                violations = ledger.check(conn)
    finally:
        engine.dispose()
    if violations:
        typer.echo(f"ledger check failed: {violations[0]}")
        for more in violations[1:]:
            typer.echo(f"  also: {more}")
        raise typer.Exit(1)
    typer.echo("ledger sound: balances equal transfers, sum to zero, none below zero, no pool overspent")


def _csv_source(path: Path, community_id: CommunityId, conn: Connection) -> AvoidedSource:
    figures: dict[int, tuple[int, bool, bool]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            household = registry.household_by_code(conn, community_id, row["household"])
            if household is None:
                typer.echo(f"{path}: unknown household {row['household']!r}", err=True)
                raise typer.Exit(2)
            figures[household] = (
                int(row["avoided_g_co2e"]),
                row.get("data_quality_ok", "true").lower() == "true",
                row.get("baseline_eligible", "true").lower() == "true",
            )

    def source(_conn: Connection, household_id: int, first: date, _last: date) -> AvoidedEmissions | None:
        found = figures.get(household_id)
        if found is None:
            return None
        return AvoidedEmissions(household_id, f"{first:%Y-%m}", *found, evidence=f"file:{path.name}")

    return source


@points_app.command("issue")
def points_issue(
    community: CommunityOption,
    period: Annotated[str, typer.Option(help="month to issue, YYYY-MM")],
    rules_file: Annotated[
        Path | None, typer.Option("--rules", help="rule file (default data/points/rules.toml)")
    ] = None,
    avoided: Annotated[
        Path | None,
        typer.Option(
            help="CSV of verified avoided emissions (household, avoided_g_co2e, data_quality_ok, "
            "baseline_eligible) instead of the baseline store"
        ),
    ] = None,
) -> None:
    """Issue a month's points for verified avoided emissions; running it again pays nobody twice."""
    rules = load_rules(rules_file)
    try:
        parse_period(period)
    except PointsError as exc:
        typer.echo(exc.diagnostics(), err=True)
        raise typer.Exit(2) from None
    engine = _engine()
    try:
        with engine.begin() as conn:
            found = _community(conn, community)
            source = _csv_source(avoided, found.id, conn) if avoided else baseline_source(found.factor_set_id)
            summary = issue_period(conn, found.id, period, rules, source, now=_now())
    except PointsError as exc:
        raise _fail(exc) from None
    finally:
        engine.dispose()
    typer.echo(json.dumps(asdict(summary)))


@points_app.command("expire")
def points_expire(
    community: CommunityOption,
    as_of: Annotated[str | None, typer.Option(help="ISO date (default today, UTC)")] = None,
    rules_file: Annotated[Path | None, typer.Option("--rules", help="rule file")] = None,
) -> None:
    """Expire posted points older than the rule's window, and void voucher holds that timed out."""
    rules = load_rules(rules_file)
    day = date.fromisoformat(as_of) if as_of else utc_now().date()
    now = _now()
    engine = _engine()
    try:
        with engine.begin() as conn:
            found = _community(conn, community)
            holds = vouchers.release_expired_holds(conn, found.id, now=now)
            households, points = ledger.expire_points(
                conn, found.id, months=rules.expiry_months, rule_version=rules.version, as_of=day, now=now
            )
    except PointsError as exc:
        raise _fail(exc) from None
    finally:
        engine.dispose()
    typer.echo(
        json.dumps({"holds_released": holds, "households_expired": households, "points_expired": points})
    )


@points_app.command("settlement")
def points_settlement(
    community: CommunityOption,
    merchant: Annotated[str, typer.Option(help="merchant slug")],
    period: Annotated[str, typer.Option(help="month, YYYY-MM")],
    out: Annotated[Path | None, typer.Option(help="write the CSV here (default: standard output)")] = None,
    pdf: Annotated[Path | None, typer.Option(help="also write the report as PDF here")] = None,
) -> None:
    """A merchant's settlement report: the vouchers it validated in the month, with the points owed."""
    try:
        since, until = period_bounds(period)
    except PointsError as exc:
        typer.echo(exc.diagnostics(), err=True)
        raise typer.Exit(2) from None
    engine = _engine()
    try:
        with engine.connect() as conn:
            found = _community(conn, community)
            merchant_id = _merchant(conn, found.id, merchant)
            lines = vouchers.settlement(conn, merchant_id, since=since, until=until)
            _, name_zh, name_en, _ = catalogue.merchant_names(conn, found.id)[merchant_id]
    finally:
        engine.dispose()
    if pdf is not None:
        from tanhui.reports.rendering import html_to_pdf  # noqa: PLC0415 - WeasyPrint loads slowly

        pdf.write_bytes(html_to_pdf(settlement_html(name_zh, name_en, period, lines)))
    text = settlement_csv(lines)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}: {len(lines)} vouchers")


@merchants_app.command("add")
def merchants_add(
    slug: Annotated[str, typer.Argument(help="short name, e.g. betel-nut-valley")],
    name_zh: Annotated[str, typer.Option(help="name in Chinese")],
    name_en: Annotated[str, typer.Option(help="name in English")],
    community: CommunityOption = "baoting",
    demo: Annotated[bool, typer.Option("--demo/--real", help="label it as demo data")] = True,
    staff: Annotated[
        list[str] | None, typer.Option(help="username with the merchant role (repeatable)")
    ] = None,
) -> None:
    """Register a partner merchant and, optionally, the users who validate its vouchers."""
    engine = _engine()
    try:
        with engine.begin() as conn:
            found = _community(conn, community)
            merchant_id = catalogue.create_merchant(
                conn, found.id, slug=slug, name_zh=name_zh, name_en=name_en, demo=demo, now=_now()
            )
            for username in staff or []:
                user = users.credentials(conn, username)
                if user is None or user[0].role.value != "merchant":
                    typer.echo(f"{username!r} is not a user with the merchant role", err=True)
                    raise typer.Exit(2)
                catalogue.add_staff(conn, merchant_id, user[0].id)
    finally:
        engine.dispose()
    typer.echo(f"merchant {slug} registered as {merchant_id}")


@catalogue_app.command("add")
def catalogue_add(
    merchant: Annotated[str, typer.Option(help="merchant slug")],
    kind: Annotated[RewardKind, typer.Option(help="ticket or discount")],
    name_zh: Annotated[str, typer.Option(help="name in Chinese")],
    name_en: Annotated[str, typer.Option(help="name in English")],
    price: Annotated[int, typer.Option(help="price in points")],
    stock: Annotated[int, typer.Option(help="vouchers available")],
    valid_from: Annotated[str, typer.Option(help="ISO date")],
    valid_until: Annotated[str, typer.Option(help="ISO date")],
    terms_zh: Annotated[str, typer.Option(help="terms in Chinese")] = "",
    terms_en: Annotated[str, typer.Option(help="terms in English")] = "",
    ttl: Annotated[int | None, typer.Option(help="voucher validity in seconds (default: the rules')")] = None,
    community: CommunityOption = "baoting",
    demo: Annotated[bool, typer.Option("--demo/--real", help="label it as demo data")] = True,
) -> None:
    """Add a reward to the catalogue."""
    rules = load_rules()
    engine = _engine()
    try:
        with engine.begin() as conn:
            found = _community(conn, community)
            reward = Reward(
                0,
                _merchant(conn, found.id, merchant),
                kind,
                name_zh,
                name_en,
                terms_zh,
                terms_en,
                price,
                stock,
                date.fromisoformat(valid_from),
                date.fromisoformat(valid_until),
                ttl or rules.voucher_ttl_seconds,
                demo,
                True,
            )
            reward_id = catalogue.create_reward(conn, found.id, reward, now=_now())
    except PointsError as exc:
        typer.echo(exc.diagnostics(), err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    typer.echo(f"reward {reward_id} added")


@catalogue_app.command("list")
def catalogue_list(
    community: CommunityOption = "baoting",
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """The rewards of a community, with price, stock and validity."""
    engine = _engine()
    try:
        with engine.connect() as conn:
            found = _community(conn, community)
            rewards = catalogue.list_rewards(conn, found.id)
    finally:
        engine.dispose()
    for r in rewards:
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "id": r.id,
                        "merchant_id": r.merchant_id,
                        "kind": r.kind.value,
                        "name_zh": r.name_zh,
                        "name_en": r.name_en,
                        "price_points": r.price_points,
                        "stock": r.stock,
                        "valid_from": r.valid_from.isoformat(),
                        "valid_until": r.valid_until.isoformat(),
                        "demo": r.demo,
                        "active": r.active,
                    },
                    ensure_ascii=False,
                )
            )
        else:
            label = " [demo]" if r.demo else ""
            typer.echo(
                f"{r.id}\t{r.kind.value}\t{r.price_points} pts\tstock {r.stock}\t"
                f"{r.valid_from}..{r.valid_until}\t{r.name_zh} / {r.name_en}{label}"
            )


@vouchers_app.command("validate")
def vouchers_validate(
    code: Annotated[str, typer.Argument(help="the voucher code, e.g. 7G2K-0QXM-3TNB-A9HF")],
    merchant: Annotated[str, typer.Option(help="merchant slug")],
    community: CommunityOption = "baoting",
    attempt: Annotated[
        str | None, typer.Option(help="idempotency key of this validation (default: new)")
    ] = None,
) -> None:
    """Accept a voucher at a merchant: its points are posted to the merchant, once."""
    engine = _engine()
    try:
        with engine.begin() as conn:
            found = _community(conn, community)
            result = vouchers.validate(
                conn,
                found.id,
                merchant_id=_merchant(conn, found.id, merchant),
                code=code,
                attempt=attempt or uuid.uuid4().hex,
                key=codes.key_from_secret(get_settings().secret_key),
                now=_now(),
            )
    except PointsError as exc:
        raise _fail(exc) from None
    finally:
        engine.dispose()
    typer.echo(f"voucher {result.id:010x} redeemed: {result.points} points, reward {result.reward_id}")


@dataclass(frozen=True, slots=True)
class DemoPoints:
    issued: int
    redeemed: int
    held: int
    vouchers: int
    merchants: dict[str, int]  # slug -> merchant id


def demo_points(
    conn: Connection,
    community_id: CommunityId,
    *,
    period: str,
    avoided_g: dict[int, int],
    data_dir: Path,
    secret_key: str,
    now: int,
    today: date,
    redeem_every: int = 3,
) -> DemoPoints:
    """Seed the demo: the demo catalogue (labelled demo), a month's issuance, some vouchers redeemed.

    ``avoided_g`` gives each household's verified avoided emissions in g CO2e for ``period`` (from the
    baseline store once it exists). Every ``redeem_every``-th household that can afford the cheapest
    reward redeems it, and every second such voucher is validated by its merchant, so the demo shows
    open and redeemed vouchers. Safe to run twice (the catalogue and issuance are not duplicated).
    """
    import tomllib  # noqa: PLC0415 - only the demo reads this file

    doc = tomllib.loads((data_dir / "points" / "demo-catalogue.toml").read_text(encoding="utf-8"))
    rules = parse_rules((data_dir / "points" / "rules.toml").read_text(encoding="utf-8"))
    first, last = parse_period(period)
    offers: list[tuple[int, int, int]] = []  # (price, reward id, merchant id)
    merchant_ids: dict[str, int] = {}
    for m in doc["merchants"]:
        merchant_id = catalogue.find_merchant(conn, community_id, m["slug"])
        if merchant_id is None:
            merchant_id = catalogue.create_merchant(
                conn,
                community_id,
                slug=m["slug"],
                name_zh=m["name_zh"],
                name_en=m["name_en"],
                demo=True,
                now=now,
            )
            reward_id = catalogue.create_reward(
                conn,
                community_id,
                Reward(
                    0,
                    merchant_id,
                    RewardKind(m["reward_kind"]),
                    m["reward_zh"],
                    m["reward_en"],
                    m["terms_zh"],
                    m["terms_en"],
                    m["price_points"],
                    m["stock"],
                    first,
                    date(last.year + 1, 12, 31),
                    rules.voucher_ttl_seconds,
                    True,
                    True,
                ),
                now=now,
            )
            offers.append((m["price_points"], reward_id, merchant_id))
        merchant_ids[m["slug"]] = merchant_id

    def source(_conn: Connection, household_id: int, start: date, _end: date) -> AvoidedEmissions | None:
        grams = avoided_g.get(household_id)
        if grams is None:
            return None
        return AvoidedEmissions(household_id, f"{start:%Y-%m}", grams, True, True, evidence="demo")

    issue_period(conn, community_id, period, rules, source, now=now)
    key = codes.key_from_secret(secret_key)
    made = 0
    if offers:
        price, reward_id, merchant_id = min(offers)
        for n, household_id in enumerate(sorted(avoided_g)):
            if n % redeem_every:
                continue
            account = ledger.household_account(conn, community_id, household_id, now=now)
            voucher_id = (household_id << 8 | 1) & ((1 << codes.ID_BITS) - 1) or 1
            affordable = ledger.get_account(conn, account).available >= price
            if not affordable or vouchers.get_voucher(conn, voucher_id, key) is not None:
                continue
            issued = vouchers.redeem(
                conn,
                community_id,
                household_id=household_id,
                reward_id=reward_id,
                voucher_id=voucher_id,
                key=key,
                now=now,
                today=today,
            )
            made += 1
            if made % 2:
                vouchers.validate(
                    conn,
                    community_id,
                    merchant_id=merchant_id,
                    code=issued.code,
                    attempt="demo",
                    key=key,
                    now=now,
                )
    totals = ledger.totals(conn, community_id)
    return DemoPoints(totals.issued, totals.redeemed, totals.held, made, merchant_ids)
