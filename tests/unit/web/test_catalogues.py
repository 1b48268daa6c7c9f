"""Every message in the pages is translated into Chinese, and the catalogues match the sources."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from babel.messages.pofile import read_po

from tanhui.web.i18n import CATALOGUES, negotiate, translations

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "catalog.py"


def _extracted() -> set[str]:
    spec = importlib.util.spec_from_file_location("catalog", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {message.id for message in module.extracted() if message.id}


def test_catalogues_hold_exactly_the_messages_of_the_sources() -> None:
    in_sources = _extracted()
    for locale in ("zh_CN", "en"):
        with (CATALOGUES / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
            catalogue = {m.id for m in read_po(handle) if m.id}
        assert catalogue == in_sources, f"{locale}: run `python scripts/catalog.py`"


def test_every_message_has_a_chinese_translation() -> None:
    with (CATALOGUES / "zh_CN" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        missing = [m.id for m in read_po(handle) if m.id and not m.string]
    assert missing == []
    assert translations("zh_CN").gettext("Sign in") == "登录"
    assert translations("en").gettext("Sign in") == "Sign in"


def test_language_negotiation_prefers_explicit_choice_then_falls_back_to_chinese() -> None:
    assert negotiate("en", "zh_CN") == "en"
    assert negotiate(None, None, "en-GB,en;q=0.9") == "en"
    assert negotiate(None, None, "zh-TW,zh;q=0.9") == "zh_CN"
    assert negotiate(None, None, "fr-FR") == "zh_CN"
