"""Login rate limit: a sliding window of failed sign-ins per account and per client address.

Argon2 makes each guess slow; this caps how many guesses an attacker gets at all. Failures are counted
per username (guessing one account's password from many addresses) and per client address (trying many
accounts from one address). Limits are the OWASP Authentication Cheat Sheet's advice in spirit (lock out
after a small number of failures for a period); the numbers are Tanhui's and live in settings.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field


@dataclass
class LoginLimiter:
    """At most ``max_failures`` failed sign-ins per key within ``window_seconds``."""

    max_failures: int
    window_seconds: int
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window_seconds:
            times.popleft()
        return times

    def blocked(self, keys: list[str], now: float) -> int:
        """Seconds until a sign-in may be tried again for any of ``keys``; 0 when allowed."""
        with self._lock:
            wait = 0
            for key in keys:
                times = self._recent(key, now)
                if len(times) >= self.max_failures:
                    wait = max(wait, int(times[0] + self.window_seconds - now) + 1)
            return wait

    def failed(self, keys: list[str], now: float) -> None:
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, username_key: str) -> None:
        """A correct password clears the account's count (not the address's)."""
        with self._lock:
            self._failures.pop(username_key, None)


def keys(username: str, client: str | None) -> list[str]:
    return [f"user:{username.strip().lower()}", f"addr:{client or 'unknown'}"]
