"""A Baoting-like hourly air temperature series: seasonal normals, a diurnal cycle, weather anomalies.

The series is what a baseline model later sees as its weather input, so it has the three features a
degree-day or time-of-week-and-temperature model responds to (``shared/reference/baseline-methods.md``
§1.1–1.2): a seasonal cycle, a daily cycle, and day-to-day anomalies that persist for several days.

Construction (in the spirit of the daily-extremes-to-hourly methods used by weather generators):

1. Monthly normals of the daily maximum and minimum, turned into a smooth annual curve by a two-harmonic
   Fourier fit through the twelve mid-month values.
2. A daily anomaly, AR(1) from day to day, added to both extremes of the day, and a smaller independent
   perturbation of the day's range (clear days are wider, cloudy and rainy days narrower).
3. Between the extremes, a rising half-cosine from the minimum near 06:00 to the maximum near 14:00 and a
   slower fall to the next morning's minimum, so that evenings stay warm as they do in the tropics.
4. A small AR(1) hour-to-hour noise on top.

Randomness comes only from the :class:`random.Random` the caller passes in.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["daily_means", "hourly_temperatures", "normal_extremes"]

# Monthly normals (°C) of the mean daily maximum and minimum, January first.
# Sourced: the January maximum (26.6 °C) and the May–June maximum (33.2 °C) are Baoting's 1991–2020
# normals quoted in shared/docs/baoting.md ("climate" row). Everything else is a smooth shape fitted by hand
# to those points and to baoting.md's annual mean of 20.7–24.5 °C (the simulated annual mean comes out near
# 24 °C): a dry season (Nov–Apr) with wide days and cool nights, and a humid wet season (May–Oct) with
# warm nights. These are not measured normals; replace them with a station's normals when one is at hand.
_MONTHLY_MAX = (26.6, 28.0, 30.3, 32.3, 33.2, 33.2, 32.6, 32.0, 31.3, 29.9, 28.3, 26.4)
_MONTHLY_MIN = (15.0, 15.9, 17.9, 20.3, 22.0, 22.7, 22.4, 22.2, 21.6, 20.1, 18.1, 15.6)

# Day-to-day persistence of the weather anomaly and its stationary standard deviation (°C). Assumptions
# chosen so that warm and cool spells last several days and the daily mean wanders by a few °C.
_ANOMALY_PERSISTENCE = 0.7
_ANOMALY_SD = 1.5
# Standard deviation (°C) of the day's range around its normal, and the narrowest range allowed.
_RANGE_SD = 1.2
_MIN_RANGE = 3.0
# Hour-to-hour noise: persistence and stationary standard deviation (°C).
_HOURLY_PERSISTENCE = 0.8
_HOURLY_SD = 0.3

# Hours (local) of the daily minimum and maximum: sunrise and early afternoon, as in the brief.
_MIN_HOUR = 6
_MAX_HOUR = 14

_YEAR_DAYS = 365.25


def _fit_harmonics(monthly: Sequence[float]) -> tuple[float, tuple[tuple[float, float], ...]]:
    """Mean and the first two Fourier harmonics of twelve mid-month values."""
    n = len(monthly)
    mean = sum(monthly) / n
    coefficients = []
    for k in (1, 2):
        a = 2 / n * sum(v * math.cos(2 * math.pi * k * m / n) for m, v in enumerate(monthly))
        b = 2 / n * sum(v * math.sin(2 * math.pi * k * m / n) for m, v in enumerate(monthly))
        coefficients.append((a, b))
    return mean, tuple(coefficients)


_MAX_FIT = _fit_harmonics(_MONTHLY_MAX)
_MIN_FIT = _fit_harmonics(_MONTHLY_MIN)
# Day of the year (0-based) at the middle of January, where month index 0 of the fit sits.
_MID_JANUARY = 15.0


def _evaluate(fit: tuple[float, tuple[tuple[float, float], ...]], day_of_year: float) -> float:
    mean, coefficients = fit
    phase = 2 * math.pi * (day_of_year - _MID_JANUARY) / _YEAR_DAYS
    return mean + sum(
        a * math.cos(k * phase) + b * math.sin(k * phase) for k, (a, b) in enumerate(coefficients, 1)
    )


def normal_extremes(day: date) -> tuple[float, float]:
    """The normal (mean) daily minimum and maximum temperature in °C on ``day`` (no anomaly)."""
    day_of_year = float(day.timetuple().tm_yday - 1)
    return _evaluate(_MIN_FIT, day_of_year), _evaluate(_MAX_FIT, day_of_year)


def _rise(x: float) -> float:
    """From 0 at the minimum to 1 at the maximum, ``x`` in [0, 1]: a half-cosine."""
    return (1 - math.cos(math.pi * x)) / 2


def _fall(x: float) -> float:
    """From 1 at the maximum to 0 at the next minimum, ``x`` in [0, 1].

    The warped argument makes the evening fall faster than the small hours; the cosine keeps the curve
    flat at both extremes, so it has no kink there.
    """
    warped = x * (1.5 - 0.5 * x)
    return (1 + math.cos(math.pi * warped)) / 2


def hourly_temperatures(
    start: date, days: int, tz: ZoneInfo, rng: random.Random
) -> list[tuple[datetime, float]]:
    """Hourly air temperature (°C) for ``days`` local days from ``start``, one value per local hour.

    Each datetime is aware, in ``tz``, on the hour; on a day with a daylight-saving change the day has 23 or
    25 hours. Draws from ``rng`` only, so the same generator state gives the same series.
    """
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    # Extremes for the day before and the day after the period too: the small hours of the first day fall
    # from the previous day's maximum, and the last evening falls towards the next day's minimum.
    minima: list[float] = []
    maxima: list[float] = []
    anomaly = rng.gauss(0.0, _ANOMALY_SD)
    innovation_sd = _ANOMALY_SD * math.sqrt(1 - _ANOMALY_PERSISTENCE**2)
    for offset in range(-1, days + 1):
        low, high = normal_extremes(start + timedelta(days=offset))
        day_range = max(_MIN_RANGE, high - low + rng.gauss(0.0, _RANGE_SD))
        middle = (high + low) / 2 + anomaly
        minima.append(middle - day_range / 2)
        maxima.append(middle + day_range / 2)
        anomaly = _ANOMALY_PERSISTENCE * anomaly + rng.gauss(0.0, innovation_sd)

    begin = datetime.combine(start, time(0), tz).astimezone(UTC)
    end = datetime.combine(start + timedelta(days=days), time(0), tz).astimezone(UTC)
    hours = int((end - begin) / timedelta(hours=1))
    noise = rng.gauss(0.0, _HOURLY_SD)
    noise_sd = _HOURLY_SD * math.sqrt(1 - _HOURLY_PERSISTENCE**2)
    series: list[tuple[datetime, float]] = []
    for h in range(hours):
        local = (begin + timedelta(hours=h)).astimezone(tz)
        i = (local.date() - start).days + 1  # index into minima/maxima (0 is the day before start)
        hour = local.hour + local.minute / 60
        if hour < _MIN_HOUR:
            x = (hour + 24 - _MAX_HOUR) / (24 - _MAX_HOUR + _MIN_HOUR)
            value = minima[i] + (maxima[i - 1] - minima[i]) * _fall(x)
        elif hour < _MAX_HOUR:
            x = (hour - _MIN_HOUR) / (_MAX_HOUR - _MIN_HOUR)
            value = minima[i] + (maxima[i] - minima[i]) * _rise(x)
        else:
            x = (hour - _MAX_HOUR) / (24 - _MAX_HOUR + _MIN_HOUR)
            value = minima[i + 1] + (maxima[i] - minima[i + 1]) * _fall(x)
        series.append((local, round(value + noise, 2)))
        noise = _HOURLY_PERSISTENCE * noise + rng.gauss(0.0, noise_sd)
    return series


def daily_means(series: Sequence[tuple[datetime, float]]) -> list[tuple[date, float]]:
    """The mean of the hourly values of each local day, in order of first appearance.

    The day is the local date of each aware datetime, so the caller's time zone decides where days split.
    """
    sums: dict[date, tuple[float, int]] = {}
    for moment, value in series:
        total, count = sums.get(moment.date(), (0.0, 0))
        sums[moment.date()] = (total + value, count + 1)
    return [(day, total / count) for day, (total, count) in sums.items()]
