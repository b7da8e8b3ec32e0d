"""The ``mailboxes`` table: the IMAP mailboxes the desk reads (``gracedesk.channels.email``).

- :func:`get`, :func:`named`, :func:`listing` (by name, active ones only where asked);
- :func:`save`: a new mailbox, or a deactivated one's row replaced and reactivated;
- :func:`in_use`: how many conversations point to it; :func:`deactivate`, :func:`delete_mailbox`;
- :func:`record_pass`: what a pass over it left (``last_checked_at``, ``last_error``,
  ``uidvalidity``, ``last_uid``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, func, insert, select, update
from sqlalchemy.sql import Select

from gracedesk.store.tables import Conversation, Mailbox, table_of

MAILBOXES = table_of(Mailbox)
_CONVERSATIONS = table_of(Conversation)


@dataclass(frozen=True, slots=True)
class Settings:
    """What is stored of a mailbox to read (``save``), checked by the caller."""

    host: str
    port: int
    security: str
    username: str
    password: str
    folder: str
    done_folder: str | None
    address: str


@cache
def mailbox_by_id() -> Select[Any]:
    return select(MAILBOXES).where(MAILBOXES.c.id == bindparam("id"))


@cache
def mailbox_by_name() -> Select[Any]:
    return select(MAILBOXES).where(MAILBOXES.c.name == bindparam("name"))


@cache
def conversations_of_mailbox() -> Select[Any]:
    return select(func.count()).where(_CONVERSATIONS.c.mailbox_id == bindparam("id"))


def get(conn: Connection, mailbox_id: int) -> Row[Any] | None:
    return conn.execute(mailbox_by_id(), {"id": mailbox_id}).first()


def named(conn: Connection, name: str) -> Row[Any] | None:
    return conn.execute(mailbox_by_name(), {"name": name}).first()


def listing(conn: Connection, *, active_only: bool) -> Sequence[Row[Any]]:
    """Mailboxes by name."""
    q = select(MAILBOXES).order_by(MAILBOXES.c.name)
    if active_only:
        q = q.where(MAILBOXES.c.active.is_(True))
    return conn.execute(q).all()


def save(
    conn: Connection, name: str, settings: Settings, *, replace: int | None, now: datetime
) -> Row[Any]:
    """An active mailbox ``name`` with ``settings``, its reading state reset: a new row, or
    row ``replace`` (a deactivated mailbox of that name) overwritten. Returns the row."""
    values = {
        "host": settings.host,
        "port": settings.port,
        "security": settings.security,
        "username": settings.username,
        "password": settings.password,
        "folder": settings.folder,
        "done_folder": settings.done_folder,
        "address": settings.address,
        "active": True,
        "uidvalidity": None,
        "last_uid": None,
        "last_error": None,
    }
    if replace is None:
        mid = conn.execute(
            insert(MAILBOXES)
            .values(name=name, created_at=now, last_checked_at=None, **values)
            .returning(MAILBOXES.c.id)
        ).scalar_one()
    else:
        mid = replace
        conn.execute(update(MAILBOXES).where(MAILBOXES.c.id == mid).values(**values))
    row = get(conn, mid)
    assert row is not None
    return row


def in_use(conn: Connection, mailbox_id: int) -> int:
    """How many conversations point to the mailbox."""
    return int(conn.execute(conversations_of_mailbox(), {"id": mailbox_id}).scalar() or 0)


def deactivate(conn: Connection, mailbox_id: int) -> None:
    conn.execute(update(MAILBOXES).where(MAILBOXES.c.id == mailbox_id).values(active=False))


def delete_mailbox(conn: Connection, mailbox_id: int) -> None:
    conn.execute(delete(MAILBOXES).where(MAILBOXES.c.id == mailbox_id))


def record_pass(
    conn: Connection,
    mailbox_id: int,
    *,
    now: datetime,
    error: str | None,
    uidvalidity: int | None,
    last_uid: int | None,
) -> None:
    """A pass's outcome: checked at ``now`` with ``error`` (None: it went well), and the
    folder's ``uidvalidity`` and the highest UID handled (``last_uid``), as given."""
    conn.execute(
        update(MAILBOXES)
        .where(MAILBOXES.c.id == mailbox_id)
        .values(last_checked_at=now, last_error=error, uidvalidity=uidvalidity, last_uid=last_uid)
    )
