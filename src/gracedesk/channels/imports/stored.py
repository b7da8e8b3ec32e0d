"""What the store already has for a batch, and each conversation's state as the batch leaves it.

Read once per batch (:func:`stored_messages`, :func:`stored_conversations`,
:func:`earlier_turns`: a query each, whatever the batch's size; ``gracedesk.store.imports``
runs them), then folded over the batch's messages in memory (:func:`fold`), so the write
transaction only writes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from gracedesk.channels.imports.records import Record
from gracedesk.service.effects import conversation_labels
from gracedesk.store import imports as stored
from gracedesk.store.imports import Conv, earlier_turns, stored_conversations

if TYPE_CHECKING:
    from sqlalchemy import Connection

__all__ = ["Conv", "earlier_turns", "fold", "stored_conversations", "stored_messages"]


def _by_channel(records: Iterable[Record]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for r in records:
        out[r.channel].append(r.message_id)
    return out


def stored_messages(conn: Connection, records: Sequence[Record]) -> set[tuple[str, str]]:
    """``(channel, channel message id)`` of the records the store already has (one query per
    channel in the batch, on the unique index)."""
    return stored.stored_messages(conn, _by_channel(records))


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
