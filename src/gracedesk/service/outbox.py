"""The outbox of replies, as the console writes it: one ``deliveries`` row per outgoing
message, stored in the same transaction as the message (``gracedesk.channels.delivery`` sends
them). Routing, the row itself and queueing it (``enqueue``, ``enqueue_note``, re-exported here)
are the store's (``gracedesk.store.outbox``); what is shown of a delivery is the service's.
"""

from __future__ import annotations

from typing import Any

from gracedesk.store.outbox import delivery_row, enqueue, enqueue_note, route

__all__ = ["delivery_dict", "delivery_row", "enqueue", "enqueue_note", "route"]


def delivery_dict(d: Any) -> dict[str, Any] | None:
    """What the API and console show of a reply's delivery (a ``deliveries`` row, or None)."""
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
