"""Agents (``users``): who a conversation is assigned to, as a message's situation reads it;
and the active users with their last break, as rotation counts exposure (:func:`active_users`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Row, bindparam, select
from sqlalchemy.sql import Select

from gracedesk.store.tables import User, table_of

USERS = table_of(User)


@cache
def agent_by_id() -> Select[Any]:
    u = USERS.c
    return select(u.role, u.display_name, u.authority).where(u.id == bindparam("uid"))


def active_users(conn: Connection) -> Sequence[Row[int, str, str, str | None, datetime | None]]:
    """The active users: id, name, role, email and last_break_at."""
    u = USERS.c
    return conn.execute(
        select(u.id, u.name, u.role, u.email, u.last_break_at).where(u.active.is_(True))
    ).all()
