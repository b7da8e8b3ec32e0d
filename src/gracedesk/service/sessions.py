"""Console sessions, server side: one ``console_sessions`` row per signed-in browser.

The signed cookie (``web.console_session``) holds a random session id; only its SHA-256 is
stored. Signing out deletes the row, so a copied cookie stops working in every server process,
and a row past its ``expires_at`` is refused.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from gracedesk.model.staff import Staff
from gracedesk.service.users import token_hash
from gracedesk.store import Store
from gracedesk.store import users as staff
from gracedesk.store.users import StaffRecord


def open_session(store: Store, user: Staff, *, now: datetime, lifetime: timedelta) -> str:
    """A new session for ``user`` ending at ``now + lifetime``; returns its id (for the cookie).

    Only the id's SHA-256 is stored. The user's own expired sessions are cleared on the way.
    """
    sid = secrets.token_urlsafe(32)
    with store.write() as s:
        staff.add_session(
            s.connection(), token_hash(sid), user_id=user.id, now=now, expires_at=now + lifetime
        )
    return sid


def session_user(store: Store, sid: str, *, now: datetime) -> StaffRecord | None:
    """The active user of a live session, or None (signed out, expired or deactivated)."""
    with store.read() as s:
        return staff.session_user(s.connection(), token_hash(sid), now=now)


def close_session(store: Store, sid: str) -> None:
    """Sign out: the session's row goes, so its cookie is refused from now on."""
    with store.write() as s:
        staff.close_session(s.connection(), token_hash(sid))
