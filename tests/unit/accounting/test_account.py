"""Household and community accounts: per meter, day and month; location- and market-based."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tanhui.accounting.account import Account, Totals, Usage, community_account, household_account
from tanhui.accounting.errors import AccountingError
from tanhui.accounting.market import Beneficiary, Certificate, CertificateRegister, Scheme
from tanhui.domain.ids import CommunityId, HouseholdId, MeterId
from tanhui.domain.quantity import Quantity
from tanhui.store.factor_files import load_factor_sets

SETS = load_factor_sets(Path(__file__).resolve().parents[3] / "data" / "factors")
CN, HAINAN, EU = SETS["cn-mee-2023@v1"], SETS["cn-hainan-2022@v1"], SETS["eu-eea-2023@v1"]
H = HouseholdId(1)
ELEC, GAS, WATER = MeterId(11), MeterId(12), MeterId(13)
COMMUNITY = CommunityId(7)
START = date(2026, 3, 1)


def _days(first: date, count: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(count)]


def _electricity(kwh_per_day: str, days: int = 61) -> list[Usage]:
    return [Usage(ELEC, H, Quantity.ELECTRICITY, d, Decimal(kwh_per_day)) for d in _days(START, days)]


def gec(serial: str, mwh: int, to: Beneficiary, vintage: int = 2026) -> Certificate:
    return Certificate(serial, Scheme.GEC, vintage, Decimal(mwh), to, date(2026, 5, 10))


def test_location_based_per_day_and_month_hand_worked() -> None:
    # 20 kWh a day, 1 March to 30 April 2026, at 0.5306 kg CO2/kWh (MEE/NBS 2023 national).
    account = household_account(_electricity("20"), CN, report="h1/2026-03..04")
    assert account.by_day()[START].location_kg == Decimal("10.6120")  # 20 x 0.5306
    months = account.by_month()
    assert months["2026-03"].location_kg == Decimal("328.9720")  # 31 x 20 = 620 kWh
    assert months["2026-04"].location_kg == Decimal("318.3600")  # 30 x 20 = 600 kWh
    assert account.total.location_kg == Decimal("647.3320")  # 1,220 kWh
    assert account.factor_set_id == "cn-mee-2023@v1" and account.factor_set_hash == CN.content_hash


def test_market_based_with_one_gec_hand_worked() -> None:
    # One GEC (1,000 kWh) retired for the household covers March's 620 kWh and 380 of April's 600;
    # the other 220 kWh take the residual 0.6096 (MEE/NBS 2023 excluding market-traded non-fossil).
    account = household_account(
        _electricity("20"),
        CN,
        report="h1/2026-03..04",
        certificates=[gec("GEC-1", 1, Beneficiary.household(H))],
    )
    months = account.by_month()
    assert months["2026-03"] == Totals(Decimal("328.9720"), Decimal("0.0000"), Decimal(620))
    assert months["2026-04"].market_kg == Decimal("134.1120")  # 220 x 0.6096
    assert months["2026-04"].covered_kwh == Decimal(380)
    assert account.total.market_kg == Decimal("134.1120")
    assert account.holds_certificates()
    assert {c.serial for c in account.claims} == {"GEC-1"}
    assert account.register.claimed_kwh("GEC-1") == Decimal(1000)


def test_without_certificates_market_based_is_the_residual_on_every_kwh() -> None:
    # Hainan: location 0.4184, residual (national) 0.5856 -> market above location: a residual mix at work.
    account = household_account(_electricity("10", 1), HAINAN, report="r")
    assert account.total == Totals(Decimal("4.1840"), Decimal("5.8560"), Decimal(0))
    assert not account.holds_certificates()


def test_gas_and_water_enter_both_methods_alike() -> None:
    usage = [
        Usage(GAS, H, Quantity.GAS, START, Decimal("1.5")),
        Usage(WATER, H, Quantity.WATER, START, Decimal("0.4")),
    ]
    account = household_account(usage, CN, report="r")
    by_meter = account.by_meter()
    assert by_meter[GAS] == Totals(Decimal("3.2430"), Decimal("3.2430"))  # 1.5 x 2.162
    assert by_meter[WATER] == Totals(Decimal("0.0988"), Decimal("0.0988"))  # 0.4 x 0.247


def test_a_meter_may_be_priced_with_another_factor_of_the_set() -> None:
    usage = [
        Usage(ELEC, H, Quantity.ELECTRICITY, START, Decimal(100)),
        Usage(GAS, H, Quantity.GAS, START, Decimal(15), unit="kg"),
    ]
    account = household_account(
        usage, SETS["cn-mee-2022@v1"], report="r", factor_keys={ELEC: "electricity-hainan", GAS: "lpg"}
    )
    by_meter = account.by_meter()
    assert by_meter[ELEC].location_kg == Decimal("41.8400")  # 100 kWh x 0.4184 (Hainan 2022)
    assert by_meter[GAS].location_kg == Decimal("46.995")  # one 15 kg LPG cylinder x 3.133
    assert [x.unit for x in account.lines] == ["kWh", "kg"]


def test_a_set_without_a_residual_reports_market_based_as_unavailable() -> None:
    account = household_account(_electricity("10", 2), EU, report="r")
    assert account.total.market_kg is None and account.total.location_kg == Decimal("4.280")
    assert "AIB" in account.market_unavailable
    with pytest.raises(AccountingError) as caught:
        household_account(
            _electricity("10", 2),
            EU,
            report="r",
            certificates=[Certificate("GO-1", Scheme.GO, 2026, Decimal(1), Beneficiary.household(H), START)],
        )
    assert caught.value.code == "market_unavailable"


@pytest.mark.parametrize(
    ("usage", "code"),
    [
        ([Usage(ELEC, H, Quantity.ELECTRICITY, date(2024, 12, 31), Decimal(1))], "outside_validity"),
        ([Usage(ELEC, H, Quantity.ELECTRICITY, START, Decimal(-1))], "negative_amount"),
        ([Usage(ELEC, H, Quantity.ELECTRICITY, START, Decimal(1))] * 2, "duplicate_usage"),
        (
            [
                Usage(ELEC, H, Quantity.ELECTRICITY, START, Decimal(1)),
                Usage(ELEC, H, Quantity.WATER, START + timedelta(days=1), Decimal(1)),
            ],
            "inconsistent_meter",
        ),
        (
            [
                Usage(ELEC, H, Quantity.ELECTRICITY, START, Decimal(1)),
                Usage(GAS, HouseholdId(2), Quantity.GAS, START, Decimal(1)),
            ],
            "several_households",
        ),
    ],
)
def test_bad_usage_is_refused_naming_the_rule(usage: list[Usage], code: str) -> None:
    with pytest.raises(AccountingError) as caught:
        household_account(usage, CN, report="r")
    assert caught.value.code == code


def test_a_gas_meter_in_m3_cannot_be_priced_per_kg_of_lpg() -> None:
    usage = [Usage(GAS, H, Quantity.GAS, START, Decimal(15))]
    with pytest.raises(AccountingError) as caught:
        household_account(usage, CN, report="r", factor_keys={GAS: "lpg"})
    assert caught.value.code == "unit_mismatch"


def test_a_residual_factor_cannot_price_location_based_consumption() -> None:
    with pytest.raises(AccountingError) as caught:
        household_account(_electricity("1", 1), CN, report="r", factor_keys={ELEC: "electricity-residual"})
    assert caught.value.code == "factor_method_mismatch"


# --- properties -------------------------------------------------------------------------------------

AMOUNTS = st.decimals(min_value=0, max_value=80, places=2)


@st.composite
def community_usage(draw: st.DrawFn) -> list[Usage]:
    households = draw(st.integers(1, 4))
    days = draw(st.integers(1, 40))
    first = draw(st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 11, 1)))
    usage = []
    for h in range(1, households + 1):
        for kind, quantity in enumerate(Quantity):
            if kind and not draw(st.booleans()):
                continue  # every household has electricity; gas and water sometimes
            meter = MeterId(h * 10 + kind)
            for d in _days(first, days):
                usage.append(Usage(meter, HouseholdId(h), quantity, d, draw(AMOUNTS)))
    return usage


@st.composite
def certificates(draw: st.DrawFn) -> list[Certificate]:
    found = []
    for i in range(draw(st.integers(0, 4))):
        household = draw(st.integers(0, 4))
        to = (
            Beneficiary.community(COMMUNITY)
            if household == 0
            else Beneficiary.household(HouseholdId(household))
        )
        vintage = draw(st.integers(2025, 2027))
        found.append(
            Certificate(
                f"GEC-{i}", Scheme.GEC, vintage, Decimal(draw(st.integers(1, 2))), to, date(vintage, 12, 31)
            )
        )
    return found


def _sum(totals: list[Totals]) -> Totals:
    result = Totals()
    for t in totals:
        result = result + t
    return result


@settings(max_examples=60, deadline=None)
@given(usage=community_usage(), offered=certificates())
def test_the_community_total_is_the_sum_of_its_households(
    usage: list[Usage], offered: list[Certificate]
) -> None:
    account = community_account(usage, CN, community_id=COMMUNITY, report="c", certificates=offered)
    parts = [account.household(h) for h in account.households()]
    assert _sum([p.total for p in parts]) == account.total
    assert _sum(list(account.by_household().values())) == account.total
    assert _sum(list(account.by_month().values())) == account.total
    assert _sum(list(account.by_meter().values())) == account.total
    # Each household's location-based footprint does not depend on the others.
    for h in account.households():
        alone = household_account([u for u in usage if u.household_id == h], CN, report=f"h{h}")
        assert alone.total.location_kg == account.household(h).total.location_kg
    # With only household certificates, separate household accounts add up to the community's.
    own = [c for c in offered if c.retired_for.kind.value == "household"]
    whole = community_account(usage, CN, community_id=COMMUNITY, report="c", certificates=own)
    separate = [
        household_account(
            [u for u in usage if u.household_id == h],
            CN,
            report=f"h{h}",
            certificates=[c for c in own if c.retired_for.id == h],
        ).total
        for h in whole.households()
    ]
    assert _sum(separate) == whole.total


def _split(account_of: list[Usage], cut: date, offered: list[Certificate]) -> tuple[Account, Account]:
    early = [u for u in account_of if u.day < cut]
    late = [u for u in account_of if u.day >= cut]
    first = community_account(early, CN, community_id=COMMUNITY, report="part-1", certificates=offered)
    second = community_account(
        late, CN, community_id=COMMUNITY, report="part-2", certificates=offered, register=first.register
    )
    return first, second


@settings(max_examples=60, deadline=None)
@given(usage=community_usage(), offered=certificates(), cut_index=st.integers(0, 40))
def test_splitting_a_period_and_summing_the_parts_equals_the_whole(
    usage: list[Usage], offered: list[Certificate], cut_index: int
) -> None:
    days = sorted({u.day for u in usage})
    cut = days[min(cut_index, len(days) - 1)]
    whole = community_account(usage, CN, community_id=COMMUNITY, report="whole", certificates=offered)
    first, second = _split(usage, cut, offered)
    assert first.total + second.total == whole.total
    assert {**first.by_day(), **second.by_day()} == whole.by_day()
    # The certificates are claimed for the same kWh either way, and never beyond their size.
    for cert in offered:
        assert second.register.claimed_kwh(cert.serial) == whole.register.claimed_kwh(cert.serial) <= cert.kwh


@settings(max_examples=30, deadline=None)
@given(usage=community_usage(), offered=certificates())
def test_no_certificate_kwh_is_counted_twice_across_reports(
    usage: list[Usage], offered: list[Certificate]
) -> None:
    first = community_account(usage, CN, community_id=COMMUNITY, report="a", certificates=offered)
    again = community_account(
        usage, CN, community_id=COMMUNITY, report="b", certificates=offered, register=first.register
    )
    for cert in offered:
        assert again.register.claimed_kwh(cert.serial) <= cert.kwh
    assert first.total.covered_kwh + again.total.covered_kwh <= sum((c.kwh for c in offered), Decimal(0))


def test_an_empty_register_is_the_default() -> None:
    assert household_account([], CN, report="r").register == CertificateRegister()
