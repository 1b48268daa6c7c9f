"""The error base of the baseline package."""

from __future__ import annotations

from tanhui.domain.errors import TanhuiError


class BaselineError(TanhuiError):
    """Baseline input broke a rule (too little data, unknown model, misaligned series)."""

    code = "baseline_error"
