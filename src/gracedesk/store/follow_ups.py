"""Follow-ups: promises to the customer with a due time (an agent's, or the policy's)."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Connection, Insert, bindparam, insert, select
from sqlalchemy.sql import Select

from gracedesk.model.effect import AddFollowUp
from gracedesk.store.tables import FollowUp, table_of

FOLLOW_UPS = table_of(FollowUp)


@cache
def open_promises() -> Select[Any]:
    f = FOLLOW_UPS.c
    return select(f.promise, f.due_at).where(
        f.conversation_id == bindparam("conv"), f.state == "open"
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
