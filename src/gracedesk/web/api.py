"""REST API ``/api/v1``: thin handlers that check input, read the clock and call the service."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any, Literal, TypedDict

import anyio.to_thread
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from gracedesk.errors import InvalidRequest, Unauthenticated
from gracedesk.model.situation import Request as Asked
from gracedesk.model.staff import Staff
from gracedesk.service import actions, customers, erasure, records, reports, training, views
from gracedesk.service.desk import CustomerRef, Desk, Incoming
from gracedesk.service.tokens import TokenCache
from gracedesk.web import problems
from gracedesk.web.schemas_conversations import (
    Assigned,
    ConversationDetail,
    ConversationItem,
    ConversationPage,
    Critique,
    CsatAnswer,
    CustomerExport,
    Decided,
    Escalation,
    EscalationListed,
    FollowUp,
    Reply,
    Resolved,
)
from gracedesk.web.schemas_customers import CustomerSummary, Erasure, Flags, Held, Note, Sanction
from gracedesk.web.schemas_reports import Report
from gracedesk.web.schemas_signals import Posted
from gracedesk.web.schemas_team import AuditEvent, Break, Me, Member

# on every route: bad input (422; every route has a parameter, if only the Authorization
# header, and FastAPI would declare its own non-problem 422 otherwise), a client locked out for
# bad tokens (429, web/security.py), a store, model or policy that is not available (503)
router = APIRouter(prefix="/api/v1", responses=problems.responses(422, 429, 503))

TEXT_MAX = 20_000  # the schema's bound; settings.max_text_chars may be lower
# ids are INTEGER columns, 32-bit on PostgreSQL: a larger id names nothing, in either store
ID_MAX = 2**31 - 1
OFFSET_MAX = 2**63 - 1  # SQL's OFFSET is a signed 64-bit integer
# NUL is refused by PostgreSQL, a lone surrogate by every UTF-8 encoder: neither can be stored
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(value: str) -> str:
    if UNSTORABLE.search(value):
        raise ValueError("must not contain NUL (\\x00) or unpaired surrogate characters")
    return value


Storable = Annotated[str, AfterValidator(storable)]
Id = Annotated[int, Path(ge=1, le=ID_MAX)]
IdFilter = Annotated[int | None, Query(ge=1, le=ID_MAX)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return storable(value) if isinstance(value, str) else value


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
    conversation_id: int | None = Field(default=None, ge=1, le=ID_MAX)
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
    conversation_id: int = Field(ge=1, le=ID_MAX)
    promise: str = Field(min_length=1, max_length=2000)
    due: datetime

    @field_validator("due")
    @classmethod
    def _in_range(cls, due: datetime) -> datetime:
        """A time that has no UTC equivalent (9999-12-31T23:59:59-23:59) cannot be compared."""
        if due.tzinfo is not None:
            try:
                due.astimezone(UTC)
            except OverflowError:
                raise ValueError("due is out of range once converted to UTC") from None
        return due


class NoteIn(Strict):
    text: str = Field(min_length=1, max_length=4000)


class SanctionIn(Strict):
    level: Literal["warn", "restrict", "block"]
    reason: str = Field(min_length=1, max_length=2000)
    minutes: int | None = Field(default=None, ge=1, le=60 * 24 * 365)


class FlagIn(Strict):
    flag: str = Field(min_length=1, max_length=40, examples=["vulnerable"])
    reason: str | None = Field(default=None, max_length=2000)


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


async def api_user(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Staff:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Unauthenticated("send 'Authorization: Bearer <token>' (gracedesk users create)")
    tokens: TokenCache = request.app.state.tokens
    return tokens.user(request.app.state.desk.store, authorization[7:].strip())


DeskDep = Annotated[Desk, Depends(desk_of)]
UserDep = Annotated[Staff, Depends(api_user)]
Now = Annotated[datetime, Depends(now)]


class ResponseArgs(TypedDict):
    response_model: object
    response_model_exclude_unset: bool


def body(model: object) -> ResponseArgs:
    """A route's ``response_model`` for a handler that returns ``model`` validated from the
    service's JSON-ready dict (``model_validate``: unknown keys are refused): only the keys the
    dict had are set, and FastAPI writes only those, so an optional key the service leaves out
    stays out."""
    return {"response_model": model, "response_model_exclude_unset": True}


# The handler answers with a JSONResponse (one serialisation on the hot path); ``response_model``
# only declares the body in /openapi.json: FastAPI returns a Response as it is, unchecked.
@router.post(
    "/messages",
    status_code=201,
    response_model=Posted,
    responses={
        200: {
            "model": Posted,
            "description": "The Idempotency-Key or channel message id was seen before: the first "
            "answer again, with `Idempotent-Replayed: true`.",
        },
        202: {
            "model": Posted,
            "description": "`Prefer: respond-async`: the message is stored and queued for "
            "analysis; poll `Location` (GET /api/v1/messages/{id}).",
        },
        **problems.responses(401, 404, 409, 413, 422),
    },
)
async def post_message(
    body: MessageIn,
    request: Request,
    desk: DeskDep,
    user: UserDep,
    at: Now,
    idempotency_key: Annotated[Storable | None, Header(max_length=200)] = None,
    prefer: Annotated[str | None, Header(max_length=200)] = None,
) -> JSONResponse:
    """Store a customer message (committed before the answer), then analyse, decide, advise.

    With ``Prefer: respond-async`` (RFC 7240) the answer is ``202 Accepted`` as soon as the
    message is stored; the worker analyses it in a micro-batch. A message that carries a
    ``request`` (an amount to check against authority) is always handled synchronously."""
    limit = request.app.state.settings.max_text_chars
    if len(body.text) > limit:
        raise InvalidRequest(f"text is longer than {limit} characters")
    c = body.customer
    incoming = Incoming(
        customer=CustomerRef(c.external_id, c.name, c.email, c.phone, c.tier),
        text=body.text,
        channel=body.channel,
        conversation_id=body.conversation_id,
        # an empty id is no id: stored as "", a second one would clash with the first
        channel_message_id=body.channel_message_id or None,
        subject=body.subject,
        request=Asked(body.request.kind, body.request.amount) if body.request else None,
    )
    # CPU-bound Python: a few threads do it faster than many fighting over the GIL and the
    # SQLite write lock (measured in bench/bench_api.py)
    queue = body.request is None and _prefers_async(prefer)
    work = partial(
        desk.post_message,
        incoming,
        actor=user,
        now=at,
        idempotency_key=idempotency_key,
        respond_async=queue,
    )
    limiter = request.app.state.message_limiter
    posted = work() if limiter is None else await anyio.to_thread.run_sync(work, limiter=limiter)
    headers = {"Location": f"/api/v1/conversations/{posted.conversation_id}"}
    if not posted.created:
        headers["Idempotent-Replayed"] = "true"
    if queue:
        headers["Preference-Applied"] = "respond-async"
        if posted.created:
            headers["Location"] = f"/api/v1/messages/{posted.message_id}"
            return JSONResponse(posted.to_dict(), status_code=202, headers=headers)
    # a JSONResponse skips FastAPI's jsonable_encoder walk of the (large, already plain) body
    return JSONResponse(
        posted.to_dict(), status_code=201 if posted.created else 200, headers=headers
    )


def _prefers_async(prefer: str | None) -> bool:
    """``Prefer: respond-async`` among the header's comma-separated preferences."""
    if not prefer:
        return False
    return any(p.split(";")[0].strip().lower() == "respond-async" for p in prefer.split(","))


