"""The outbox: replies on their way out (``deliveries``) and notifications (``notifications``),
each stored in the transaction of what caused it (``gracedesk.channels.delivery`` and the
notify job send them).

A reply's transport is chosen from its conversation (:func:`route`): the helpdesk connector it
came from, e-mail (a mailbox's conversation or the ``email`` channel), the reply webhook for any
other channel when one is configured, else ``none`` (state ``stored``: the desk is the only
place it lives, and API clients read it there).

Replies are queued with :func:`queue_reply` or, with the conversation and customer at hand,
:func:`enqueue`; :func:`enqueue_note` stores a connector conversation's internal note and its
delivery (both take a Core connection or an ORM session, whose transaction they join).

The deliveries job (``gracedesk.channels.delivery``): :func:`claim_due` (a lease, ``FOR UPDATE
SKIP LOCKED`` on PostgreSQL), :func:`outgoing` (what a transport needs of one delivery),
:func:`renew_lease`, :func:`delivery`, then :func:`mark_sent`, :func:`mark_failed` or
:func:`retry_later`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Insert, Integer, Row, Update, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from gracedesk.store.tables import (
    Conversation,
    Customer,
    Delivery,
    Message,
    Notification,
    User,
    table_of,
)

DELIVERIES = table_of(Delivery)
NOTIFICATIONS = table_of(Notification)
_CONVERSATIONS = table_of(Conversation)
_CUSTOMERS = table_of(Customer)
_MESSAGES = table_of(Message)
_USERS = table_of(User)


@cache
def delivery_route() -> Select[Any]:
    """What :func:`route` reads of a conversation, and its customer's e-mail address."""
    v, c = _CONVERSATIONS, _CUSTOMERS
    return (
        select(
            v.c.channel, v.c.connector_id, v.c.mailbox_id, v.c.contact, v.c.external_ref, c.c.email
        )
        .join(c, c.c.id == v.c.customer_id)
        .where(v.c.id == bindparam("conv"))
    )


@cache
def insert_delivery() -> Insert:
    return insert(DELIVERIES)


@cache
def insert_delivery_returning() -> Insert:
    return insert(DELIVERIES).returning(*DELIVERIES.c)


@cache
def insert_note() -> Insert:
    return insert(_MESSAGES).returning(_MESSAGES.c.id)


@cache
def due_deliveries(skip_locked: bool) -> Select[Any]:
    d = DELIVERIES.c
    q = (
        select(d.id)
        .where(d.state == "queued", d.next_attempt_at <= bindparam("now"))
        .order_by(d.id)
        .limit(bindparam("limit", type_=Integer))
    )
    return q.with_for_update(skip_locked=True) if skip_locked else q


@cache
def claim_deliveries() -> Update:
    d = DELIVERIES.c
    return (
        update(DELIVERIES)
        .where(d.id.in_(bindparam("ids", expanding=True)))
        .values(attempts=d.attempts + 1, next_attempt_at=bindparam("until"))
    )


@cache
def deliveries_by_ids() -> Select[Any]:
    d = DELIVERIES.c
    return select(DELIVERIES).where(d.id.in_(bindparam("ids", expanding=True))).order_by(d.id)


@cache
def delivery_by_id() -> Select[Any]:
    return select(DELIVERIES).where(DELIVERIES.c.id == bindparam("id"))


@cache
def outgoing_of_delivery() -> Select[Any]:
    """A delivery's message, conversation, customer and the reply's author (if any)."""
    d, m, v, c, u = DELIVERIES, _MESSAGES, _CONVERSATIONS, _CUSTOMERS, _USERS
    return (
        select(
            m.c.id.label("message_id"),
            m.c.text,
            m.c.meta,
            m.c.received_at,
            v.c.id.label("conversation_id"),
            v.c.subject,
            v.c.contact,
            v.c.mailbox_id,
            v.c.connector_id,
            v.c.external_ref,
            c.c.external_id.label("customer_external_id"),
            c.c.name.label("customer_name"),
            c.c.email.label("customer_email"),
            u.c.display_name.label("agent_name"),
        )
        .select_from(d)
        .join(m, m.c.id == d.c.message_id)
        .join(v, v.c.id == d.c.conversation_id)
        .join(c, c.c.id == v.c.customer_id)
        .outerjoin(u, u.c.id == m.c.author_user_id)
        .where(d.c.id == bindparam("id"))
    )


