"""Console: the agent's inbox, one conversation, and what an agent does there.

Handlers are thin: they read the form, call ``service.views`` / ``service.actions`` and render a
page, or redirect back with a flash message (post/redirect/get).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from gracedesk.errors import InvalidRequest
from gracedesk.model.decision import ESCALATION_TARGETS
from gracedesk.model.staff import Staff
from gracedesk.service import actions, knowledge_use, protect, records, rotation, views
from gracedesk.service.desk import Desk
from gracedesk.web import console_session as sess
from gracedesk.web.console_render import ConsoleRoute, fragment, page, see_other

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

PAGE_SIZE = 50
DRAFT_MAX = 20_000

Text = Annotated[str, Form(min_length=1, max_length=DRAFT_MAX)]


def conversation_url(conv_id: int) -> str:
    return f"/console/conversations/{conv_id}"


@router.get("/", response_class=HTMLResponse)
def inbox(
    request: Request,
    desk: sess.DeskDep,
    user: sess.UserDep,
    at: sess.Now,
    sort: Literal["risk", "sla"] = "risk",
    mine: bool = False,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> HTMLResponse:
    listing = views.list_conversations(
        desk,
        user=user,
        now=at,
        status="active",
        sort=sort,
        mine=mine,
        limit=PAGE_SIZE,
        offset=offset,
    )
    listing = protect.listing_view(desk, listing, user=user)
    me = views.me(desk, user=user, now=at)
    return page(
        request, "inbox.html", {"page": listing, "sort": sort, "mine": mine, "me": me}, user=user
    )


@router.post("/break")
def take_break(
    request: Request, desk: sess.DeskDep, user: sess.UserDep, at: sess.Now
) -> RedirectResponse:
    records.take_break(desk, user=user, now=at)
    sess.flash(request, "success", "Break noted. Take the time you need.")
    return see_other("/console/")


@router.get("/conversations/{conv_id}", response_class=HTMLResponse)
def conversation(
    conv_id: sess.Id, request: Request, desk: sess.DeskDep, user: sess.UserDep, at: sess.Now
) -> HTMLResponse:
    detail = protect.conversation_view(desk, conv_id, user=user, now=at)
    return conversation_page(request, desk, user, at, detail)


def conversation_page(
    request: Request, desk: Desk, user: Staff, at: datetime, detail: dict[str, Any]
) -> HTMLResponse:
    ctx = {
        "c": detail,
        "critique": None,
        "targets": ESCALATION_TARGETS,
        "due_default": f"{at + timedelta(days=1):%Y-%m-%dT%H:%M}",
        "me": {"wellbeing": rotation.status(desk, [user], now=at)[user.id]},
        # what the customer did not know, from the knowledge base (docs/knowledge.md)
        "kb": knowledge_use.for_conversation(desk, detail),
    }
    return page(request, "conversation.html", ctx, user=user)


@router.post("/conversations/{conv_id}/messages/{message_id}/reveal", response_class=HTMLResponse)
def reveal(
    conv_id: sess.Id,
    message_id: sess.Id,
    request: Request,
    desk: sess.DeskDep,
    user: sess.UserDep,
    at: sess.Now,
) -> HTMLResponse:
    """Show one masked message unmasked, on purpose and audited (``message.revealed``).

    The reveal lasts for this answer only: htmx swaps in the one message; without htmx the whole
    page comes back with it revealed. Loading the conversation again masks it again.
    """
    protect.reveal(desk, conv_id, message_id, user=user, now=at)
    detail = protect.conversation_view(desk, conv_id, user=user, now=at, revealed=[message_id])
    if not sess.is_htmx(request):
        return conversation_page(request, desk, user, at, detail)
    m = next(m for m in detail["messages"] if m["id"] == message_id)
    ctx = {"m": m, "c": detail, "csrf_token": sess.csrf_token(request)}
    return fragment(request, "_message_fragment.html", ctx)


@router.post("/conversations/{conv_id}/coach", response_class=HTMLResponse)
def coach(
    conv_id: sess.Id,
    request: Request,
    desk: sess.DeskDep,
    user: sess.UserDep,
    at: sess.Now,
    text: Annotated[str, Form(max_length=DRAFT_MAX)] = "",
) -> HTMLResponse:
    """The live coaching fragment for the draft typed so far."""
    critique = actions.coach_draft(desk, conv_id, text, user=user, now=at) if text.strip() else None
    return fragment(request, "_coaching.html", {"critique": critique})


@router.post("/conversations/{conv_id}/reply")
def reply(
    conv_id: sess.Id,
    request: Request,
    desk: sess.DeskDep,
    user: sess.UserDep,
    at: sess.Now,
    text: Text,
) -> RedirectResponse:
    sent = actions.send_reply(desk, conv_id, text, user=user, now=at)
    n = len(sent["follow_ups"])
    extra = f" {n} promise(s) became follow-ups." if n else ""
    sess.flash(request, "success", f"Reply sent (coach score {sent['critique']['score']}).{extra}")
    return see_other(conversation_url(conv_id))


@router.post("/conversations/{conv_id}/escalate")
def escalate(
    conv_id: sess.Id,
    request: Request,
    desk: sess.DeskDep,
    user: sess.UserDep,
    at: sess.Now,
    reason: Annotated[str, Form(min_length=1, max_length=2000)],
    target: Annotated[str, Form(max_length=40)] = "supervisor",
) -> RedirectResponse:
    e = actions.escalate(desk, conv_id, user=user, reason=reason, target=target, now=at)
    sess.flash(request, "success", f"Escalated to {e['target']}: it is in the supervisors' queue.")
    return see_other(conversation_url(conv_id))


@router.post("/conversations/{conv_id}/follow-ups")
def add_follow_up(
    conv_id: sess.Id,
    request: Request,
    desk: sess.DeskDep,
    user: sess.UserDep,
    at: sess.Now,
    promise: Annotated[str, Form(min_length=1, max_length=2000)],
    due: Annotated[str, Form(max_length=40)],
) -> RedirectResponse:
    f = records.add_follow_up(desk, conv_id, user=user, promise=promise, due=utc_local(due), now=at)
    sess.flash(request, "success", f"Follow-up added, due {f['due'][:16].replace('T', ' ')} UTC.")
    return see_other(conversation_url(conv_id))


@router.post("/conversations/{conv_id}/resolve")
def resolve(
    conv_id: sess.Id,
    request: Request,
    desk: sess.DeskDep,
    user: sess.UserDep,
    at: sess.Now,
    resolution: Annotated[str, Form(min_length=1, max_length=4000)],
) -> RedirectResponse:
    done = actions.resolve(desk, conv_id, user=user, resolution=resolution, now=at)
    closed = len(done["closed"])
    extra = f" {closed} pending item(s) closed." if closed else ""
    sess.flash(
        request, "success", f"Resolved. The customer has been sent a satisfaction survey.{extra}"
    )
    return see_other(conversation_url(conv_id))


@router.post("/customers/{customer_id}/notes")
def add_note(
    customer_id: sess.Id,
    request: Request,
    desk: sess.DeskDep,
    user: sess.UserDep,
    at: sess.Now,
    text: Annotated[str, Form(min_length=1, max_length=4000)],
    conversation_id: Annotated[int | None, Form()] = None,
) -> RedirectResponse:
    records.add_note(desk, customer_id, text, user=user, now=at)
    sess.flash(request, "success", "Note added.")
    back = f"/console/customers/{customer_id}"  # from the customer page
    return see_other(conversation_url(conversation_id) if conversation_id else back)


def utc_local(value: str) -> datetime:
    """A ``datetime-local`` field (no zone) read as UTC; one with an offset is kept as given."""
    try:
        t = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidRequest(f"due {value!r} is not a date and time (YYYY-MM-DDTHH:MM)") from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)
