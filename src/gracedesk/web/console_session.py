"""The console's session: who is signed in, the CSRF token, flash messages, safe redirects.

The session is Starlette's signed cookie (``gracedesk_session``, set up in ``create_app``). It
holds ``uid`` (the signed-in user), ``sid`` (the id of the server-side session, checked against
the store on every request: signing out or the end of ``GRACEDESK_SESSION_HOURS`` ends it even
for a copied cookie), ``csrf`` (the token every console POST must echo, as the form field
``csrf_token`` or the header ``X-CSRF-Token``) and ``flashes`` (messages shown once).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Path, Request

from gracedesk.errors import PermissionDenied, Unauthenticated
from gracedesk.model.staff import Staff
from gracedesk.service import sessions
from gracedesk.service.desk import Desk
from gracedesk.web import auth

FLASH_KINDS = ("info", "success", "warning", "error")
MAX_FLASHES = 5


class LoginRequired(Unauthenticated):
    """No (valid) session: pages redirect to the sign-in page, fragments answer 401."""


class CsrfFailed(PermissionDenied):
    """A state-changing request without the session's CSRF token (HTTP 403)."""


def desk_of(request: Request) -> Desk:
    desk: Desk = request.app.state.desk
    return desk


def clock() -> datetime:
    """The clock is read here, at the edge, and passed into the service."""
    return datetime.now(UTC)


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use."""
    token = request.session.get("csrf")
    if not isinstance(token, str) or not token:
        token = auth.new_csrf()
        request.session["csrf"] = token
    return token


async def check_csrf(request: Request) -> None:
    """Raise ``CsrfFailed`` unless the request echoes the session's token (header or form)."""
    given = request.headers.get("x-csrf-token")
    if not given:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            # Starlette caches the parsed form, so the handler's Form() fields reuse it
            value = (await request.form()).get("csrf_token")
            given = value if isinstance(value, str) else None
    if not auth.csrf_ok(request.session.get("csrf"), given):
        raise CsrfFailed(
            "this form has expired or did not come from the console: reload the page and try again"
        )


def session_user(request: Request) -> Staff | None:
    """The signed-in, active user of a live server-side session, or None.

    One query per request (remembered on ``request.state``). A session that has ended (signed
    out elsewhere, expired, user deactivated) is dropped from the cookie too.
    """
    if hasattr(request.state, "console_user"):
        cached: Staff | None = request.state.console_user
        return cached
    uid, sid = request.session.get("uid"), request.session.get("sid")
    user = None
    if isinstance(uid, int) and isinstance(sid, str) and sid:
        user = sessions.session_user(desk_of(request).store, sid, now=clock())
        if user is not None and user.id != uid:
            user = None
    if user is None and ("uid" in request.session or "sid" in request.session):
        request.session.pop("uid", None)
        request.session.pop("sid", None)
    request.state.console_user = user
    return user


def session_lifetime(request: Request) -> timedelta:
    hours: float = request.app.state.settings.session_hours
    return timedelta(hours=hours)


def sign_in(request: Request, user: Staff) -> None:
    """A fresh session for ``user`` (a new server-side session id), with a fresh CSRF token."""
    sid = sessions.open_session(
        desk_of(request).store, user, now=clock(), lifetime=session_lifetime(request)
    )
    request.session.clear()
    request.session["uid"] = user.id
    request.session["sid"] = sid
    request.session["csrf"] = auth.new_csrf()
    request.state.console_user = user


def sign_out(request: Request) -> None:
    """End the session on the server (its cookie stops working everywhere) and forget it here."""
    sid = request.session.get("sid")
    if isinstance(sid, str) and sid:
        sessions.close_session(desk_of(request).store, sid)
    request.session.clear()
    request.state.console_user = None


def console_user(request: Request) -> Staff:
    user = session_user(request)
    if user is None:
        raise LoginRequired("sign in to use the console")
    return user


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def login_url(request: Request) -> str:
    """The sign-in page, coming back to this page afterwards (for GET pages)."""
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET" or not safe_next(back):
        return "/console/login"
    return "/console/login?next=" + quote(back, safe="/")


def safe_next(target: str | None) -> bool:
    """Only local console paths: no scheme, host, backslash or control characters."""
    if not target or any(c in target for c in "\\\r\n\t") or not target.isprintable():
        return False
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return False
    return parts.path == "/console" or parts.path.startswith("/console/")


def flash(request: Request, kind: str, text: str) -> None:
    """A message shown once, on the next page rendered."""
    if kind not in FLASH_KINDS:
        raise ValueError(f"flash kind must be one of {FLASH_KINDS}")
    queued = [f for f in request.session.get("flashes", []) if isinstance(f, dict)]
    request.session["flashes"] = [*queued, {"kind": kind, "text": text}][-MAX_FLASHES:]


def pop_flashes(request: Request) -> list[dict[str, Any]]:
    queued = request.session.pop("flashes", None)
    return [f for f in queued if isinstance(f, dict)] if isinstance(queued, list) else []


def remember(request: Request, key: str, value: Any) -> None:
    """A value for the next page only (e.g. the CSAT link just made)."""
    request.session[f"once:{key}"] = value


def recall(request: Request, key: str) -> Any:
    return request.session.pop(f"once:{key}", None)


DeskDep = Annotated[Desk, Depends(desk_of)]
ID_MAX = 2**31 - 1  # INTEGER columns: a larger id names nothing (and PostgreSQL would refuse it)
Id = Annotated[int, Path(ge=1, le=ID_MAX)]  # a row id in a console path
UserDep = Annotated[Staff, Depends(console_user)]
Now = Annotated[datetime, Depends(clock)]
