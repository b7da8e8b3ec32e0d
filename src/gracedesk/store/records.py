"""The desk's records around a conversation: customers' notes, sanctions given and lifted by
hand, agents' breaks, and CSAT surveys (sent, found by their token, answered).

What ``service.records`` (and ``service.actions`` for surveys) reads and writes, on the ORM
session of the caller's transaction:

- ``conversation``: a conversation by id (``FOR UPDATE`` when ``lock``).
- ``customer``, ``customer_exists``: a customer by id.
- ``add_note``: a customer note.
- ``add_sanction``, ``sanction``, ``lift_sanction``: a sanction given by a person, one by id,
  lifting it.
- ``take_break``: an agent's break.
- ``add_survey``, ``survey``, ``survey_conversation``, ``answer_survey``: a CSAT survey sent on
  resolving, the survey behind a token (``FOR UPDATE`` when ``lock``), its conversation, the
  customer's answer.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gracedesk.store.tables import (
    Conversation,
    CsatResponse,
    Customer,
    CustomerNote,
    Sanction,
    User,
)


def conversation(s: Session, conv_id: int, *, lock: bool = False) -> Conversation | None:
    """The conversation, locked for the transaction when ``lock``; None when missing."""
    q = select(Conversation).where(Conversation.id == conv_id)
    return s.scalar(q.with_for_update() if lock else q)


def customer(s: Session, customer_id: int) -> Customer:
    """The customer (one that exists: a conversation's)."""
    return s.get_one(Customer, customer_id)


def customer_exists(s: Session, customer_id: int) -> bool:
    return s.get(Customer, customer_id) is not None


def add_note(
    s: Session, customer_id: int, *, author_id: int, text: str, now: datetime
) -> CustomerNote:
    """A note on the customer, flushed (its id known)."""
    n = CustomerNote(customer_id=customer_id, author_id=author_id, text=text, created_at=now)
    s.add(n)
    s.flush()
    return n


def add_sanction(
    s: Session,
    customer_id: int,
    *,
    level: str,
    reason: str,
    until: datetime | None,
    created_by: int,
    approved_by: int | None,
    now: datetime,
) -> Sanction:
    """A sanction a person gives, in force at once (``active``), flushed (its id known)."""
    x = Sanction(
        customer_id=customer_id,
        level=level,
        state="active",
        reason=reason,
        until=until,
        created_by=created_by,
        approved_by=approved_by,
        created_at=now,
    )
    s.add(x)
    s.flush()
    return x


def sanction(s: Session, sid: int) -> Sanction | None:
    return s.get(Sanction, sid)


def lift_sanction(s: Session, x: Sanction) -> None:
    x.state = "lifted"


def take_break(s: Session, user_id: int, *, now: datetime) -> User:
    """The agent's break starts ``now``; the user row."""
    u = s.get_one(User, user_id)
    u.last_break_at = now
    return u


def add_survey(s: Session, conv_id: int, *, token: str, now: datetime) -> None:
    """The CSAT survey sent when the conversation is resolved, answered through ``token``."""
    s.add(CsatResponse(conversation_id=conv_id, token=token, sent_at=now))


def survey(s: Session, token: str, *, lock: bool = False) -> CsatResponse | None:
    """The survey behind ``token`` (answered or not), locked when ``lock``."""
    q = select(CsatResponse).where(CsatResponse.token == token)
    return s.scalar(q.with_for_update() if lock else q)


def survey_conversation(s: Session, r: CsatResponse) -> Conversation | None:
    return s.get(Conversation, r.conversation_id)


def answer_survey(
    s: Session, r: CsatResponse, *, score: int, comment: str | None, now: datetime
) -> Conversation:
    """The customer's answer to the survey; the survey's conversation."""
    r.score, r.comment, r.responded_at = score, comment, now
    return s.get_one(Conversation, r.conversation_id)
