"""The root of Tanhui's error tree.

Every package defines one error base that derives from :class:`TanhuiError`; each error carries a
machine-readable ``code`` (the rule that was broken) and a message for a person that names the value
and what to do about it.
"""

from __future__ import annotations


class TanhuiError(Exception):
    """Base of every error Tanhui raises on purpose."""

    code: str = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def diagnostics(self) -> str:
        """One line for a person: the rule that was broken and what was wrong."""
        return f"{self.code}: {self.message}"
