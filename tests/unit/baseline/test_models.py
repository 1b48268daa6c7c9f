from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pytest

from tanhui.baseline.calendar import day_types
from tanhui.baseline.daily import fit_daily
from tanhui.baseline.errors import BaselineError
from tanhui.baseline.gbm import fit_gbm
from tanhui.baseline.metrics import cv_rmse
from tanhui.baseline.record import ModelRecord
from tanhui.baseline.rules import BaselineRules
from tanhui.baseline.selection import fold_of_day, select
from tanhui.baseline.series import DailySeries, HourlySeries
from tanhui.baseline.towt import fit_towt

from .conftest import cooling_series


@pytest.mark.parametrize(("balance", "slope"), [(22.0, 0.5), (24.0, 0.8), (26.0, 1.5)])
def test_the_daily_model_recovers_balance_point_and_slope(
    rules: BaselineRules, balance: float, slope: float
) -> None:
    fit = fit_daily(cooling_series(balance=balance, slope=slope), rules)
    assert fit.record.params["model_type"] == "cdd_only"
    assert fit.cooling_balance_c is not None
    assert abs(fit.cooling_balance_c - balance) <= 1.0
    assert fit.coefficients["cdd"] == pytest.approx(slope, rel=0.15)
    assert fit.coefficients["intercept"] == pytest.approx(5.0, abs=0.4)


def test_the_daily_model_finds_heating_and_cooling(rules: BaselineRules) -> None:
    rng = np.random.default_rng(5)
    t = 15 + 12 * np.sin(2 * np.pi * np.arange(365) / 365) + rng.normal(0, 2, 365)
    u = 8 + 0.6 * np.maximum(12 - t, 0) + 0.9 * np.maximum(t - 20, 0) + rng.normal(0, 0.3, 365)
    fit = fit_daily(DailySeries(date(2025, 1, 1), u, t), rules)
    assert fit.record.params["model_type"] == "hdd_cdd"
    assert fit.heating_balance_c == pytest.approx(12, abs=1.5)
    assert fit.cooling_balance_c == pytest.approx(20, abs=1.5)


def test_weather_free_usage_gets_the_intercept_model(rules: BaselineRules) -> None:
    rng = np.random.default_rng(2)
    t = 24 + 5 * np.sin(2 * np.pi * np.arange(365) / 365)
    fit = fit_daily(DailySeries(date(2025, 1, 1), 3 + rng.normal(0, 0.2, 365), t), rules)
    assert fit.record.params["model_type"] == "intercept_only"


def test_days_off_are_a_term_of_their_own(rules: BaselineRules) -> None:
    # Spring Festival 2025 (Jan 28 – Feb 4) and weekends are off; 2025-01-26 (Sunday) is a make-up workday.
    series = cooling_series(noise=0.05)
    dt = day_types(series.days, "CN")
    assert dt.make_up[series.index_of(date(2025, 1, 26))] == 1.0
    assert dt.day_off[series.index_of(date(2025, 1, 29))] == 1.0
    fit = fit_daily(series.with_usage(series.usage + 1.5 * dt.day_off), rules)
    assert fit.coefficients["day_off"] == pytest.approx(1.5, abs=0.1)


def test_a_fit_records_version_parameters_and_window(rules: BaselineRules) -> None:
    series = cooling_series()
    record = fit_daily(series, rules).record
    assert (record.name, record.version) == ("caltrack-daily", "1.1.0")
    assert (record.train_first, record.train_last) == (date(2025, 1, 1), date(2025, 12, 31))
    again = ModelRecord.from_json(record.to_json())
    assert again == record


def test_too_few_days_are_refused(rules: BaselineRules) -> None:
    with pytest.raises(BaselineError) as raised:
        fit_daily(cooling_series(days=10), rules)
    assert raised.value.code == "too_few_days"


def test_gradient_boosting_predicts_out_of_sample(rules: BaselineRules) -> None:
    series = cooling_series(days=400)
    train = series.window(series.first, series.first + timedelta(days=299))
    test = series.window(series.first + timedelta(days=300), series.last)
    fit = fit_gbm(train, rules)
    assert cv_rmse(test.usage, fit.predict(test)) < 0.15
    assert fit.record.params["features"][0] == "temperature"


def test_towt_learns_the_weekly_shape(rules: BaselineRules) -> None:
    rng = np.random.default_rng(3)
    hours = 24 * 70
    start = datetime(2025, 3, 3)  # a Monday
    hour_of_day = np.arange(hours) % 24
    t = 26 + 4 * np.sin(2 * np.pi * (hour_of_day - 9) / 24) + rng.normal(0, 0.5, hours)
    evening = (hour_of_day >= 18) & (hour_of_day <= 22)
    u = 0.3 + 0.5 * evening + 0.1 * np.maximum(t - 26, 0) + rng.normal(0, 0.02, hours)
    fit = fit_towt(HourlySeries(start, u, t), rules)
    predicted = fit.predict(HourlySeries(start, u, t))
    assert cv_rmse(u, predicted) < 0.1
    assert fit.record.granularity == "hourly"


def test_folds_are_blocks_dealt_in_turn() -> None:
    fold = fold_of_day(100, 28, 3)
    assert list(fold[:28]) == [0] * 28
    assert list(fold[28:56]) == [1] * 28
    assert fold[84] == 0


def test_selection_prefers_the_lower_out_of_sample_error(rules: BaselineRules) -> None:
    chosen = select(cooling_series(), rules, ["caltrack-daily", "gbm-daily"], country="CN")
    assert chosen.chosen == "caltrack-daily"  # the data are exactly the daily model's form
    assert chosen.scores["caltrack-daily"] <= chosen.scores["gbm-daily"]
