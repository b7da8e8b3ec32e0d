"""Rendering for the console: the Jinja2 templates and their filters, and the route class that
turns every error into a friendly page (or an HTMX fragment) with the right status, never a 500.

``ConsoleRoute`` also checks the CSRF token on every state-changing request before the handler
(or any of its dependencies) runs, so no console POST can forget it. A POST without a signed-in
session (other than the sign-in form itself) is sent to sign in (a 401 fragment for HTMX).

Times are shown in the signed-in viewer's zone (``users.timezone``; UTC when unset, and on pages
without a signed-in user), each in a ``<time>`` whose ``datetime`` and ``title`` give it in UTC.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.exceptions import HTTPException

from gracedesk import errors
from gracedesk.model.staff import Staff
from gracedesk.web import console_session as sess
from gracedesk.web.console_evidence import highlight, risk_level
from gracedesk.web.problems import status_of

log = logging.getLogger("gracedesk.console")

TEMPLATES = Path(__file__).parent / "templates"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
LOGIN = "/console/login"
TITLES = {
    401: "Please sign in",
    403: "Not allowed",
    404: "Not found",
    409: "Already done",
    413: "Too large",
    422: "That did not work",
}

Handler = Callable[[Request], Coroutine[Any, Any, Response]]

# The zone of the page being rendered. Filters read it here rather than from the template
# context because macros imported from _macros.html do not see the page's context. Set only
# while ``render`` runs (Starlette renders a TemplateResponse in its constructor).
VIEWER_ZONE: ContextVar[tzinfo | None] = ContextVar("gracedesk_viewer_zone", default=None)


@functools.cache
def templates() -> Jinja2Templates:
    """The console's templates (built on first use, not at import)."""
    t = Jinja2Templates(directory=TEMPLATES)
    t.env.filters.update(
        when=when_html,
        when_text=when_text,
        due=due,
        past=past,
        stamped=stamped_html,
        pct=pct,
        risk_level=risk_level,
        highlight=highlight,
    )
    t.env.globals["top"] = top
    return t


def page(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    user: Staff | None,
    status: int = 200,
    public: bool = False,
) -> HTMLResponse:
    """A full page (base.html) with the user, the CSRF token and the queued flashes.

    ``public`` pages (the customer's survey) leave the session alone: no token, no flashes.
    Times are shown in ``user``'s zone (``viewer_tz`` in the context), UTC on public pages.
    """
    zone = None if public else viewer_zone(user)
    ctx = {
        "user": user,
        "csrf_token": "" if public else sess.csrf_token(request),
        "flashes": [] if public else sess.pop_flashes(request),
        "now": sess.clock(),
        "viewer_tz": zone_name(zone),
        **context,
    }
    return render(request, name, ctx, status=status, zone=zone)


def fragment(
    request: Request, name: str, context: dict[str, Any], *, status: int = 200
) -> HTMLResponse:
    """A piece of a page, for HTMX to swap in (times in the zone of the session's user, if the
    request already looked them up)."""
    zone = viewer_zone(getattr(request.state, "console_user", None))
    ctx = {"viewer_tz": zone_name(zone), **context}
    return render(request, name, ctx, status=status, zone=zone)


def render(
    request: Request, name: str, ctx: dict[str, Any], *, status: int, zone: tzinfo | None
) -> HTMLResponse:
    """Render with the time filters set to ``zone`` (None: UTC)."""
    token = VIEWER_ZONE.set(zone)
    try:
        return templates().TemplateResponse(request, name, ctx, status_code=status)
    finally:
        VIEWER_ZONE.reset(token)


