"""The agent and supervisor console (server-rendered Jinja2 + HTMX) under /console.

Routes (every POST needs the session's CSRF token, see ``console_session``):

- ``GET /`` -> ``/console/``; ``GET|POST /console/login``; ``POST /console/logout``
- inbox and conversations: ``console_conversations``
- escalation queue, follow-ups, team: ``console_supervision``
- customers (search, page, flags, sanctions): ``console_customers``; audit log: ``console_audit``
- reports with server-drawn charts (supervisors): ``console_reports``
- the knowledge base (everyone reads, supervisors edit): ``console_kb``
- users (admins) and one's own settings ``/console/me``: ``console_users``
- the customer's survey ``/csat/{token}`` (public): ``console_csat``
- practice with simulated customers, assignments, certification: ``console_training``
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gracedesk.errors import NotFound, Unauthenticated
from gracedesk.service.throttle import Key, Throttle
from gracedesk.web import (
    auth,
    console_audit,
    console_conversations,
    console_csat,
    console_customers,
    console_kb,
    console_reports,
    console_supervision,
    console_training,
    console_users,
    security,
)
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
    """Sign in, throttled per user name and per client address (``Throttle``).

    A locked name or address gets 429 with ``Retry-After`` before the password is looked at,
    whether or not the name exists; a failure counts against both, a success clears the name's.
    """
    name = username.strip()
    throttle: Throttle = request.app.state.throttle
    keys = [
        Key("user", name),
        Key("client", security.client_address(request.scope)),
    ]
    ctx = {"username": username, "next": next if sess.safe_next(next) else None}
    wait = throttle.locked(desk.store, keys, now=sess.clock())
    if wait:
        return throttled(request, ctx, wait)
    try:
        user = auth.by_password(desk.store, name, password)
    except Unauthenticated as exc:
        throttle.fail(desk.store, keys, now=sess.clock())
        return page(request, "login.html", {**ctx, "error": exc.message}, user=None, status=401)
    throttle.succeed(desk.store, keys[0])
    sess.sign_in(request, user)
    return see_other(next if next and sess.safe_next(next) else "/console/")


def throttled(request: Request, ctx: dict[str, Any], seconds: int) -> Response:
    text = (
        "Too many failed sign-ins. For your security, signing in is paused: "
        f"try again in {security.wait_text(seconds)}."
    )
    response = page(request, "login.html", {**ctx, "error": text}, user=None, status=429)
    response.headers["Retry-After"] = str(seconds)
    return response


@router.post("/console/logout", include_in_schema=False)
def logout(request: Request) -> RedirectResponse:
    """Sign out: the server-side session ends, so a copy of the cookie is refused too."""
    sess.sign_out(request)
    return see_other("/console/login")


router.include_router(console_conversations.router)
router.include_router(console_supervision.router)
router.include_router(console_customers.router)
router.include_router(console_audit.router)
router.include_router(console_users.router)
router.include_router(console_reports.router)
router.include_router(console_csat.router)
router.include_router(console_kb.router)
router.include_router(console_training.router)


@router.get("/console/{rest:path}", include_in_schema=False)
def not_found(rest: str) -> Response:
    """Any other console address: the console's 404 page, not the API's JSON."""
    raise NotFound(f"there is no console page /console/{rest}")
