"""The labelled anomaly injector and the tip uptake model of the simulator."""

from __future__ import annotations

from datetime import date

import numpy as np

from tanhui.domain.quantity import Quantity
from tanhui.sim.anomalies import AnomalyKind, AnomalyRates, inject_anomalies
from tanhui.sim.county import build_county, series
from tanhui.sim.uptake import apply_tip


def test_injection_is_seeded_labelled_and_alters_only_the_labelled_meters() -> None:
    county = build_county(seed=5, households=20, start=date(2026, 6, 1), days=14)
    rates = AnomalyRates(
        leak=0.2,
        stuck=0.1,
        flat_zero=0.0,
        sudden_drop=0.0,
        reverse_flow=0.0,
        clock_jump=0.05,
        unusual_use=0.0,
    )
    first, labels = inject_anomalies(county, rates, seed=9)
    again, labels_again = inject_anomalies(county, rates, seed=9)
    assert labels == labels_again and [s.counts for s in first] == [s.counts for s in again]
    kinds = [label.kind for label in labels]
    assert kinds.count(AnomalyKind.LEAK) == 4 and kinds.count(AnomalyKind.STUCK) == 6
    assert len({label.meter for label in labels}) == len(labels)  # one anomaly per meter at most
    clean = {s.meter.serial: s.counts for s in series(county)}
    labelled = {label.meter: label for label in labels}
    for altered in first:
        label = labelled.get(altered.meter.serial)
        if label is None:
            assert altered.counts == clean[altered.meter.serial]
        elif label.kind is AnomalyKind.LEAK:
            assert altered.meter.kind is Quantity.WATER
            assert altered.counts[-1] > clean[altered.meter.serial][-1]
        elif label.kind is AnomalyKind.STUCK:
            k = altered.times.index(label.start)
            assert len(set(altered.counts[k:])) == 1


def test_a_household_that_sets_its_air_conditioner_warmer_uses_less_in_the_evening_only() -> None:
    hours = [h % 24 for h in range(48)]
    load = {Quantity.ELECTRICITY: np.full(48, 1.0), Quantity.WATER: np.zeros(48), Quantity.GAS: np.zeros(48)}
    load[Quantity.ELECTRICITY][np.array(hours) < 12] = 0.2  # mornings at the base of 0.2 kWh
    after = apply_tip("ac_setpoint", load, hours, 24, 1.0, {"degrees": 2.0, "share_per_degree": 0.07})
    electricity = after[Quantity.ELECTRICITY]
    assert np.array_equal(electricity[:24], load[Quantity.ELECTRICITY][:24])
    assert electricity[24 + 20] == 1.0 - 0.14 * 0.8  # 20:00: 14 % of the use above the base
    assert electricity[24 + 14] == 1.0  # afternoon: unchanged