@cache
def renew_lease_if_ours() -> Update:
    d = DELIVERIES.c
    return (
        update(DELIVERIES)
        .where(d.id == bindparam("did"), d.state == "queued", d.attempts == bindparam("n"))
        .values(next_attempt_at=bindparam("until"))
    )


@cache
def set_sent() -> Update:
    return (
        update(DELIVERIES)
        .where(DELIVERIES.c.id == bindparam("did"))
        .values(
            state="sent", sent_at=bindparam("at"), last_error=None, remote_id=bindparam("remote")
        )
    )


@cache
def set_failed() -> Update:
    return (
        update(DELIVERIES)
        .where(DELIVERIES.c.id == bindparam("did"))
        .values(state="failed", last_error=bindparam("error"))
    )


@cache
def set_retry() -> Update:
    return (
        update(DELIVERIES)
        .where(DELIVERIES.c.id == bindparam("did"))
        .values(last_error=bindparam("error"), next_attempt_at=bindparam("at"))
    )


def route(conv: Any, customer_email: str | None, webhook_url: str | None) -> tuple[str, str | None]:
    """``(transport, target)`` for a reply in ``conv`` (a row or an ORM object)."""
    if conv.connector_id is not None:
        return "connector", conv.external_ref
    if conv.mailbox_id is not None or conv.channel == "email":
        return "email", conv.contact or customer_email
    if webhook_url:
        return "webhook", webhook_url
    return "none", None


def delivery_row(
    message_id: int, conv_id: int, transport: str, target: str | None, *, now: datetime
) -> dict[str, Any]:
    """The column values of a new delivery (for Core inserts and the ORM alike)."""
    row: dict[str, Any] = {
        "message_id": message_id,
        "conversation_id": conv_id,
        "transport": transport,
        "target": target,
        "state": "queued" if transport != "none" else "stored",
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": None,
        "remote_id": None,
        "created_at": now,
        "sent_at": None,
    }
    if transport == "email" and not target:
        row["state"], row["last_error"] = "failed", "the customer has no e-mail address"
    return row


def queue_reply(
    conn: Connection, message_id: int, conv_id: int, *, webhook_url: str | None, now: datetime
) -> str:
    """The delivery of a stored reply, routed from its conversation; returns the transport."""
    r = conn.execute(delivery_route(), {"conv": conv_id}).one()
    transport, target = route(r, r.email, webhook_url)
    conn.execute(insert_delivery(), delivery_row(message_id, conv_id, transport, target, now=now))
    return transport


def notify(
    conn: Connection,
    *,
    key: str,
    event: str,
    to: list[str],
    subject: str,
    body: str,
    payload: dict[str, Any],
    now: datetime,
) -> None:
    """Queue a notification in the outbox (once per key); the notify job sends it.

    The subject is made one line and recipients must look like one address each, so a
    notification queued from user text can always be sent.
    """
    subject = " ".join(subject.split())
    to = [t for t in to if t and "@" in t and "," not in t and not any(c.isspace() for c in t)]
    conn.execute(
        insert_notification(conn.dialect.name),
        {
            "key": key,
            "event": event,
            "recipients": [t for t in to if t],
            "subject": subject[:300],
            "body": body,
            "payload": payload,
            "state": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        },
    )


