"""``create_app(settings)``: the FastAPI application, built at the entry point, never at import."""

from __future__ import annotations

import gc
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gracedesk import __version__
from gracedesk.service.build import build_desk
from gracedesk.service.desk import Desk
from gracedesk.settings import Settings
from gracedesk.web import api, auth, problems

WEB = Path(__file__).parent


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
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.limit:
                    raise TooLarge
            return msg

        try:
            await self.app(scope, counted, send)
        except TooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problems.problem(
            413, "Request too large", f"the body is over {self.limit} bytes", code="GD112"
        )
        await response(scope, receive, send)


class TooLarge(Exception):
    """A chunked body went over the limit while it was read."""


def create_app(settings: Settings, *, desk: Desk | None = None, jobs: bool = False) -> FastAPI:
    """The app. ``jobs=True`` runs the job loop in a thread (the single-process default)."""
    stop = threading.Event()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.desk is None:
            app.state.desk = build_desk(settings)
            app.state.desk.analyzer.analyze("warm up")  # lazily built parts load now
            # the models are hundreds of thousands of long-lived objects: keep them out of the
            # cyclic GC's full collections, whose pauses showed up as p99 latency
            gc.collect()
            gc.freeze()
        thread = None
        if jobs:
            from gracedesk.jobs.worker import run_forever

            thread = threading.Thread(
                target=run_forever,
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
    )
    app.state.settings = settings
    app.state.desk = desk
    app.state.tokens = auth.TokenCache()
    # 0: messages are processed on the event loop itself (no thread hop at all)
    app.state.message_limiter = (
        anyio.CapacityLimiter(settings.message_threads) if settings.message_threads else None
    )
    problems.install(app)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)

    @app.get("/healthz", tags=["ops"])
    def healthz(request: Request) -> dict[str, Any]:
        d: Desk | None = request.app.state.desk
        if d is None:
            return {"status": "starting", "version": __version__}
        from sqlalchemy import text

        with d.store.read() as s:
            s.execute(text("SELECT 1"))
        return {"status": "ok", "version": __version__, "database": d.store.dialect}

    app.include_router(api.router)
    from gracedesk.web import console

    app.include_router(console.router)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.session_key(),
        session_cookie="gracedesk_session",
        same_site="strict",
        https_only=settings.base_url.startswith("https://"),
        max_age=12 * 3600,
    )
    app.mount("/static", StaticFiles(directory=WEB / "static"), name="static")
    return app
