"""Console: find a customer, their page, their flags and sanctions.

Every role searches and reads customer pages; flags are set and cleared by supervisors and
admins; agents may warn, supervisors and admins also restrict, block and lift. The service
enforces each of these (``PermissionDenied``, a 403 page); the page only hides what the role
cannot use. Notes are added through ``console_conversations.add_note``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from gracedesk.model.flags import FLAG_MAX_CHARS, VOCABULARY
from gracedesk.service import customers, records
from gracedesk.web import console_session as sess
from gracedesk.web.console_render import ConsoleRoute, page, see_other

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

PAGE_SIZE = 50
MINUTES_MAX = 60 * 24 * 365

Id = sess.Id
Reason = Annotated[str, Form(min_length=1, max_length=2000)]
SANCTIONED = {
    "warn": "Warning recorded",
    "restrict": "Restriction in force",
    "block": "Blocked: new messages are held for a supervisor",
}


def customer_url(customer_id: int) -> str:
    return f"/console/customers/{customer_id}"


@router.get("/customers", response_class=HTMLResponse)
def search(
    request: Request,
    desk: sess.DeskDep,
    user: sess.UserDep,
    at: sess.Now,
    q: Annotated[str, Query(max_length=customers.QUERY_MAX)] = "",
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> HTMLResponse:
    found = customers.search(desk, q, now=at, limit=PAGE_SIZE, offset=offset)
    return page(request, "customers.html", {"page": found, "q": found["query"]}, user=user)


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
def customer(
    customer_id: Id, request: Request, desk: sess.DeskDep, user: sess.UserDep, at: sess.Now
) -> HTMLResponse:
    supervising = user.role in records.SUPERVISING
    ctx = {
        "c": customers.profile_for(desk, customer_id, user=user, now=at),
        "can_flag": supervising,
        "levels": records.SANCTION_LEVELS if supervising else ("warn",),
        "can_lift": supervising,
        "vocabulary": VOCABULARY,
        "flag_max": FLAG_MAX_CHARS,
        "minutes_max": MINUTES_MAX,
    }
    return page(request, "customer.html", ctx, user=user)


@router.post("/customers/{customer_id}/flags")
def add_flag(
    customer_id: Id,
    request: Request,
    desk: sess.DeskDep,
    user: sess.UserDep,
    at: sess.Now,
    flag: Annotated[str, Form(min_length=1, max_length=200)],
    reason: Annotated[str | None, Form(max_length=2000)] = None,
) -> RedirectResponse:
    out = customers.add_flag(desk, customer_id, flag, user=user, now=at, reason=reason)
    sess.flash(request, "success", f"Flagged “{out['flags'][-1]}”.")
    return see_other(customer_url(customer_id))


@router.post("/customers/{customer_id}/flags/remove")
def remove_flag(
    customer_id: Id,
    request: Request,
    desk: sess.DeskDep,
    user: sess.UserDep,
    at: sess.Now,
    flag: Annotated[str, Form(min_length=1, max_length=200)],
) -> RedirectResponse:
    customers.remove_flag(desk, customer_id, flag, user=user, now=at)
    sess.flash(request, "info", f"Flag “{flag.strip()}” cleared.")
    return see_other(customer_url(customer_id))


@router.post("/customers/{customer_id}/sanctions")
def add_sanction(
    customer_id: Id,
    request: Request,
    desk: sess.DeskDep,
    user: sess.UserDep,
    at: sess.Now,
    level: Annotated[Literal["warn", "restrict", "block"], Form()],
    reason: Reason,
    minutes: Annotated[int | None, Form(ge=1, le=MINUTES_MAX)] = None,
) -> RedirectResponse:
    """Warn (any role), restrict or block (supervisors, admins), as ``records.add_sanction``
    allows; a sanction the service leaves pending says that it waits for approval."""
    x = records.add_sanction(desk, customer_id, level, reason, user=user, now=at, minutes=minutes)
    if x["state"] == "pending":
        text = f"The {level} waits for approval in the escalation queue."
    else:
        until = f" until {x['until'][:16].replace('T', ' ')} UTC" if x["until"] else ""
        text = f"{SANCTIONED[level]}{until}."
    sess.flash(request, "success", text)
    return see_other(customer_url(customer_id))


@router.post("/sanctions/{sid}/lift")
def lift_sanction(
    sid: Id,
    request: Request,
    desk: sess.DeskDep,
    user: sess.UserDep,
    at: sess.Now,
    reason: Reason,
) -> RedirectResponse:
    x = records.lift_sanction(desk, sid, user=user, reason=reason, now=at)
    sess.flash(request, "success", f"The {x['level']} was lifted.")
    return see_other(customer_url(x["customer_id"]))
