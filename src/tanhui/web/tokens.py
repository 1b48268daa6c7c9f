"""Signed, expiring tokens for sessions (cookie) and API access (bearer).

Format: ``<purpose>.<user id>.<expiry epoch>.<hex HMAC-SHA256>``; the purpose is part of the signed
text, so a session cookie is not accepted as a bearer token or the other way round.
"""

from __future__ import annotations

import hashlib
import hmac


def sign(purpose: str, user_id: int, expires_at: int, secret: str) -> str:
    body = f"{purpose}.{user_id}.{expires_at}"
    mac = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{mac}"


def verify(purpose: str, token: str, *, now: int, secret: str) -> int | None:
    """The user id in ``token`` if it is genuine, of ``purpose`` and not expired; else None."""
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != purpose:
        return None
    _, user_text, expiry_text, mac = parts
    if not (user_text.isdigit() and expiry_text.isdigit()):
        return None
    expected = sign(purpose, int(user_text), int(expiry_text), secret).rsplit(".", 1)[1]
    if not hmac.compare_digest(mac, expected) or int(expiry_text) <= now:
        return None
    return int(user_text)
