"""Update the Babel catalogues from the sources: `python scripts/catalog.py`.

Extracts every `_("...")` and `gettext("...")` from the web package (templates and Python), adds new
messages to each locale's messages.po (keeping existing translations) and drops obsolete ones. The
test suite fails while any zh_CN message has no translation.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

WEB = Path(__file__).resolve().parents[1] / "src" / "tanhui" / "web"
METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
KEYWORDS = {"_": None, "gettext": None}


def extracted() -> Catalog:
    template = Catalog(project="tanhui")
    for filename, lineno, message, comments, _context in extract_from_dir(
        str(WEB), METHODS, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",)
    ):
        template.add(message, None, [(filename, lineno)], auto_comments=comments)
    return template


def main() -> None:
    template = extracted()
    for po in sorted(WEB.glob("locales/*/LC_MESSAGES/messages.po")):
        locale = po.parents[1].name
        with po.open("rb") as handle:
            catalog = read_po(handle, locale=locale)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        with po.open("wb") as handle:
            write_po(handle, catalog, width=110, omit_header=False, sort_output=True)
        print(f"{po.relative_to(WEB)}: {len(catalog)} messages")


if __name__ == "__main__":
    main()
