"""The desk's records around a conversation: customers' notes, sanctions given and lifted by
hand, agents' breaks, and CSAT surveys (sent, found by their token, answered).

What ``service.records`` (and ``service.actions`` for surveys) reads and writes, on the
connection of the caller's transaction:

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
from functools import cache
from typing import Any

from sqlalchemy import Connection, Row, bindparam, insert, select, update
from sqlalchemy.sql import Select

from gracedesk.store.tables import (
    Conversation,
    CsatResponse,
    Customer,
    CustomerNote,
    Sanction,
    User,
    table_of,
)

CONVERSATIONS = table_of(Conversation)
CUSTOMERS = table_of(Customer)
NOTES = table_of(CustomerNote)
SANCTIONS = table_of(Sanction)
USERS = table_of(User)
SURVEYS = table_of(CsatResponse)


@cache
def conversation_by_id(lock: bool) -> Select[Any]:
    q = select(CONVERSATIONS).where(CONVERSATIONS.c.id == bindparam("id"))
    return q.with_for_update() if lock else q


@cache
def customer_by_id() -> Select[Any]:
    return select(CUSTOMERS).where(CUSTOMERS.c.id == bindparam("id"))


@cache
def customer_id_by_id() -> Select[Any]:
    return select(CUSTOMERS.c.id).where(CUSTOMERS.c.id == bindparam("id"))


@cache
def sanction_by_id() -> Select[Any]:
    return select(SANCTIONS).where(SANCTIONS.c.id == bindparam("id"))


@cache
def user_by_id() -> Select[Any]:
    return select(USERS).where(USERS.c.id == bindparam("id"))


@cache
def survey_by_token(lock: bool) -> Select[Any]:
    q = select(SURVEYS).where(SURVEYS.c.token == bindparam("token"))
    return q.with_for_update() if lock else q


def _inserted_id(conn: Connection, stmt: Any, values: dict[str, Any]) -> int:
    r = conn.execute(stmt, values)
    new_id = r.inserted_primary_key[0] if r.inserted_primary_key else None
    assert isinstance(new_id, int)
    return new_id


def conversation(conn: Connection, conv_id: int, *, lock: bool = False) -> Row[Any] | None:
    """The conversation, locked for the transaction when ``lock``; None when missing."""
    return conn.execute(conversation_by_id(lock), {"id": conv_id}).first()


def customer(conn: Connection, customer_id: int) -> Row[Any]:
    """The customer (one that exists: a conversation's)."""
    return conn.execute(customer_by_id(), {"id": customer_id}).one()


def customer_exists(conn: Connection, customer_id: int) -> bool:
    return conn.execute(customer_id_by_id(), {"id": customer_id}).first() is not None


def add_note(
    conn: Connection, customer_id: int, *, author_id: int, text: str, now: datetime
) -> int:
    """A note on the customer; its id."""
    return _inserted_id(
        conn,
        insert(NOTES),
        {"customer_id": customer_id, "author_id": author_id, "text": text, "created_at": now},
    )


def add_sanction(
    conn: Connection,
    customer_id: int,
    *,
    level: str,
    reason: str,
    until: datetime | None,
    created_by: int,
    approved_by: int | None,
    now: datetime,
) -> Row[Any]:
    """A sanction a person gives, in force at once (``active``); its row as stored."""
    sid = _inserted_id(
        conn,
        insert(SANCTIONS),
        {
            "customer_id": customer_id,
            "level": level,
            "state": "active",
            "reason": reason,
            "until": until,
            "created_by": created_by,
            "approved_by": approved_by,
            "created_at": now,
        },
    )
    return conn.execute(sanction_by_id(), {"id": sid}).one()


def sanction(conn: Connection, sid: int) -> Row[Any] | None:
    return conn.execute(sanction_by_id(), {"id": sid}).first()


def lift_sanction(conn: Connection, sid: int) -> None:
    conn.execute(update(SANCTIONS).where(SANCTIONS.c.id == sid).values(state="lifted"))


def take_break(conn: Connection, user_id: int, *, now: datetime) -> Row[Any]:
    """The agent's break starts ``now``; the user row (after it)."""
    conn.execute(update(USERS).where(USERS.c.id == user_id).values(last_break_at=now))
    return conn.execute(user_by_id(), {"id": user_id}).one()


def add_survey(conn: Connection, conv_id: int, *, token: str, now: datetime) -> None:
    """The CSAT survey sent when the conversation is resolved, answered through ``token``."""
    conn.execute(insert(SURVEYS), {"conversation_id": conv_id, "token": token, "sent_at": now})


def survey(conn: Connection, token: str, *, lock: bool = False) -> Row[Any] | None:
    """The survey behind ``token`` (answered or not), locked when ``lock``."""
    return conn.execute(survey_by_token(lock), {"token": token}).first()


def survey_conversation(conn: Connection, r: Row[Any]) -> Row[Any] | None:
    """The conversation of the survey ``r``."""
    return conversation(conn, r.conversation_id)


def answer_survey(
    conn: Connection, r: Row[Any], *, score: int, comment: str | None, now: datetime
) -> Row[Any]:
    """The customer's answer to the survey ``r``; the survey's conversation."""
    conn.execute(
        update(SURVEYS)
        .where(SURVEYS.c.id == r.id)
        .values(score=score, comment=comment, responded_at=now)
    )
    return conn.execute(conversation_by_id(False), {"id": r.conversation_id}).one()