@cache
def insert_notification(dialect_name: str) -> Any:
    """Queue a notification unless its key is queued already (built once per dialect)."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return dialect.insert(NOTIFICATIONS).on_conflict_do_nothing(index_elements=["key"])


def _conn(target: Connection | Session) -> Connection:
    return target.connection() if isinstance(target, Session) else target


def enqueue(
    target: Connection | Session,
    message: Any,
    conv: Any,
    customer: Any,
    *,
    webhook_url: str | None,
    now: datetime,
) -> Row[Any]:
    """The reply's delivery row, in the caller's transaction (stored with the reply).

    ``message`` (stored: its id known), ``conv`` and ``customer`` are rows or objects with the
    columns :func:`route` reads."""
    transport, target_ = route(conv, customer.email, webhook_url)
    row = delivery_row(message.id, conv.id, transport, target_, now=now)
    return _conn(target).execute(insert_delivery_returning(), row).one()


def enqueue_note(
    target: Connection | Session,
    conv: Any,
    text: str,
    *,
    now: datetime,
    tags: list[str] | None = None,
    priority: str | None = None,
) -> Row[Any]:
    """An internal note for the helpdesk a connector conversation lives in (``conv``: a row or
    object with ``id``, ``channel`` and ``external_ref``): stored as a ``system`` message
    (``analysis_state = 'none'``) and delivered like a reply, with the tags and priority to set
    on the helpdesk's conversation (``meta.writeback``). Returns the delivery row."""
    conn = _conn(target)
    mid = conn.execute(
        insert_note(),
        {
            "conversation_id": conv.id,
            "author": "system",
            "channel": conv.channel,
            "text": text,
            "received_at": now,
            "analysis_state": "none",
            "analysis_attempts": 0,
            "meta": {"writeback": {"tags": list(tags or []), "priority": priority}},
        },
    ).scalar_one()
    row = delivery_row(mid, conv.id, "connector", conv.external_ref, now=now)
    return conn.execute(insert_delivery_returning(), row).one()


def claim_due(
    conn: Connection, *, now: datetime, limit: int, lease_until: datetime, skip_locked: bool
) -> Sequence[Row[Any]]:
    """Queued deliveries due by ``now``, oldest first: each one's attempt counted and leased
    until ``lease_until``; locked, skipping locked ones, where ``skip_locked`` (PostgreSQL).
    The rows are read after the claim (``attempts`` includes it)."""
    ids = list(conn.execute(due_deliveries(skip_locked), {"now": now, "limit": limit}).scalars())
    if not ids:
        return []
    conn.execute(claim_deliveries(), {"ids": ids, "until": lease_until})
    return conn.execute(deliveries_by_ids(), {"ids": ids}).all()


def outgoing(conn: Connection, delivery_id: int) -> Row[Any]:
    """What a transport needs of a delivery: its message (``message_id``, ``text``, ``meta``,
    ``received_at``), conversation (``conversation_id``, ``subject``, ``contact``,
    ``mailbox_id``, ``connector_id``, ``external_ref``), customer (``customer_external_id``,
    ``customer_name``, ``customer_email``) and the reply's author (``agent_name``, or None)."""
    return conn.execute(outgoing_of_delivery(), {"id": delivery_id}).one()


def renew_lease(conn: Connection, delivery_id: int, attempts: int, *, until: datetime) -> bool:
    """Lease a claimed delivery until ``until`` if it is still queued at ``attempts``."""
    got = conn.execute(renew_lease_if_ours(), {"did": delivery_id, "n": attempts, "until": until})
    return bool(got.rowcount)


def delivery(conn: Connection, delivery_id: int) -> Row[Any] | None:
    return conn.execute(delivery_by_id(), {"id": delivery_id}).first()


def mark_sent(conn: Connection, delivery_id: int, *, now: datetime, remote_id: str | None) -> None:
    conn.execute(set_sent(), {"did": delivery_id, "at": now, "remote": remote_id})


def mark_failed(conn: Connection, delivery_id: int, *, error: str) -> None:
    conn.execute(set_failed(), {"did": delivery_id, "error": error})


def retry_later(conn: Connection, delivery_id: int, *, error: str, at: datetime) -> None:
    conn.execute(set_retry(), {"did": delivery_id, "error": error, "at": at})
