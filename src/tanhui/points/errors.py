"""The error base of the points package.

``PointsError``
 ├─ ``TransferRefused``  a transfer broke a ledger rule (``code`` names it, TigerBeetle style)
 ├─ ``RulesError``       an issuance rule file is malformed
 └─ ``VoucherError``     a voucher code is malformed or its signature does not match
"""

from __future__ import annotations

from tanhui.domain.errors import TanhuiError


class PointsError(TanhuiError):
    """A points rule was broken."""

    code = "points_error"


class TransferRefused(PointsError):  # noqa: N818 - named for what happened, like TigerBeetle's statuses
    """The ledger refused a transfer; nothing was written. ``code`` is the TigerBeetle-style status."""

    code = "transfer_refused"


class RulesError(PointsError):
    """An issuance rule set is malformed or incomplete."""

    code = "rules_invalid"


class VoucherError(PointsError):
    """A voucher code is malformed, has a wrong check symbol or a wrong signature."""

    code = "voucher_invalid"
