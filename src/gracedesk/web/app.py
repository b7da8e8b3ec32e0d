"""``create_app(settings)``: the FastAPI application, built at the entry point, never at import."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

import anyio
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gracedesk import __version__, logs
from gracedesk.service import health
from gracedesk.service.build import build_desk, settle
from gracedesk.service.desk import Desk
from gracedesk.service.tokens import TokenCache
from gracedesk.settings import Settings
from gracedesk.web import api, api_kb, console, hooks, problems, security
from gracedesk.web.schemas import Health

WEB = Path(__file__).parent
SWAGGER = "/static/swagger-ui"  # Swagger UI, vendored: web/static/swagger-ui/VENDORED.md
log = logging.getLogger("gracedesk.web")


class BodyLimit:
    """Refuse a body over ``limit`` bytes with a 413 problem, before it is read.

    A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` costs a task per request.
    Bodies without a Content-Length (chunked) are cut off at ``limit`` while they are read.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        size = dict(scope["headers"]).get(b"content-length")
        if size is not None and (not size.isdigit() or int(size) > self.limit):
            await self._refuse(scope, receive, send)
            return
        seen, over = 0, False

        async def counted() -> Message:
            nonlocal seen, over
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.limit:
                    over = True
                    raise TooLarge
            return msg

        async def answer(msg: Message) -> None:
            # the app may turn TooLarge into an answer of its own (FastAPI: a 400 "error parsing
            # the body"): a body cut off at the limit is answered with the 413 all the same
            if over:
                raise TooLarge
            await send(msg)

        try:
            await self.app(scope, counted, answer)
        except TooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problems.problem(
            413, "Request too large", f"the body is over {self.limit} bytes", code="GD112"
        )
        await response(scope, receive, send)


class TooLarge(Exception):
    """A chunked body went over the limit while it was read."""


class RequestLog:
    """The outer layer of every request: its id, its access line, and the last word on errors.

    - A request id: the client's ``X-Request-ID`` when it is a short plain id, else a new one;
      sent back in ``X-Request-ID`` and put on every log line written while the request runs.
    - One access line (``gracedesk.logs.access``): method, route template, status, duration.
    - An error no handler answered: a database outage becomes the 503 of
      ``problems.unavailable``; anything else is logged once with its traceback and answered
      with a 500 problem document (not a bare text answer).
    """

    ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = given if self.ID.fullmatch(given) else uuid.uuid4().hex
        id_token, scope_token = logs.REQUEST_ID.set(rid), logs.SCOPE.set(scope)
        status, started, t0 = 0, False, time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
                headers = [*message.get("headers", ()), (b"x-request-id", rid.encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            if started:  # too late for an answer of our own
                log.error("request failed after its answer began", exc_info=True)
                raise
            request = Request(scope)
            if isinstance(exc, problems.unavailable_errors()):
                response: Response = problems.unavailable(request, exc)
            else:
                log.error("unhandled error", exc_info=True)
                response = self._failed(request, rid)
            await response(scope, receive, sending)
        finally:
            # no answer at all: the client went away first (nginx's 499)
            took = (time.perf_counter() - t0) * 1000
            logs.access(scope["method"], logs.route_of(scope), status or 499, took)
            logs.SCOPE.reset(scope_token)
            logs.REQUEST_ID.reset(id_token)

    @staticmethod
    def _failed(request: Request, rid: str) -> Response:
        text = f"Something went wrong on our side; it is logged as request {rid}."
        if problems.is_console(request):
            body = f"<!doctype html><title>Error 500</title><h1>Error 500</h1><p>{text}</p>"
            return HTMLResponse(body, status_code=500)
        doc = {
            "type": problems.TYPE_BASE + "500",
            "title": "Internal Server Error",
            "status": 500,
            "detail": text,
            "request_id": rid,
        }
        return Response(json.dumps(doc), 500, media_type="application/problem+json")


class JobLoop(Protocol):
    """The job loop (``gracedesk.jobs.worker.run_forever``), run until ``stop`` is set."""

    def __call__(self, desk: Desk, settings: Settings, *, stop: threading.Event) -> None: ...


def create_app(
    settings: Settings,
    *,
    desk: Desk | None = None,
    jobs: JobLoop | None = None,
    host: str | None = None,
) -> FastAPI:
    """The app. ``jobs``: a job loop to run in a thread (``gracedesk serve`` passes the worker's,
    the single-process default); the entry point injects it, the web layer never imports jobs.

    ``host``: the address the server listens on, when known (``gracedesk serve --host``); it
    decides with the base URL whether the session cookie may go over plain http
    (``security.cookie_secure``).
    """
    stop = threading.Event()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.desk is None:
            app.state.desk = build_desk(settings)
            settle(app.state.desk)  # models loaded, kept out of the cyclic GC's walks
        thread = None
        if jobs is not None:
            thread = threading.Thread(
                target=jobs,
                args=(app.state.desk, settings),
                kwargs={"stop": stop},
                name="gracedesk-jobs",
                daemon=True,
            )
            thread.start()
        yield
        stop.set()
        if thread is not None:
            thread.join(timeout=10)

    app = FastAPI(
        title="gracedesk",
        version=__version__,
        description="Support desk and coaching engine for difficult customers.",
        lifespan=lifespan,
        docs_url=None,  # served below from the package: /docs works offline
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.desk = desk
    app.state.tokens = TokenCache()
    # 0: messages are processed on the event loop itself (no thread hop at all)
    app.state.message_limiter = (
        anyio.CapacityLimiter(settings.message_threads) if settings.message_threads else None
    )
    problems.install(app)
    problems.install_unavailable(app)  # a database outage: 503 with Retry-After
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)

    @app.get("/healthz", tags=["ops"], **api.body(Health), responses=problems.responses(503))
    def healthz(request: Request) -> dict[str, Any]:
        d: Desk | None = request.app.state.desk
        if d is None:
            return {"status": "starting", "version": __version__}
        return {"status": "ok", "version": __version__, "database": health.database(d.store)}

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        """Swagger UI from the package's own static files: no CDN, works offline."""
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - API",
            swagger_js_url=f"{root}{SWAGGER}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{SWAGGER}/swagger-ui.css",
            swagger_favicon_url=f"{root}{SWAGGER}/favicon-32x32.png",
            oauth2_redirect_url=None,
            # no spec validation badge: it would call validator.swagger.io
            swagger_ui_parameters={"validatorUrl": None},
        )

    app.include_router(api.router)
    app.include_router(api_kb.router)  # /api/v1/kb: knowledge-base articles (docs/knowledge.md)
    app.include_router(hooks.router)  # POST /hooks/{name}: helpdesk webhooks (docs/connectors.md)
    app.include_router(console.router)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.session_key(),
        session_cookie="gracedesk_session",
        same_site="strict",
        https_only=security.cookie_secure(settings, host),
        max_age=round(settings.session_hours * 3600),  # the server-side session ends then too
    )
    app.mount("/static", StaticFiles(directory=WEB / "static"), name="static")
    app.add_middleware(RequestLog)  # request id, access line, unanswered errors
    security.install(app, settings)  # security headers (outermost), sign-in throttling
    return app
