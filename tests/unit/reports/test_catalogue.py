"""The reports catalogues hold exactly the messages of the report sources, all translated into Chinese."""

from __future__ import annotations

from babel.messages.pofile import read_po

from tanhui.reports.catalogue import extracted
from tanhui.reports.translation import CATALOGUES, DOMAIN, translations


def _catalogue(locale: str) -> dict[str, str]:
    with (CATALOGUES / locale / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as handle:
        return {m.id: str(m.string or "") for m in read_po(handle) if m.id and isinstance(m.id, str)}


def test_catalogues_hold_exactly_the_messages_of_the_sources() -> None:
    in_sources = {m.id for m in extracted() if m.id}
    for locale in ("zh_CN", "en"):
        assert set(_catalogue(locale)) == in_sources, f"{locale}: run `python -m tanhui.reports.catalogue`"


def test_every_report_message_has_a_chinese_translation() -> None:
    missing = [msgid for msgid, text in _catalogue("zh_CN").items() if not text]
    assert missing == []
    assert translations("zh_CN").gettext("Household monthly carbon statement") == "住户月度碳账单"
    assert (
        translations("en").gettext("Household monthly carbon statement")
        == "Household monthly carbon statement"
    )


def test_chinese_translations_keep_every_placeholder() -> None:
    for msgid, text in _catalogue("zh_CN").items():
        placeholders = sorted(part.split(")")[0] for part in msgid.split("%(")[1:])
        assert sorted(part.split(")")[0] for part in text.split("%(")[1:]) == placeholders, msgid