@router.get(
    "/messages/{message_id}", response_model=Posted, responses=problems.responses(401, 404, 422)
)
def get_message(message_id: Id, desk: DeskDep, user: UserDep) -> JSONResponse:
    """A stored customer message's analysis: ``analysis`` is ``queued`` or ``running`` until
    the worker has analysed it, then ``done`` (with signals, decisions and guidance) or
    ``failed`` (retried by the worker)."""
    posted = desk.replay(message_id)
    return JSONResponse(posted.to_dict())


@router.get("/conversations", **body(ConversationPage), responses=problems.responses(401, 422))
def list_conversations(
    desk: DeskDep,
    user: UserDep,
    at: Now,
    status: str | None = None,
    sort: str = "risk",
    mine: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=OFFSET_MAX)] = 0,
) -> ConversationPage:
    return ConversationPage.model_validate(
        views.list_conversations(
            desk, user=user, now=at, status=status, sort=sort, mine=mine, limit=limit, offset=offset
        )
    )


@router.get(
    "/conversations/{conv_id}",
    **body(ConversationDetail),
    responses=problems.responses(401, 404, 422),
)
def get_conversation(conv_id: Id, desk: DeskDep, user: UserDep, at: Now) -> ConversationDetail:
    return ConversationDetail.model_validate(
        views.conversation_detail(desk, conv_id, user=user, now=at)
    )


