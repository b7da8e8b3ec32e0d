"""What the worker's sweeps (``gracedesk.service.sweeps``) read, claim and change.

Claims lock their rows with ``SELECT ... FOR UPDATE SKIP LOCKED`` where ``skip_locked`` is true
(PostgreSQL), so two workers never take the same row; SQLite has one writer at a time.
Operations:

- follow-up reminders: ``assignee`` (the user a follow-up is assigned to: id, name, email);
- SLA breaches: ``claim_breached`` (open conversations past their first-response due time, not
  yet marked), ``mark_breached``, ``latest_packet`` (the hand-over packet of a conversation's
  newest analysed customer message);
- the notification outbox (``notifications``): ``claim_pending`` (due pending ones, by id),
  ``lease`` (count the attempt, move ``next_attempt_at`` on), ``notification`` (one by id),
  ``mark_sent``, ``mark_failed`` (given up), ``retry_at`` (a failed attempt, tried again later).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Integer, Row, Update, bindparam, select, update
from sqlalchemy.sql import Select

from gracedesk.store.tables import Conversation, Message, Notification, User, table_of

USERS = table_of(User)
CONVERSATIONS = table_of(Conversation)
MESSAGES = table_of(Message)
NOTIFICATIONS = table_of(Notification)

# -- follow-up reminders -------------------------------------------------------------------------


@cache
def user_contact() -> Select[Any]:
    u = USERS.c
    return select(u.id, u.name, u.email).where(u.id == bindparam("uid"))


def assignee(conn: Connection, uid: int) -> Row[Any] | None:
    """The user a follow-up is assigned to: id, name, email (``None`` if there is no such
    user)."""
    return conn.execute(user_contact(), {"uid": uid}).first()


# -- SLA breaches --------------------------------------------------------------------------------


@cache
def breached(skip_locked: bool) -> Select[Any]:
    c = CONVERSATIONS.c
    q = (
        select(CONVERSATIONS)
        .where(
            c.status != "resolved",
            c.first_response_due < bindparam("now"),
            c.sla_breached_at.is_(None),
        )
        .order_by(c.first_response_due)
        .limit(bindparam("limit", type_=Integer))
    )
    return q.with_for_update(skip_locked=True) if skip_locked else q


@cache
def set_breached() -> Update:
    c = CONVERSATIONS.c
    return (
        update(CONVERSATIONS)
        .where(c.id == bindparam("conv"))
        .values(sla_breached_at=bindparam("at"))
    )


@cache
def newest_analysed_guidance() -> Select[Any]:
    m = MESSAGES.c
    return (
        select(m.guidance)
        .where(
            m.conversation_id == bindparam("conv"),
            m.author == "customer",
            m.analysis_state == "done",
        )
        .order_by(m.id.desc())
        .limit(1)
    )


def claim_breached(
    conn: Connection, *, now: datetime, limit: int, skip_locked: bool
) -> Sequence[Row[Any]]:
    """Unresolved conversations whose first reply was due before ``now`` and whose breach is not
    yet marked, soonest due first; locked, skipping locked ones, where ``skip_locked``."""
    return conn.execute(breached(skip_locked), {"now": now, "limit": limit}).all()


def mark_breached(conn: Connection, conv_id: int, *, now: datetime) -> None:
    """The conversation's SLA breach is handled (escalated once)."""
    conn.execute(set_breached(), {"conv": conv_id, "at": now})


def latest_packet(conn: Connection, conv_id: int) -> dict[str, Any] | None:
    """The hand-over packet of the conversation's newest analysed customer message."""
    guidance = conn.execute(newest_analysed_guidance(), {"conv": conv_id}).scalar()
    packet = (guidance or {}).get("handover")
    return packet if isinstance(packet, dict) else None


# -- the notification outbox ---------------------------------------------------------------------


@cache
def pending(skip_locked: bool) -> Select[Any]:
    n = NOTIFICATIONS.c
    q = (
        select(NOTIFICATIONS)
        .where(n.state == "pending", n.next_attempt_at <= bindparam("now"))
        .order_by(n.id)
        .limit(bindparam("limit", type_=Integer))
    )
    return q.with_for_update(skip_locked=True) if skip_locked else q


@cache
def notification_by_id() -> Select[Any]:
    return select(NOTIFICATIONS).where(NOTIFICATIONS.c.id == bindparam("nid"))


@cache
def leased() -> Update:
    n = NOTIFICATIONS.c
    return (
        update(NOTIFICATIONS)
        .where(n.id == bindparam("nid"))
        .values(attempts=n.attempts + 1, next_attempt_at=bindparam("until"))
        .returning(n.attempts)
    )


@cache
def set_sent() -> Update:
    return (
        update(NOTIFICATIONS)
        .where(NOTIFICATIONS.c.id == bindparam("nid"))
        .values(state="sent", sent_at=bindparam("at"), last_error=None)
    )


@cache
def set_failed() -> Update:
    return (
        update(NOTIFICATIONS)
        .where(NOTIFICATIONS.c.id == bindparam("nid"))
        .values(state="failed", last_error=bindparam("error"))
    )


@cache
def set_retry() -> Update:
    return (
        update(NOTIFICATIONS)
        .where(NOTIFICATIONS.c.id == bindparam("nid"))
        .values(last_error=bindparam("error"), next_attempt_at=bindparam("at"))
    )


def claim_pending(
    conn: Connection, *, now: datetime, limit: int, skip_locked: bool
) -> Sequence[Row[Any]]:
    """Pending notifications due by ``now``, oldest first; locked, skipping locked ones, where
    ``skip_locked``."""
    return conn.execute(pending(skip_locked), {"now": now, "limit": limit}).all()


def lease(conn: Connection, nid: int, *, until: datetime) -> int:
    """Count an attempt at notification ``nid`` and keep it from being claimed again before
    ``until``; returns its attempts so far."""
    return int(conn.execute(leased(), {"nid": nid, "until": until}).scalar_one())


def notification(conn: Connection, nid: int) -> Row[Any]:
    """One notification by id (raises ``NoResultFound`` if there is none)."""
    return conn.execute(notification_by_id(), {"nid": nid}).one()


def mark_sent(conn: Connection, nid: int, *, now: datetime) -> None:
    conn.execute(set_sent(), {"nid": nid, "at": now})


def mark_failed(conn: Connection, nid: int, error: str) -> None:
    """Given up: it is not tried again."""
    conn.execute(set_failed(), {"nid": nid, "error": error})


def retry_at(conn: Connection, nid: int, error: str, *, at: datetime) -> None:
    """A failed attempt: tried again at ``at``."""
    conn.execute(set_retry(), {"nid": nid, "error": error, "at": at})
