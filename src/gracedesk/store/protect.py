"""Masking abusive words (``service.protect``): the settings that say who sees them masked, the
reads of a deliberate reveal, and the rows the abusive words are learnt from.

The store keeps the rows; which value wins (a user's own choice, else the team's default, else
on) and what counts as abusive are the service's. Operations:

- the team's default (``desk_settings``, one row per key, ``{"value": ...}``): ``setting_value``
  (the stored value alone, on a Core connection: the notification hot path), ``setting_row``,
  ``put_setting`` (creates the row when there was none);
- a user's own choice (``users.mask_abuse``, None: the team's default): ``own_masking``,
  ``user``, ``set_user_masking``;
- a reveal: ``message`` (the message asked for), ``customer_of`` (its conversation's customer);
- the abusive words' source: ``customer_evidence``, the text and signals of the analysed
  customer messages of some conversations, in one statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select
from sqlalchemy.orm import Session

from gracedesk.store.tables import Conversation, DeskSetting, Message, User

# -- the team's default --------------------------------------------------------------------------


def setting_value(conn: Connection, key: str) -> Any:
    """The stored value of the team's setting ``key`` (``{"value": ...}``), None when unset."""
    return conn.execute(select(DeskSetting.value).where(DeskSetting.key == key)).scalar()


def setting_row(s: Session, key: str) -> DeskSetting | None:
    """The team's setting ``key`` with who changed it last and when, None when unset."""
    return s.get(DeskSetting, key)


def put_setting(
    s: Session, row: DeskSetting | None, *, key: str, value: Any, by: int, now: datetime
) -> DeskSetting:
    """The team's setting ``key`` set to ``{"value": value}`` by ``by`` at ``now``; ``row`` is
    what :func:`setting_row` found (None: a new row is added)."""
    if row is None:
        row = DeskSetting(key=key, value={}, updated_at=now)
        s.add(row)
    row.value, row.updated_by, row.updated_at = {"value": value}, by, now
    return row


# -- a user's own choice -------------------------------------------------------------------------


def own_masking(s: Session, user_id: int) -> bool | None:
    """The user's own choice (None: none made, or no such user)."""
    return s.scalar(select(User.mask_abuse).where(User.id == user_id))


def user(s: Session, user_id: int) -> User | None:
    return s.get(User, user_id)


def set_user_masking(s: Session, u: User, value: bool | None) -> None:
    """The user's own choice (None: follow the team's default)."""
    u.mask_abuse = value


# -- a reveal ------------------------------------------------------------------------------------


def message(s: Session, message_id: int) -> Message | None:
    return s.get(Message, message_id)


def customer_of(s: Session, conv_id: int) -> int:
    """The customer of an existing conversation (``NoResultFound`` when there is none)."""
    return s.get_one(Conversation, conv_id).customer_id


# -- where the abusive words come from -----------------------------------------------------------


def customer_evidence(
    conn: Connection, conv_ids: Sequence[int]
) -> Sequence[Row[int, str, list[Any] | None]]:
    """``(conversation_id, text, evidence)`` of the customer messages of ``conv_ids`` that have
    signals (analysed), in one statement; only the signals' ``evidence`` is read (the database
    extracts it: the rest of each message's signals is never parsed)."""
    return conn.execute(
        select(Message.conversation_id, Message.text, Message.signals["evidence"]).where(
            Message.conversation_id.in_(conv_ids),
            Message.author == "customer",
            Message.signals.is_not(None),
        )
    ).all()
