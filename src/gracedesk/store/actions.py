"""The console's and API's workflow writes on a conversation: replies sent, exposures counted,
escalations decided or closed, conversations assigned, taken over, resolved, released.

What ``service.actions`` reads and writes, on the ORM session of the caller's transaction (the
service checks roles and states, writes the audit events and keeps the transaction):

- reads: ``last_customer_message``, ``answered_since``, ``user``, ``active_user``,
  ``message``, ``other_held``, ``escalation``, ``escalation_conversation_id``,
  ``lock_escalation``, ``pending_escalations`` (``FOR UPDATE``), ``has_pending``.
- replies: ``add_reply`` (the agent's message, the conversation answered), ``count_exposure``.
- escalations: ``close_escalation`` (on resolving), ``decide_escalation`` (approve or reject,
  with the sanction behind it).
- the conversation: ``set_assignee``, ``assign``, ``set_status``, ``touch``, ``resolve``;
  a held message: ``release_message``.
- ``flush``: send the pending changes (what a later query must see, the ids to return).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gracedesk.store.tables import Conversation, Escalation, Message, Sanction, User

# -- reads ----------------------------------------------------------------------------------------


def last_customer_message(s: Session, conv_id: int) -> Message | None:
    """The conversation's newest message from the customer."""
    return s.scalar(
        select(Message)
        .where(Message.conversation_id == conv_id, Message.author == "customer")
        .order_by(Message.id.desc())
        .limit(1)
    )


def answered_since(s: Session, conv_id: int, *, user_id: int, after: int, reply_id: int) -> bool:
    """Whether the user wrote in the conversation after message ``after`` (other than the reply
    ``reply_id``)."""
    earlier = s.scalar(
        select(Message.id).where(
            Message.conversation_id == conv_id,
            Message.author_user_id == user_id,
            Message.id > after,
            Message.id != reply_id,
        )
    )
    return earlier is not None


def user(s: Session, user_id: int) -> User | None:
    return s.get(User, user_id)


def active_user(s: Session, name: str) -> User | None:
    """The active user called ``name``."""
    return s.scalar(select(User).where(User.name == name, User.active.is_(True)))


def message(s: Session, message_id: int) -> Message | None:
    return s.get(Message, message_id)


def other_held(s: Session, conv_id: int, message_id: int) -> int:
    """How many of the conversation's messages other than ``message_id`` a sanction holds."""
    n = s.scalar(
        select(func.count())
        .select_from(Message)
        .where(
            Message.conversation_id == conv_id,
            Message.hold == "held",
            Message.id != message_id,
        )
    )
    return int(n or 0)


def escalation(s: Session, esc_id: int) -> Escalation:
    """The escalation as stored now (refreshed: what the database filled in)."""
    e = s.get_one(Escalation, esc_id)
    s.refresh(e)
    return e


def escalation_conversation_id(s: Session, esc_id: int) -> int | None:
    return s.scalar(select(Escalation.conversation_id).where(Escalation.id == esc_id))


def lock_escalation(s: Session, esc_id: int) -> Escalation:
    """The escalation, locked for the transaction (one that exists)."""
    return s.scalars(select(Escalation).where(Escalation.id == esc_id).with_for_update()).one()


def pending_escalations(s: Session, conv_id: int) -> list[Escalation]:
    """The conversation's items waiting for a supervisor, locked (after the conversation)."""
    return list(
        s.scalars(
            select(Escalation)
            .where(Escalation.conversation_id == conv_id, Escalation.state == "pending")
            .order_by(Escalation.id)
            .with_for_update()
        )
    )


def has_pending(s: Session, conv_id: int, kind: str) -> bool:
    """Whether an item of ``kind`` waits for a supervisor in the conversation."""
    return (
        s.scalar(
            select(Escalation.id).where(
                Escalation.conversation_id == conv_id,
                Escalation.kind == kind,
                Escalation.state == "pending",
            )
        )
        is not None
    )


# -- replies --------------------------------------------------------------------------------------


def add_reply(
    s: Session,
    conv: Conversation,
    *,
    user_id: int,
    text: str,
    critique: dict[str, Any],
    now: datetime,
) -> Message:
    """The agent's reply, flushed (its id known); the conversation is answered: assigned to the
    agent when nobody had it, its first response stamped, no first-response deadline until the
    next customer message, ``waiting`` when it was ``open``."""
    m = Message(
        conversation_id=conv.id,
        author="agent",
        author_user_id=user_id,
        channel=conv.channel,
        text=text,
        received_at=now,
        analysis_state="none",
        analysis_attempts=0,
        critique=critique,
    )
    s.add(m)
    if conv.assignee_id is None:
        conv.assignee_id = user_id
    if conv.first_response_at is None:
        conv.first_response_at = now
    conv.first_response_due = None
    if conv.status == "open":
        conv.status = "waiting"
    conv.updated_at = now
    s.flush()
    return m


def count_exposure(s: Session, user_id: int, *, now: datetime) -> User:
    """One more abusive contact answered by the user; the user row."""
    u = s.get_one(User, user_id)
    u.abuse_exposures += 1
    u.last_exposure_at = now
    return u


# -- escalations ----------------------------------------------------------------------------------


def close_escalation(s: Session, e: Escalation, *, approver_id: int, now: datetime) -> None:
    """A pending item closed when its conversation is resolved (and a pending sanction behind
    it): never approved by the way."""
    e.state, e.approver_id, e.decided_at = "closed", approver_id, now
    e.note = "closed when the conversation was resolved"
    if e.kind == "sanction" and e.data.get("sanction_id"):
        sanction = s.get(Sanction, e.data["sanction_id"])
        if sanction is not None and sanction.state == "pending":
            sanction.state = "closed"


def decide_escalation(
    s: Session,
    e: Escalation,
    *,
    approve: bool,
    approver_id: int,
    note: str | None,
    now: datetime,
) -> None:
    """A supervisor's decision on a pending item; a sanction behind it becomes ``active`` or
    ``rejected``."""
    e.state = "approved" if approve else "rejected"
    e.approver_id, e.decided_at, e.note = approver_id, now, note
    if e.kind == "sanction" and e.data.get("sanction_id"):
        sanction = s.get_one(Sanction, e.data["sanction_id"])
        sanction.state = "active" if approve else "rejected"
        sanction.approved_by = approver_id


# -- the conversation -----------------------------------------------------------------------------


def set_assignee(s: Session, conv: Conversation, assignee_id: int) -> None:
    conv.assignee_id = assignee_id


def assign(s: Session, conv: Conversation, assignee_id: int | None, *, now: datetime) -> None:
    """The conversation goes to ``assignee_id`` (None: to nobody)."""
    conv.assignee_id, conv.updated_at = assignee_id, now


def set_status(s: Session, conv: Conversation, status: str) -> None:
    conv.status = status


def touch(s: Session, conv: Conversation, *, now: datetime) -> None:
    conv.updated_at = now


def resolve(
    s: Session, conv: Conversation, *, resolution: str, assignee_id: int, now: datetime
) -> None:
    """The conversation resolved: no first-response deadline, assigned to ``assignee_id`` when
    nobody had it."""
    conv.status = "resolved"
    conv.resolution = resolution
    conv.resolved_at = now
    conv.updated_at = now
    conv.first_response_due = None
    if conv.assignee_id is None:
        conv.assignee_id = assignee_id


def release_message(s: Session, m: Message) -> None:
    """A held message released: to be analysed as if it had just arrived."""
    m.hold, m.analysis_state = "released", "pending"


def flush(s: Session) -> None:
    """Send the transaction's pending changes to the database now."""
    s.flush()
