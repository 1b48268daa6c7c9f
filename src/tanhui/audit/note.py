"""C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys.

A note is UTF-8 text ending in a newline, a blank line, then signature lines
``— <key name> <base64(key ID ‖ signature)>``. The key ID of an Ed25519 key is
``SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]``; a verifier key travels as the *vkey* string
``<name>+<hex key ID>+<base64(0x01 ‖ public key)>``. Verifiers ignore signatures by unknown keys, reject
a note where a known key's signature fails, and require at least one known signature to verify.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tanhui.audit.errors import EncodingError, SignatureError

ALG_ED25519 = 0x01  # c2sp.org/signed-note: Ed25519 note signature
ALG_COSIGNATURE_V1 = 0x04  # c2sp.org/tlog-cosignature: timestamped Ed25519 cosignature
_DASH = "\u2014 "
MAX_SIGNATURES = 100  # the spec asks verifiers to accept at least 16


def key_id(name: str, alg: int, public_key: bytes) -> bytes:
    """``SHA-256(name ‖ 0x0A ‖ alg ‖ public key)[:4]`` (c2sp.org/signed-note, key IDs)."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([alg]) + public_key).digest()[:4]


def check_key_name(name: str) -> str:
    """Key names are non-empty, with no Unicode spaces and no ``+`` (c2sp.org/signed-note)."""
    if not name or "+" in name or any(c.isspace() for c in name):
        raise EncodingError(f"key name {name!r} must be non-empty, without spaces or '+'", code="key_name")
    return name


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True, slots=True)
class Verifier:
    """A trusted key: its name, algorithm byte and raw public key."""

    name: str
    alg: int
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.alg, self.public_key)

    @property
    def vkey(self) -> str:
        blob = base64.b64encode(bytes([self.alg]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id.hex()}+{blob}"

    def verifies(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


def parse_vkey(vkey: str) -> Verifier:
    """Parse ``name+hexid+base64(alg ‖ key)``; the key ID must match the one derived from the key."""
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3:
        raise EncodingError("a vkey is name+hex key id+base64 key", code="vkey_format")
    name, hex_id, blob = parts
    check_key_name(name)
    try:
        raw = base64.b64decode(blob, validate=True)
        given_id = bytes.fromhex(hex_id)
    except (binascii.Error, ValueError):
        raise EncodingError("vkey key id or key is not valid hex/base64", code="vkey_format") from None
    if len(raw) != 33 or raw[0] not in (ALG_ED25519, ALG_COSIGNATURE_V1):
        raise EncodingError("vkey is not an Ed25519 note or cosignature key", code="vkey_alg")
    verifier = Verifier(name, raw[0], raw[1:])
    if given_id != verifier.key_id:
        raise EncodingError(f"vkey key id {hex_id} does not match its key", code="vkey_id")
    return verifier


@dataclass(frozen=True, slots=True)
class Signer:
    """An Ed25519 note signer; the private key stays in the edge that loaded it."""

    name: str
    private_key: Ed25519PrivateKey

    @classmethod
    def from_seed(cls, name: str, seed: bytes) -> Signer:
        return cls(check_key_name(name), Ed25519PrivateKey.from_private_bytes(seed))

    @property
    def verifier(self) -> Verifier:
        return Verifier(self.name, ALG_ED25519, raw_public(self.private_key.public_key()))

    @property
    def skey(self) -> str:
        """The private key as ``PRIVATE+KEY+name+hexid+base64(0x01 ‖ seed)`` (golang.org/x/mod/sumdb/note)."""
        seed = self.private_key.private_bytes_raw()
        blob = base64.b64encode(bytes([ALG_ED25519]) + seed).decode("ascii")
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_id.hex()}+{blob}"

    def signature_line(self, text: str) -> str:
        sig = self.private_key.sign(text.encode("utf-8"))
        return signature_line(self.name, self.verifier.key_id + sig)


def parse_skey(skey: str) -> tuple[str, int, bytes]:
    """``(name, alg, seed)`` of a ``PRIVATE+KEY+name+hexid+base64(alg ‖ seed)`` string."""
    parts = skey.strip().split("+", 4)
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
        raise EncodingError("a private key is PRIVATE+KEY+name+hexid+base64", code="skey_format")
    name = check_key_name(parts[2])
    try:
        raw = base64.b64decode(parts[4], validate=True)
    except binascii.Error:
        raise EncodingError("private key data is not base64", code="skey_format") from None
    if len(raw) != 33 or raw[0] not in (ALG_ED25519, ALG_COSIGNATURE_V1):
        raise EncodingError("not an Ed25519 private key", code="skey_format")
    public = raw_public(Ed25519PrivateKey.from_private_bytes(raw[1:]).public_key())
    if parts[3] != key_id(name, raw[0], public).hex():
        raise EncodingError("private key id does not match its key", code="skey_format")
    return name, raw[0], raw[1:]


def signature_line(name: str, blob: bytes) -> str:
    return f"{_DASH}{name} {base64.b64encode(blob).decode('ascii')}\n"


@dataclass(frozen=True, slots=True)
class Signature:
    name: str
    key_id: bytes
    blob: bytes  # the signature bytes after the key ID


@dataclass(frozen=True, slots=True)
class Note:
    text: str
    signatures: tuple[Signature, ...]

    def render(self) -> str:
        lines = "".join(signature_line(s.name, s.key_id + s.blob) for s in self.signatures)
        return f"{self.text}\n{lines}"


def sign(text: str, signers: list[Signer]) -> str:
    """A signed note of ``text`` (which must end in a newline) by every signer."""
    _check_text(text)
    return text + "\n" + "".join(s.signature_line(text) for s in signers)


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise EncodingError("note text must end with a newline", code="note_format")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise EncodingError("note text holds control characters", code="note_format")


def parse(note: str) -> Note:
    """Split a signed note into its text and signature lines (the last blank line separates them)."""
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise EncodingError("a signed note is text, a blank line and signature lines", code="note_format")
    text, sig_block = note[: cut + 1], note[cut + 2 :]
    _check_text(text)
    sigs: list[Signature] = []
    for line in sig_block.split("\n")[:-1]:
        if not line.startswith(_DASH):
            raise EncodingError(f"signature line {line!r} does not start with an em dash", code="note_format")
        name, _, blob64 = line[len(_DASH) :].partition(" ")
        try:
            blob = base64.b64decode(blob64, validate=True)
        except binascii.Error:
            raise EncodingError(f"signature of {name!r} is not base64", code="note_format") from None
        if len(blob) < 5 or not name or " " in blob64:
            raise EncodingError(f"signature line of {name!r} is malformed", code="note_format")
        sigs.append(Signature(name, blob[:4], blob[4:]))
    if not sigs:
        raise EncodingError("the note carries no signature", code="note_format")
    if len(sigs) > MAX_SIGNATURES:
        raise EncodingError(f"more than {MAX_SIGNATURES} signatures", code="note_format")
    return Note(text, tuple(sigs))


def verify(note: str, verifiers: list[Verifier]) -> Note:
    """Check ``note`` against Ed25519 note keys; returns it when a known key verified and none failed."""
    parsed = parse(note)
    known = {(v.name, v.key_id): v for v in verifiers if v.alg == ALG_ED25519}
    verified = 0
    for sig in parsed.signatures:
        v = known.get((sig.name, sig.key_id))
        if v is None:
            continue  # unknown keys are ignored (c2sp.org/signed-note)
        if not v.verifies(parsed.text.encode("utf-8"), sig.blob):
            raise SignatureError(f"the signature by {sig.name} does not verify", code="signature_invalid")
        verified += 1
    if not verified:
        raise SignatureError("no signature by a trusted key", code="signature_untrusted")
    return parsed
