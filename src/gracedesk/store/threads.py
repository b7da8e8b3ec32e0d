"""What e-mail threading reads (``gracedesk.channels.email.threads`` and ``.inbox``).

- :func:`stored_email`: whether an e-mail (by its channel message id) is stored already;
- :func:`customer_id`: the customer of an external id (the sender's), None when new;
- :func:`by_channel_ids`, :func:`by_remote_ids`, :func:`by_meta_ids`: the conversations of
  Message-IDs: our stored e-mails (the indexed channel message id), our sent replies (the
  deliveries' remote ids), any message's ``meta.message_id`` (a full scan);
- :func:`conversations`: conversations with their customer's external id;
- :func:`subject_candidates`: a customer's newest e-mail conversations, open or recently
  resolved (rule 3, the subject);
- :func:`email_ids`: a conversation's e-mail Message-IDs, oldest first (a reply's
  ``References``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Integer, Row, bindparam, or_, select
from sqlalchemy.sql import Select

from gracedesk.store.tables import Conversation, Customer, Delivery, Message, table_of

_MESSAGES = table_of(Message)
_DELIVERIES = table_of(Delivery)
_CONVERSATIONS = table_of(Conversation)
_CUSTOMERS = table_of(Customer)


@cache
def email_by_channel_id() -> Select[Any]:
    m = _MESSAGES.c
    return select(m.id).where(m.channel == "email", m.channel_message_id == bindparam("cmid"))


@cache
def customer_by_external_id() -> Select[Any]:
    return select(_CUSTOMERS.c.id).where(_CUSTOMERS.c.external_id == bindparam("ext"))


@cache
def conversations_of_channel_ids() -> Select[Any]:
    m = _MESSAGES.c
    return select(m.channel_message_id, m.conversation_id).where(
        m.channel == "email", m.channel_message_id.in_(bindparam("keys", expanding=True))
    )


@cache
def conversations_of_remote_ids() -> Select[Any]:
    d = _DELIVERIES.c
    return select(d.remote_id, d.conversation_id).where(
        d.transport == "email", d.remote_id.in_(bindparam("ids", expanding=True))
    )


@cache
def conversations_of_meta_ids() -> Select[Any]:
    m = _MESSAGES.c
    meta_id = m.meta["message_id"].as_string()
    return select(meta_id, m.conversation_id).where(meta_id.in_(bindparam("ids", expanding=True)))


@cache
def conversations_with_customer() -> Select[Any]:
    v, c = _CONVERSATIONS, _CUSTOMERS
    return (
        select(v.c.id, v.c.customer_id, c.c.external_id)
        .join(c, c.c.id == v.c.customer_id)
        .where(v.c.id.in_(bindparam("ids", expanding=True)))
    )


@cache
def newest_email_conversations() -> Select[Any]:
    v = _CONVERSATIONS.c
    return (
        select(v.id, v.subject)
        .where(
            v.customer_id == bindparam("customer"),
            v.channel == "email",
            or_(v.status != "resolved", v.resolved_at >= bindparam("since")),
        )
        .order_by(v.updated_at.desc(), v.id.desc())
        .limit(bindparam("limit", type_=Integer))
    )


@cache
def message_metas() -> Select[Any]:
    m = _MESSAGES.c
    return select(m.id, m.meta).where(m.conversation_id == bindparam("conv"), m.meta.is_not(None))


@cache
def sent_email_ids() -> Select[Any]:
    d = _DELIVERIES.c
    return select(d.message_id, d.remote_id).where(
        d.conversation_id == bindparam("conv"),
        d.transport == "email",
        d.remote_id.is_not(None),
    )


def stored_email(conn: Connection, channel_message_id: str) -> bool:
    return conn.execute(email_by_channel_id(), {"cmid": channel_message_id}).first() is not None


def customer_id(conn: Connection, external_id: str) -> int | None:
    got = conn.execute(customer_by_external_id(), {"ext": external_id}).scalar()
    return None if got is None else int(got)


def by_channel_ids(conn: Connection, keys: Sequence[str]) -> Sequence[Row[str, int]]:
    """``(channel_message_id, conversation_id)`` of the stored e-mails with these keys."""
    return conn.execute(conversations_of_channel_ids(), {"keys": list(keys)}).all()


def by_remote_ids(conn: Connection, ids: Sequence[str]) -> Sequence[Row[str, int]]:
    """``(remote_id, conversation_id)`` of our e-mail replies sent with these Message-IDs."""
    return conn.execute(conversations_of_remote_ids(), {"ids": list(ids)}).all()


def by_meta_ids(conn: Connection, ids: Sequence[str]) -> Sequence[Row[str, int]]:
    """``(message id, conversation_id)`` of any message whose ``meta.message_id`` is one of
    ``ids`` (a full scan)."""
    return conn.execute(conversations_of_meta_ids(), {"ids": list(ids)}).all()


def conversations(conn: Connection, conv_ids: Sequence[int]) -> Sequence[Row[Any]]:
    """``(id, customer_id, external_id)`` of these conversations (the customer's id)."""
    return conn.execute(conversations_with_customer(), {"ids": list(conv_ids)}).all()


def subject_candidates(
    conn: Connection, customer_id: int, *, resolved_since: datetime, limit: int
) -> Sequence[Row[int, str | None]]:
    """``(id, subject)`` of the customer's e-mail conversations not resolved, or resolved
    since ``resolved_since``, most recently updated first."""
    return conn.execute(
        newest_email_conversations(),
        {"customer": customer_id, "since": resolved_since, "limit": limit},
    ).all()


def email_ids(conn: Connection, conv_id: int) -> tuple[str, ...]:
    """The conversation's e-mail Message-IDs, oldest first: the customer's (kept in ``meta``)
    and our own replies' (the deliveries' remote ids)."""
    ids: list[tuple[int, str]] = []
    for mid, meta in conn.execute(message_metas(), {"conv": conv_id}):
        got = (meta or {}).get("message_id")
        if isinstance(got, str) and got:
            ids.append((mid, got))
    for mid, remote in conn.execute(sent_email_ids(), {"conv": conv_id}):
        ids.append((mid, str(remote)))
    return tuple(i for _, i in sorted(ids))
