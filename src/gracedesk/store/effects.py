"""Applying a message's effects (``gracedesk.model.effect``), in order, in the caller's
transaction: one function per aggregate does the writing."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection

from gracedesk.model.effect import (
    AddFollowUp,
    Audited,
    Effect,
    ImposeSanction,
    OpenEscalation,
    Place,
    RefreshPackets,
    StoreAnalysis,
)
from gracedesk.store import audit, conversations, escalations, follow_ups, messages, sanctions
from gracedesk.store.escalations import Scrub


def apply(conn: Connection, effects: Iterable[Effect], *, scrub: Scrub) -> None:
    """Write ``effects``; ``scrub`` words the notification of a new escalation."""
    for e in effects:
        if isinstance(e, StoreAnalysis):
            messages.store_results(conn, e)
        elif isinstance(e, Place):
            conversations.place(conn, e)
        elif isinstance(e, RefreshPackets):
            escalations.refresh_packets(conn, e.conversation_id, dict(e.packet))
        elif isinstance(e, OpenEscalation):
            escalations.open_escalation(conn, e, scrub=scrub)
        elif isinstance(e, ImposeSanction):
            sanctions.impose(conn, e, scrub=scrub)
        elif isinstance(e, AddFollowUp):
            follow_ups.add_policy(conn, e)
        elif isinstance(e, Audited):
            audit.write(conn, [e.event])
