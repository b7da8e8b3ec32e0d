"""What the store already has for a batch, and each conversation's state as the batch leaves it.

Read once per batch (:func:`stored_messages`, :func:`stored_conversations`,
:func:`earlier_turns`: a query each, whatever the batch's size), then folded over the batch's
messages in memory (:func:`fold`), so the write transaction only writes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from gracedesk.channels.imports.records import Record
from gracedesk.model.situation import Turn
from gracedesk.service.effects import conversation_labels
from gracedesk.store.conversations import CONVERSATIONS
from gracedesk.store.messages import (
    CONTEXT_MESSAGES,  # as live
    MESSAGES,
)


@dataclass(slots=True)
class Conv:
    """A conversation's state as this batch leaves it (stored, or to be created)."""

    id: int | None
    customer_id: int | None
    channel: str
    subject: str | None
    status: str
    risk: float
    labels: list[str]
    opened_at: datetime | None
    updated_at: datetime | None
    last_customer_at: datetime | None
    first_response_at: datetime | None
    resolved_at: datetime | None
    added: int = 0
    turns: list[Turn] = field(default_factory=list)  # for the analysis context

    @classmethod
    def new(cls, customer_id: int, channel: str, subject: str | None, status: str) -> Conv:
        """A conversation this batch creates: its times and risk come from its messages."""
        return cls(None, customer_id, channel, subject, status, 0.0, [], *(None,) * 5)


def _by_channel(records: Iterable[Record]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for r in records:
        out[r.channel].append(r.message_id)
    return out


def stored_messages(conn: Connection, records: Sequence[Record]) -> set[tuple[str, str]]:
    """``(channel, channel message id)`` of the records the store already has (one query per
    channel in the batch, on the unique index)."""
    found: set[tuple[str, str]] = set()
    for channel, ids in _by_channel(records).items():
        rows = conn.execute(
            select(MESSAGES.c.channel_message_id).where(
                MESSAGES.c.channel == channel, MESSAGES.c.channel_message_id.in_(ids)
            )
        )
        found.update((channel, str(r[0])) for r in rows)
    return found


def _imported(refs: Iterable[str]) -> Any:
    """Conversations an import made (no connector, no mailbox) with one of these keys."""
    return (
        select(
            CONVERSATIONS.c.id,
            CONVERSATIONS.c.external_ref,
            CONVERSATIONS.c.customer_id,
            CONVERSATIONS.c.channel,
            CONVERSATIONS.c.subject,
            CONVERSATIONS.c.status,
            CONVERSATIONS.c.risk,
            CONVERSATIONS.c.labels,
            CONVERSATIONS.c.opened_at,
            CONVERSATIONS.c.updated_at,
            CONVERSATIONS.c.last_customer_at,
            CONVERSATIONS.c.first_response_at,
            CONVERSATIONS.c.resolved_at,
        )
        .where(
            CONVERSATIONS.c.connector_id.is_(None),
            CONVERSATIONS.c.mailbox_id.is_(None),
            CONVERSATIONS.c.external_ref.in_(list(refs)),
        )
        .order_by(CONVERSATIONS.c.id)
    )


def stored_conversations(conn: Connection, refs: Iterable[str]) -> dict[str, Conv]:
    """The stored conversations of these keys, by key (the oldest, should a key be twice)."""
    out: dict[str, Conv] = {}
    for r in conn.execute(_imported(refs)):
        out.setdefault(
            r.external_ref,
            Conv(
                r.id,
                r.customer_id,
                r.channel,
                r.subject,
                r.status,
                r.risk,
                list(r.labels or []),
                r.opened_at,
                r.updated_at,
                r.last_customer_at,
                r.first_response_at,
                r.resolved_at,
            ),
        )
    return out


def earlier_turns(conn: Connection, convs: dict[str, Conv]) -> None:
    """The newest stored messages of each stored conversation, as context turns. In place."""
    by_id = {c.id: c for c in convs.values()}
    if not by_id:
        return
    rows = conn.execute(
        select(
            MESSAGES.c.conversation_id, MESSAGES.c.author, MESSAGES.c.text, MESSAGES.c.received_at
        )
        .where(MESSAGES.c.conversation_id.in_(list(by_id)), MESSAGES.c.author != "system")
        .order_by(MESSAGES.c.conversation_id, MESSAGES.c.id)
    )
    for r in rows:
        turns = by_id[r.conversation_id].turns
        turns.append(Turn(r.author, r.text, r.received_at))
        del turns[:-CONTEXT_MESSAGES]


def fold(conv: Conv, r: Record, sig: dict[str, Any] | None) -> None:
    """One imported message's effect on its conversation's times, risk and labels. In place.

    Risk and labels follow the live path (``effects.conversation_labels``) when the message is
    the conversation's newest customer message; an older one only adds its labels."""
    conv.added += 1
    conv.opened_at = min(conv.opened_at or r.at, r.at)
    conv.updated_at = max(conv.updated_at or r.at, r.at)
    if r.author == "agent":
        conv.first_response_at = min(conv.first_response_at or r.at, r.at)
        return
    newest = conv.last_customer_at is None or r.at >= conv.last_customer_at
    conv.last_customer_at = max(conv.last_customer_at or r.at, r.at)
    if sig is None:
        return
    if newest:
        conv.risk = float(sig["risk"])
        conv.labels = conversation_labels(conv.labels, sig)
    else:
        extra = set(sig.get("labels", [])) - {"high_risk"}
        conv.labels = sorted(set(conv.labels) | extra)
