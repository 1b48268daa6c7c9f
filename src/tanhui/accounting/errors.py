"""The error base of the accounting package."""

from __future__ import annotations

from tanhui.domain.errors import TanhuiError


class AccountingError(TanhuiError):
    """A factor set or an accounting input broke an accounting rule."""

    code = "accounting_error"
