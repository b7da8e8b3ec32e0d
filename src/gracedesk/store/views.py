"""Read models of the console and the API: the reads behind ``service.views``.

The service keeps the transaction (``Store.read()``, passing its session's connection) and
builds its JSON from what these return (``Row``s, scalars, :class:`Page`,
:class:`CustomerRecord`). Operations:

- ``user_names``: users' names by id (assignees, authors).
- ``conversation_page``: a page of conversations, each with its customer's external id, name
  and tier (``customer_external_id``, ``customer_name``, ``customer_tier``), filtered by status
  and assignee, in one of :data:`SORTS`, and how many match; ``sla_breaches``: the unresolved
  ones past their first-response due time, as listed.
- ``conversation``: one conversation as listed; ``customer``, ``find_customer``: one customer.
- a conversation's parts: ``messages_of``, ``decisions_of``, ``deliveries_of``,
  ``follow_ups_of``, ``escalations_of``, ``latest_csat``.
- ``held_messages``: messages held by a sanction, with their customer.
- ``customer_record``: a customer's recent conversations, sanctions, notes and CSAT scores;
  ``conversation_ids_of``: all of a customer's conversation ids.
- ``escalations``, ``conversations_by_ids``: the escalations list and its conversations.
- ``follow_up_listing``: the follow-ups list (``store.follow_ups.listing``).
- ``active_users``, ``exposures_since``, ``open_load``: the team view's agents, their recent
  abusive contacts (``agent.exposed`` audit events) and open conversations.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Integer, Row, bindparam, func, select
from sqlalchemy.sql import Select
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
    table_of,
)

AUDIT_EVENTS = table_of(AuditEvent)
CONVERSATIONS = table_of(Conversation)
SURVEYS = table_of(CsatResponse)
CUSTOMERS = table_of(Customer)
NOTES = table_of(CustomerNote)
DECISIONS = table_of(DecisionRow)
DELIVERIES = table_of(Delivery)
ESCALATIONS = table_of(Escalation)
MESSAGES = table_of(Message)
SANCTIONS = table_of(Sanction)
USERS = table_of(User)

SORTS = ("risk", "sla", "updated", "opened")
HISTORY = 20  # a customer's conversations and notes shown


def _order(sort: str) -> tuple[ColumnElement[Any], ...]:
    v = CONVERSATIONS.c
    return {
        "risk": (v.risk.desc(), v.first_response_due.asc()),
        "sla": (v.first_response_due.is_(None), v.first_response_due.asc(), v.risk.desc()),
        "updated": (v.updated_at.desc(),),
        "opened": (v.opened_at.desc(),),
    }[sort]


@dataclass(frozen=True, slots=True)
class Page:
    """A page of conversations as listed (every column and the customer's) and how many
    match in all."""

    total: int
    rows: Sequence[Row[Any]]


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    """What a customer's summary shows besides the customer row."""

    conversations: Sequence[Row[Any]]  # the newest opened first, at most HISTORY
    sanctions: Sequence[Row[Any]]  # the newest first
    notes: Sequence[Row[Any]]  # the note's columns and ``author`` (name or None), newest first
    scores: list[int]  # the CSAT scores given on their conversations


def user_names(conn: Connection, ids: Collection[int | None]) -> dict[int, str]:
    """The names of the users with these ids (None ignored)."""
    ids_ = {i for i in ids if i is not None}
    if not ids_:
        return {}
    u = USERS.c
    return {i: n for i, n in conn.execute(select(u.id, u.name).where(u.id.in_(ids_)))}


def _listed() -> Select[Any]:
    """Conversations with their customers' external id, name and tier."""
    cu = CUSTOMERS.c
    return select(
        CONVERSATIONS,
        cu.external_id.label("customer_external_id"),
        cu.name.label("customer_name"),
        cu.tier.label("customer_tier"),
    ).join(CUSTOMERS, cu.id == CONVERSATIONS.c.customer_id)


def conversation_page(
    conn: Connection,
    *,
    status: str | None,
    assignee_id: int | None,
    sort: str,
    limit: int,
    offset: int,
) -> Page:
    """Conversations as listed: ``status`` one status, ``active`` (neither resolved nor held:
    the agents' queue) or None (all); ``assignee_id`` theirs only; in ``sort`` order (ties: the
    newer id first), ``limit`` from ``offset``."""
    v = CONVERSATIONS.c
    q = _listed()
    if status == "active":  # the agents' queue: a held conversation waits for a supervisor
        q = q.where(v.status.not_in(("resolved", "held")))
    elif status:
        q = q.where(v.status == status)
    if assignee_id is not None:
        q = q.where(v.assignee_id == assignee_id)
    order = _order(sort)
    total = conn.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = conn.execute(q.order_by(*order, v.id.desc()).limit(limit).offset(offset)).all()
    return Page(total, rows)


@cache
def overdue() -> Select[Any]:
    v = CONVERSATIONS.c
    return (
        _listed()
        .where(v.status != "resolved", v.first_response_due < bindparam("now"))
        .order_by(v.first_response_due)
        .limit(100)
    )


def sla_breaches(conn: Connection, *, now: datetime) -> Sequence[Row[Any]]:
    """Unresolved conversations past their first-response due time (as listed), the most
    overdue first."""
    return conn.execute(overdue(), {"now": now}).all()


@cache
def listed_by_id() -> Select[Any]:
    return _listed().where(CONVERSATIONS.c.id == bindparam("id"))


def conversation(conn: Connection, conv_id: int) -> Row[Any] | None:
    """The conversation as listed (with its customer's external id, name and tier)."""
    return conn.execute(listed_by_id(), {"id": conv_id}).one_or_none()


@cache
def customer_by_id() -> Select[Any]:
    return select(CUSTOMERS).where(CUSTOMERS.c.id == bindparam("id"))


def customer(conn: Connection, customer_id: int) -> Row[Any]:
    """The customer (it must exist: a conversation's)."""
    return conn.execute(customer_by_id(), {"id": customer_id}).one()


def find_customer(conn: Connection, customer_id: int) -> Row[Any] | None:
    return conn.execute(customer_by_id(), {"id": customer_id}).one_or_none()


@cache
def messages_of_conversation() -> Select[Any]:
    m = MESSAGES.c
    return select(MESSAGES).where(m.conversation_id == bindparam("conv")).order_by(m.id)


def messages_of(conn: Connection, conv_id: int) -> Sequence[Row[Any]]:
    """A conversation's messages, oldest first."""
    return conn.execute(messages_of_conversation(), {"conv": conv_id}).all()


@cache
def decisions_of_conversation() -> Select[Any]:
    d = DECISIONS.c
    return select(DECISIONS).where(d.conversation_id == bindparam("conv")).order_by(d.id)


def decisions_of(conn: Connection, conv_id: int) -> Sequence[Row[Any]]:
    """A conversation's decisions, in the order they were stored."""
    return conn.execute(decisions_of_conversation(), {"conv": conv_id}).all()


@cache
def deliveries_of_conversation() -> Select[Any]:
    return select(DELIVERIES).where(DELIVERIES.c.conversation_id == bindparam("conv"))


def deliveries_of(conn: Connection, conv_id: int) -> Sequence[Row[Any]]:
    return conn.execute(deliveries_of_conversation(), {"conv": conv_id}).all()


def follow_ups_of(conn: Connection, conv_id: int) -> Sequence[Row[Any]]:
    """A conversation's follow-ups (``store.follow_ups.of_conversation``)."""
    return follow_ups.of_conversation(conn, conv_id)


@cache
def escalations_of_conversation() -> Select[Any]:
    e = ESCALATIONS.c
    return select(ESCALATIONS).where(e.conversation_id == bindparam("conv")).order_by(e.id)


def escalations_of(conn: Connection, conv_id: int) -> Sequence[Row[Any]]:
    return conn.execute(escalations_of_conversation(), {"conv": conv_id}).all()


@cache
def newest_survey() -> Select[Any]:
    cs = SURVEYS.c
    return (
        select(SURVEYS)
        .where(cs.conversation_id == bindparam("conv"))
        .order_by(cs.id.desc())
        .limit(1)
    )


def latest_csat(conn: Connection, conv_id: int) -> Row[Any] | None:
    """The conversation's newest survey, if one was sent."""
    return conn.execute(newest_survey(), {"conv": conv_id}).first()


@cache
def held() -> Select[Any]:
    m, v, cu = MESSAGES.c, CONVERSATIONS.c, CUSTOMERS.c
    return (
        select(
            m.id, m.conversation_id, m.channel, m.text, m.received_at,
            cu.id.label("customer_id"), cu.name.label("customer_name"),
            cu.external_id.label("customer_external_id"),
        )
        .join(CONVERSATIONS, v.id == m.conversation_id)
        .join(CUSTOMERS, cu.id == v.customer_id)
        .where(m.hold == "held")
        .order_by(m.id)
        .limit(bindparam("limit", type_=Integer))
    )  # fmt: skip


def held_messages(conn: Connection, *, limit: int) -> Sequence[Row[Any]]:
    """Messages held by a sanction, oldest first: id, conversation_id, channel, text,
    received_at and their customer's ``customer_id``, ``customer_name``,
    ``customer_external_id``."""
    return conn.execute(held(), {"limit": limit}).all()


@cache
def recent_conversations() -> Select[Any]:
    v = CONVERSATIONS.c
    return (
        select(CONVERSATIONS)
        .where(v.customer_id == bindparam("cid"))
        .order_by(v.opened_at.desc())
        .limit(HISTORY)
    )


@cache
def sanctions_newest_first() -> Select[Any]:
    x = SANCTIONS.c
    return select(SANCTIONS).where(x.customer_id == bindparam("cid")).order_by(x.id.desc())


@cache
def notes_with_authors() -> Select[Any]:
    n, u = NOTES.c, USERS.c
    return (
        select(NOTES, u.name.label("author"))
        .outerjoin(USERS, u.id == n.author_id)
        .where(n.customer_id == bindparam("cid"))
        .order_by(n.id.desc())
        .limit(HISTORY)
    )


@cache
def scores_of_customer() -> Select[Any]:
    cs, v = SURVEYS.c, CONVERSATIONS.c
    return (
        select(cs.score)
        .join(CONVERSATIONS, v.id == cs.conversation_id)
        .where(v.customer_id == bindparam("cid"), cs.score.is_not(None))
    )


def customer_record(conn: Connection, customer_id: int) -> CustomerRecord:
    params = {"cid": customer_id}
    convs = conn.execute(recent_conversations(), params).all()
    sanctions = conn.execute(sanctions_newest_first(), params).all()
    notes = conn.execute(notes_with_authors(), params).all()
    scores: list[int] = [
        x for x in conn.scalars(scores_of_customer(), params).all() if x is not None
    ]
    return CustomerRecord(convs, sanctions, notes, scores)


@cache
def conversation_ids_of_customer() -> Select[Any]:
    v = CONVERSATIONS.c
    return select(v.id).where(v.customer_id == bindparam("cid"))


def conversation_ids_of(conn: Connection, customer_id: int) -> Sequence[int]:
    """All of a customer's conversation ids."""
    return conn.scalars(conversation_ids_of_customer(), {"cid": customer_id}).all()


def escalations(conn: Connection, *, state: str | None, limit: int) -> Sequence[Row[Any]]:
    """Escalations in ``state`` (None: any), the newest first."""
    e = ESCALATIONS.c
    q = select(ESCALATIONS).order_by(e.created_at.desc()).limit(limit)
    if state:
        q = q.where(e.state == state)
    return conn.execute(q).all()


def conversations_by_ids(conn: Connection, ids: Collection[int]) -> Sequence[Row[Any]]:
    return conn.execute(select(CONVERSATIONS).where(CONVERSATIONS.c.id.in_(ids))).all()


def follow_up_listing(
    conn: Connection, *, state: str | None, assignee_id: int | None, limit: int
) -> Sequence[Row[Any]]:
    """The follow-ups list (``store.follow_ups.listing``)."""
    return follow_ups.listing(conn, state=state, assignee_id=assignee_id, limit=limit)


@cache
def active() -> Select[Any]:
    u = USERS.c
    return select(USERS).where(u.active.is_(True)).order_by(u.name)


def active_users(conn: Connection) -> Sequence[Row[Any]]:
    """Active users by name."""
    return conn.execute(active()).all()


@cache
def exposures() -> Select[Any]:
    a = AUDIT_EVENTS.c
    return select(a.detail).where(a.kind == "agent.exposed", a.at >= bindparam("since"))


def exposures_since(conn: Connection, since: datetime) -> dict[int, int]:
    """User id -> abusive contacts (``agent.exposed`` audit events) since ``since``."""
    recent: dict[int, int] = {}
    for (detail,) in conn.execute(exposures(), {"since": since}):
        uid = detail.get("user_id")
        if isinstance(uid, int):
            recent[uid] = recent.get(uid, 0) + 1
    return recent


@cache
def load() -> Select[Any]:
    v = CONVERSATIONS.c
    return (
        select(v.assignee_id, func.count())
        .where(v.status != "resolved", v.assignee_id.is_not(None))
        .group_by(v.assignee_id)
    )


def open_load(conn: Connection) -> dict[int | None, int]:
    """Assignee id -> their unresolved conversations."""
    return {uid: n for uid, n in conn.execute(load())}
