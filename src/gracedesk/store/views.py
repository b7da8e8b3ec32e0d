"""Read models of the console and the API: the reads behind ``service.views``.

The service keeps the transaction (``Store.read()``) and builds its JSON from what these return
(ORM rows, ``Row``s, scalars, :class:`Page`, :class:`CustomerRecord`). Operations:

- ``user_names``: users' names by id (assignees, authors).
- ``conversation_page``: a page of conversations with their customers (filtered by status and
  assignee, in one of :data:`SORTS`) and how many match; ``sla_breaches``: the unresolved ones
  past their first-response due time.
- ``conversation``, ``customer``, ``find_customer``: one row by id.
- a conversation's parts: ``messages_of``, ``decisions_of``, ``deliveries_of``,
  ``follow_ups_of``, ``escalations_of``, ``latest_csat``.
- ``held_messages``: messages held by a sanction, with their conversation and customer.
- ``customer_record``: a customer's recent conversations, sanctions, notes and CSAT scores;
  ``conversation_ids_of``: all of a customer's conversation ids.
- ``escalations``, ``conversations_by_ids``: the escalations list and its conversations.
- ``follow_up_listing``: the follow-ups list (``store.follow_ups.listing`` in the session).
- ``active_users``, ``exposures_since``, ``open_load``: the team view's agents, their recent
  abusive contacts (``agent.exposed`` audit events) and open conversations.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from gracedesk.store import follow_ups
from gracedesk.store.tables import (
    AuditEvent,
    Conversation,
    CsatResponse,
    Customer,
    CustomerNote,
    DecisionRow,
    Delivery,
    Escalation,
    Message,
    Sanction,
    User,
)

SORTS = ("risk", "sla", "updated", "opened")
HISTORY = 20  # a customer's conversations and notes shown


def _order(sort: str) -> tuple[ColumnElement[Any], ...]:
    return {
        "risk": (Conversation.risk.desc(), Conversation.first_response_due.asc()),
        "sla": (
            Conversation.first_response_due.is_(None),
            Conversation.first_response_due.asc(),
            Conversation.risk.desc(),
        ),
        "updated": (Conversation.updated_at.desc(),),
        "opened": (Conversation.opened_at.desc(),),
    }[sort]


@dataclass(frozen=True, slots=True)
class Page:
    """A page of ``(Conversation, Customer)`` rows and how many match in all."""

    total: int
    rows: Sequence[Row[Conversation, Customer]]


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    """What a customer's summary shows besides the customer row."""

    conversations: Sequence[Conversation]  # the newest opened first, at most HISTORY
    sanctions: Sequence[Sanction]  # the newest first
    notes: Sequence[Row[CustomerNote, str]]  # (note, author's name or None), newest first
    scores: list[int]  # the CSAT scores given on their conversations


def user_names(s: Session, ids: Collection[int | None]) -> dict[int, str]:
    """The names of the users with these ids (None ignored)."""
    ids_ = {i for i in ids if i is not None}
    if not ids_:
        return {}
    return {i: n for i, n in s.execute(select(User.id, User.name).where(User.id.in_(ids_)))}


def conversation_page(
    s: Session,
    *,
    status: str | None,
    assignee_id: int | None,
    sort: str,
    limit: int,
    offset: int,
) -> Page:
    """Conversations with their customers: ``status`` one status, ``active`` (neither resolved
    nor held: the agents' queue) or None (all); ``assignee_id`` theirs only; in ``sort`` order
    (ties: the newer id first), ``limit`` from ``offset``."""
    q = select(Conversation, Customer).join(Customer, Customer.id == Conversation.customer_id)
    if status == "active":  # the agents' queue: a held conversation waits for a supervisor
        q = q.where(Conversation.status.not_in(("resolved", "held")))
    elif status:
        q = q.where(Conversation.status == status)
    if assignee_id is not None:
        q = q.where(Conversation.assignee_id == assignee_id)
    order = _order(sort)
    total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = s.execute(q.order_by(*order, Conversation.id.desc()).limit(limit).offset(offset)).all()
    return Page(total, rows)


def sla_breaches(s: Session, *, now: datetime) -> Sequence[Row[Conversation, Customer]]:
    """Unresolved conversations past their first-response due time, the most overdue first."""
    return s.execute(
        select(Conversation, Customer)
        .join(Customer, Customer.id == Conversation.customer_id)
        .where(Conversation.status != "resolved", Conversation.first_response_due < now)
        .order_by(Conversation.first_response_due)
        .limit(100)
    ).all()


def conversation(s: Session, conv_id: int) -> Conversation | None:
    return s.get(Conversation, conv_id)


def customer(s: Session, customer_id: int) -> Customer:
    """The customer (it must exist: a conversation's)."""
    return s.get_one(Customer, customer_id)


def find_customer(s: Session, customer_id: int) -> Customer | None:
    return s.get(Customer, customer_id)


