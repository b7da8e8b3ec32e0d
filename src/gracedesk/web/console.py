"""The agent and supervisor console (server-rendered Jinja2 + HTMX) under /console.

Routes (every POST needs the session's CSRF token, see ``console_session``):

- ``GET /`` -> ``/console/``; ``GET|POST /console/login``; ``POST /console/logout``
- inbox and conversations: ``console_conversations``
- escalation queue, follow-ups, team: ``console_supervision``
- the customer's survey ``/csat/{token}`` (public): ``console_csat``
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gracedesk.errors import NotFound, Unauthenticated
from gracedesk.web import auth, console_conversations, console_csat, console_supervision
from gracedesk.web import console_session as sess
from gracedesk.web.console_render import ConsoleRoute, page, see_other

router = APIRouter(route_class=ConsoleRoute)


@router.get("/", include_in_schema=False)
def root() -> RedirectResponse:
    return RedirectResponse("/console/", status_code=307)


@router.get("/console/login", response_class=HTMLResponse, include_in_schema=False)
def login_form(request: Request, next: str | None = None) -> Response:
    if sess.session_user(request) is not None:
        return see_other(next if next and sess.safe_next(next) else "/console/")
    ctx = {"next": next if sess.safe_next(next) else None}
    return page(request, "login.html", ctx, user=None)


@router.post("/console/login", response_class=HTMLResponse, include_in_schema=False)
def login(
    request: Request,
    desk: sess.DeskDep,
    username: Annotated[str, Form(max_length=80)],
    password: Annotated[str, Form(max_length=1000)],
    next: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    try:
        user = auth.by_password(desk.store, username.strip(), password)
    except Unauthenticated as exc:
        ctx = {
            "error": exc.message,
            "username": username,
            "next": next if sess.safe_next(next) else None,
        }
        return page(request, "login.html", ctx, user=None, status=401)
    sess.sign_in(request, user)
    return see_other(next if next and sess.safe_next(next) else "/console/")


@router.post("/console/logout", include_in_schema=False)
def logout(request: Request) -> RedirectResponse:
    sess.sign_out(request)
    return see_other("/console/login")


router.include_router(console_conversations.router)
router.include_router(console_supervision.router)
router.include_router(console_csat.router)


@router.get("/console/{rest:path}", include_in_schema=False)
def not_found(rest: str) -> Response:
    """Any other console address: the console's 404 page, not the API's JSON."""
    raise NotFound(f"there is no console page /console/{rest}")
