"""What the worker's sweeps (``gracedesk.service.sweeps``) read, claim and change.

Claims lock their rows with ``SELECT ... FOR UPDATE SKIP LOCKED`` where ``skip_locked`` is true
(PostgreSQL), so two workers never take the same row; SQLite has one writer at a time.
Operations:

- follow-up reminders: ``assignee`` (the user a follow-up is assigned to);
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
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gracedesk.store.tables import Conversation, Message, Notification, User

# -- follow-up reminders -------------------------------------------------------------------------


def assignee(s: Session, uid: int) -> User | None:
    """The user a follow-up is assigned to (``None`` if there is no such user)."""
    return s.get(User, uid)


# -- SLA breaches --------------------------------------------------------------------------------


def claim_breached(
    s: Session, *, now: datetime, limit: int, skip_locked: bool
) -> Sequence[Conversation]:
    """Unresolved conversations whose first reply was due before ``now`` and whose breach is not
    yet marked, soonest due first; locked, skipping locked ones, where ``skip_locked``."""
    q = (
        select(Conversation)
        .where(
            Conversation.status != "resolved",
            Conversation.first_response_due < now,
            Conversation.sla_breached_at.is_(None),
        )
        .order_by(Conversation.first_response_due)
        .limit(limit)
    )
    if skip_locked:
        q = q.with_for_update(skip_locked=True)
    return s.scalars(q).all()


def mark_breached(s: Session, conv: Conversation, *, now: datetime) -> None:
    """The conversation's SLA breach is handled (escalated once)."""
    conv.sla_breached_at = now


def latest_packet(s: Session, conv_id: int) -> dict[str, Any] | None:
    """The hand-over packet of the conversation's newest analysed customer message."""
    guidance = s.scalar(
        select(Message.guidance)
        .where(
            Message.conversation_id == conv_id,
            Message.author == "customer",
            Message.analysis_state == "done",
        )
        .order_by(Message.id.desc())
        .limit(1)
    )
    packet = (guidance or {}).get("handover")
    return packet if isinstance(packet, dict) else None


# -- the notification outbox ---------------------------------------------------------------------


def claim_pending(
    s: Session, *, now: datetime, limit: int, skip_locked: bool
) -> Sequence[Notification]:
    """Pending notifications due by ``now``, oldest first; locked, skipping locked ones, where
    ``skip_locked``."""
    q = (
        select(Notification)
        .where(Notification.state == "pending", Notification.next_attempt_at <= now)
        .order_by(Notification.id)
        .limit(limit)
    )
    if skip_locked:
        q = q.with_for_update(skip_locked=True)
    return s.scalars(q).all()


def lease(s: Session, n: Notification, *, until: datetime) -> int:
    """Count an attempt at ``n`` and keep it from being claimed again before ``until``; returns
    its attempts so far."""
    n.attempts += 1
    n.next_attempt_at = until
    return n.attempts


def notification(s: Session, nid: int) -> Notification:
    """One notification by id (raises ``NoResultFound`` if there is none)."""
    return s.get_one(Notification, nid)


def mark_sent(s: Session, n: Notification, *, now: datetime) -> None:
    n.state, n.sent_at, n.last_error = "sent", now, None


def mark_failed(s: Session, n: Notification, error: str) -> None:
    """Given up: it is not tried again."""
    n.state, n.last_error = "failed", error


def retry_at(s: Session, n: Notification, error: str, *, at: datetime) -> None:
    """A failed attempt: tried again at ``at``."""
    n.last_error = error
    n.next_attempt_at = at
