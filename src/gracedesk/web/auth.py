"""Who is asking: API bearer tokens, console sessions with CSRF protection, roles.

- API: ``Authorization: Bearer <token>`` (tokens and passwords: ``gracedesk.service.users``).
- Console: a signed session cookie (Starlette's SessionMiddleware) holds the user id, a random
  session id and a CSRF token; every state-changing console request must echo the token (form
  field ``csrf_token`` or header ``X-CSRF-Token``). The session id must name a live row of
  ``console_sessions`` on every request: signing out deletes it (a copied cookie stops working,
  in every server process) and a row past its ``expires_at`` is refused.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from gracedesk.service.users import by_id as by_id
from gracedesk.service.users import by_password as by_password
from gracedesk.service.users import by_token as by_token
from gracedesk.service.users import create_user as create_user
from gracedesk.service.users import rotate_token as rotate_token
from gracedesk.service.users import token_hash as token_hash
from gracedesk.store import Store
from gracedesk.store.tables import ConsoleSession, User


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

    def known(self, token: str) -> bool:
        """Whether ``token`` was found good in the last ``ttl`` seconds (no query)."""
        with self._lock:
            hit = self._seen.get(token_hash(token))
        return hit is not None and time.monotonic() - hit[0] < self.ttl

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()


def new_csrf() -> str:
    return secrets.token_urlsafe(24)


def csrf_ok(expected: str | None, given: str | None) -> bool:
    return bool(expected and given and hmac.compare_digest(expected, given))


# -- console sessions (server side) -------------------------------------------------------------


def open_session(store: Store, user: User, *, now: datetime, lifetime: timedelta) -> str:
    """A new session for ``user`` ending at ``now + lifetime``; returns its id (for the cookie).

    Only the id's SHA-256 is stored. The user's own expired sessions are cleared on the way.
    """
    sid = secrets.token_urlsafe(32)
    with store.write() as s:
        s.execute(
            delete(ConsoleSession).where(
                ConsoleSession.user_id == user.id, ConsoleSession.expires_at <= now
            )
        )
        s.add(
            ConsoleSession(
                id=token_hash(sid), user_id=user.id, created_at=now, expires_at=now + lifetime
            )
        )
    return sid


def session_user(store: Store, sid: str, *, now: datetime) -> User | None:
    """The active user of a live session, or None (signed out, expired or deactivated)."""
    with store.read() as s:
        return s.scalar(
            select(User)
            .join(ConsoleSession, ConsoleSession.user_id == User.id)
            .where(
                ConsoleSession.id == token_hash(sid),
                ConsoleSession.expires_at > now,
                User.active.is_(True),
            )
        )


def close_session(store: Store, sid: str) -> None:
    """Sign out: the session's row goes, so its cookie is refused from now on."""
    with store.write() as s:
        s.execute(delete(ConsoleSession).where(ConsoleSession.id == token_hash(sid)))
