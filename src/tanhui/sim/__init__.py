"""A county simulator: Baoting-like weather, households, their meters and the gateways that forward them.

It produces what the platform ingests (Tanhui envelopes, byte for byte reproducible from a seed) and the
ground truth the platform must rediscover from them (consumption per household and local day, with and
without saving), so that ingest, accounting and baselines can be tested end to end.

Like the pure core, the simulator reads no clock, environment, file or network; all randomness comes
from ``random.Random`` generators seeded by the caller's seed.

Modules:

- :mod:`~tanhui.sim.weather`: hourly temperatures with seasonal, diurnal and day-to-day variation.
- :mod:`~tanhui.sim.daytype`: China's days off, including swapped holidays and make-up workdays.
- :mod:`~tanhui.sim.household`: households and their hourly electricity, water and gas use.
- :mod:`~tanhui.sim.county`: meters, gateways, readings, envelopes and the truth.
- :mod:`~tanhui.sim.gateway`: each reading as the meter's own frame (DL/T 645, CJ/T 188, DSMR P1).
- :mod:`~tanhui.sim.faults`: real-world faults injected into the envelopes, each labelled with the
  quarantine reason ingest should give.

Typical use::

    county = build_county(seed=7, households=200, start=date(2026, 6, 1), days=60)
    for gateway, payload in envelopes(county):
        ...  # POST or publish the payload
    expected = truth(county)

    frames = build_county(seed=7, households=20, start=date(2026, 6, 1), days=7, protocol="baoting")
    sent, faults = envelopes_with_faults(frames, FaultRates(bad_checksum=0.01, gap=0.005))
"""

from tanhui.sim.county import (
    County,
    CountyProtocol,
    HouseholdTruth,
    MeterSeries,
    SimGateway,
    SimMeter,
    Truth,
    build_county,
    envelopes,
    readings,
    register_name,
    series,
    truth,
)
from tanhui.sim.daytype import is_day_off
from tanhui.sim.faults import FaultKind, FaultRates, InjectedFault, envelopes_with_faults
from tanhui.sim.household import SimHousehold
from tanhui.sim.weather import daily_means, hourly_temperatures

__all__ = [
    "County",
    "CountyProtocol",
    "FaultKind",
    "FaultRates",
    "HouseholdTruth",
    "InjectedFault",
    "MeterSeries",
    "SimGateway",
    "SimHousehold",
    "SimMeter",
    "Truth",
    "build_county",
    "daily_means",
    "envelopes",
    "envelopes_with_faults",
    "hourly_temperatures",
    "is_day_off",
    "readings",
    "register_name",
    "series",
    "truth",
]
