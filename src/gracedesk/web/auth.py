"""Who is asking: API bearer tokens, console sessions with CSRF protection, roles.

- API: ``Authorization: Bearer <token>`` (tokens and passwords: ``gracedesk.service.users``).
- Console: a signed session cookie (Starlette's SessionMiddleware) holds the user id, a random
  session id and a CSRF token; every state-changing console request must echo the token (form
  field ``csrf_token`` or header ``X-CSRF-Token``). The session id must name a live row of
  ``console_sessions`` on every request (``gracedesk.service.sessions``): signing out deletes it
  (a copied cookie stops working, in every server process) and a row past its ``expires_at`` is
  refused.
"""

from __future__ import annotations

import hmac
import secrets

from gracedesk.service.users import by_id as by_id
from gracedesk.service.users import by_password as by_password
from gracedesk.service.users import by_token as by_token
from gracedesk.service.users import create_user as create_user
from gracedesk.service.users import rotate_token as rotate_token
from gracedesk.service.users import token_hash as token_hash


def new_csrf() -> str:
    return secrets.token_urlsafe(24)


def csrf_ok(expected: str | None, given: str | None) -> bool:
    return bool(expected and given and hmac.compare_digest(expected, given))
