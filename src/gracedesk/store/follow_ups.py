"""Follow-ups: promises to the customer with a due time (an agent's, or the policy's).

``claim_due`` locks the due ones with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two sweeps
never remind of the same promise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Connection,
    Insert,
    Integer,
    Row,
    Update,
    bindparam,
    insert,
    select,
    update,
)
from sqlalchemy.sql import Select

from gracedesk.model.effect import AddFollowUp
from gracedesk.store.tables import FollowUp, table_of

FOLLOW_UPS = table_of(FollowUp)


@dataclass(frozen=True, slots=True)
class NewFollowUp:
    """A follow-up to add, open and not yet reminded (``add``)."""

    conversation_id: int
    message_id: int | None
    assignee_id: int | None
    promise: str
    when_text: str | None
    due_at: datetime
    source: str  # promise | manual (the policy's: ``add_policy``)
    created_at: datetime


@cache
def open_promises() -> Select[Any]:
    f = FOLLOW_UPS.c
    return (
        select(f.promise, f.due_at)
        .where(f.conversation_id == bindparam("conv"), f.state == "open")
        .order_by(f.id)
    )


@cache
def open_policy_follow_up() -> Select[Any]:
    f = FOLLOW_UPS.c
    return select(f.id).where(
        f.conversation_id == bindparam("conv"), f.source == "policy", f.state == "open"
    )


@cache
def insert_follow_up() -> Insert:
    return insert(FOLLOW_UPS)


@cache
def follow_up_by_id() -> Select[Any]:
    return select(FOLLOW_UPS).where(FOLLOW_UPS.c.id == bindparam("id"))


@cache
def follow_ups_of_conversation() -> Select[Any]:
    f = FOLLOW_UPS.c
    return select(FOLLOW_UPS).where(f.conversation_id == bindparam("conv")).order_by(f.due_at)


@cache
def due_follow_ups(skip_locked: bool) -> Select[Any]:
    f = FOLLOW_UPS.c
    q = (
        select(FOLLOW_UPS)
        .where(f.state == "open", f.due_at <= bindparam("until"))
        .order_by(f.due_at)
        .limit(bindparam("limit", type_=Integer))
    )
    return q.with_for_update(skip_locked=True) if skip_locked else q


@cache
def set_done() -> Update:
    return (
        update(FOLLOW_UPS)
        .where(FOLLOW_UPS.c.id == bindparam("fid"))
        .values(state="done", done_at=bindparam("at"))
    )


@cache
def set_overdue() -> Update:
    return update(FOLLOW_UPS).where(FOLLOW_UPS.c.id == bindparam("fid")).values(state="overdue")


@cache
def set_reminded() -> Update:
    return (
        update(FOLLOW_UPS)
        .where(FOLLOW_UPS.c.id == bindparam("fid"))
        .values(reminded_at=bindparam("at"))
    )


@cache
def close_open_of_conversation() -> Update:
    f = FOLLOW_UPS.c
    return (
        update(FOLLOW_UPS)
        .where(f.conversation_id == bindparam("conv"), f.state == "open")
        .values(state="done", done_at=bindparam("at"))
    )


@cache
def mask_of_conversations() -> Update:
    return (
        update(FOLLOW_UPS)
        .where(FOLLOW_UPS.c.conversation_id.in_(bindparam("convs", expanding=True)))
        .values(promise=bindparam("mask"), when_text=None)
    )


def add_policy(conn: Connection, f: AddFollowUp) -> None:
    """The policy's follow-up, unless the conversation has an open one already."""
    if conn.execute(open_policy_follow_up(), {"conv": f.conversation_id}).scalar() is not None:
        return
    conn.execute(
        insert_follow_up(),
        {
            "conversation_id": f.conversation_id,
            "message_id": f.message_id,
            "assignee_id": f.assignee_id,
            "promise": f.promise,
            "when_text": None,
            "due_at": f.due_at,
            "state": "open",
            "source": "policy",
            "reminded_at": None,
            "done_at": None,
            "created_at": f.at,
        },
    )


def add(conn: Connection, f: NewFollowUp) -> int:
    """An open follow-up; its id."""
    r = conn.execute(
        insert_follow_up(),
        {
            "conversation_id": f.conversation_id,
            "message_id": f.message_id,
            "assignee_id": f.assignee_id,
            "promise": f.promise,
            "when_text": f.when_text,
            "due_at": f.due_at,
            "state": "open",
            "source": f.source,
            "reminded_at": None,
            "done_at": None,
            "created_at": f.created_at,
        },
    )
    fid = r.inserted_primary_key[0] if r.inserted_primary_key else None
    assert isinstance(fid, int)
    return fid


def get(conn: Connection, fid: int) -> Row[Any] | None:
    return conn.execute(follow_up_by_id(), {"id": fid}).first()


def of_conversation(conn: Connection, conv_id: int) -> Sequence[Row[Any]]:
    """The conversation's follow-ups, soonest due first."""
    return conn.execute(follow_ups_of_conversation(), {"conv": conv_id}).all()


def listing(
    conn: Connection, *, state: str | None, assignee_id: int | None, limit: int
) -> Sequence[Row[Any]]:
    """Follow-ups soonest due first, of one state and one assignee where given."""
    f = FOLLOW_UPS.c
    q = select(FOLLOW_UPS).order_by(f.due_at).limit(limit)
    if state:
        q = q.where(f.state == state)
    if assignee_id is not None:
        q = q.where(f.assignee_id == assignee_id)
    return conn.execute(q).all()


def claim_due(
    conn: Connection, *, until: datetime, limit: int, skip_locked: bool
) -> Sequence[Row[Any]]:
    """Open follow-ups due by ``until``, soonest first; locked, skipping locked ones, where
    ``skip_locked`` (PostgreSQL)."""
    return conn.execute(due_follow_ups(skip_locked), {"until": until, "limit": limit}).all()


def complete(conn: Connection, fid: int, *, now: datetime) -> None:
    conn.execute(set_done(), {"fid": fid, "at": now})


def mark_overdue(conn: Connection, fid: int) -> None:
    conn.execute(set_overdue(), {"fid": fid})


def mark_reminded(conn: Connection, fid: int, *, now: datetime) -> None:
    conn.execute(set_reminded(), {"fid": fid, "at": now})


def close_open(conn: Connection, conv_id: int, *, now: datetime) -> None:
    """Resolving: the conversation's open follow-ups are done."""
    conn.execute(close_open_of_conversation(), {"conv": conv_id, "at": now})


def mask(conn: Connection, conv_ids: Sequence[int], *, text: str) -> None:
    """Erasure: the promises of these conversations' follow-ups masked, their wording dropped."""
    conn.execute(mask_of_conversations(), {"convs": list(conv_ids), "mask": text})
