"""The ``connectors`` table: the helpdesks the desk plugs into (``gracedesk.channels.connectors``).

- :func:`id_named`, :func:`named`, :func:`active` (by name or id), :func:`listing` (by name);
- :func:`add`: a new, active connector; its id;
- :func:`linked_counts`: how many conversations each connector has;
- :func:`remove`: the connector deleted, its conversations unlinked (how many);
- :func:`conversation`: what a connector's note needs of a conversation (``channel``,
  ``connector_id``, ``external_ref``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, func, insert, select, update
from sqlalchemy.sql import Select

from gracedesk.store.tables import Connector, Conversation, table_of

CONNECTORS = table_of(Connector)
_CONVERSATIONS = table_of(Conversation)


@cache
def connector_id_by_name() -> Select[Any]:
    return select(CONNECTORS.c.id).where(CONNECTORS.c.name == bindparam("name"))


@cache
def connector_by_name() -> Select[Any]:
    return select(CONNECTORS).where(CONNECTORS.c.name == bindparam("name"))


@cache
def conversation_link() -> Select[Any]:
    v = _CONVERSATIONS.c
    return select(v.id, v.channel, v.connector_id, v.external_ref).where(v.id == bindparam("conv"))


def id_named(conn: Connection, name: str) -> int | None:
    got = conn.execute(connector_id_by_name(), {"name": name}).scalar()
    return None if got is None else int(got)


def named(conn: Connection, name: str) -> Row[Any] | None:
    """The connector of that name, active or not."""
    return conn.execute(connector_by_name(), {"name": name}).first()


def active(
    conn: Connection, *, name: str | None = None, connector_id: int | None = None
) -> Row[Any] | None:
    """An active connector by name (when given) or id."""
    c = CONNECTORS.c
    q = select(CONNECTORS).where(c.active.is_(True))
    q = q.where(c.name == name) if name is not None else q.where(c.id == connector_id)
    return conn.execute(q).first()


def listing(conn: Connection) -> Sequence[Row[Any]]:
    """Every connector, by name."""
    return conn.execute(select(CONNECTORS).order_by(CONNECTORS.c.name)).all()


def add(
    conn: Connection,
    *,
    name: str,
    kind: str,
    secret: str,
    api_url: str,
    api_token: str,
    options: Mapping[str, str],
    now: datetime,
) -> int:
    """An active connector; its id."""
    return int(
        conn.execute(
            insert(CONNECTORS)
            .values(
                name=name,
                kind=kind,
                secret=secret,
                api_url=api_url,
                api_token=api_token,
                options=dict(options),
                active=True,
                last_error=None,
                created_at=now,
            )
            .returning(CONNECTORS.c.id)
        ).scalar_one()
    )


def linked_counts(conn: Connection) -> dict[int, int]:
    """Connector id -> how many conversations it has (connectors with none left out)."""
    v = _CONVERSATIONS.c
    rows = conn.execute(
        select(v.connector_id, func.count())
        .where(v.connector_id.is_not(None))
        .group_by(v.connector_id)
    )
    return {int(cid): int(n) for cid, n in rows}


def remove(conn: Connection, connector_id: int) -> int:
    """Delete the connector; its conversations stay, unlinked. How many were unlinked."""
    v = _CONVERSATIONS.c
    unlinked = conn.execute(
        update(_CONVERSATIONS).where(v.connector_id == connector_id).values(connector_id=None)
    ).rowcount
    conn.execute(delete(CONNECTORS).where(CONNECTORS.c.id == connector_id))
    return int(unlinked or 0)


def conversation(conn: Connection, conv_id: int) -> Row[Any]:
    """``(id, channel, connector_id, external_ref)`` of a conversation (it must exist)."""
    return conn.execute(conversation_link(), {"conv": conv_id}).one()
