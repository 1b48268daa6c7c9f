"""The error base of the meters package."""

from __future__ import annotations

from tanhui.domain.errors import TanhuiError


class MeterError(TanhuiError):
    """A frame, envelope or register sequence broke a protocol or continuity rule."""

    code = "meter_error"
