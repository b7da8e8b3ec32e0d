"""The audit trail's one writer: every audit event the service and the store record goes here.

An event is who did what, when and why (:func:`event`); :func:`write` inserts a batch of them
in the caller's transaction, a Core connection or an ORM session alike. The trail is read here
too: :func:`count` and :func:`page` (newest first, by offset), :func:`last_id` and
:func:`batch` (keyset, for the export) and :func:`recent` (the newest by id), each matching a
:class:`Match`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Insert,
    Row,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from gracedesk.model.staff import Staff
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


def actor_of(who: Staff | str) -> tuple[str, int | None]:
    """An event's ``(actor, actor_id)``: ``user:<name>`` and the id for a staff member, else the
    name given (``system``, ``customer``) with no id."""
    return (who, None) if isinstance(who, str) else (f"user:{who.name}", who.id)


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


class Trail:
    """Audit events kept in order and inserted together at :meth:`flush`: the worker records
    a micro-batch's events with one statement instead of one per event. Flush it before
    anything in the same transaction reads the trail (``service.rotation`` counts exposures
    from it) and before the transaction commits."""

    __slots__ = ("events",)

    def __init__(self) -> None:
        self.events: list[Mapping[str, Any]] = []

    def flush(self, conn: Connection) -> None:
        write(conn, self.events)
        self.events = []


def log(conn: Connection, trail: Trail | None, events: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``events`` now, or add them to ``trail`` (inserted at its flush)."""
    if trail is None:
        write(conn, events)
    else:
        trail.events.extend(events)


@dataclass(frozen=True, slots=True)
class Match:
    """Which events a read matches; every field left None matches everything."""

    conversation_id: int | None = None
    customer_id: int | None = None
    actor: str | None = None  # ``sam`` matches ``sam`` and ``user:sam``
    kind: str | None = None  # a prefix of the event kind (LIKE wildcards are literal)
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive

    def where(self) -> list[ColumnElement[bool]]:
        e = AUDIT_EVENTS.c
        out: list[ColumnElement[bool]] = []
        if self.conversation_id is not None:
            out.append(e.conversation_id == self.conversation_id)
        if self.customer_id is not None:
            out.append(e.customer_id == self.customer_id)
        if self.actor is not None:
            out.append(or_(e.actor == self.actor, e.actor == f"user:{self.actor}"))
        if self.kind is not None:
            out.append(e.kind.startswith(self.kind, autoescape=True))
        if self.since is not None:
            out.append(e.at >= self.since)
        if self.until is not None:
            out.append(e.at < self.until)
        return out


def count(conn: Connection, match: Match) -> int:
    """How many events match."""
    q = select(AUDIT_EVENTS).where(*match.where())
    return conn.scalar(select(func.count()).select_from(q.subquery())) or 0


def page(conn: Connection, match: Match, *, limit: int, offset: int) -> Sequence[Row[Any]]:
    """The matching events, newest first (ties: the later id first), ``limit`` from ``offset``."""
    e = AUDIT_EVENTS.c
    q = select(AUDIT_EVENTS).where(*match.where())
    return conn.execute(q.order_by(e.at.desc(), e.id.desc()).limit(limit).offset(offset)).all()


def last_id(conn: Connection) -> int:
    """The newest event's id (0 while there is none)."""
    return conn.scalar(select(func.max(AUDIT_EVENTS.c.id))) or 0


def batch(
    conn: Connection,
    match: Match,
    *,
    upto: int,
    after: tuple[datetime, int] | None,
    limit: int,
) -> Sequence[Row[Any]]:
    """Up to ``limit`` matching events with ids up to ``upto``, newest first, from just after
    ``after`` (the ``(at, id)`` of the previous batch's last event; None: from the newest)."""
    e = AUDIT_EVENTS.c
    q = select(AUDIT_EVENTS).where(*match.where(), e.id <= upto)
    if after is not None:
        at, eid = after
        q = q.where(or_(e.at < at, and_(e.at == at, e.id < eid)))
    return conn.execute(q.order_by(e.at.desc(), e.id.desc()).limit(limit)).all()


def recent(
    conn: Connection,
    *,
    conversation_id: int | None = None,
    customer_id: int | None = None,
    limit: int,
) -> Sequence[Row[Any]]:
    """The newest ``limit`` events by id, of a conversation and/or customer when given."""
    e = AUDIT_EVENTS.c
    q = select(AUDIT_EVENTS).order_by(e.id.desc()).limit(limit)
    if conversation_id is not None:
        q = q.where(e.conversation_id == conversation_id)
    if customer_id is not None:
        q = q.where(e.customer_id == customer_id)
    return conn.execute(q).all()
