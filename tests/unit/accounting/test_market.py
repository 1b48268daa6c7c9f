"""Certificates: size, eligibility, beneficiary, and that no kWh is ever counted twice."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tanhui.accounting.market import (
    AllocationRule,
    Beneficiary,
    Certificate,
    CertificateError,
    CertificateRegister,
    Demand,
    Scheme,
    allocate,
)
from tanhui.domain.ids import CommunityId, HouseholdId, MeterId

H1, H2 = HouseholdId(1), HouseholdId(2)
M1, M2 = MeterId(11), MeterId(21)
COMMUNITY = CommunityId(7)
DAY = date(2026, 3, 1)


def gec(serial: str, mwh: int = 1, *, to: Beneficiary | None = None, vintage: int = 2026) -> Certificate:
    return Certificate(
        serial, Scheme.GEC, vintage, Decimal(mwh), to or Beneficiary.household(H1), date(2026, 3, 2)
    )


def test_one_gec_and_one_go_cover_1000_kwh() -> None:
    # 发改能源〔2023〕1044号: 1 GEC = 1,000 kWh; (EU) 2018/2001 Art. 19: 1 GO = 1 MWh.
    assert gec("A").kwh == Decimal(1000)
    go = Certificate("GO-1", Scheme.GO, 2026, Decimal(3), Beneficiary.household(H1), DAY)
    assert go.kwh == Decimal(3000)


@pytest.mark.parametrize(
    ("mwh", "vintage", "retired", "serial"),
    [
        ("0.5", 2026, date(2026, 3, 1), "A"),
        ("0", 2026, date(2026, 3, 1), "A"),
        ("1", 2027, date(2026, 3, 1), "A"),
        ("1", 2026, date(2026, 3, 1), " "),
    ],
)
def test_malformed_certificates_are_refused(mwh: str, vintage: int, retired: date, serial: str) -> None:
    with pytest.raises(CertificateError) as caught:
        Certificate(serial, Scheme.GEC, vintage, Decimal(mwh), Beneficiary.household(H1), retired)
    assert caught.value.code == "certificate_invalid"


def test_covered_kwh_are_claimed_and_the_rest_left() -> None:
    demands = [Demand(H1, M1, DAY, Decimal(600)), Demand(H1, M1, date(2026, 3, 2), Decimal(700))]
    result = allocate(demands, [gec("A")], regime="cn", report="r1")
    assert result.covered_kwh(M1, DAY) == Decimal(600)
    assert result.covered_kwh(M1, date(2026, 3, 2)) == Decimal(400)  # 1,000 kWh, earliest day first
    assert result.register.claimed_kwh("A") == Decimal(1000)
    assert [c.report for c in result.claims] == ["r1", "r1"]


def test_the_same_certificate_listed_twice_is_refused() -> None:
    with pytest.raises(CertificateError, match="listed twice") as caught:
        allocate([Demand(H1, M1, DAY, Decimal(1))], [gec("A"), gec("A")], regime="cn", report="r1")
    assert caught.value.code == "certificate_double_use"


def test_a_certificate_used_up_by_one_report_covers_nothing_in_the_next() -> None:
    first = allocate([Demand(H1, M1, DAY, Decimal(1000))], [gec("A")], regime="cn", report="2026-03")
    second = allocate(
        [Demand(H1, M1, date(2026, 4, 1), Decimal(500))],
        [gec("A")],
        regime="cn",
        report="2026-04",
        register=first.register,
    )
    assert second.covered_kwh(M1, date(2026, 4, 1)) == 0
    assert second.register.claimed_kwh("A") == Decimal(1000)


def test_recomputing_a_report_replaces_its_own_claims() -> None:
    demands = [Demand(H1, M1, DAY, Decimal(800))]
    first = allocate(demands, [gec("A")], regime="cn", report="2026-03")
    again = allocate(demands, [gec("A")], regime="cn", report="2026-03", register=first.register)
    assert again.register == first.register


def test_a_register_refuses_a_claim_beyond_the_certificate() -> None:
    register = allocate([Demand(H1, M1, DAY, Decimal(900))], [gec("A")], regime="cn", report="a").register
    extra = allocate([Demand(H1, M1, DAY, Decimal(900))], [gec("A")], regime="cn", report="b").claims
    with pytest.raises(CertificateError, match="never counted twice") as caught:
        register.record(extra, {"A": gec("A")})
    assert caught.value.code == "certificate_double_use"


def test_a_household_certificate_never_covers_another_household() -> None:
    demands = [Demand(H2, M2, DAY, Decimal(500))]
    result = allocate(demands, [gec("A")], regime="cn", report="r")
    assert result.covered_kwh(M2, DAY) == 0
    with pytest.raises(CertificateError, match="not in this account") as caught:
        allocate(demands, [gec("A")], regime="cn", report="r", households=frozenset({H2}))
    assert caught.value.code == "certificate_beneficiary"


def test_a_community_certificate_needs_its_community() -> None:
    cert = gec("C", to=Beneficiary.community(COMMUNITY))
    with pytest.raises(CertificateError, match="community 7"):
        allocate([Demand(H1, M1, DAY, Decimal(1))], [cert], regime="cn", report="r")
    with pytest.raises(CertificateError, match="not for community 8"):
        allocate(
            [Demand(H1, M1, DAY, Decimal(1))], [cert], regime="cn", report="r", community_id=CommunityId(8)
        )


def test_a_certificate_counts_only_in_its_own_market_and_vintage() -> None:
    demands = [Demand(H1, M1, DAY, Decimal(500))]
    other_market = allocate(demands, [gec("A")], regime="eu", report="r")
    assert other_market.covered_kwh(M1, DAY) == 0
    assert [(r.serial, r.code) for r in other_market.rejected] == [("A", "certificate_other_market")]
    old = allocate(demands, [gec("B", vintage=2025)], regime="cn", report="r")
    assert [r.code for r in old.rejected] == ["certificate_vintage"]
    widened = allocate(
        demands,
        [gec("B", vintage=2025)],
        regime="cn",
        report="r",
        rule=AllocationRule(max_vintage_lag_years=1),
    )
    assert widened.covered_kwh(M1, DAY) == Decimal(500) and widened.rejected == ()


def test_household_certificates_go_first_then_the_community_shares_pro_rata() -> None:
    demands = [Demand(H1, M1, DAY, Decimal(1500)), Demand(H2, M2, DAY, Decimal(500))]
    own = gec("H1-A", to=Beneficiary.household(H1))
    shared = gec("C-A", to=Beneficiary.community(COMMUNITY))
    result = allocate(demands, [own, shared], regime="cn", report="r", community_id=COMMUNITY)
    # H1 has 500 kWh left after its own 1,000; H2 500: the community's 1,000 kWh cover both.
    assert result.covered_kwh(M1, DAY) == Decimal(1500)
    assert result.covered_kwh(M2, DAY) == Decimal(500)
    short = allocate(
        [Demand(H1, M1, DAY, Decimal(1500)), Demand(H2, M2, DAY, Decimal(500))],
        [shared],
        regime="cn",
        report="r",
        community_id=COMMUNITY,
    )
    # 1,000 kWh shared 3:1.
    assert (short.covered_kwh(M1, DAY), short.covered_kwh(M2, DAY)) == (Decimal(750), Decimal(250))


@given(
    needs=st.lists(st.decimals(min_value=0, max_value=5000, places=2), min_size=1, max_size=8),
    mwh=st.integers(1, 10),
)
def test_community_shares_never_exceed_the_certificates_or_the_needs(needs: list[Decimal], mwh: int) -> None:
    demands = [Demand(HouseholdId(i), MeterId(100 + i), DAY, n) for i, n in enumerate(needs)]
    cert = Certificate("C", Scheme.GEC, 2026, Decimal(mwh), Beneficiary.community(COMMUNITY), DAY)
    result = allocate(demands, [cert], regime="cn", report="r", community_id=COMMUNITY)
    covered = [result.covered_kwh(d.meter_id, DAY) for d in demands]
    assert all(0 <= c <= d.kwh for c, d in zip(covered, demands, strict=True))
    assert sum(covered) == result.register.claimed_kwh("C") <= cert.kwh
    # Nothing is left uncovered while certificate kWh remain (beyond one watt-hour per household).
    assert sum(covered) >= min(sum(needs), cert.kwh) - Decimal("0.001") * len(needs)


def test_an_empty_register_has_no_claims() -> None:
    assert CertificateRegister().claimed_kwh("A") == 0
