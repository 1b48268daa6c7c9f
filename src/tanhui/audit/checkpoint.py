"""C2SP tlog-checkpoint: origin, tree size and root hash as the text of a signed note."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from tanhui.audit import note
from tanhui.audit.errors import EncodingError
from tanhui.audit.merkle import HASH_SIZE


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tree head: the log's origin line, the size and the RFC 9162 root (c2sp.org/tlog-checkpoint)."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        """The note text: origin, decimal size, base64 root, extension lines, each ending in a newline."""
        root = base64.b64encode(self.root).decode("ascii")
        return "".join(f"{line}\n" for line in (self.origin, str(self.size), root, *self.extensions))

    def sign(self, signer: note.Signer) -> str:
        return note.sign(self.text(), [signer])


def parse_text(text: str) -> Checkpoint:
    """Parse checkpoint note text; refuses leading zeros, bad base64, short roots and empty lines."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise EncodingError(
            "a checkpoint is at least three lines, each ending in a newline", code="checkpoint"
        )
    origin, size_text, root_text, *ext = lines[:-1]
    if not origin or any(not line for line in ext):
        raise EncodingError("checkpoint lines must not be empty", code="checkpoint")
    if not size_text.isdigit() or not size_text.isascii() or (size_text != "0" and size_text[0] == "0"):
        raise EncodingError(
            f"tree size {size_text!r} is not a decimal without leading zeros", code="checkpoint"
        )
    try:
        root = base64.b64decode(root_text, validate=True)
    except binascii.Error:
        raise EncodingError("checkpoint root is not base64", code="checkpoint") from None
    if len(root) != HASH_SIZE:
        raise EncodingError(f"checkpoint root is {len(root)} bytes, not {HASH_SIZE}", code="checkpoint")
    return Checkpoint(origin, int(size_text), root, tuple(ext))


def open_checkpoint(signed: str, verifiers: list[note.Verifier]) -> tuple[Checkpoint, note.Note]:
    """Verify the log's signature on ``signed`` and parse it; the key's name must be the origin."""
    parsed = note.verify(signed, [v for v in verifiers])
    checkpoint = parse_text(parsed.text)
    names = {v.name for v in verifiers}
    if checkpoint.origin not in names:
        raise EncodingError(
            f"no trusted log key is named for origin {checkpoint.origin!r}", code="checkpoint"
        )
    return checkpoint, parsed
