"""The console's and API's workflow writes on a conversation: replies sent, exposures counted,
escalations decided or closed, conversations assigned, taken over, resolved, released.

What ``service.actions`` reads and writes, on the connection of the caller's transaction (the
service checks roles and states, writes the audit events and keeps the transaction):

- reads: ``last_customer_message``, ``answered_since``, ``user``, ``active_user``,
  ``message``, ``other_held``, ``escalation``, ``escalation_conversation_id``,
  ``lock_escalation``, ``pending_escalations`` (``FOR UPDATE``), ``has_pending``.
- replies: ``add_reply`` (the agent's message, the conversation answered), ``count_exposure``.
- escalations: ``close_escalation`` (on resolving), ``decide_escalation`` (approve or reject,
  with the sanction behind it).
- the conversation: ``set_assignee``, ``assign``, ``set_status``, ``touch``, ``resolve``;
  a held message: ``release_message``.

Every statement runs at once on the connection: what a later query reads sees it. Rows are
read, never changed in place: a caller reads again what it needs after a write.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, insert, select, update
from sqlalchemy.sql import Select

from gracedesk.store.tables import Conversation, Escalation, Message, Sanction, User, table_of

MESSAGES = table_of(Message)
USERS = table_of(User)
ESCALATIONS = table_of(Escalation)
SANCTIONS = table_of(Sanction)
CONVERSATIONS = table_of(Conversation)

# -- statements -----------------------------------------------------------------------------------


@cache
def last_from_customer() -> Select[Any]:
    m = MESSAGES.c
    return (
        select(MESSAGES)
        .where(m.conversation_id == bindparam("conv"), m.author == "customer")
        .order_by(m.id.desc())
        .limit(1)
    )


@cache
def written_since() -> Select[Any]:
    m = MESSAGES.c
    return select(m.id).where(
        m.conversation_id == bindparam("conv"),
        m.author_user_id == bindparam("uid"),
        m.id > bindparam("after"),
        m.id != bindparam("reply"),
    )


@cache
def user_by_id() -> Select[Any]:
    return select(USERS).where(USERS.c.id == bindparam("id"))


@cache
def active_user_by_name() -> Select[Any]:
    return select(USERS).where(USERS.c.name == bindparam("name"), USERS.c.active.is_(True))


@cache
def message_by_id() -> Select[Any]:
    return select(MESSAGES).where(MESSAGES.c.id == bindparam("id"))


@cache
def count_other_held() -> Select[Any]:
    m = MESSAGES.c
    return (
        select(func.count())
        .select_from(MESSAGES)
        .where(m.conversation_id == bindparam("conv"), m.hold == "held", m.id != bindparam("mid"))
    )


@cache
def escalation_by_id(lock: bool) -> Select[Any]:
    q = select(ESCALATIONS).where(ESCALATIONS.c.id == bindparam("id"))
    return q.with_for_update() if lock else q


@cache
def conversation_of_escalation() -> Select[Any]:
    return select(ESCALATIONS.c.conversation_id).where(ESCALATIONS.c.id == bindparam("id"))


@cache
def pending_of_conversation() -> Select[Any]:
    e = ESCALATIONS.c
    return (
        select(ESCALATIONS)
        .where(e.conversation_id == bindparam("conv"), e.state == "pending")
        .order_by(e.id)
        .with_for_update()
    )


@cache
def pending_of_kind() -> Select[Any]:
    e = ESCALATIONS.c
    return select(e.id).where(
        e.conversation_id == bindparam("conv"), e.kind == bindparam("kind"), e.state == "pending"
    )


# -- reads ----------------------------------------------------------------------------------------


def last_customer_message(conn: Connection, conv_id: int) -> Row[Any] | None:
    """The conversation's newest message from the customer."""
    return conn.execute(last_from_customer(), {"conv": conv_id}).first()


def answered_since(
    conn: Connection, conv_id: int, *, user_id: int, after: int, reply_id: int
) -> bool:
    """Whether the user wrote in the conversation after message ``after`` (other than the reply
    ``reply_id``)."""
    earlier = conn.execute(
        written_since(), {"conv": conv_id, "uid": user_id, "after": after, "reply": reply_id}
    ).first()
    return earlier is not None


def user(conn: Connection, user_id: int) -> Row[Any] | None:
    return conn.execute(user_by_id(), {"id": user_id}).first()


def active_user(conn: Connection, name: str) -> Row[Any] | None:
    """The active user called ``name``."""
    return conn.execute(active_user_by_name(), {"name": name}).first()


def message(conn: Connection, message_id: int) -> Row[Any] | None:
    return conn.execute(message_by_id(), {"id": message_id}).first()


def other_held(conn: Connection, conv_id: int, message_id: int) -> int:
    """How many of the conversation's messages other than ``message_id`` a sanction holds."""
    n = conn.execute(count_other_held(), {"conv": conv_id, "mid": message_id}).scalar()
    return int(n or 0)


def escalation(conn: Connection, esc_id: int) -> Row[Any]:
    """The escalation as stored now (one that exists)."""
    return conn.execute(escalation_by_id(False), {"id": esc_id}).one()


def escalation_conversation_id(conn: Connection, esc_id: int) -> int | None:
    cid = conn.execute(conversation_of_escalation(), {"id": esc_id}).scalar()
    return None if cid is None else int(cid)


def lock_escalation(conn: Connection, esc_id: int) -> Row[Any]:
    """The escalation, locked for the transaction (one that exists)."""
    return conn.execute(escalation_by_id(True), {"id": esc_id}).one()


