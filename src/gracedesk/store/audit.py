"""The audit trail's one writer: every audit event the service and the store record goes here.

An event is who did what, when and why (:func:`event`); :func:`write` inserts a batch of them
in the caller's transaction, a Core connection or an ORM session alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Insert, bindparam, insert, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from gracedesk.store.tables import AuditEvent, table_of

AUDIT_EVENTS = table_of(AuditEvent)

AUTO_REPLY = "auto_reply.queued"  # the event of a sanction's auto-reply (``last_auto_reply``)


@cache
def insert_events() -> Insert:
    return insert(AUDIT_EVENTS)


@cache
def last_auto_reply() -> Select[Any]:
    """When the conversation last got a sanction's auto-reply."""
    return (
        select(AUDIT_EVENTS.c.at)
        .where(
            AUDIT_EVENTS.c.conversation_id == bindparam("conv"),
            AUDIT_EVENTS.c.kind == AUTO_REPLY,
        )
        .order_by(AUDIT_EVENTS.c.at.desc())
        .limit(1)
    )


def event(
    kind: str,
    *,
    now: datetime,
    actor: str = "system",
    actor_id: int | None = None,
    conversation_id: int | None = None,
    customer_id: int | None = None,
    reason: str | None = None,
    **detail: Any,
) -> dict[str, Any]:
    """One event's row (who, what, when, why; the rest of ``fields`` is its detail)."""
    return {
        "at": now,
        "actor": actor,
        "actor_id": actor_id,
        "kind": kind,
        "conversation_id": conversation_id,
        "customer_id": customer_id,
        "reason": reason,
        "detail": detail,
    }


def write(target: Connection | Session, events: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``events`` (rows of :func:`event`) in the caller's transaction, in order."""
    if not events:
        return
    conn = target.connection() if isinstance(target, Session) else target
    conn.execute(insert_events(), events[0] if len(events) == 1 else list(events))
