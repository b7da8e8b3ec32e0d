"""API bearer tokens seen lately, kept in memory to spare a query per request."""

from __future__ import annotations

import threading
import time

from gracedesk.service.users import by_token, token_hash
from gracedesk.store import Store
from gracedesk.store.users import StaffRecord


class TokenCache:
    """Tokens seen in the last ``ttl`` seconds -> their user, to spare a query per request.

    A deactivated user or a rotated token stops working within ``ttl`` seconds.
    """

    def __init__(self, ttl: float = 30.0, size: int = 1024) -> None:
        self.ttl, self.size = ttl, size
        self._seen: dict[str, tuple[float, StaffRecord]] = {}
        self._lock = threading.Lock()

    def user(self, store: Store, token: str) -> StaffRecord:
        key = token_hash(token)
        now = time.monotonic()
        with self._lock:
            hit = self._seen.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        user = by_token(store, token)
        with self._lock:
            if len(self._seen) >= self.size:
                self._seen.clear()
            self._seen[key] = (now, user)
        return user

    def known(self, token: str) -> bool:
        """Whether ``token`` was found good in the last ``ttl`` seconds (no query)."""
        with self._lock:
            hit = self._seen.get(token_hash(token))
        return hit is not None and time.monotonic() - hit[0] < self.ttl

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()
