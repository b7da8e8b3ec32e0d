"""REST API ``/api/v1``: thin handlers that check input, read the clock and call the service."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any, Literal

import anyio.to_thread
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from gracedesk.errors import InvalidRequest, Unauthenticated
from gracedesk.service import actions, records, views
from gracedesk.service.desk import CustomerRef, Desk, Incoming
from gracedesk.store.tables import User
from gracedesk.web import auth

router = APIRouter(prefix="/api/v1")

TEXT_MAX = 20_000  # the schema's bound; settings.max_text_chars may be lower


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CustomerIn(Strict):
    external_id: str = Field(min_length=1, max_length=200)
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s,]+@[^@\s,]+$")
    phone: str | None = Field(default=None, max_length=50)
    tier: str | None = Field(default=None, max_length=40)


class RequestIn(Strict):
    kind: Literal["refund", "discount", "credit", "exception"]
    amount: float = Field(default=0, ge=0, le=10_000_000)


class MessageIn(Strict):
    customer: CustomerIn
    text: str = Field(min_length=1, max_length=TEXT_MAX)
    conversation_id: int | None = Field(default=None, ge=1)
    channel: str = Field(default="api", max_length=40)
    channel_message_id: str | None = Field(default=None, max_length=200)
    subject: str | None = Field(default=None, max_length=300)
    request: RequestIn | None = None


class TextIn(Strict):
    text: str = Field(min_length=1, max_length=TEXT_MAX)


class EscalateIn(Strict):
    reason: str = Field(min_length=1, max_length=2000)
    target: Literal["supervisor", "specialist_team", "security", "legal"] = "supervisor"


class ResolveIn(Strict):
    resolution: str = Field(min_length=1, max_length=4000)


class DecideIn(Strict):
    note: str | None = Field(default=None, max_length=2000)


class FollowUpIn(Strict):
    conversation_id: int = Field(ge=1)
    promise: str = Field(min_length=1, max_length=2000)
    due: datetime


class NoteIn(Strict):
    text: str = Field(min_length=1, max_length=4000)


class SanctionIn(Strict):
    level: Literal["warn", "restrict", "block"]
    reason: str = Field(min_length=1, max_length=2000)
    minutes: int | None = Field(default=None, ge=1, le=60 * 24 * 365)


class LiftIn(Strict):
    reason: str = Field(default="", max_length=2000)


class AssignIn(Strict):
    user: str | None = Field(default=None, max_length=80)


class CsatIn(Strict):
    score: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=2000)


# Dependencies are ``async def``: they are cheap, and a plain ``def`` would cost a thread hop each.
async def desk_of(request: Request) -> Desk:
    desk: Desk = request.app.state.desk
    return desk


async def now() -> datetime:
    """The clock is read here, at the edge, and passed into the service."""
    return datetime.now(UTC)


async def api_user(request: Request, authorization: Annotated[str | None, Header()] = None) -> User:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Unauthenticated("send 'Authorization: Bearer <token>' (gracedesk users create)")
    tokens: auth.TokenCache = request.app.state.tokens
    return tokens.user(request.app.state.desk.store, authorization[7:].strip())


DeskDep = Annotated[Desk, Depends(desk_of)]
UserDep = Annotated[User, Depends(api_user)]
Now = Annotated[datetime, Depends(now)]


@router.post("/messages", status_code=201)
async def post_message(
    body: MessageIn,
    request: Request,
    desk: DeskDep,
    user: UserDep,
    at: Now,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JSONResponse:
    """Store a customer message (committed before the answer), then analyse, decide, advise."""
    limit = request.app.state.settings.max_text_chars
    if len(body.text) > limit:
        raise InvalidRequest(f"text is longer than {limit} characters")
    c = body.customer
    incoming = Incoming(
        customer=CustomerRef(c.external_id, c.name, c.email, c.phone, c.tier),
        text=body.text,
        channel=body.channel,
        conversation_id=body.conversation_id,
        channel_message_id=body.channel_message_id,
        subject=body.subject,
        request=body.request.model_dump() if body.request else None,
    )
    # CPU-bound Python: a few threads do it faster than many fighting over the GIL and the
    # SQLite write lock (measured in bench/bench_api.py)
    work = partial(desk.post_message, incoming, actor=user, now=at, idempotency_key=idempotency_key)
    limiter = request.app.state.message_limiter
    posted = work() if limiter is None else await anyio.to_thread.run_sync(work, limiter=limiter)
    headers = {"Location": f"/api/v1/conversations/{posted.conversation_id}"}
    if not posted.created:
        headers["Idempotent-Replayed"] = "true"
    # a JSONResponse skips FastAPI's jsonable_encoder walk of the (large, already plain) body
    return JSONResponse(
        posted.to_dict(), status_code=201 if posted.created else 200, headers=headers
    )


@router.get("/conversations")
def list_conversations(
    desk: DeskDep,
    user: UserDep,
    at: Now,
    status: str | None = None,
    sort: str = "risk",
    mine: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    return views.list_conversations(
        desk, user=user, now=at, status=status, sort=sort, mine=mine, limit=limit, offset=offset
    )


@router.get("/conversations/{conv_id}")
def get_conversation(conv_id: int, desk: DeskDep, user: UserDep, at: Now) -> dict[str, Any]:
    return views.conversation_detail(desk, conv_id, user=user, now=at)


@router.post("/conversations/{conv_id}/drafts")
def coach_draft(
    conv_id: int, body: TextIn, desk: DeskDep, user: UserDep, at: Now
) -> dict[str, Any]:
    return actions.coach_draft(desk, conv_id, body.text, user=user, now=at)


@router.post("/conversations/{conv_id}/replies", status_code=201)
def send_reply(conv_id: int, body: TextIn, desk: DeskDep, user: UserDep, at: Now) -> dict[str, Any]:
    return actions.send_reply(desk, conv_id, body.text, user=user, now=at)


@router.post("/conversations/{conv_id}/escalations", status_code=201)
def escalate(
    conv_id: int, body: EscalateIn, desk: DeskDep, user: UserDep, at: Now
) -> dict[str, Any]:
    return actions.escalate(
        desk, conv_id, user=user, reason=body.reason, target=body.target, now=at
    )


@router.post("/conversations/{conv_id}/resolve")
def resolve(conv_id: int, body: ResolveIn, desk: DeskDep, user: UserDep, at: Now) -> dict[str, Any]:
    return actions.resolve(desk, conv_id, user=user, resolution=body.resolution, now=at)


@router.post("/conversations/{conv_id}/assign")
def assign(conv_id: int, body: AssignIn, desk: DeskDep, user: UserDep, at: Now) -> dict[str, Any]:
    return actions.assign(desk, conv_id, user=user, assignee=body.user, now=at)


@router.get("/escalations")
def list_escalations(
    desk: DeskDep,
    user: UserDep,
    state: Literal["pending", "approved", "rejected", "all"] = "pending",
) -> list[dict[str, Any]]:
    return views.list_escalations(desk, state=None if state == "all" else state)


@router.post("/escalations/{esc_id}/approve")
def approve(esc_id: int, body: DecideIn, desk: DeskDep, user: UserDep, at: Now) -> dict[str, Any]:
    return actions.decide_escalation(desk, esc_id, user=user, approve=True, note=body.note, now=at)


@router.post("/escalations/{esc_id}/reject")
def reject(esc_id: int, body: DecideIn, desk: DeskDep, user: UserDep, at: Now) -> dict[str, Any]:
    return actions.decide_escalation(desk, esc_id, user=user, approve=False, note=body.note, now=at)


@router.get("/follow-ups")
def list_follow_ups(
    desk: DeskDep,
    user: UserDep,
    state: Literal["open", "done", "overdue", "cancelled", "all"] = "open",
    mine: bool = False,
) -> list[dict[str, Any]]:
    return views.list_follow_ups(
        desk, user=user, state=None if state == "all" else state, mine=mine
    )


@router.post("/follow-ups", status_code=201)
def add_follow_up(body: FollowUpIn, desk: DeskDep, user: UserDep, at: Now) -> dict[str, Any]:
    if body.due.tzinfo is None:
        raise InvalidRequest("due needs a time zone offset (e.g. 2026-12-02T17:00:00Z)")
    return records.add_follow_up(
        desk, body.conversation_id, user=user, promise=body.promise, due=body.due, now=at
    )


@router.post("/follow-ups/{fid}/done")
def follow_up_done(fid: int, desk: DeskDep, user: UserDep, at: Now) -> dict[str, Any]:
    return records.complete_follow_up(desk, fid, user=user, now=at)


@router.get("/customers/{customer_id}")
def get_customer(customer_id: int, desk: DeskDep, user: UserDep, at: Now) -> dict[str, Any]:
    return views.customer_view(desk, customer_id, now=at)


@router.get("/customers/{customer_id}/export")
def export_customer(customer_id: int, desk: DeskDep, user: UserDep, at: Now) -> dict[str, Any]:
    return views.customer_export(desk, customer_id, user=user, now=at)


@router.post("/customers/{customer_id}/notes", status_code=201)
def add_note(
    customer_id: int, body: NoteIn, desk: DeskDep, user: UserDep, at: Now
) -> dict[str, Any]:
    return records.add_note(desk, customer_id, body.text, user=user, now=at)


@router.post("/customers/{customer_id}/sanctions", status_code=201)
def add_sanction(
    customer_id: int, body: SanctionIn, desk: DeskDep, user: UserDep, at: Now
) -> dict[str, Any]:
    return records.add_sanction(
        desk, customer_id, body.level, body.reason, user=user, now=at, minutes=body.minutes
    )


@router.post("/sanctions/{sid}/lift")
def lift_sanction(sid: int, body: LiftIn, desk: DeskDep, user: UserDep, at: Now) -> dict[str, Any]:
    return records.lift_sanction(desk, sid, user=user, reason=body.reason, now=at)


@router.get("/team")
def team(desk: DeskDep, user: UserDep, at: Now) -> list[dict[str, Any]]:
    return views.team(desk, user=user, now=at)


@router.get("/me")
def me(desk: DeskDep, user: UserDep, at: Now) -> dict[str, Any]:
    return views.me(desk, user=user, now=at)


@router.post("/me/break")
def take_break(desk: DeskDep, user: UserDep, at: Now) -> dict[str, Any]:
    return records.take_break(desk, user=user, now=at)


@router.get("/audit")
def audit_log(
    desk: DeskDep,
    user: UserDep,
    conversation_id: int | None = None,
    customer_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    return views.audit_log(
        desk, user=user, conversation_id=conversation_id, customer_id=customer_id, limit=limit
    )


@router.get("/sla-breaches")
def sla_breaches(desk: DeskDep, user: UserDep, at: Now) -> list[dict[str, Any]]:
    records.require(user, *records.SUPERVISING)
    return views.sla_breaches(desk, now=at)


@router.post("/csat/{token}")
def submit_csat(token: str, body: CsatIn, desk: DeskDep, at: Now) -> dict[str, Any]:
    """The customer's answer to the survey sent on resolution (the token is the credential)."""
    return actions.submit_csat(desk, token, body.score, body.comment, now=at)
