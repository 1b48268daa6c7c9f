"""A witness's decision (c2sp.org/tlog-witness): cosign only what extends what it cosigned before.

The witness keeps the latest checkpoint it cosigned per origin. A new checkpoint of the same origin is
refused when it is smaller (a rollback), when it has the same size but another root (a fork), or when
the consistency proof from the old tree to the new one fails (a rewritten history).
"""

from __future__ import annotations

from collections.abc import Sequence

from tanhui.audit import merkle
from tanhui.audit.checkpoint import Checkpoint
from tanhui.audit.errors import ForkError, ProofError


def check_extends(last: Checkpoint | None, new: Checkpoint, proof: Sequence[bytes]) -> None:
    """Raise :class:`ForkError` unless ``new`` is consistent with ``last`` (None: first sight)."""
    if last is None:
        return
    if last.origin != new.origin:
        raise ForkError(f"origin {new.origin!r} is not the witnessed {last.origin!r}", code="origin_mismatch")
    if new.size < last.size:
        raise ForkError(
            f"checkpoint of size {new.size} is smaller than the cosigned size {last.size}", code="rollback"
        )
    if new.size == last.size and new.root != last.root:
        raise ForkError(
            f"two checkpoints of size {new.size} with different roots "
            f"({last.root.hex()[:16]}… cosigned, {new.root.hex()[:16]}… offered)",
            code="fork_same_size",
        )
    try:
        merkle.verify_consistency(last.size, new.size, last.root, new.root, proof)
    except ProofError as exc:
        raise ForkError(
            f"no consistency from size {last.size} to {new.size}: {exc.message}", code="fork_inconsistent"
        ) from exc
