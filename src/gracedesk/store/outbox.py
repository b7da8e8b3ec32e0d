"""The outbox: replies on their way out (``deliveries``) and notifications (``notifications``),
each stored in the transaction of what caused it (``gracedesk.channels.delivery`` and the
notify job send them).

A reply's transport is chosen from its conversation (:func:`route`): the helpdesk connector it
came from, e-mail (a mailbox's conversation or the ``email`` channel), the reply webhook for any
other channel when one is configured, else ``none`` (state ``stored``: the desk is the only
place it lives, and API clients read it there).

Replies are queued with Core (:func:`queue_reply`) or, in an ORM transaction, with
:func:`enqueue`; :func:`enqueue_note` stores a connector conversation's internal note and its
delivery.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Insert, bindparam, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from gracedesk.store.tables import (
    Conversation,
    Customer,
    Delivery,
    Message,
    Notification,
    table_of,
)

DELIVERIES = table_of(Delivery)
NOTIFICATIONS = table_of(Notification)
_CONVERSATIONS = table_of(Conversation)
_CUSTOMERS = table_of(Customer)


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


def enqueue(
    s: Session,
    message: Message,
    conv: Conversation,
    customer: Customer,
    *,
    webhook_url: str | None,
    now: datetime,
) -> Delivery:
    """The reply's delivery row, in the caller's transaction (stored with the reply)."""
    transport, target = route(conv, customer.email, webhook_url)
    d = Delivery(**delivery_row(message.id, conv.id, transport, target, now=now))
    s.add(d)
    return d


def enqueue_note(
    s: Session,
    conv: Conversation,
    text: str,
    *,
    now: datetime,
    tags: list[str] | None = None,
    priority: str | None = None,
) -> Delivery:
    """An internal note for the helpdesk a connector conversation lives in: stored as a
    ``system`` message (``analysis_state = 'none'``) and delivered like a reply, with the tags
    and priority to set on the helpdesk's conversation (``meta.writeback``)."""
    m = Message(
        conversation_id=conv.id,
        author="system",
        channel=conv.channel,
        text=text,
        received_at=now,
        analysis_state="none",
        analysis_attempts=0,
        meta={"writeback": {"tags": list(tags or []), "priority": priority}},
    )
    s.add(m)
    s.flush()
    d = Delivery(**delivery_row(m.id, conv.id, "connector", conv.external_ref, now=now))
    s.add(d)
    return d
