"""Reports as HTML (Jinja2) and PDF (WeasyPrint), with one stylesheet for screen, phone and A4 print.

Every report template extends ``base.html``, which inlines ``report.css``: an HTML report is one
self-contained file a resident can open on a phone, and the PDF is that same document laid out on A4 by
WeasyPrint with the stylesheet's ``@page`` rules. Chinese text needs a CJK font: the stylesheet asks for
Noto Sans CJK SC (Debian's fonts-noto-cjk, installed by scripts/services.sh).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from weasyprint import HTML

from tanhui.reports.errors import ReportError
from tanhui.reports.translation import Formatter, translations
from tanhui.reports.wording import Wording

TEMPLATES = Path(__file__).with_name("templates")


@cache
def environment(locale: str) -> Environment:
    """The Jinja2 environment of ``locale``: autoescaped, strict, with the reports catalogue installed."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    return env


def render_html(template: str, locale: str, **context: Any) -> str:
    """``template`` rendered in ``locale``; the context gets ``fmt`` (numbers, dates) and ``words``."""
    html_lang = "zh-CN" if locale == "zh_CN" else locale
    return (
        environment(locale)
        .get_template(template)
        .render(fmt=Formatter(locale), words=Wording(locale), lang=html_lang, **context)
    )


def html_to_pdf(html: str) -> bytes:
    """The HTML report laid out on A4 pages by WeasyPrint."""
    pdf = HTML(string=html, base_url=str(TEMPLATES)).write_pdf()
    if pdf is None:  # write_pdf returns the document when given no target
        raise ReportError("WeasyPrint returned no document", code="pdf_failed")
    return bytes(pdf)
