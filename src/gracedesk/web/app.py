"""``create_app(settings)``: the FastAPI application, built at the entry point, never at import."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from gracedesk import __version__
from gracedesk.service.desk import Desk
from gracedesk.settings import Settings
from gracedesk.web import api, auth, problems

WEB = Path(__file__).parent


def build_desk(settings: Settings) -> Desk:
    """Store, policy and models for ``settings`` (migrations applied)."""
    from gracedesk.analysis.pipeline import get_analyzer
    from gracedesk.policy import load_policy
    from gracedesk.store import Store

    store = Store.open(settings.url())
    store.migrate()
    return Desk(
        store,
        policy=load_policy(settings.policy_dir),
        analyzer=get_analyzer(settings.tier),
        supervisor_email=settings.supervisor_email,
        base_url=settings.base_url,
        follow_up_lead_minutes=settings.follow_up_lead_minutes,
    )


def create_app(settings: Settings, *, desk: Desk | None = None, jobs: bool = False) -> FastAPI:
    """The app. ``jobs=True`` runs the job loop in a thread (the single-process default)."""
    stop = threading.Event()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.desk is None:
            app.state.desk = build_desk(settings)
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
    app.state.message_limiter = anyio.CapacityLimiter(settings.message_threads)
    problems.install(app)
    limit = settings.max_body_bytes

    @app.middleware("http")
    async def body_limit(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        size = request.headers.get("content-length")
        if size is not None and (not size.isdigit() or int(size) > limit):
            return problems.problem(
                413, "Request too large", f"the body is over {limit} bytes", code="GD112"
            )
        return await call_next(request)

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
