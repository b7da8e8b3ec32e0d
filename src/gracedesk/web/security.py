"""Security on every response and at every door: headers, sign-in throttling, the cookie's flags.

- ``SecurityHeaders``: Content-Security-Policy, ``X-Content-Type-Options: nosniff``,
  ``X-Frame-Options: DENY`` and ``Referrer-Policy: same-origin`` on every response. The console's
  policy allows scripts, styles and requests from the desk itself only; the API documentation
  (``/docs``, ``/redoc``) gets a policy that also allows its inline bootstrap scripts by their
  SHA-256 hashes (computed from the page as it is sent) and inline styles.
- ``Throttle`` (``gracedesk.service.throttle``): failed sign-ins counted per user name and per
  client address in the store (so across server processes); after too many within the window
  the key is locked for a time that doubles with every further failure, up to a cap. A lock
  answers 429 with ``Retry-After``.
- ``ApiThrottle``: bad API tokens count against the client address; a locked address gets 429.
- ``cookie_secure``: whether the session cookie is ``Secure``.

docs/desk.md (settings) and docs/console.md (sign-in) describe the behaviour.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import logging
import math
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import anyio
from sqlalchemy.exc import DBAPIError
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gracedesk.service.throttle import Key, Throttle
from gracedesk.settings import Settings
from gracedesk.web.problems import problem

log = logging.getLogger("gracedesk.security")

THROTTLED_CODE = "GD705"
LOOPBACK_NAMES = ("localhost", "localhost.localdomain")

# -- headers ------------------------------------------------------------------------------------

CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
# Swagger UI / ReDoc: their bootstrap <script> is inline (allowed by hash, added per page), and
# they set inline styles; everything they load comes from the desk itself.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
COMMON = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
)
DOCS_PATHS = ("/docs", "/redoc")
INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script\s*>", re.I | re.S)


def is_docs(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in DOCS_PATHS)


def script_hashes(html: bytes) -> list[str]:
    """CSP source expressions (``'sha256-…'``) for each inline ``<script>`` of ``html``."""
    found = []
    for m in INLINE_SCRIPT.finditer(html):
        digest = base64.b64encode(hashlib.sha256(m[1]).digest()).decode("ascii")
        found.append(f"'sha256-{digest}'")
    return sorted(set(found))


def docs_csp(html: bytes) -> str:
    return DOCS_CSP.format(hashes="".join(" " + h for h in script_hashes(html)))


def _with_headers(raw: Iterable[tuple[bytes, bytes]], csp: str) -> list[tuple[bytes, bytes]]:
    """``raw`` plus ours; a header the route set itself (e.g. its own CSP) is kept."""
    headers = list(raw)
    present = {k.lower() for k, _ in headers}
    for key, value in ((b"content-security-policy", csp.encode("ascii")), *COMMON):
        if key not in present:
            headers.append((key, value))
    return headers


class SecurityHeaders:
    """A plain ASGI middleware (no task per request) that adds the headers to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if is_docs(scope["path"]):
            await self._docs(scope, receive, send)
            return

        async def send_with(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _with_headers(message.get("headers", ()), CONSOLE_CSP)
            await send(message)

        await self.app(scope, receive, send_with)

    async def _docs(self, scope: Scope, receive: Receive, send: Send) -> None:
        """HTML pages are held until complete, to hash their inline scripts; the rest streams."""
        start: Message | None = None
        chunks: list[bytes] = []

        async def send_with(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                ctype = dict(message.get("headers", ())).get(b"content-type", b"")
                if ctype.startswith(b"text/html"):
                    start = message
                    return
                message["headers"] = _with_headers(message.get("headers", ()), CONSOLE_CSP)
            elif message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                html = b"".join(chunks)
                start["headers"] = _with_headers(start.get("headers", ()), docs_csp(html))
                await send(start)
                message = {"type": "http.response.body", "body": html, "more_body": False}
            await send(message)

        await self.app(scope, receive, send_with)


# -- the session cookie -------------------------------------------------------------------------


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cookie_secure(settings: Settings, host: str | None = None) -> bool:
    """Whether the session cookie is ``Secure``: always, unless set off or local plain http.

    ``GRACEDESK_COOKIE_SECURE`` decides when it is set. Unset, the cookie is Secure unless the
    base URL is ``http://`` on a loopback host *and* the server listens on a loopback address
    (``host``, from ``gracedesk serve --host``; None when the app is built elsewhere), so that
    ``gracedesk serve --demo`` works in a browser at http://127.0.0.1:8000 and nothing else runs
    on plain http by accident.
    """
    if settings.cookie_secure is not None:
        return settings.cookie_secure
    base = urlsplit(settings.base_url)
    local_http = base.scheme == "http" and is_loopback(base.hostname)
    return not (local_http and (host is None or is_loopback(host)))


# -- throttling ---------------------------------------------------------------------------------


def wait_text(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"


def client_address(scope: Scope) -> str:
    """The client's address as the server saw it (uvicorn's ``--forwarded-allow-ips`` decides
    whether a proxy's ``X-Forwarded-For`` is believed)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


# -- API tokens ---------------------------------------------------------------------------------


class ApiThrottle:
    """Bad bearer tokens on ``/api/`` count against the client address; a locked one gets 429.

    Cheap on the hot path: a request whose token the app's ``TokenCache`` already knows as good
    passes straight through; only the others (a query for the token follows anyway) look the
    lock up, and only a 401 answer to a request that sent a token counts as a failure.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        token = _bearer(scope)
        desk = getattr(state, "desk", None)
        if token is None or desk is None or state.tokens.known(token):
            await self.app(scope, receive, send)
            return
        throttle: Throttle = state.throttle
        keys = [Key("client", client_address(scope))]
        try:
            wait = await anyio.to_thread.run_sync(
                lambda: throttle.locked(desk.store, keys, now=datetime.now(UTC))
            )
        except DBAPIError:  # the store is down: the route answers that (503), not this check
            wait = 0
        if wait:
            await too_many(wait)(scope, receive, send)
            return
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, watch)
        if status == 401:
            try:
                await anyio.to_thread.run_sync(
                    lambda: throttle.fail(desk.store, keys, now=datetime.now(UTC))
                )
            except DBAPIError as exc:  # the answer has gone out; the count is lost, not the request
                log.warning("could not count a failed API sign-in: %s", type(exc).__name__)


def _bearer(scope: Scope) -> str | None:
    for key, value in scope["headers"]:
        if key == b"authorization":
            text: str = value.decode("latin-1")
            token = text[7:].strip()
            return token if text[:7].lower() == "bearer " and token else None
    return None


def too_many(seconds: int) -> Any:
    """The API's 429 problem document, with ``Retry-After``."""

    response = problem(
        429,
        "Too many attempts",
        f"too many failed sign-ins from this address: try again in {wait_text(seconds)}",
        code=THROTTLED_CODE,
    )
    response.headers["Retry-After"] = str(seconds)
    return response


def install(app: Any, settings: Settings) -> None:
    """Register the throttle and the middlewares on ``create_app``'s app.

    The headers go outermost, so that every answer has them (errors and 413s included); the API
    throttle innermost, inside the request log (its 429s are logged like any answer).
    """
    app.state.throttle = Throttle.from_settings(settings)
    app.user_middleware.append(Middleware(ApiThrottle))
    app.add_middleware(SecurityHeaders)
