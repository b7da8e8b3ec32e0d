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
from typing import Any

from sqlalchemy import Connection, Row, select

from gracedesk.store.tables import (
    AuditEvent,
    Conversation,
    DecisionRow,
    Escalation,
    Message,
    Sanction,
    User,
)

CHUNK = 500  # message ids per query of their decisions


def customer_messages(
    conn: Connection, since: datetime | None, until: datetime | None
) -> Sequence[Row[Any]]:
    """The customer messages received in ``[since, until)`` (None: unbounded), oldest first:
    id, conversation_id, signals, analysis_state, analysed_at, received_at, customer_id."""
    q = select(
        Message.id,
        Message.conversation_id,
        Message.signals,
        Message.analysis_state,
        Message.analysed_at,
        Message.received_at,
        Conversation.customer_id,
    ).join(Conversation, Conversation.id == Message.conversation_id)
    q = q.where(Message.author == "customer")
    if since is not None:
        q = q.where(Message.received_at >= since)
    if until is not None:
        q = q.where(Message.received_at < until)
    return conn.execute(q.order_by(Message.id)).all()


def decisions_by_message(conn: Connection, ids: Sequence[int]) -> dict[int, list[Any]]:
    """Message id -> its decision rows in the order stored (queried ``CHUNK`` ids at a time)."""
    out: dict[int, list[Any]] = defaultdict(list)
    for i in range(0, len(ids), CHUNK):
        q = (
            select(DecisionRow)
            .where(DecisionRow.message_id.in_(list(ids[i : i + CHUNK])))
            .order_by(DecisionRow.id)
        )
        for r in conn.execute(q):
            out[r.message_id].append(r)
    return out


def user_ids(conn: Connection) -> dict[str, int]:
    """User id by name."""
    return {str(u.name): int(u.id) for u in conn.execute(select(User.id, User.name))}


def handover_events(conn: Connection, conv_id: int, kinds: Collection[str]) -> Sequence[Row[Any]]:
    """The conversation's audit events of ``kinds`` (at, kind, actor_id, detail), in time order
    (ties: by id)."""
    return conn.execute(
        select(AuditEvent.at, AuditEvent.kind, AuditEvent.actor_id, AuditEvent.detail)
        .where(AuditEvent.conversation_id == conv_id, AuditEvent.kind.in_(kinds))
        .order_by(AuditEvent.at, AuditEvent.id)
    ).all()


def decided_escalations(conn: Connection, customer_id: int) -> Sequence[Row[Any]]:
    """The decided escalations of the customer's conversations: conversation_id, kind, target,
    state, data, decided_at."""
    convs = select(Conversation.id).where(Conversation.customer_id == customer_id).scalar_subquery()
    return conn.execute(
        select(
            Escalation.conversation_id,
            Escalation.kind,
            Escalation.target,
            Escalation.state,
            Escalation.data,
            Escalation.decided_at,
        ).where(Escalation.conversation_id.in_(convs), Escalation.decided_at.is_not(None))
    ).all()


def lifted_sanctions(conn: Connection, customer_id: int) -> Sequence[Row[Any]]:
    """The customer's ``sanction.lifted`` audit events: detail, at."""
    return conn.execute(
        select(AuditEvent.detail, AuditEvent.at).where(
            AuditEvent.customer_id == customer_id, AuditEvent.kind == "sanction.lifted"
        )
    ).all()


def sanctions_of(conn: Connection, customer_id: int) -> Sequence[Row[Any]]:
    """The customer's sanctions (every column), oldest first (ties: by id)."""
    return conn.execute(
        select(Sanction)
        .where(Sanction.customer_id == customer_id)
        .order_by(Sanction.created_at, Sanction.id)
    ).all()


def past_conversations(
    conn: Connection, customer_id: int, *, exclude: int, upto: datetime, limit: int
) -> Sequence[Row[Any]]:
    """The customer's conversations but ``exclude`` opened by ``upto`` (inclusive), newest first
    (ties: the newer id first), at most ``limit``: id, opened_at, subject, channel, labels."""
    return conn.execute(
        select(
            Conversation.id,
            Conversation.opened_at,
            Conversation.subject,
            Conversation.channel,
            Conversation.labels,
        )
        .where(
            Conversation.customer_id == customer_id,
            Conversation.id != exclude,
            Conversation.opened_at <= upto,
        )
        .order_by(Conversation.opened_at.desc(), Conversation.id.desc())
        .limit(limit)
    ).all()