def viewer_zone(user: Staff | None) -> tzinfo | None:
    """The zone ``user`` reads times in; None (UTC) when unset, or no longer known here."""
    if user is None or not user.timezone:
        return None
    try:
        return ZoneInfo(user.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone for user %s: showing UTC", user.id)
        return None


def zone_name(zone: tzinfo | None) -> str:
    return str(zone) if zone is not None else "UTC"


def see_other(url: str) -> RedirectResponse:
    """The answer to a form POST: go and GET this page (post/redirect/get)."""
    return RedirectResponse(url, status_code=303)


class ConsoleRoute(APIRoute):
    """Console pages: CSRF on unsafe methods; errors become HTML with the matching status."""

    public = False  # public pages (the CSAT survey) have no session, so no CSRF and no user

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        public = self.public

        async def run(request: Request) -> Response:
            try:
                if not public and request.method not in SAFE_METHODS:
                    if "uid" not in request.session and request.url.path != LOGIN:
                        raise sess.LoginRequired("sign in to use the console")
                    await sess.check_csrf(request)
                return await handler(request)
            except sess.LoginRequired:
                if sess.is_htmx(request):
                    return error_response(
                        request, 401, "Your session has ended: sign in again.", public=True
                    )
                return see_other(sess.login_url(request))
            except errors.GracedeskError as exc:
                status = status_of(exc)
                if status >= 500:
                    log.error("console request %s failed: %s", request.url.path, exc)
                return error_response(request, status, exc.message, public=public)
            except RequestValidationError as exc:
                return error_response(request, 422, validation_text(exc), public=public)
            except HTTPException as exc:
                return error_response(request, exc.status_code, str(exc.detail), public=public)

        return run


class PublicRoute(ConsoleRoute):
    public = True


def error_response(request: Request, status: int, message: str, *, public: bool) -> HTMLResponse:
    title = TITLES.get(status, "Something went wrong")
    if sess.is_htmx(request):
        return fragment(request, "_error.html", {"title": title, "message": message}, status=status)
    user = None if public else sess.session_user(request)
    ctx = {"title": title, "message": message, "status": status, "public": public}
    return page(request, "error.html", ctx, user=user, status=status, public=public)


def validation_text(exc: RequestValidationError) -> str:
    parts = []
    for e in exc.errors()[:5]:
        loc = [str(x) for x in e.get("loc", ()) if x not in ("body", "query", "path")]
        parts.append(f"{'.'.join(loc) or 'request'}: {e.get('msg', 'invalid')}")
    return "; ".join(parts) or "the request could not be used"


# -- filters ------------------------------------------------------------------------------------


def _parse(value: str | datetime | None) -> datetime | None:
    if value is None or value == "":
        return None
    t = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC)


def when(value: str | datetime | None, zone: tzinfo | None = None) -> str:
    """``Tue 2 Dec 10:00 UTC``, or in ``zone`` with its abbreviation: ``Tue 2 Dec 11:00 CET``."""
    t = _parse(value)
    if t is None:
        return "—"
    local = t.astimezone(zone) if zone is not None else t
    return f"{local:%a} {local.day} {local:%b %H:%M} {local.tzname() or 'UTC'}"


def when_html(value: str | datetime | None) -> Markup:
    """The ``when`` filter: the time in the viewer's zone, in UTC on hover and for machines.

    ``<time datetime="2026-12-02T09:00:00Z" title="2026-12-02 09:00 UTC">Wed 2 Dec 10:00
    CET</time>``. For attributes use ``when_text``: this is markup.
    """
    t = _parse(value)
    if t is None:
        return Markup("—")
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        f"{t:%Y-%m-%dT%H:%M:%SZ}", f"{t:%Y-%m-%d %H:%M} UTC", when(t, VIEWER_ZONE.get())
    )


def when_text(value: str | datetime | None) -> str:
    """Plain text for an attribute (a ``title``): the viewer's time, plus UTC when they differ."""
    t = _parse(value)
    zone = VIEWER_ZONE.get()
    text = when(t, zone)
    if t is None or zone is None or t.astimezone(zone).utcoffset() == timedelta(0):
        return text
    return f"{text} ({t:%H:%M} UTC)"


def due(value: str | datetime | None, now: datetime) -> str:
    """How far away a deadline is: ``in 3 h``, ``12 min ago``."""
    t = _parse(value)
    if t is None:
        return "—"
    seconds = (t - now).total_seconds()
    mins = int(abs(seconds) // 60)
    if mins < 1:
        return "now"
    if mins < 60:
        span = f"{mins} min"
    elif mins < 48 * 60:
        span = f"{mins // 60} h"
    else:
        span = f"{mins // (24 * 60)} d"
    return f"in {span}" if seconds > 0 else f"{span} ago"


def past(value: str | datetime | None, now: datetime) -> bool:
    t = _parse(value)
    return t is not None and t < now


STAMPED = re.compile(r"^(\d{4}-\d{2}-\d{2}T[\d:.]+(?:Z|[+-]\d{2}:\d{2})?): (.*)$", re.DOTALL)


def stamped(line: str, zone: tzinfo | None = None) -> str:
    """``2026-12-01T21:42:12.5+00:00: text`` (a hand-over line) as ``Tue 1 Dec 21:42 UTC: text``."""
    m = STAMPED.match(line)
    if m is None:
        return line
    try:
        return f"{when(m[1], zone)}: {m[2]}"
    except ValueError:
        return line


def stamped_html(line: str) -> Markup | str:
    """The ``stamped`` filter: the line's time as ``when_html`` shows it, the text escaped."""
    m = STAMPED.match(line)
    if m is None:
        return line
    try:
        return Markup("{}: {}").format(when_html(m[1]), m[2])
    except ValueError:
        return line


def pct(value: float | None) -> str:
    return "—" if value is None else f"{round(value * 100)}%"


def top(scores: dict[str, float] | None, n: int = 3, floor: float = 0.1) -> list[tuple[str, float]]:
    """The ``n`` highest scores at or above ``floor``, highest first."""
    ranked = sorted((scores or {}).items(), key=lambda kv: (-kv[1], kv[0]))
    return [(k, v) for k, v in ranked[:n] if v >= floor]
