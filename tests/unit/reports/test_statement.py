"""The household statement from usage and two factor sets: hand-worked figures and their explanation."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tanhui.accounting.account import Usage
from tanhui.accounting.regimes import DifferenceKind
from tanhui.domain.ids import HouseholdId, MeterId
from tanhui.domain.quantity import Quantity
from tanhui.reports.errors import ReportError
from tanhui.reports.statement import Statement, build_statement, month_bounds, statement_html
from tanhui.reports.translation import Formatter, locale_of
from tanhui.reports.wording import Wording
from tanhui.settings import Settings
from tanhui.store.factor_files import load_factor_sets

SETS = load_factor_sets(Settings().data_dir / "factors")
CN, EU = SETS["cn-hainan-2022@v1"], SETS["eu-eea-2023@v1"]
H = HouseholdId(7)


def _usage() -> list[Usage]:
    return [
        Usage(MeterId(1), H, Quantity.ELECTRICITY, date(2026, 2, 1), Decimal(10)),
        Usage(MeterId(1), H, Quantity.ELECTRICITY, date(2026, 2, 28), Decimal("5.5")),
        Usage(MeterId(2), H, Quantity.WATER, date(2026, 2, 1), Decimal("0.2")),
    ]


def _statement() -> Statement:
    return build_statement(
        _usage(),
        {MeterId(1): "E-1", MeterId(2): "W-1"},
        CN,
        EU,
        community="Baoting",
        community_zh="保亭",
        household="H7",
        month="2026-02",
        generated_on=date(2026, 3, 1),
    )


def test_month_bounds_know_february_and_refuse_other_spellings() -> None:
    assert month_bounds("2026-02") == (date(2026, 2, 1), date(2026, 2, 28))
    assert month_bounds("2028-12") == (date(2028, 12, 1), date(2028, 12, 31))
    with pytest.raises(ReportError) as bad:
        month_bounds("2026/02")
    assert bad.value.code == "bad_month"


def test_the_statement_prices_each_meter_under_both_sets() -> None:
    statement = _statement()
    electricity, water = statement.meters
    # 15.5 kWh x 0.4184 (MEE/NBS 2022, Hainan) and x 0.214 (EEA 2023); 0.2 m3 x 0.247 and x 0.36218.
    assert electricity.cn_kg == Decimal("6.48520") and electricity.eu_kg == Decimal("3.3170")
    assert water.cn_kg == Decimal("0.0494") and water.eu_kg == Decimal("0.072436")
    assert statement.cn_total_kg == Decimal("6.53460")
    assert statement.delta_kg == statement.eu_total_kg - statement.cn_total_kg
    assert [d.day for d in statement.days] == [date(2026, 2, 1), date(2026, 2, 28)]
    assert statement.days[0].cn_total == Decimal(10) * Decimal("0.4184") + Decimal("0.0494")
    kinds = {d.kind for d in electricity.differences}
    assert {DifferenceKind.FACTOR_VALUE, DifferenceKind.BASIS, DifferenceKind.DATA_YEAR} <= kinds
    assert {(f.factor_set_id, f.key) for f in statement.factors} == {
        ("cn-hainan-2022@v1", "electricity"),
        ("cn-hainan-2022@v1", "water"),
        ("eu-eea-2023@v1", "electricity"),
        ("eu-eea-2023@v1", "water"),
    }


def test_usage_outside_the_month_and_an_empty_month_are_refused() -> None:
    with pytest.raises(ReportError, match="outside 2026-03"):
        build_statement(
            _usage(), {}, CN, EU, community="B", community_zh="", household="H7", month="2026-03",
            generated_on=date(2026, 3, 1),
        )  # fmt: skip
    with pytest.raises(ReportError) as empty:
        build_statement(
            [], {}, CN, EU, community="B", community_zh="", household="H7", month="2026-02",
            generated_on=date(2026, 3, 1),
        )  # fmt: skip
    assert empty.value.code == "no_data"


def test_the_factor_difference_is_explained_with_its_arithmetic_in_each_language() -> None:
    electricity = _statement().meters[0]
    factor = next(d for d in electricity.differences if d.kind is DifferenceKind.FACTOR_VALUE)
    en, zh = (
        Wording(locale).difference(
            factor, amount=electricity.amount, unit="kWh", left_set=CN.id, right_set=EU.id
        )
        for locale in ("en", "zh_CN")
    )
    # 15.5 x (0.214 - 0.4184) = -3.16820 kg
    assert "15.500 kWh × (0.214 − 0.4184) = −3.168 kg" in en
    assert "排放因子" in zh and "−3.168" in zh


def test_numbers_and_dates_follow_the_locale() -> None:
    assert Formatter("en").number(Decimal("12345.678"), 2) == "12,345.68"
    assert Formatter("en").signed(Decimal("-0.125"), 2) == "−0.12"  # half-even
    assert Formatter("en").factor(Decimal("0.17700")) == "0.17700"
    assert Formatter("zh_CN").month(date(2026, 2, 1)) == "2026年2月"
    assert Formatter("en").month(date(2026, 2, 1)) == "February 2026"
    assert locale_of("zh-CN") == "zh_CN" and locale_of("en-GB") == "en" and locale_of(None) == "zh_CN"
    with pytest.raises(ReportError):
        locale_of("fr")


def test_the_html_escapes_what_comes_from_data() -> None:
    statement = _statement()
    hostile = build_statement(
        _usage(), {MeterId(1): "<script>x</script>"}, CN, EU, community="B", community_zh="",
        household="H7", month="2026-02", generated_on=date(2026, 3, 1),
    )  # fmt: skip
    assert "<script>x</script>" not in statement_html(hostile, "en")
    assert "&lt;script&gt;" in statement_html(hostile, "en")
    assert "E-1" in statement_html(statement, "zh_CN")