@router.post(
    "/conversations/{conv_id}/drafts",
    **body(Critique),
    responses=problems.responses(401, 404, 413, 422),
)
def coach_draft(conv_id: Id, body: TextIn, desk: DeskDep, user: UserDep, at: Now) -> Critique:
    return Critique.model_validate(actions.coach_draft(desk, conv_id, body.text, user=user, now=at))


@router.post(
    "/conversations/{conv_id}/replies",
    **body(Reply),
    status_code=201,
    responses=problems.responses(401, 404, 409, 413, 422),
)
def send_reply(conv_id: Id, body: TextIn, desk: DeskDep, user: UserDep, at: Now) -> Reply:
    return Reply.model_validate(actions.send_reply(desk, conv_id, body.text, user=user, now=at))


@router.post(
    "/conversations/{conv_id}/escalations",
    **body(Escalation),
    status_code=201,
    responses=problems.responses(401, 404, 413, 422),
)
def escalate(conv_id: Id, body: EscalateIn, desk: DeskDep, user: UserDep, at: Now) -> Escalation:
    return Escalation.model_validate(
        actions.escalate(desk, conv_id, user=user, reason=body.reason, target=body.target, now=at)
    )


@router.post(
    "/conversations/{conv_id}/resolve",
    **body(Resolved),
    responses=problems.responses(401, 403, 404, 409, 413, 422),
)
def resolve(conv_id: Id, body: ResolveIn, desk: DeskDep, user: UserDep, at: Now) -> Resolved:
    return Resolved.model_validate(
        actions.resolve(desk, conv_id, user=user, resolution=body.resolution, now=at)
    )


@router.post(
    "/conversations/{conv_id}/assign",
    **body(Assigned),
    responses=problems.responses(401, 403, 404, 413, 422),
)
def assign(conv_id: Id, body: AssignIn, desk: DeskDep, user: UserDep, at: Now) -> Assigned:
    return Assigned.model_validate(
        actions.assign(desk, conv_id, user=user, assignee=body.user, now=at)
    )


@router.get("/escalations", **body(list[EscalationListed]), responses=problems.responses(401, 422))
def list_escalations(
    desk: DeskDep,
    user: UserDep,
    state: Literal["pending", "approved", "rejected", "all"] = "pending",
) -> list[EscalationListed]:
    return [
        EscalationListed.model_validate(x)
        for x in views.list_escalations(desk, state=None if state == "all" else state)
    ]


@router.post(
    "/escalations/{esc_id}/approve",
    **body(Decided),
    responses=problems.responses(401, 403, 404, 409, 413, 422),
)
def approve(esc_id: Id, body: DecideIn, desk: DeskDep, user: UserDep, at: Now) -> Decided:
    return Decided.model_validate(
        actions.decide_escalation(desk, esc_id, user=user, approve=True, note=body.note, now=at)
    )


@router.post(
    "/escalations/{esc_id}/reject",
    **body(Decided),
    responses=problems.responses(401, 403, 404, 409, 413, 422),
)
def reject(esc_id: Id, body: DecideIn, desk: DeskDep, user: UserDep, at: Now) -> Decided:
    return Decided.model_validate(
        actions.decide_escalation(desk, esc_id, user=user, approve=False, note=body.note, now=at)
    )


@router.get("/follow-ups", **body(list[FollowUp]), responses=problems.responses(401, 422))
def list_follow_ups(
    desk: DeskDep,
    user: UserDep,
    state: Literal["open", "done", "overdue", "cancelled", "all"] = "open",
    mine: bool = False,
) -> list[FollowUp]:
    return [
        FollowUp.model_validate(x)
        for x in views.list_follow_ups(
            desk, user=user, state=None if state == "all" else state, mine=mine
        )
    ]