def pending_escalations(conn: Connection, conv_id: int) -> Sequence[Row[Any]]:
    """The conversation's items waiting for a supervisor, locked (after the conversation)."""
    return conn.execute(pending_of_conversation(), {"conv": conv_id}).all()


def has_pending(conn: Connection, conv_id: int, kind: str) -> bool:
    """Whether an item of ``kind`` waits for a supervisor in the conversation."""
    return conn.execute(pending_of_kind(), {"conv": conv_id, "kind": kind}).first() is not None


# -- replies --------------------------------------------------------------------------------------


def add_reply(
    conn: Connection,
    conv: Row[Any],
    *,
    user_id: int,
    text: str,
    critique: dict[str, Any],
    now: datetime,
) -> int:
    """The agent's reply; its id. The conversation (``conv``: its row, locked) is answered:
    assigned to the agent when nobody had it, its first response stamped, no first-response
    deadline until the next customer message, ``waiting`` when it was ``open``."""
    r = conn.execute(
        insert(MESSAGES),
        {
            "conversation_id": conv.id,
            "author": "agent",
            "author_user_id": user_id,
            "channel": conv.channel,
            "text": text,
            "received_at": now,
            "analysis_state": "none",
            "analysis_attempts": 0,
            "critique": critique,
        },
    )
    mid = r.inserted_primary_key[0] if r.inserted_primary_key else None
    assert isinstance(mid, int)
    conn.execute(
        update(CONVERSATIONS)
        .where(CONVERSATIONS.c.id == conv.id)
        .values(
            assignee_id=user_id if conv.assignee_id is None else conv.assignee_id,
            first_response_at=now if conv.first_response_at is None else conv.first_response_at,
            first_response_due=None,
            status="waiting" if conv.status == "open" else conv.status,
            updated_at=now,
        )
    )
    return mid


def count_exposure(conn: Connection, user_id: int, *, now: datetime) -> Row[Any]:
    """One more abusive contact answered by the user; the user row (after it)."""
    conn.execute(
        update(USERS)
        .where(USERS.c.id == user_id)
        .values(abuse_exposures=USERS.c.abuse_exposures + 1, last_exposure_at=now)
    )
    return conn.execute(user_by_id(), {"id": user_id}).one()


# -- escalations ----------------------------------------------------------------------------------


def _sanction_id(e: Row[Any]) -> Any:
    """The sanction behind a ``sanction`` item (None for other kinds)."""
    return e.data.get("sanction_id") if e.kind == "sanction" and e.data else None


def close_escalation(conn: Connection, e: Row[Any], *, approver_id: int, now: datetime) -> None:
    """A pending item closed when its conversation is resolved (and a pending sanction behind
    it): never approved by the way."""
    conn.execute(
        update(ESCALATIONS)
        .where(ESCALATIONS.c.id == e.id)
        .values(
            state="closed",
            approver_id=approver_id,
            decided_at=now,
            note="closed when the conversation was resolved",
        )
    )
    sid = _sanction_id(e)
    if sid:
        conn.execute(
            update(SANCTIONS)
            .where(SANCTIONS.c.id == sid, SANCTIONS.c.state == "pending")
            .values(state="closed")
        )


def decide_escalation(
    conn: Connection,
    e: Row[Any],
    *,
    approve: bool,
    approver_id: int,
    note: str | None,
    now: datetime,
) -> None:
    """A supervisor's decision on a pending item; a sanction behind it becomes ``active`` or
    ``rejected``."""
    conn.execute(
        update(ESCALATIONS)
        .where(ESCALATIONS.c.id == e.id)
        .values(
            state="approved" if approve else "rejected",
            approver_id=approver_id,
            decided_at=now,
            note=note,
        )
    )
    sid = _sanction_id(e)
    if sid:
        conn.execute(
            update(SANCTIONS)
            .where(SANCTIONS.c.id == sid)
            .values(state="active" if approve else "rejected", approved_by=approver_id)
        )


# -- the conversation -----------------------------------------------------------------------------


def _update_conversation(conn: Connection, conv_id: int, **values: Any) -> None:
    conn.execute(update(CONVERSATIONS).where(CONVERSATIONS.c.id == conv_id).values(**values))


def set_assignee(conn: Connection, conv_id: int, assignee_id: int) -> None:
    _update_conversation(conn, conv_id, assignee_id=assignee_id)


def assign(conn: Connection, conv_id: int, assignee_id: int | None, *, now: datetime) -> None:
    """The conversation goes to ``assignee_id`` (None: to nobody)."""
    _update_conversation(conn, conv_id, assignee_id=assignee_id, updated_at=now)


def set_status(conn: Connection, conv_id: int, status: str) -> None:
    _update_conversation(conn, conv_id, status=status)


def touch(conn: Connection, conv_id: int, *, now: datetime) -> None:
    _update_conversation(conn, conv_id, updated_at=now)


def resolve(
    conn: Connection, conv_id: int, *, resolution: str, assignee_id: int, now: datetime
) -> None:
    """The conversation resolved: no first-response deadline, assigned to ``assignee_id`` when
    nobody had it."""
    _update_conversation(
        conn,
        conv_id,
        status="resolved",
        resolution=resolution,
        resolved_at=now,
        updated_at=now,
        first_response_due=None,
        assignee_id=func.coalesce(CONVERSATIONS.c.assignee_id, assignee_id),
    )


def release_message(conn: Connection, message_id: int) -> None:
    """A held message released: to be analysed as if it had just arrived."""
    conn.execute(
        update(MESSAGES)
        .where(MESSAGES.c.id == message_id)
        .values(hold="released", analysis_state="pending")
    )
