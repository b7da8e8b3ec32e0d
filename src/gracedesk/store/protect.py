"""Masking abusive words (``service.protect``): the settings that say who sees them masked, the
reads of a deliberate reveal, and the rows the abusive words are learnt from.

The store keeps the rows; which value wins (a user's own choice, else the team's default, else
on) and what counts as abusive are the service's. Operations:

Core statements, on a connection (the service passes its session's ``Session.connection()``):

- the team's default (``desk_settings``, one row per key, ``{"value": ...}``): ``setting_value``
  (the stored value alone: the notification hot path), ``setting_row``, ``put_setting``
  (creates the row when there was none);
- a user's own choice (``users.mask_abuse``, None: the team's default): ``own_masking``,
  ``user`` (id, name, mask_abuse), ``set_user_masking``;
- a reveal: ``message`` (the message asked for), ``customer_of`` (its conversation's customer);
- the abusive words' source: ``analysed_customer_messages`` (the analysed customer messages
  of some conversations: ids and versions only), then ``customer_evidence`` (the text and the
  signals' evidence of the ones not read before), one statement each.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Row, bindparam, event, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Select

from gracedesk.store.tables import Conversation, DeskSetting, Message, User, table_of

SETTINGS = table_of(DeskSetting)
_USERS = table_of(User)
_MESSAGES = table_of(Message)
_CONVERSATIONS = table_of(Conversation)

# -- the team's default --------------------------------------------------------------------------


@cache
def _setting_value() -> Select[Any]:
    return select(SETTINGS.c.value).where(SETTINGS.c.key == bindparam("key"))


def setting_value(conn: Connection, key: str) -> Any:
    """The stored value of the team's setting ``key`` (``{"value": ...}``), None when unset."""
    return conn.execute(_setting_value(), {"key": key}).scalar()


def setting_row(conn: Connection, key: str) -> Row[Any] | None:
    """The team's setting ``key`` (key, value, updated_by, updated_at: who changed it last and
    when), None when unset."""
    return conn.execute(select(SETTINGS).where(SETTINGS.c.key == key)).first()


def put_setting(conn: Connection, *, key: str, value: Any, by: int, now: datetime) -> None:
    """The team's setting ``key`` set to ``{"value": value}`` by ``by`` at ``now`` (the row is
    added when there was none)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    new = {"value": {"value": value}, "updated_by": by, "updated_at": now}
    conn.execute(
        dialect.insert(SETTINGS)
        .values(key=key, **new)
        .on_conflict_do_update(index_elements=["key"], set_=new)
    )


# -- a user's own choice -------------------------------------------------------------------------


def own_masking(conn: Connection, user_id: int) -> bool | None:
    """The user's own choice (None: none made, or no such user)."""
    u = _USERS.c
    return conn.execute(select(u.mask_abuse).where(u.id == user_id)).scalar()


def user(conn: Connection, user_id: int) -> Row[int, str, bool | None] | None:
    """(id, name, mask_abuse) of the user, None when there is none."""
    u = _USERS.c
    return conn.execute(select(u.id, u.name, u.mask_abuse).where(u.id == user_id)).first()


def set_user_masking(conn: Connection, user_id: int, value: bool | None) -> None:
    """The user's own choice (None: follow the team's default)."""
    conn.execute(update(_USERS).where(_USERS.c.id == user_id).values(mask_abuse=value))


# -- a reveal ------------------------------------------------------------------------------------


def message(conn: Connection, message_id: int) -> Row[int, int, str, str | None] | None:
    """(id, conversation_id, author, hold) of the message, None when there is none."""
    m = _MESSAGES.c
    return conn.execute(
        select(m.id, m.conversation_id, m.author, m.hold).where(m.id == message_id)
    ).first()


def customer_of(conn: Connection, conv_id: int) -> int:
    """The customer of an existing conversation (``NoResultFound`` when there is none)."""
    c = _CONVERSATIONS.c
    customer_id: int = conn.execute(select(c.customer_id).where(c.id == conv_id)).scalar_one()
    return customer_id


# -- where the abusive words come from -----------------------------------------------------------


def analysed_customer_messages(
    conn: Connection, conv_ids: Sequence[int]
) -> Sequence[Row[int, int, str, int]]:
    """``(id, conversation_id, analysis_state, analysis_attempts)`` of the customer messages of
    ``conv_ids`` that have signals (analysed): what identifies the version of each one's
    evidence (every stored analysis counts one more attempt; an erasure changes the state).
    These columns come before the large JSON ones in a row, so the read stays off them."""
    m = _MESSAGES.c
    return conn.execute(
        select(m.id, m.conversation_id, m.analysis_state, m.analysis_attempts).where(
            m.conversation_id.in_(conv_ids),
            m.author == "customer",
            m.signals.is_not(None),
        )
    ).all()


def versions(conn: Connection, message_ids: Sequence[int]) -> Sequence[Row[int, str, int]]:
    """``(id, analysis_state, analysis_attempts)`` of these messages (customer messages): the
    version of each one's evidence, as :func:`analysed_customer_messages` gives it."""
    m = _MESSAGES.c
    return conn.execute(
        select(m.id, m.analysis_state, m.analysis_attempts).where(
            m.id.in_(message_ids), m.author == "customer"
        )
    ).all()


def on_rollback(conn: Connection, undo: Callable[[], object]) -> None:
    """Call ``undo`` if ``conn``'s transaction rolls back (what a process kept in memory about
    the rows it wrote is taken back with them)."""
    event.listen(conn, "rollback", lambda _conn: undo(), once=True)


def customer_evidence(
    conn: Connection, message_ids: Sequence[int]
) -> Sequence[Row[int, str, list[Any] | None]]:
    """``(id, text, evidence)`` of these messages, in one statement; only the signals'
    ``evidence`` is read (the database extracts it: the rest of each message's signals is
    never parsed)."""
    m = _MESSAGES.c
    return conn.execute(
        select(m.id, m.text, m.signals["evidence"]).where(m.id.in_(message_ids))
    ).all()