@router.post(
    "/follow-ups",
    status_code=201,
    **body(FollowUp),
    responses=problems.responses(401, 404, 413, 422),
)
def add_follow_up(body: FollowUpIn, desk: DeskDep, user: UserDep, at: Now) -> FollowUp:
    if body.due.tzinfo is None:
        raise InvalidRequest("due needs a time zone offset (e.g. 2026-12-02T17:00:00Z)")
    return FollowUp.model_validate(
        records.add_follow_up(
            desk, body.conversation_id, user=user, promise=body.promise, due=body.due, now=at
        )
    )


@router.post(
    "/follow-ups/{fid}/done",
    **body(FollowUp),
    responses=problems.responses(401, 404, 409, 413, 422),
)
def follow_up_done(fid: Id, desk: DeskDep, user: UserDep, at: Now) -> FollowUp:
    return FollowUp.model_validate(records.complete_follow_up(desk, fid, user=user, now=at))


@router.get(
    "/customers/{customer_id}", **body(CustomerSummary), responses=problems.responses(401, 404, 422)
)
def get_customer(customer_id: Id, desk: DeskDep, user: UserDep, at: Now) -> CustomerSummary:
    return CustomerSummary.model_validate(views.customer_view(desk, customer_id, now=at))


@router.get(
    "/customers/{customer_id}/export",
    **body(CustomerExport),
    responses=problems.responses(401, 403, 404, 422),
)
def export_customer(customer_id: Id, desk: DeskDep, user: UserDep, at: Now) -> CustomerExport:
    return CustomerExport.model_validate(
        views.customer_export(desk, customer_id, user=user, now=at)
    )


@router.post(
    "/customers/{customer_id}/erase",
    **body(Erasure),
    responses=problems.responses(401, 403, 404, 409, 413, 422),
)
def erase_customer(
    customer_id: Id, request: Request, desk: DeskDep, user: UserDep, at: Now
) -> Erasure:
    """Erase the customer's personal data and text for good (admin; supervisor if allowed)."""
    settings = request.app.state.settings
    out = erasure.erase_customer(
        desk, customer_id, user=user, now=at, supervisors_may_erase=settings.erase_by_supervisors
    )
    # practice scenarios made from their conversations (gracedesk train build --from-desk)
    out["scenario_files"] = training.forget_customer(desk.store, settings.home, customer_id)
    return Erasure.model_validate(out)


@router.post(
    "/customers/{customer_id}/notes",
    **body(Note),
    status_code=201,
    responses=problems.responses(401, 404, 413, 422),
)
def add_note(customer_id: Id, body: NoteIn, desk: DeskDep, user: UserDep, at: Now) -> Note:
    return Note.model_validate(records.add_note(desk, customer_id, body.text, user=user, now=at))


@router.post(
    "/customers/{customer_id}/sanctions",
    **body(Sanction),
    status_code=201,
    responses=problems.responses(401, 403, 404, 413, 422),
)
def add_sanction(
    customer_id: Id, body: SanctionIn, desk: DeskDep, user: UserDep, at: Now
) -> Sanction:
    return Sanction.model_validate(
        records.add_sanction(
            desk, customer_id, body.level, body.reason, user=user, now=at, minutes=body.minutes
        )
    )


@router.post(
    "/customers/{customer_id}/flags",
    **body(Flags),
    status_code=201,
    responses=problems.responses(401, 403, 404, 409, 413, 422),
)
def add_flag(customer_id: Id, body: FlagIn, desk: DeskDep, user: UserDep, at: Now) -> Flags:
    """Flag a customer (supervisor, admin): a lowercase slug such as ``vulnerable``; policy
    rules read the flags as ``customer.flags``. 409 when already set or at 20 flags."""
    return Flags.model_validate(
        customers.add_flag(desk, customer_id, body.flag, user=user, now=at, reason=body.reason)
    )


@router.delete(
    "/customers/{customer_id}/flags/{flag}",
    **body(Flags),
    responses=problems.responses(401, 403, 404, 422),
)
def remove_flag(
    customer_id: Id,
    flag: Annotated[Storable, Path(min_length=1, max_length=200)],
    desk: DeskDep,
    user: UserDep,
    at: Now,
) -> Flags:
    """Clear a customer's flag (supervisor, admin); 404 when the customer does not carry it."""
    return Flags.model_validate(customers.remove_flag(desk, customer_id, flag, user=user, now=at))


