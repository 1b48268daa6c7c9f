"""The error base of the reports package."""

from __future__ import annotations

from tanhui.domain.errors import TanhuiError


class ReportError(TanhuiError):
    """A report could not be produced from the data given (no data, unknown household, bad period)."""

    code = "report_error"
