"""Console: the admins' user page ``/console/users`` and everyone's own settings ``/console/me``.

Handlers only read the form and call ``gracedesk.service.users`` (which checks the role and
audits). A secret (a first password, a new API token, a reset password) is shown once, on the
answer to the POST that made it, with ``Cache-Control: no-store``: never in the cookie-backed
flash or the address, and never logged. A change that can end someone's API access (role,
deactivation, token) forgets this process's token cache (``TokenCache``) at once; other
server processes notice within its 30 seconds.

- ``GET /console/users``; ``POST /console/users`` (invite); ``POST /console/users/{id}/role``,
  ``…/deactivate``, ``…/reactivate``, ``…/token``, ``…/password`` (admins; others get 403)
- ``GET /console/me``; ``POST /console/me/password``; ``POST /console/me/settings``
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from gracedesk.errors import Conflict, InvalidRequest
from gracedesk.model.staff import Staff
from gracedesk.service import protect, users
from gracedesk.service.desk import Desk
from gracedesk.service.tokens import TokenCache
from gracedesk.web import console_session as sess
from gracedesk.web.console_render import ConsoleRoute, page, see_other
from gracedesk.web.problems import status_of

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

Role = Annotated[str, Form(max_length=20)]
Password = Annotated[str, Form(max_length=users.PASSWORD_MAX)]
MASKING = {"on": True, "off": False, "default": None}


def forget_tokens(request: Request) -> None:
    """This process's cached API tokens go, so a changed user's old rights end now."""
    tokens: TokenCache = request.app.state.tokens
    tokens.clear()


def users_page(
    request: Request,
    desk: Desk,
    user: Staff,
    *,
    shown: dict[str, Any] | None = None,
    form: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The users page; ``shown``: secrets to show this once (the answer is not cached)."""
    people = users.list_users(desk.store, by=user)
    if shown is not None and "uid" in shown:
        shown["name"] = next((p["name"] for p in people if p["id"] == shown["uid"]), "")
    ctx = {
        "people": people,
        "roles": users.ROLES,
        "shown": shown,
        "form": form or {},
        "error": error,
    }
    response = page(request, "users.html", ctx, user=user, status=status)
    if shown:
        response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/users", response_class=HTMLResponse)
def users_list(request: Request, desk: sess.DeskDep, user: sess.UserDep) -> HTMLResponse:
    return users_page(request, desk, user)


@router.post("/users", response_class=HTMLResponse)
def invite(
    request: Request,
    desk: sess.DeskDep,
    user: sess.UserDep,
    at: sess.Now,
    name: Annotated[str, Form(max_length=users.NAME_MAX)],
    role: Role,
    display_name: Annotated[str, Form(max_length=users.DISPLAY_MAX)] = "",
    email: Annotated[str, Form(max_length=users.EMAIL_MAX)] = "",
) -> HTMLResponse:
    """Create a user; the page shows their first password and API token once."""
    form = {"name": name, "display_name": display_name, "email": email, "role": role}
    try:
        made = users.invite_user(
            desk.store, name, role=role, by=user, now=at, display_name=display_name, email=email
        )
    except (InvalidRequest, Conflict) as exc:  # the form again, filled in, with what was wrong
        return users_page(request, desk, user, form=form, error=exc.message, status=status_of(exc))
    shown = {
        "name": made.user["name"],
        "what": "created",
        "password": made.password,
        "token": made.token,
    }
    return users_page(request, desk, user, shown=shown)


@router.post("/users/{uid}/role")
def change_role(
    uid: sess.Id, request: Request, desk: sess.DeskDep, user: sess.UserDep, at: sess.Now, role: Role
) -> RedirectResponse:
    changed = users.change_role(desk.store, uid, role, by=user, now=at)
    forget_tokens(request)
    sess.flash(request, "success", f"{changed['name']} is {users.role_text(role)} now.")
    # an admin who made themselves something else may no longer see the users page
    return see_other("/console/" if uid == user.id and role != "admin" else "/console/users")


