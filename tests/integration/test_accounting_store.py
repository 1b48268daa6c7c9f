"""Daily accounting through the store: intervals once, priced under any set, results that never move."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import Engine, select

from tanhui.accounting import months
from tanhui.accounting.footprint import to_milligrams
from tanhui.cli.onboarding import onboard
from tanhui.domain.quantity import Quantity
from tanhui.ingest.pipeline import Ingestor
from tanhui.jobs.accounting import account_community, derive_intervals, price_community
from tanhui.settings import Settings
from tanhui.sim.county import County, build_county, envelopes, truth
from tanhui.store import footprints, intervals, registry
from tanhui.store.factor_files import load_factor_sets
from tanhui.store.intervals import MonthRow
from tanhui.store.schema import footprint_months

FACTORS = load_factor_sets(Settings().data_dir / "factors")


def _county(engine: Engine) -> tuple[County, dict[str, int], int]:
    county = build_county(seed=5, households=5, start=date(2026, 1, 29), days=6)
    onboarded = onboard(engine, county, factor_set_id="cn-mee-2023@v1", now=0, passwords={"operator": "x"})
    ingestor = Ingestor(engine, lambda: datetime(2026, 2, 10, tzinfo=UTC))
    with engine.connect() as conn:
        gateways = {g.name: registry.gateway_by_name(conn, g.name) for g in county.gateways}
    for name, payload in envelopes(county, max_readings=500):
        gateway = gateways[name]
        assert gateway is not None
        assert ingestor.ingest(payload, gateway=gateway, transport="http").quarantined == 0
    return county, dict(onboarded.households), int(onboarded.community_id)


def test_results_match_decimal_pricing_and_households_sum_to_the_community(engine: Engine) -> None:
    county, households, community_id = _county(engine)
    cn = FACTORS["cn-mee-2023@v1"]
    with engine.begin() as conn:
        summary = account_community(conn, community_id, cn, now=1)
    known = truth(county)
    household_totals = 0
    with engine.connect() as conn:
        for code, household_id in households.items():
            lines = footprints.household_days(conn, household_id, cn.id)
            got = {(line.day, line.kind): line for line in lines}
            for quantity in Quantity:
                for day, amount in known.daily(code, quantity):  # the period spans January and February
                    line = got[day, quantity.value]
                    assert Decimal(line.amount_micro) / 1_000_000 == amount
            household_totals += sum(line.co2e_mg for line in lines)
        community = footprints.community_total_mg(conn, community_id, cn.id)
        by_day: defaultdict[tuple[date, str], int] = defaultdict(int)
        for line in footprints.community_days(conn, community_id, cn.id):
            by_day[line.day, line.kind] += line.co2e_mg
    assert household_totals == community == sum(by_day.values())
    assert Decimal(community) / 1_000_000 == summary.kg_co2e
    # Each meter-day is rounded to whole mg exactly as the Decimal path rounds it.
    with engine.connect() as conn:
        expected = 0
        for row in intervals.of_community(conn, community_id):
            factor = cn.factor(Quantity(row.kind)).value
            for _, micro in months.daily(row.month, months.unpack(row.month, row.days)):
                expected += to_milligrams(Decimal(micro) / 1_000_000 * factor)
    assert community == expected


def test_a_second_factor_set_never_changes_the_first_result(engine: Engine) -> None:
    _, _, community_id = _county(engine)
    cn, eu = FACTORS["cn-mee-2023@v1"], FACTORS["eu-eea-2023@v1"]
    with engine.begin() as conn:
        derive_intervals(conn, community_id, now=1)
        first = price_community(conn, community_id, cn, now=1)
    with engine.connect() as conn:
        before = conn.execute(select(footprint_months).where(footprint_months.c.factor_set_id == cn.id)).all()
    with engine.begin() as conn:
        price_community(conn, community_id, eu, now=2)
        again = price_community(conn, community_id, cn, now=3)  # recomputing gives the same figures
    with engine.connect() as conn:
        after = conn.execute(select(footprint_months).where(footprint_months.c.factor_set_id == cn.id)).all()
        hashes = set(
            conn.execute(select(footprint_months.c.factor_set_id, footprint_months.c.factor_set_hash))
        )
    assert [r._mapping["co2e_mg"] for r in before] == [r._mapping["co2e_mg"] for r in after]
    assert first.total_mg == again.total_mg > 0
    assert hashes == {(cn.id, cn.content_hash), (eu.id, eu.content_hash)}
    assert set(first.seconds) == {"read", "price", "write"}


def test_intervals_do_not_depend_on_the_factor_set_and_are_replaced_not_added(engine: Engine) -> None:
    _, _, community_id = _county(engine)
    with engine.begin() as conn:
        one = derive_intervals(conn, community_id, now=1)
        rows_one = intervals.of_community(conn, community_id)
        two = derive_intervals(conn, community_id, now=2)
        rows_two = intervals.of_community(conn, community_id)
    assert one == two
    assert rows_one == rows_two
    assert {r.month for r in rows_one} == {date(2026, 1, 1), date(2026, 2, 1)}


def test_the_streamed_table_holds_every_stored_month_whatever_the_chunk_size(engine: Engine) -> None:
    _, _, community_id = _county(engine)
    with engine.begin() as conn:
        derive_intervals(conn, community_id, now=1)
        stored = {
            (r.meter_id, r.month, r.household_id, r.kind): months.unpack(r.month, r.days).tolist()
            for r in intervals.of_community(conn, community_id)
        }
        for chunk_rows in (1, 3, 1000):
            streamed = {}
            for table in intervals.tables_of_community(conn, community_id, chunk_rows=chunk_rows):
                assert 0 < len(table) <= chunk_rows
                for i in range(len(table)):
                    key = (
                        int(table.meter_id[i]),
                        table.first_day(i),
                        int(table.household_id[i]),
                        months.KINDS[int(table.kind[i])].value,
                    )
                    streamed[key] = table.values[i].tolist()
            assert streamed == stored


def test_imported_history_fills_only_days_the_meters_never_covered(engine: Engine) -> None:
    county, households, community_id = _county(engine)  # metered 29 January to 3 February 2026
    code = next(iter(households))
    with engine.begin() as conn:
        derive_intervals(conn, community_id, now=1)
        meter = next(
            r for r in intervals.of_community(conn, community_id) if r.household_id == households[code]
        )
        # Billing history for January, claiming 7 kWh (or m3) on every day, metered days included.
        history = {date(2026, 1, d): 7_000_000 for d in range(1, 32)}
        january = months.group(history)[date(2026, 1, 1)]
        written = intervals.add_history(
            conn,
            [
                MonthRow(
                    meter.meter_id, date(2026, 1, 1), meter.household_id, meter.kind, months.pack(january), 0
                )
            ],
            now=2,
        )
        assert written == 1
        derive_intervals(conn, community_id, now=3)  # a recompute from readings keeps the history days
        stored = {
            (r.meter_id, r.month): dict(months.daily(r.month, months.unpack(r.month, r.days)))
            for r in intervals.of_community(conn, community_id)
        }
    days = stored[meter.meter_id, date(2026, 1, 1)]
    metered = {d: v for d, v in days.items() if d >= county.start}
    assert {d: v for d, v in days.items() if d < county.start} == {
        d: 7_000_000 for d in history if d < county.start
    }
    assert metered and all(v != 7_000_000 for v in metered.values())
