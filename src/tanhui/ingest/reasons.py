"""Machine-readable reasons a payload or reading lands in quarantine."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    MALFORMED_ENVELOPE = "malformed_envelope"
    MALFORMED_READING = "malformed_reading"
    GATEWAY_MISMATCH = "gateway_mismatch"
    UNKNOWN_GATEWAY = "unknown_gateway"
    UNKNOWN_METER = "unknown_meter"
    GATEWAY_NOT_ALLOWED = "gateway_not_allowed"
    UNIT_MISMATCH = "unit_mismatch"
    RESOLUTION_MISMATCH = "resolution_mismatch"
    REGISTER_OUT_OF_RANGE = "register_out_of_range"
    CONFLICTING_DUPLICATE = "conflicting_duplicate"
