"""C2SP tlog-cosignature v1 with Ed25519: a witness's timestamped statement about a checkpoint.

Signed message: ``cosignature/v1\\n`` + ``time <POSIX seconds>\\n`` + the checkpoint note text. The line's
blob is key ID (type 0x04) ‖ 8-byte big-endian timestamp ‖ 64-byte signature. Meaning: as of that
time, this is the largest tree of the origin the witness has seen, consistent with all it saw before.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tanhui.audit import note
from tanhui.audit.errors import SignatureError


def message(checkpoint_text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n{checkpoint_text}".encode()


@dataclass(frozen=True, slots=True)
class Cosigner:
    name: str
    private_key: Ed25519PrivateKey

    @classmethod
    def from_seed(cls, name: str, seed: bytes) -> Cosigner:
        return cls(note.check_key_name(name), Ed25519PrivateKey.from_private_bytes(seed))

    @property
    def verifier(self) -> note.Verifier:
        return note.Verifier(
            self.name, note.ALG_COSIGNATURE_V1, note.raw_public(self.private_key.public_key())
        )

    @property
    def skey(self) -> str:
        seed = self.private_key.private_bytes_raw()
        blob = base64.b64encode(bytes([note.ALG_COSIGNATURE_V1]) + seed).decode("ascii")
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_id.hex()}+{blob}"

    def cosign(self, checkpoint_text: str, timestamp: int) -> str:
        """The signature line to append to the checkpoint note."""
        sig = self.private_key.sign(message(checkpoint_text, timestamp))
        return note.signature_line(self.name, self.verifier.key_id + timestamp.to_bytes(8, "big") + sig)


@dataclass(frozen=True, slots=True)
class Cosignature:
    name: str
    timestamp: int


def verify_cosignatures(parsed: note.Note, witnesses: list[note.Verifier]) -> list[Cosignature]:
    """The valid cosignatures of known witnesses on a parsed checkpoint note; a bad one is an error."""
    known = {(w.name, w.key_id): w for w in witnesses if w.alg == note.ALG_COSIGNATURE_V1}
    found: list[Cosignature] = []
    for sig in parsed.signatures:
        w = known.get((sig.name, sig.key_id))
        if w is None:
            continue
        if len(sig.blob) != 8 + 64:
            raise SignatureError(f"cosignature of {sig.name} is malformed", code="cosignature_invalid")
        timestamp = int.from_bytes(sig.blob[:8], "big")
        if not w.verifies(message(parsed.text, timestamp), sig.blob[8:]):
            raise SignatureError(f"cosignature of {sig.name} does not verify", code="cosignature_invalid")
        found.append(Cosignature(sig.name, timestamp))
    return found