@router.post("/users/{uid}/deactivate")
def deactivate(
    uid: sess.Id, request: Request, desk: sess.DeskDep, user: sess.UserDep, at: sess.Now
) -> RedirectResponse:
    changed = users.set_active(desk.store, uid, False, by=user, now=at)
    forget_tokens(request)
    sess.flash(
        request,
        "success",
        f"{changed['name']} is deactivated: signed out everywhere, API token refused.",
    )
    return see_other("/console/users")


@router.post("/users/{uid}/reactivate")
def reactivate(
    uid: sess.Id, request: Request, desk: sess.DeskDep, user: sess.UserDep, at: sess.Now
) -> RedirectResponse:
    changed = users.set_active(desk.store, uid, True, by=user, now=at)
    sess.flash(request, "success", f"{changed['name']} is active again and may sign in.")
    return see_other("/console/users")


@router.post("/users/{uid}/token", response_class=HTMLResponse)
def reset_token(
    uid: sess.Id, request: Request, desk: sess.DeskDep, user: sess.UserDep, at: sess.Now
) -> HTMLResponse:
    token = users.reset_token(desk.store, uid, by=user, now=at)
    forget_tokens(request)
    return users_page(request, desk, user, shown={"uid": uid, "what": "token", "token": token})


@router.post("/users/{uid}/password", response_class=HTMLResponse)
def reset_password(
    uid: sess.Id, request: Request, desk: sess.DeskDep, user: sess.UserDep, at: sess.Now
) -> HTMLResponse:
    password = users.reset_password(desk.store, uid, by=user, now=at)
    shown = {"uid": uid, "what": "password", "password": password}
    return users_page(request, desk, user, shown=shown)


# -- one's own settings -------------------------------------------------------------------------


def me_page(
    request: Request,
    desk: Desk,
    user: Staff,
    *,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    ctx = {
        "zones": users.time_zones(),
        "masking": {True: "on", False: "off", None: "default"}[user.mask_abuse],
        "team_masks": protect.team_setting(desk)["mask_abuse"],
        "password_min": users.PASSWORD_MIN,
        "error": error,
    }
    return page(request, "me.html", ctx, user=user, status=status)


@router.get("/me", response_class=HTMLResponse)
def me(request: Request, desk: sess.DeskDep, user: sess.UserDep) -> HTMLResponse:
    return me_page(request, desk, user)


@router.post("/me/password", response_class=HTMLResponse, response_model=None)
def change_password(
    request: Request,
    desk: sess.DeskDep,
    user: sess.UserDep,
    at: sess.Now,
    current: Password,
    new: Password,
    confirm: Password,
) -> HTMLResponse | RedirectResponse:
    """Change one's password; every other session of the user ends, this one stays."""
    if new != confirm:
        return me_page(
            request, desk, user, error="the new password and its repetition differ", status=422
        )
    sid = request.session.get("sid")
    try:
        ended = users.change_password(
            desk.store,
            user,
            current=current,
            new=new,
            now=at,
            keep=sid if isinstance(sid, str) else None,
        )
    except (InvalidRequest, Conflict) as exc:
        return me_page(request, desk, user, error=exc.message, status=status_of(exc))
    others = f" {ended} other session(s) signed out." if ended else ""
    sess.flash(request, "success", f"Password changed.{others}")
    return see_other("/console/me")


@router.post("/me/settings")
def save_settings(
    request: Request,
    desk: sess.DeskDep,
    user: sess.UserDep,
    at: sess.Now,
    timezone: Annotated[str, Form(max_length=60)] = "",
    mask_abuse: Annotated[str, Form(max_length=10)] = "default",
) -> RedirectResponse:
    """Time zone and masking; an unknown zone or choice is refused (422) and nothing changes."""
    if mask_abuse not in MASKING:
        raise InvalidRequest(f"masking must be one of {list(MASKING)}")
    zone = timezone.strip() or None
    if zone != user.timezone:
        users.set_timezone(desk.store, user, zone, now=at)
    if MASKING[mask_abuse] != user.mask_abuse:
        protect.set_user_masking(desk, user, MASKING[mask_abuse], at)
    sess.flash(request, "success", f"Settings saved: times are shown in {zone or 'UTC'}.")
    return see_other("/console/me")
