"""Applying a message's effects (``gracedesk.model.effect``), in order, in the caller's
transaction: one function per aggregate does the writing.

The worker records a micro-batch (one message per conversation) in two steps: :func:`apply_many`
writes every message's analysis, placement and hand-over packets set-based (one
``executemany`` per statement for the batch), then :func:`apply` writes each message's other
effects in order. A message's own effects keep their order: the set-based kinds always come
first in ``service.effects.effects_for``'s list."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

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
from gracedesk.store.escalations import Pending, Scrub


def apply(
    conn: Connection,
    effects: Iterable[Effect],
    *,
    scrub: Scrub,
    pending: Pending | None = None,
    trail: audit.Trail | None = None,
) -> None:
    """Write ``effects``; ``scrub`` words the notification of a new escalation; ``pending``:
    the batch's pending escalations, read once (``escalations.Pending``); ``trail``: the batch's
    audit events, inserted together when it is flushed (else each is written here)."""
    for e in effects:
        if set_based(e):
            apply_many(conn, [e])
        elif isinstance(e, OpenEscalation):
            escalations.open_escalation(conn, e, scrub=scrub, pending=pending, trail=trail)
        elif isinstance(e, ImposeSanction):
            sanctions.impose(conn, e, scrub=scrub, pending=pending, trail=trail)
        elif isinstance(e, AddFollowUp):
            follow_ups.add_policy(conn, e)
        elif isinstance(e, Audited):
            audit.log(conn, trail, [e.event])


SET_BASED = (StoreAnalysis, Place, RefreshPackets)  # the kinds apply_many writes


def set_based(e: Effect) -> bool:
    """Whether :func:`apply_many` writes ``e`` (else :func:`apply` does)."""
    return isinstance(e, SET_BASED)


def apply_many(conn: Connection, effects: Sequence[Effect]) -> None:
    """Write the set-based effects (:data:`SET_BASED`) of a batch of messages, one statement per
    kind; each conversation appears at most once per kind (one message per conversation)."""
    messages.store_results_many(conn, [e for e in effects if isinstance(e, StoreAnalysis)])
    conversations.place_many(conn, [e for e in effects if isinstance(e, Place)])
    escalations.refresh_packets_many(
        conn,
        [(e.conversation_id, dict(e.packet)) for e in effects if isinstance(e, RefreshPackets)],
    )
