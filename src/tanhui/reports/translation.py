"""Report translations (zh-CN by default, en) and figures formatted in the report's locale.

The reports keep their own Babel catalogue domain, ``reports``, under ``reports/locales/``: the
architecture lets reports import the pure core and the store, not ``web``, so they cannot share the
web package's catalogue loader. The catalogue works the same way as the web one (``.po`` files compiled
in memory, no build step); :mod:`tanhui.reports.catalogue` keeps it in step with the templates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cache
from io import BytesIO
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_skeleton
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import NumberPattern, parse_pattern
from babel.support import Translations

from tanhui.reports.errors import ReportError

LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
DOMAIN = "reports"
CATALOGUES = Path(__file__).with_name("locales")


def locale_of(tag: str | None) -> str:
    """The report locale for a language tag as a person types it (``zh-CN``, ``zh``, ``en``, ``en-GB``).

    Raises :class:`ReportError` for a language the reports are not translated into.
    """
    if not tag:
        return DEFAULT_LOCALE
    language = tag.replace("-", "_").split("_")[0].lower()
    if language == "zh":
        return "zh_CN"
    if language == "en":
        return "en"
    raise ReportError(
        f"reports are written in zh-CN and en, not {tag!r}: choose --lang zh-CN or --lang en",
        code="unknown_language",
    )


@cache
def translations(locale: str) -> Translations:
    """The compiled ``reports`` catalogue of ``locale`` (one of :data:`LOCALES`)."""
    if locale not in LOCALES:
        raise ReportError(f"no report catalogue for {locale!r}", code="unknown_language")
    with (CATALOGUES / locale / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as handle:
        catalog = read_po(handle, locale=locale, domain=DOMAIN)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


@cache
def _cldr(locale: str) -> Locale:
    # Parsed once: Babel parses a locale string on every call otherwise, which was most of the time it
    # took to render a statement's few hundred numbers.
    return Locale.parse(locale)


@cache
def _pattern(pattern: str) -> NumberPattern:
    return parse_pattern(pattern)


@dataclass(frozen=True, slots=True)
class Formatter:
    """Numbers, dates and months in the report's locale (CLDR data through Babel)."""

    locale: str

    def number(self, value: Decimal | int | None, digits: int = 2) -> str:
        """``value`` rounded half-even to ``digits`` places, with the locale's separators."""
        if value is None:
            return "–"
        quantum = Decimal(1).scaleb(-digits)
        rounded = Decimal(value).quantize(quantum, rounding=ROUND_HALF_EVEN)
        pattern = "#,##0." + "0" * digits if digits else "#,##0"
        return str(_pattern(pattern).apply(rounded, _cldr(self.locale)))

    def signed(self, value: Decimal | None, digits: int = 2) -> str:
        """Like :meth:`number`, with an explicit sign for a difference (``+1.20``, ``−0.35``)."""
        if value is None:
            return "–"
        text = self.number(abs(value), digits)
        rounded = Decimal(value).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_EVEN)
        if rounded == 0:
            return text
        return ("+" if value > 0 else "−") + text

    def factor(self, value: Decimal) -> str:
        """A factor with every digit its publisher gave (``0.17700``): the digits are part of the source."""
        exponent = value.as_tuple().exponent
        digits = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        return str(_pattern("0." + "0" * digits if digits else "0").apply(value, _cldr(self.locale)))

    def percent(self, value: float | Decimal, digits: int = 1) -> str:
        """A share (0..1) as a percentage."""
        return self.number(Decimal(str(value)) * 100, digits) + "%"

    def day(self, value: date) -> str:
        """A date, medium length (``2026年11月3日``, ``Nov 3, 2026``)."""
        return format_date(value, format="medium", locale=_cldr(self.locale))

    def short_day(self, value: date) -> str:
        """Month and day with the weekday, for a table row (``11月3日周二``, ``Tue, Nov 3``)."""
        return format_skeleton("MMMEd", value, locale=_cldr(self.locale))

    def month(self, value: date) -> str:
        """The month of ``value`` (``2026年11月``, ``November 2026``)."""
        return format_skeleton("yMMMM", value, locale=_cldr(self.locale))
