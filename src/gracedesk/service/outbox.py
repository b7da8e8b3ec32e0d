"""The outbox of replies, as the console's ORM writes it: one ``deliveries`` row per outgoing
message, stored in the same transaction as the message (``gracedesk.channels.delivery`` sends
them). Routing and the row itself are the store's (``gracedesk.store.outbox``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from gracedesk.store.outbox import delivery_row, route
from gracedesk.store.tables import Conversation, Customer, Delivery, Message

__all__ = ["delivery_dict", "delivery_row", "enqueue", "enqueue_note", "route"]


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
