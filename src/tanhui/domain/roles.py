"""The roles a user of the platform can hold."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """Who a caller is; every route declares which of these may call it."""

    RESIDENT = "resident"
    OPERATOR = "operator"
    MERCHANT = "merchant"
    VERIFIER = "verifier"
