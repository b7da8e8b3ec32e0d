"""The outbox of replies, as the service writes it: one ``deliveries`` row per outgoing message,
stored in the same transaction as the message (``gracedesk.channels.delivery`` sends them).

A reply's transport is chosen from its conversation (:func:`route`): the helpdesk connector it
came from, e-mail (a mailbox's conversation or the ``email`` channel), the reply webhook for any
other channel when one is configured, else ``none`` (state ``stored``: the desk is the only
place it lives, and API clients read it there).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from gracedesk.store.tables import Conversation, Customer, Delivery, Message


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


def delivery_dict(d: Delivery | None) -> dict[str, Any] | None:
    """What the API and console show of a reply's delivery."""
    if d is None:
        return None
    return {
        "state": d.state,
        "transport": d.transport,
        # the reply webhook's URL may carry a credential: shown as where, not what
        "target": "reply webhook" if d.transport == "webhook" else d.target,
        "attempts": d.attempts,
        "last_error": d.last_error,
        "remote_id": d.remote_id,
        "sent_at": d.sent_at.isoformat() if d.sent_at else None,
        "next_attempt_at": d.next_attempt_at.isoformat() if d.state == "queued" else None,
    }
