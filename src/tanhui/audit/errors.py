"""The error base of the audit package.

``AuditError`` (code ``audit_error``)
  ├── ``ProofError``: an inclusion or consistency proof does not verify (RFC 9162 §2.1.3.2, §2.1.4.2)
  ├── ``EncodingError``: leaf bytes, a note, a checkpoint or a tile is malformed
  ├── ``SignatureError``: no trusted signature verifies on a note (c2sp.org/signed-note)
  ├── ``ForkError``: two checkpoints of one origin cannot both be true (c2sp.org/tlog-witness)
  └── ``EvidenceError``: an evidence bundle does not prove what it claims; names the entry
"""

from __future__ import annotations

from tanhui.domain.errors import TanhuiError


class AuditError(TanhuiError):
    """Something in the audit log, its proofs or its evidence is wrong."""

    code = "audit_error"


class ProofError(AuditError):
    code = "proof_invalid"


class EncodingError(AuditError):
    code = "encoding_invalid"


class SignatureError(AuditError):
    code = "signature_invalid"


class ForkError(AuditError):
    code = "fork_detected"


class EvidenceError(AuditError):
    """A named entry of an evidence bundle or of the store fails its check."""

    code = "evidence_invalid"

    def __init__(self, message: str, *, entry: str, code: str | None = None) -> None:
        super().__init__(f"{entry}: {message}", code=code)
        self.entry = entry