@router.post(
    "/sanctions/{sid}/lift",
    **body(Sanction),
    responses=problems.responses(401, 403, 404, 409, 413, 422),
)
def lift_sanction(sid: Id, body: LiftIn, desk: DeskDep, user: UserDep, at: Now) -> Sanction:
    return Sanction.model_validate(
        records.lift_sanction(desk, sid, user=user, reason=body.reason, now=at)
    )


@router.get("/held", **body(list[Held]), responses=problems.responses(401, 403))
def held_messages(desk: DeskDep, user: UserDep) -> list[Held]:
    """Messages a sanction holds (supervisors and admins): read them, release them."""
    return [Held.model_validate(x) for x in views.held_messages(desk, user=user)]


@router.post(
    "/messages/{message_id}/release",
    **body(Posted),
    responses=problems.responses(401, 403, 404, 409, 413, 422),
)
def release_message(message_id: Id, desk: DeskDep, user: UserDep, at: Now) -> Posted:
    """Release a held message: it is analysed and joins the agents' queue."""
    return Posted.model_validate(actions.release(desk, message_id, user=user, now=at))


@router.get("/team", **body(list[Member]), responses=problems.responses(401, 403))
def team(desk: DeskDep, user: UserDep, at: Now) -> list[Member]:
    return [Member.model_validate(x) for x in views.team(desk, user=user, now=at)]


@router.get("/me", **body(Me), responses=problems.responses(401))
def me(desk: DeskDep, user: UserDep, at: Now) -> Me:
    return Me.model_validate(views.me(desk, user=user, now=at))


@router.post("/me/break", **body(Break), responses=problems.responses(401, 413))
def take_break(desk: DeskDep, user: UserDep, at: Now) -> Break:
    return Break.model_validate(records.take_break(desk, user=user, now=at))


@router.get("/audit", **body(list[AuditEvent]), responses=problems.responses(401, 403, 422))
def audit_log(
    desk: DeskDep,
    user: UserDep,
    conversation_id: IdFilter = None,
    customer_id: IdFilter = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[AuditEvent]:
    return [
        AuditEvent.model_validate(x)
        for x in views.audit_log(
            desk, user=user, conversation_id=conversation_id, customer_id=customer_id, limit=limit
        )
    ]


@router.get("/sla-breaches", **body(list[ConversationItem]), responses=problems.responses(401, 403))
def sla_breaches(desk: DeskDep, user: UserDep, at: Now) -> list[ConversationItem]:
    records.require(user, *records.SUPERVISING)
    return [ConversationItem.model_validate(x) for x in views.sla_breaches(desk, now=at)]


ReportName = Annotated[Storable | None, Query(max_length=80)]
ReportTime = Annotated[Storable | None, Query(max_length=40, examples=["2026-11-01"])]


@router.get("/reports/summary", **body(Report), responses=problems.responses(401, 403, 422))
def report_summary(
    desk: DeskDep,
    user: UserDep,
    at: Now,
    since: ReportTime = None,
    until: ReportTime = None,
    team: ReportName = None,
    agent: ReportName = None,
) -> Report:
    """The report (supervisors, admins): volume, response and resolution times in business
    minutes, SLA, CSAT, escalations, causes, archetypes, exposure, sanctions, predicted CSAT
    (docs/insights.md). ``since``/``until``: ISO dates or date-times with an offset; by
    default the last 30 days."""
    return Report.model_validate(
        reports.summary_for(
            desk, user=user, since=since, until=until, team=team, agent=agent, now=at
        )
    )


async def survey_staff(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Staff | None:
    """The staff member whose credential came with a survey answer (refused); None: the customer."""
    return None if authorization is None else await api_user(request, authorization)


@router.post(
    "/csat/{token}", **body(CsatAnswer), responses=problems.responses(401, 403, 404, 409, 413, 422)
)
def submit_csat(
    token: Storable,
    body: CsatIn,
    desk: DeskDep,
    at: Now,
    staff: Annotated[Staff | None, Depends(survey_staff)],
) -> CsatAnswer:
    """The customer's answer to the survey sent on resolution (the token is the credential;
    an answer sent with a staff credential is refused)."""
    return CsatAnswer.model_validate(
        actions.submit_csat(desk, token, body.score, body.comment, now=at, staff=staff)
    )
