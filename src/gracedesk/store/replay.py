"""Stored history as policy replay reads it (``service.replay``), read-only, on a Core connection.

Operations:

- ``customer_messages``: a period's customer messages with their signals, analysis state and
  customer (oldest first).
- ``decisions_by_message``: the decision rows stored for messages, per message, in order.
- ``user_ids``: user id by name (the audit trail names assignees).
- ``handover_events``: a conversation's audit events of the given kinds, in time order.
- ``decided_escalations``: the decided escalations of a customer's conversations.
- ``lifted_sanctions``: the ``sanction.lifted`` audit events of a customer.
- ``sanctions_of``: a customer's sanctions, oldest first.
- ``past_conversations``: a customer's other conversations opened by a time, newest first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Integer, Row, bindparam, select
from sqlalchemy.sql import Select

from gracedesk.store.tables import (
    AuditEvent,
    Conversation,
    DecisionRow,
    Escalation,
    Message,
    Sanction,
    User,
    table_of,
)

MESSAGES = table_of(Message)
CONVERSATIONS = table_of(Conversation)
DECISIONS = table_of(DecisionRow)
USERS = table_of(User)
AUDIT_EVENTS = table_of(AuditEvent)
ESCALATIONS = table_of(Escalation)
SANCTIONS = table_of(Sanction)

CHUNK = 500  # message ids per query of their decisions


def customer_messages(
    conn: Connection, since: datetime | None, until: datetime | None
) -> Sequence[Row[Any]]:
    """The customer messages received in ``[since, until)`` (None: unbounded), oldest first:
    id, conversation_id, signals, analysis_state, analysed_at, received_at, customer_id."""
    m, v = MESSAGES.c, CONVERSATIONS.c
    q: Select[Any] = select(
        m.id, m.conversation_id, m.signals, m.analysis_state, m.analysed_at, m.received_at,
        v.customer_id,
    ).join(CONVERSATIONS, v.id == m.conversation_id)  # fmt: skip
    q = q.where(m.author == "customer")
    if since is not None:
        q = q.where(m.received_at >= since)
    if until is not None:
        q = q.where(m.received_at < until)
    return conn.execute(q.order_by(m.id)).all()


@cache
def decisions_of_messages() -> Select[Any]:
    d = DECISIONS.c
    return (
        select(DECISIONS).where(d.message_id.in_(bindparam("ids", expanding=True))).order_by(d.id)
    )


def decisions_by_message(conn: Connection, ids: Sequence[int]) -> dict[int, list[Any]]:
    """Message id -> its decision rows in the order stored (queried ``CHUNK`` ids at a time)."""
    out: dict[int, list[Any]] = defaultdict(list)
    for i in range(0, len(ids), CHUNK):
        for r in conn.execute(decisions_of_messages(), {"ids": list(ids[i : i + CHUNK])}):
            out[r.message_id].append(r)
    return out


@cache
def user_names() -> Select[Any]:
    return select(USERS.c.id, USERS.c.name)


def user_ids(conn: Connection) -> dict[str, int]:
    """User id by name."""
    return {str(u.name): int(u.id) for u in conn.execute(user_names())}


@cache
def events_of_kinds() -> Select[Any]:
    a = AUDIT_EVENTS.c
    return (
        select(a.at, a.kind, a.actor_id, a.detail)
        .where(
            a.conversation_id == bindparam("conv"), a.kind.in_(bindparam("kinds", expanding=True))
        )
        .order_by(a.at, a.id)
    )


def handover_events(conn: Connection, conv_id: int, kinds: Collection[str]) -> Sequence[Row[Any]]:
    """The conversation's audit events of ``kinds`` (at, kind, actor_id, detail), in time order
    (ties: by id)."""
    return conn.execute(events_of_kinds(), {"conv": conv_id, "kinds": list(kinds)}).all()


@cache
def decided_escalations_of_customer() -> Select[Any]:
    e, v = ESCALATIONS.c, CONVERSATIONS.c
    convs = select(v.id).where(v.customer_id == bindparam("cid")).scalar_subquery()
    return select(e.conversation_id, e.kind, e.target, e.state, e.data, e.decided_at).where(
        e.conversation_id.in_(convs), e.decided_at.is_not(None)
    )


def decided_escalations(conn: Connection, customer_id: int) -> Sequence[Row[Any]]:
    """The decided escalations of the customer's conversations: conversation_id, kind, target,
    state, data, decided_at."""
    return conn.execute(decided_escalations_of_customer(), {"cid": customer_id}).all()


@cache
def lifted_of_customer() -> Select[Any]:
    a = AUDIT_EVENTS.c
    return select(a.detail, a.at).where(
        a.customer_id == bindparam("cid"), a.kind == "sanction.lifted"
    )


def lifted_sanctions(conn: Connection, customer_id: int) -> Sequence[Row[Any]]:
    """The customer's ``sanction.lifted`` audit events: detail, at."""
    return conn.execute(lifted_of_customer(), {"cid": customer_id}).all()


@cache
def sanctions_of_customer() -> Select[Any]:
    x = SANCTIONS.c
    return select(SANCTIONS).where(x.customer_id == bindparam("cid")).order_by(x.created_at, x.id)


def sanctions_of(conn: Connection, customer_id: int) -> Sequence[Row[Any]]:
    """The customer's sanctions (every column), oldest first (ties: by id)."""
    return conn.execute(sanctions_of_customer(), {"cid": customer_id}).all()


@cache
def opened_before() -> Select[Any]:
    v = CONVERSATIONS.c
    return (
        select(v.id, v.opened_at, v.subject, v.channel, v.labels)
        .where(
            v.customer_id == bindparam("cid"),
            v.id != bindparam("exclude"),
            v.opened_at <= bindparam("upto"),
        )
        .order_by(v.opened_at.desc(), v.id.desc())
        .limit(bindparam("limit", type_=Integer))
    )


def past_conversations(
    conn: Connection, customer_id: int, *, exclude: int, upto: datetime, limit: int
) -> Sequence[Row[Any]]:
    """The customer's conversations but ``exclude`` opened by ``upto`` (inclusive), newest first
    (ties: the newer id first), at most ``limit``: id, opened_at, subject, channel, labels."""
    params = {"cid": customer_id, "exclude": exclude, "upto": upto, "limit": limit}
    return conn.execute(opened_before(), params).all()
