"""Translations (Babel catalogues, zh-CN by default and en) and locale-aware formatting.

The ``.po`` files under ``locales/`` are the source of truth; they are compiled in memory at start, so
there is no build step and a missing translation shows up in the catalogue test, not in production.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from io import BytesIO
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_skeleton
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
CATALOGUES = Path(__file__).with_name("locales")


@cache
def translations(locale: str) -> Translations:
    """The compiled catalogue of ``locale`` (one of :data:`LOCALES`)."""
    with (CATALOGUES / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer, domain="messages")


def negotiate(*candidates: str | None) -> str:
    """The first supported locale among ``candidates`` (cookie, user setting, Accept-Language...)."""
    for candidate in candidates:
        if not candidate:
            continue
        for part in candidate.replace("-", "_").split(","):
            tag = part.split(";")[0].strip()
            if not tag:
                continue
            if tag in LOCALES:
                return tag
            language = tag.split("_")[0].lower()
            if language == "zh":
                return "zh_CN"
            if language == "en":
                return "en"
    return DEFAULT_LOCALE


@dataclass(frozen=True, slots=True)
class Formatter:
    """Numbers and dates in the viewer's locale."""

    locale: str

    def number(self, value: Decimal | float | int, digits: int = 1) -> str:
        quantum = Decimal(1).scaleb(-digits)
        return format_decimal(
            Decimal(str(value)).quantize(quantum), format=f"#,##0.{'0' * digits}", locale=self.locale
        )

    def day(self, value: date) -> str:
        return format_date(value, format="medium", locale=self.locale)

    def month(self, value: date) -> str:
        """A calendar month as the locale writes it (2026年10月, October 2026)."""
        return format_skeleton("yMMMM", value, locale=self.locale)

    def language_name(self, locale: str) -> str:
        """The language's own short name, as a language switch shows it (中文, English)."""
        return Locale.parse(locale).get_language_name(locale) or locale