def messages_of(s: Session, conv_id: int) -> Sequence[Message]:
    """A conversation's messages, oldest first."""
    return s.scalars(
        select(Message).where(Message.conversation_id == conv_id).order_by(Message.id)
    ).all()


def decisions_of(s: Session, conv_id: int) -> Sequence[DecisionRow]:
    """A conversation's decisions, in the order they were stored."""
    return s.scalars(
        select(DecisionRow).where(DecisionRow.conversation_id == conv_id).order_by(DecisionRow.id)
    ).all()


def deliveries_of(s: Session, conv_id: int) -> Sequence[Delivery]:
    return s.scalars(select(Delivery).where(Delivery.conversation_id == conv_id)).all()


def follow_ups_of(s: Session, conv_id: int) -> Sequence[Row[Any]]:
    """A conversation's follow-ups (``store.follow_ups.of_conversation``)."""
    return follow_ups.of_conversation(s.connection(), conv_id)


def escalations_of(s: Session, conv_id: int) -> Sequence[Escalation]:
    return s.scalars(
        select(Escalation).where(Escalation.conversation_id == conv_id).order_by(Escalation.id)
    ).all()


def latest_csat(s: Session, conv_id: int) -> CsatResponse | None:
    """The conversation's newest survey, if one was sent."""
    return s.scalar(
        select(CsatResponse)
        .where(CsatResponse.conversation_id == conv_id)
        .order_by(CsatResponse.id.desc())
        .limit(1)
    )


def held_messages(s: Session, *, limit: int) -> Sequence[Row[Message, Conversation, Customer]]:
    """Messages held by a sanction with their conversation and customer, oldest first."""
    return s.execute(
        select(Message, Conversation, Customer)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(Customer, Customer.id == Conversation.customer_id)
        .where(Message.hold == "held")
        .order_by(Message.id)
        .limit(limit)
    ).all()


def customer_record(s: Session, customer_id: int) -> CustomerRecord:
    convs = s.scalars(
        select(Conversation)
        .where(Conversation.customer_id == customer_id)
        .order_by(Conversation.opened_at.desc())
        .limit(HISTORY)
    ).all()
    sanctions = s.scalars(
        select(Sanction).where(Sanction.customer_id == customer_id).order_by(Sanction.id.desc())
    ).all()
    notes = s.execute(
        select(CustomerNote, User.name)
        .outerjoin(User, User.id == CustomerNote.author_id)
        .where(CustomerNote.customer_id == customer_id)
        .order_by(CustomerNote.id.desc())
        .limit(HISTORY)
    ).all()
    scores: list[int] = [
        x
        for (x,) in s.execute(
            select(CsatResponse.score)
            .join(Conversation, Conversation.id == CsatResponse.conversation_id)
            .where(Conversation.customer_id == customer_id, CsatResponse.score.is_not(None))
        ).all()
        if x is not None
    ]
    return CustomerRecord(convs, sanctions, notes, scores)


def conversation_ids_of(s: Session, customer_id: int) -> Sequence[int]:
    """All of a customer's conversation ids."""
    return s.scalars(select(Conversation.id).where(Conversation.customer_id == customer_id)).all()


def escalations(s: Session, *, state: str | None, limit: int) -> Sequence[Escalation]:
    """Escalations in ``state`` (None: any), the newest first."""
    q = select(Escalation).order_by(Escalation.created_at.desc()).limit(limit)
    if state:
        q = q.where(Escalation.state == state)
    return s.scalars(q).all()


def conversations_by_ids(s: Session, ids: Collection[int]) -> Sequence[Conversation]:
    return s.scalars(select(Conversation).where(Conversation.id.in_(ids))).all()


def follow_up_listing(
    s: Session, *, state: str | None, assignee_id: int | None, limit: int
) -> Sequence[Row[Any]]:
    """The follow-ups list (``store.follow_ups.listing``)."""
    return follow_ups.listing(s.connection(), state=state, assignee_id=assignee_id, limit=limit)


def active_users(s: Session) -> Sequence[User]:
    """Active users by name."""
    return s.scalars(select(User).where(User.active.is_(True)).order_by(User.name)).all()


def exposures_since(s: Session, since: datetime) -> dict[int, int]:
    """User id -> abusive contacts (``agent.exposed`` audit events) since ``since``."""
    recent: dict[int, int] = {}
    for (detail,) in s.execute(
        select(AuditEvent.detail).where(AuditEvent.kind == "agent.exposed", AuditEvent.at >= since)
    ):
        uid = detail.get("user_id")
        if isinstance(uid, int):
            recent[uid] = recent.get(uid, 0) + 1
    return recent


def open_load(s: Session) -> dict[int | None, int]:
    """Assignee id -> their unresolved conversations."""
    return {
        uid: n
        for uid, n in s.execute(
            select(Conversation.assignee_id, func.count())
            .where(Conversation.status != "resolved", Conversation.assignee_id.is_not(None))
            .group_by(Conversation.assignee_id)
        )
    }
