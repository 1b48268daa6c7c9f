"""Footprint of many meter-days at once: daily amounts times one factor, rounded exactly as one day is.

A county-year is 55,000 households × 3 meters × 365 days, some 60 million meter-days. Pricing them one
``Decimal`` at a time costs minutes; here they are whole integer arrays. The result is identical, day by
day, to :func:`tanhui.accounting.footprint.to_milligrams` of ``amount × factor``:

- a day's amount is held in millionths of its unit (``amount_micro``), an exact integer;
- a factor with ``k`` decimals is ``F / 10**k`` with ``F`` an integer (0.5306 kg/kWh is 5306 / 10**4);
- kg × 10**6 = mg, so a day's emissions are ``amount_micro × F / 10**k`` mg, which is rounded half to
  even, as :func:`~tanhui.accounting.footprint.to_milligrams` rounds.

Integer arithmetic in int64 keeps it exact while ``amount_micro × F`` stays below 2**63 (9.2e18); a day of
10^6 kWh at a factor with eight significant digits is still 100 times below that, and
:func:`price_days` refuses inputs that could overflow rather than wrap.

Days without data are marked :data:`NO_DATA` and stay so: a gap is never priced as zero.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import numpy.typing as npt

from tanhui.accounting.errors import AccountingError

NO_DATA = -1
"""A day a meter has no consumption figure for (a gap): distinct from a day of zero consumption."""

Days = npt.NDArray[np.int64]

_INT64_MAX = np.iinfo(np.int64).max


def factor_fraction(factor: Decimal) -> tuple[int, int]:
    """``factor`` as ``(numerator, 10**k)`` with the fewest decimals ``k`` that hold it exactly."""
    if not factor.is_finite() or factor < 0:
        raise AccountingError(f"a factor must be a finite non-negative number, not {factor}")
    _, digits, exponent = factor.normalize().as_tuple()
    if not isinstance(exponent, int):  # pragma: no cover - finite numbers have integer exponents
        raise AccountingError(f"not a finite factor: {factor}")
    numerator = int("".join(map(str, digits)) or "0")
    if exponent >= 0:
        return numerator * 10**exponent, 1
    return numerator, 10**-exponent


def price_days(amount_micro: Days, factor: Decimal) -> Days:
    """Emissions in mg for each day of ``amount_micro`` (millionths of the factor's unit) under ``factor``.

    :data:`NO_DATA` days stay :data:`NO_DATA`. Raises :class:`AccountingError` for a negative amount other
    than the marker, or for amounts large enough that the exact product could overflow 64 bits.
    """
    numerator, denominator = factor_fraction(factor)
    if amount_micro.size == 0:
        return amount_micro.copy()
    gaps = amount_micro == NO_DATA
    if (amount_micro < NO_DATA).any():
        raise AccountingError("a daily amount is negative: consumption is never negative")
    largest = int(amount_micro.max())
    if numerator and largest > _INT64_MAX // numerator:
        raise AccountingError(f"a daily amount of {largest} millionths times {factor} would overflow")
    product = amount_micro * np.int64(numerator)
    if denominator == 1:
        mg = product
    else:
        quotient, remainder = np.divmod(product, np.int64(denominator))
        twice = remainder * 2
        # Half to even: up when more than half, or exactly half and the quotient is odd.
        up = (twice > denominator) | ((twice == denominator) & (quotient % 2 == 1))
        mg = quotient + up
    return np.where(gaps, np.int64(NO_DATA), mg)


def total(days: Days) -> int:
    """The sum of the days that have data (gaps count nothing)."""
    return int(days[days != NO_DATA].sum())
