"""Keep the reports catalogues in step with the sources: ``python -m tanhui.reports.catalogue``.

Extracts every ``_("...")`` and ``gettext("...")`` from the report templates and modules, adds new
messages to each locale's ``reports.po`` (keeping existing translations) and drops obsolete ones, as
``scripts/catalog.py`` does for the web catalogue. A unit test fails while the catalogues and the sources
differ or a zh_CN message has no translation.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from tanhui.reports.translation import CATALOGUES, DOMAIN, LOCALES

PACKAGE = Path(__file__).parent
METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
KEYWORDS = {"_": None, "gettext": None}


def extracted() -> Catalog:
    """Every message the report sources use, with where it is used."""
    template = Catalog(project="tanhui-reports", domain=DOMAIN)
    for filename, lineno, message, comments, _context in extract_from_dir(
        str(PACKAGE), METHODS, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",)
    ):
        template.add(message, None, [(filename, lineno)], auto_comments=comments)
    return template


def update() -> dict[str, int]:
    """Merge the extracted messages into each locale's catalogue; the message count per locale."""
    template = extracted()
    counts: dict[str, int] = {}
    for locale in LOCALES:
        po = CATALOGUES / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
        if po.exists():
            with po.open("rb") as handle:
                catalog = read_po(handle, locale=locale, domain=DOMAIN)
        else:
            po.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=locale, domain=DOMAIN, project="tanhui-reports")
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        with po.open("wb") as handle:
            write_po(handle, catalog, width=110, omit_header=False, sort_output=True)
        counts[locale] = len(catalog)
    return counts


if __name__ == "__main__":
    for name, count in update().items():
        print(f"{name}: {count} messages")
