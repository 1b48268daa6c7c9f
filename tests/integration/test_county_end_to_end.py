"""A simulated county through the real pipeline: the platform must find exactly what the simulator knows.

Readings are on the hour, so every local day's consumption is a whole number of register steps; the
accounting must reproduce the simulator's ground truth per household, day and quantity, on both engines.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import Engine

from tanhui.cli.onboarding import onboard
from tanhui.domain.quantity import Quantity
from tanhui.ingest.pipeline import Ingestor
from tanhui.jobs.accounting import account_community
from tanhui.settings import Settings
from tanhui.sim.county import build_county, envelopes, truth
from tanhui.store import footprints, registry
from tanhui.store.factor_files import load_factor_sets

MICRO = Decimal(1_000_000)


def test_accounting_reproduces_the_simulated_truth(engine: Engine) -> None:
    county = build_county(seed=11, households=6, start=date(2026, 6, 1), days=5, rollover_share=0.2)
    factor_set = load_factor_sets(Settings().data_dir / "factors")["cn-mee-2023@v1"]
    onboarded = onboard(engine, county, factor_set_id=factor_set.id, now=0, passwords={"operator": "x"})
    ingestor = Ingestor(engine, lambda: datetime(2026, 6, 10, tzinfo=UTC))
    with engine.connect() as conn:
        gateways = {g.name: registry.gateway_by_name(conn, g.name) for g in county.gateways}
    for name, payload in envelopes(county, max_readings=400):
        gateway = gateways[name]
        assert gateway is not None
        result = ingestor.ingest(payload, gateway=gateway, transport="http")
        assert result.quarantined == 0
    with engine.begin() as conn:
        summary = account_community(conn, onboarded.community_id, factor_set, now=0)
    assert summary.rejected_steps == 0
    assert summary.rollovers >= 1  # the county was drawn with registers close to capacity
    expected_total = Decimal(0)
    known = truth(county)
    with engine.connect() as conn:
        for code, household_id in onboarded.households.items():
            stored: dict[tuple[date, str], Decimal] = {
                (line.day, line.kind): Decimal(line.amount_micro) / MICRO
                for line in footprints.household_days(conn, household_id, factor_set.id)
            }
            for quantity in Quantity:
                for day, amount in known.daily(code, quantity):
                    assert stored.get((day, quantity.value), Decimal(0)) == amount, (code, quantity, day)
                    expected_total += amount * factor_set.factor(quantity).value
    # Each stored row rounds its emissions to whole milligrams, so the totals may differ by 0.5 mg a row.
    assert abs(summary.kg_co2e - expected_total) <= Decimal("0.0000005") * summary.rows
