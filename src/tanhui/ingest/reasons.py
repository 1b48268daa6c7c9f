"""Machine-readable reasons a payload or reading lands in quarantine (docs/gateways.md lists them)."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    MALFORMED_ENVELOPE = "malformed_envelope"
    MALFORMED_READING = "malformed_reading"
    MALFORMED_FRAME = "malformed_frame"
    BAD_CHECKSUM = "bad_checksum"
    ABNORMAL_ANSWER = "abnormal_answer"
    FRAME_MISMATCH = "frame_mismatch"
    GATEWAY_MISMATCH = "gateway_mismatch"
    UNKNOWN_GATEWAY = "unknown_gateway"
    UNKNOWN_METER = "unknown_meter"
    METER_NOT_INSTALLED = "meter_not_installed"
    GATEWAY_NOT_ALLOWED = "gateway_not_allowed"
    UNIT_MISMATCH = "unit_mismatch"
    RESOLUTION_MISMATCH = "resolution_mismatch"
    REGISTER_OUT_OF_RANGE = "register_out_of_range"
    METER_CLOCK_AHEAD = "meter_clock_ahead"
    METER_CLOCK_BEHIND = "meter_clock_behind"
    CONFLICTING_DUPLICATE = "conflicting_duplicate"
    REPLAYED_SEQUENCE = "replayed_sequence"
    DECREASING_REGISTER = "decreasing_register"


# Codec error codes that mean the bytes were damaged on the way, as opposed to malformed content.
CHECKSUM_CODES = frozenset({"checksum", "crc"})
