"""Mosquitto 2.0's password-file hash (``$7$``: PBKDF2-HMAC-SHA512), computed and verified here.

Stdlib only, so the store can hash a gateway's MQTT password when it registers the gateway, and the
broker-configuration code can write the file, without either importing the other.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

# Mosquitto 2.0's password-file hash: "$7$<iterations>$<base64 salt>$<base64 PBKDF2-HMAC-SHA512>", with a
# 12-byte salt and a 64-byte derived key, as mosquitto_passwd writes it (src/password_mosq.c,
# pw__hash(), SALT_LEN 12, PW_DEFAULT_ITERATIONS 101).
_HASH_ID = "7"
SALT_BYTES = 12
_KEY_BYTES = 64
# mosquitto_passwd's own default. Few iterations are enough here: every password in the file is a
# gateway token or a worker password of 256 random bits, which no dictionary attack can reach, and the
# broker pays this cost on every connect.
PASSWORD_HASH_ITERATIONS = 101


def password_hash(password: str, salt: bytes, iterations: int = PASSWORD_HASH_ITERATIONS) -> str:
    """``password`` hashed as Mosquitto 2.0's password file stores it (``$7$``, PBKDF2-HMAC-SHA512).

    ``salt`` must be :data:`SALT_BYTES` random bytes (the caller draws them: this module takes no
    randomness of its own).
    """
    if len(salt) != SALT_BYTES:
        raise ValueError(f"a Mosquitto salt is {SALT_BYTES} bytes, got {len(salt)}")
    if iterations < 1:
        raise ValueError(f"iterations must be at least 1, got {iterations}")
    key = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, _KEY_BYTES)
    return f"${_HASH_ID}${iterations}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches a ``$7$`` hash as :func:`password_hash` or mosquitto_passwd wrote it."""
    parts = encoded.split("$")
    if len(parts) != 5 or parts[0] or parts[1] != _HASH_ID or not parts[2].isdigit():
        raise ValueError(f"not a Mosquitto $7$ password hash: {encoded[:20]!r}")
    salt, key = base64.b64decode(parts[3]), base64.b64decode(parts[4])
    candidate = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(parts[2]), len(key))
    return hmac.compare_digest(candidate, key)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
