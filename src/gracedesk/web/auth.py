"""Who is asking: API bearer tokens, console sessions with CSRF protection, roles.

- API: ``Authorization: Bearer <token>`` (tokens and passwords: ``gracedesk.service.users``).
- Console: a signed session cookie (Starlette's SessionMiddleware) holds the user id and a CSRF
  token; every state-changing console request must echo the token (form field ``csrf_token`` or
  header ``X-CSRF-Token``).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time

from gracedesk.service.users import by_id as by_id
from gracedesk.service.users import by_password as by_password
from gracedesk.service.users import by_token as by_token
from gracedesk.service.users import create_user as create_user
from gracedesk.service.users import rotate_token as rotate_token
from gracedesk.service.users import token_hash as token_hash
from gracedesk.store import Store
from gracedesk.store.tables import User


class TokenCache:
    """Tokens seen in the last ``ttl`` seconds -> their user, to spare a query per request.

    A deactivated user or a rotated token stops working within ``ttl`` seconds.
    """

    def __init__(self, ttl: float = 30.0, size: int = 1024) -> None:
        self.ttl, self.size = ttl, size
        self._seen: dict[str, tuple[float, User]] = {}
        self._lock = threading.Lock()

    def user(self, store: Store, token: str) -> User:
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

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()


def new_csrf() -> str:
    return secrets.token_urlsafe(24)


def csrf_ok(expected: str | None, given: str | None) -> bool:
    return bool(expected and given and hmac.compare_digest(expected, given))
