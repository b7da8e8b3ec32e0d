"""Agents (``users``): who a conversation is assigned to, as a message's situation reads it."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.sql import Select

from gracedesk.store.tables import User, table_of

USERS = table_of(User)


@cache
def agent_by_id() -> Select[Any]:
    u = USERS.c
    return select(u.role, u.display_name, u.authority).where(u.id == bindparam("uid"))
