"""``tanhui factors list|show`` and ``tanhui footprint``: hand checks of factor sets and footprints.

The commands read the factor sets from ``<data_dir>/factors`` and print what a verifier needs to redo
a footprint by hand: every factor with its value, unit, gas basis, method and source. ``footprint``
prints one JSON object with every amount as a decimal string. Bad input exits 2 naming the rule.

``register(app)`` adds the commands to the main ``tanhui`` application.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import typer

from tanhui.accounting.factors import Factor, FactorSet
from tanhui.accounting.footprint import decimal_text, factor_text, line
from tanhui.domain.errors import TanhuiError
from tanhui.domain.quantity import Quantity
from tanhui.settings import get_settings
from tanhui.store.factor_files import load_factor_sets

factors_app = typer.Typer(
    help="Emission-factor sets: list them, show one with its sources.", no_args_is_help=True
)


def _sets() -> dict[str, FactorSet]:
    return load_factor_sets(get_settings().data_dir / "factors")


def _chosen(set_id: str) -> FactorSet:
    sets = _sets()
    found = sets.get(set_id)
    if found is None:
        typer.echo(f"unknown factor set {set_id!r}; choose one of {', '.join(sorted(sets))}", err=True)
        raise typer.Exit(2)
    return found


def _set_summary(factor_set: FactorSet) -> dict[str, Any]:
    residual = factor_set.residual()
    return {
        "id": factor_set.id,
        "regime": factor_set.regime,
        "year": factor_set.year,
        "valid_from": factor_set.valid_from.isoformat(),
        "valid_to": factor_set.valid_to.isoformat(),
        "name": factor_set.name,
        "name_zh": factor_set.name_zh,
        "content_hash": factor_set.content_hash,
        "market_based": residual is not None,
        "market_based_unavailable": factor_set.market_based_unavailable or None,
    }


def _source(factor: Factor) -> dict[str, Any]:
    return {
        "publisher": factor.source.publisher,
        "document": factor.source.document,
        "year": factor.source.year,
    }


def _factor_detail(factor: Factor) -> dict[str, Any]:
    return {
        "key": factor.key,
        "quantity": factor.quantity.value,
        "value": factor_text(factor.value),
        "unit": factor.unit,
        "basis": factor.basis,
        "gwp": factor.gwp,
        "method": factor.method,
        "geography": factor.geography,
        "derivation": factor.derivation,
        "components": list(factor.components),
        "source": {
            **_source(factor),
            "table": factor.source.table,
            "published": factor.source.published,
            "confidence": factor.source.confidence,
            "notes": factor.source.notes,
        },
    }


@factors_app.command("list")
def factors_list(
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON array instead of a table")] = False,
) -> None:
    """Every factor set: id, regime, data year and the consumption dates it applies to."""
    sets = sorted(_sets().values(), key=lambda s: s.id)
    if as_json:
        typer.echo(json.dumps([_set_summary(s) for s in sets], ensure_ascii=False, indent=2))
        return
    for s in sets:
        market = "market-based" if s.residual() else "location-based only"
        typer.echo(f"{s.id:<22} {s.regime}  {s.year}  {s.valid_from}..{s.valid_to}  {market}  {s.name}")


@factors_app.command("show")
def factors_show(
    set_id: Annotated[str, typer.Argument(metavar="ID", help="factor set id, e.g. cn-mee-2023@v1")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of text")] = False,
) -> None:
    """One factor set's factors, each with its basis, method and source."""
    factor_set = _chosen(set_id)
    if as_json:
        body = {**_set_summary(factor_set), "notes": factor_set.notes}
        body["factors"] = [_factor_detail(f) for f in factor_set.entries.values()]
        typer.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    typer.echo(f"{factor_set.id}  ({factor_set.regime}, data year {factor_set.year})")
    typer.echo(f"  {factor_set.name}")
    if factor_set.name_zh:
        typer.echo(f"  {factor_set.name_zh}")
    typer.echo(f"  applies to consumption from {factor_set.valid_from} to {factor_set.valid_to}")
    typer.echo(f"  content hash {factor_set.content_hash}")
    if factor_set.market_based_unavailable:
        typer.echo(f"  market-based: unavailable: {factor_set.market_based_unavailable}")
    if factor_set.notes:
        typer.echo(f"  notes: {factor_set.notes}")
    for f in factor_set.entries.values():
        src = f.source
        typer.echo("")
        typer.echo(
            f"{f.key}: {factor_text(f.value)} {f.unit}  [{f.basis_label}, {f.method}, {src.confidence}]"
        )
        if f.geography:
            typer.echo(f"  geography:  {f.geography}")
        if f.derivation:
            typer.echo(f"  derivation: {f.derivation}")
        typer.echo(f"  source:     {src.publisher}, {src.document} ({src.year})")
        if src.table:
            typer.echo(f"  table:      {src.table}")
        if src.notes:
            typer.echo(f"  notes:      {src.notes}")


def _amount(option: str, text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        typer.echo(f"{option}: {text!r} is not a decimal number", err=True)
        raise typer.Exit(2) from None
    if not value.is_finite() or value < 0:
        typer.echo(f"{option}: {text!r} must be a finite number of at least 0", err=True)
        raise typer.Exit(2)
    return value


def footprint(
    factor_set_id: Annotated[str, typer.Option("--factor-set", help="factor set id, e.g. cn-mee-2023@v1")],
    electricity_kwh: Annotated[
        str | None, typer.Option("--electricity-kwh", help="grid electricity, kWh")
    ] = None,
    gas_m3: Annotated[str | None, typer.Option("--gas-m3", help="piped natural gas, m3")] = None,
    water_m3: Annotated[str | None, typer.Option("--water-m3", help="tap water, m3")] = None,
) -> None:
    """Footprint of the given amounts under one factor set, as one JSON object.

    Each line is amount x the quantity's primary factor (location-based for electricity), with the
    factor's source; amounts and kg are decimal strings.
    """
    factor_set = _chosen(factor_set_id)
    given = [
        (Quantity.ELECTRICITY, "--electricity-kwh", electricity_kwh),
        (Quantity.GAS, "--gas-m3", gas_m3),
        (Quantity.WATER, "--water-m3", water_m3),
    ]
    amounts = [(q, _amount(option, text)) for q, option, text in given if text is not None]
    if not amounts:
        typer.echo("nothing to account: give --electricity-kwh, --gas-m3 or --water-m3", err=True)
        raise typer.Exit(2)
    lines = []
    total = Decimal(0)
    for quantity, amount in amounts:
        try:
            result = line(factor_set, quantity, amount)
        except TanhuiError as exc:
            typer.echo(exc.diagnostics(), err=True)
            raise typer.Exit(2) from None
        total += result.kg_co2e
        lines.append(
            {
                "quantity": quantity.value,
                "amount": decimal_text(amount),
                "unit": quantity.unit,
                "factor": factor_text(result.factor.value),
                "factor_unit": result.factor.unit,
                "kg_co2e": decimal_text(result.kg_co2e),
                "source": _source(result.factor),
            }
        )
    body = {"factor_set": factor_set.id, "lines": lines, "total_kg_co2e": decimal_text(total)}
    typer.echo(json.dumps(body, ensure_ascii=False, indent=2))


def register(app: typer.Typer) -> None:
    """Add ``factors list|show`` and ``footprint`` to ``app`` (the ``tanhui`` command)."""
    app.add_typer(factors_app, name="factors")
    app.command("footprint")(footprint)
