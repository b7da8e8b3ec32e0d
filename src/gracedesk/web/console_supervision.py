"""Console: the escalation queue with hand-over packets, SLA breaches, messages held by a
sanction (released here), follow-ups, the team (with the team's default for masking abusive
words, ``service.protect``).

Agents see the queue read-only; approving or rejecting is for supervisors and admins (the
service refuses anyone else with PermissionDenied, shown as a 403 page).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from gracedesk.service import actions, protect, records, views
from gracedesk.web import console_session as sess
from gracedesk.web.console_render import ConsoleRoute, page, see_other

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

Note = Annotated[str | None, Form(max_length=2000)]


@router.get("/escalations", response_class=HTMLResponse)
def escalations(
    request: Request, desk: sess.DeskDep, user: sess.UserDep, at: sess.Now
) -> HTMLResponse:
    supervising = user.role in records.SUPERVISING
    pending = views.list_escalations(desk, state="pending")
    held = views.held_messages(desk, user=user) if supervising else None
    ctx = {  # reasons, packets and held messages masked as the user chose (service.protect)
        "escalations": protect.escalations_view(desk, pending, user=user),
        "breaches": views.sla_breaches(desk, now=at) if supervising else None,
        "held": protect.held_view(desk, held, user=user) if held is not None else None,
        "can_decide": supervising,
    }
    return page(request, "escalations.html", ctx, user=user)


@router.post("/escalations/{esc_id}/approve")
def approve(
    esc_id: sess.Id,
    request: Request,
    desk: sess.DeskDep,
    user: sess.UserDep,
    at: sess.Now,
    note: Note = None,
) -> RedirectResponse:
    out = actions.decide_escalation(desk, esc_id, user=user, approve=True, note=note, now=at)
    yours = ": the conversation is yours now" if out["taken_over"] else ""
    sess.flash(request, "success", f"Escalation {esc_id} approved{yours}.")
    return see_other("/console/escalations")


@router.post("/escalations/{esc_id}/reject")
def reject(
    esc_id: sess.Id,
    request: Request,
    desk: sess.DeskDep,
    user: sess.UserDep,
    at: sess.Now,
    note: Note = None,
) -> RedirectResponse:
    actions.decide_escalation(desk, esc_id, user=user, approve=False, note=note, now=at)
    sess.flash(request, "info", f"Escalation {esc_id} rejected.")
    return see_other("/console/escalations")


@router.post("/held/{message_id}/release")
def release(
    message_id: sess.Id, request: Request, desk: sess.DeskDep, user: sess.UserDep, at: sess.Now
) -> RedirectResponse:
    out = actions.release(desk, message_id, user=user, now=at)
    sess.flash(request, "success", f"Message {message_id} released: analysed ({out['analysis']}).")
    return see_other("/console/escalations")


@router.get("/follow-ups", response_class=HTMLResponse)
def follow_ups(
    request: Request, desk: sess.DeskDep, user: sess.UserDep, mine: bool = False
) -> HTMLResponse:
    items = [
        *views.list_follow_ups(desk, user=user, state="open", mine=mine),
        *views.list_follow_ups(desk, user=user, state="overdue", mine=mine),
    ]
    items.sort(key=lambda f: (f["due"], f["id"]))
    return page(request, "follow_ups.html", {"follow_ups": items, "mine": mine}, user=user)


@router.post("/follow-ups/{fid}/done")
def follow_up_done(
    fid: sess.Id,
    request: Request,
    desk: sess.DeskDep,
    user: sess.UserDep,
    at: sess.Now,
    back: Annotated[int | None, Form()] = None,
) -> RedirectResponse:
    records.complete_follow_up(desk, fid, user=user, now=at)
    sess.flash(request, "success", "Follow-up marked done.")
    return see_other(f"/console/conversations/{back}" if back else "/console/follow-ups")


@router.get("/team", response_class=HTMLResponse)
def team(request: Request, desk: sess.DeskDep, user: sess.UserDep, at: sess.Now) -> HTMLResponse:
    ctx = {
        "agents": views.team(desk, user=user, now=at),
        "masking": protect.team_setting(desk),
        "wellbeing": desk.policy.wellbeing,
    }
    return page(request, "team.html", ctx, user=user)


@router.post("/team/masking")
def team_masking(
    request: Request,
    desk: sess.DeskDep,
    user: sess.UserDep,
    at: sess.Now,
    mask_abuse: Annotated[str | None, Form(max_length=10)] = None,
) -> RedirectResponse:
    """The team's default for masking abusive words (an unticked box sends nothing: off)."""
    on = mask_abuse == "on"
    protect.set_team_masking(desk, user, on, at)
    state = "masked" if on else "shown"
    sess.flash(request, "success", f"Abusive words are now {state} by default for the team.")
    return see_other("/console/team")
