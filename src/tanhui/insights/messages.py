"""Alert texts in the reader's language, from ``data/insights/messages.toml`` (zh and en per kind)."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass

from tanhui.insights.findings import FindingKind

__all__ = ["Message", "MessageCatalogue", "catalogue_from_toml"]

_LANGUAGES = ("zh", "en")


class _Blanks(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return "?"


@dataclass(frozen=True, slots=True)
class Message:
    title: str
    body: str


@dataclass(frozen=True, slots=True)
class MessageCatalogue:
    texts: Mapping[FindingKind, Mapping[str, str]]

    def render(self, kind: FindingKind, locale: str, evidence: Mapping[str, object]) -> Message:
        """The alert's title and body in ``locale`` (``zh_CN``, ``zh``, ``en``…; Chinese by default)."""
        language = "en" if locale.lower().startswith("en") else "zh"
        texts = self.texts[kind]
        values = _Blanks(evidence)
        return Message(
            texts[f"title_{language}"].format_map(values), texts[f"body_{language}"].format_map(values)
        )


def catalogue_from_toml(text: str) -> MessageCatalogue:
    """Parse the catalogue; raises ValueError naming a kind or text that is missing."""
    raw = tomllib.loads(text)
    texts: dict[FindingKind, dict[str, str]] = {}
    for kind in FindingKind:
        entry = raw.get(kind.value)
        if entry is None:
            raise ValueError(f"messages.toml: no texts for {kind.value}")
        for language in _LANGUAGES:
            for part in ("title", "body"):
                if not isinstance(entry.get(f"{part}_{language}"), str):
                    raise ValueError(f"messages.toml [{kind.value}]: {part}_{language} is missing")
        texts[kind] = {k: str(v) for k, v in entry.items()}
    return MessageCatalogue(texts)
