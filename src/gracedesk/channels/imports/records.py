"""One typed value per imported message, whatever the archive's format.

Every reader (``tabular``, ``twcs``, ``mbox``) parses its file once into :class:`Record`s and
:class:`Rejection`s; the rest of the import (threading, batches, the store) reads only these.
Times are parsed here, at the edge, into aware UTC datetimes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gracedesk.model.clock import parse_iso

AUTHORS = ("customer", "agent")
STATUSES = ("open", "resolved")
ID_CHARS = 200  # messages.channel_message_id, conversations.external_ref, customers.external_id
KEY_CHARS = 200  # messages.idempotency_key


@dataclass(frozen=True, slots=True)
class Party:
    """A customer as an archive names them (``external_id`` is the desk's customer key)."""

    external_id: str
    name: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class Record:
    """One message of an archive, parsed and checked.

    ``conversation`` is the external conversation key (``conversations.external_ref``);
    ``party`` the customer this record names (the author of a customer message; for an agent
    message the customer it was addressed to, when the archive says); ``parent`` the channel
    message id this one answers when that message is not in the file (so a later file's reply
    can join the conversation the store already has).
    """

    line: int
    conversation: str
    author: str
    text: str
    at: datetime
    channel: str
    message_id: str
    party: Party | None = None
    subject: str | None = None
    status: str | None = None
    meta: dict[str, Any] | None = None
    parent: str | None = None
    depth: int = 0  # place in a reply chain: orders a reply after a parent of the same second


@dataclass(frozen=True, slots=True)
class Rejection:
    """A record left out, with the line it starts on and why (shown to the user)."""

    line: int
    reason: str


@dataclass(slots=True)
class Parsed:
    """What a reader made of a file."""

    records: list[Record] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)

    def reject(self, line: int, reason: str) -> None:
        self.rejections.append(Rejection(line, reason))


class Rejected(ValueError):
    """Raised inside a reader for one record; the reader turns it into a :class:`Rejection`."""


def parse_time(value: str) -> datetime:
    """ISO 8601 with an offset (``Z`` allowed); a time without an offset is UTC."""
    try:
        return parse_iso(value).astimezone(UTC)
    except ValueError:
        raise Rejected(
            f"bad date {value[:60]!r} (ISO 8601 expected, e.g. 2024-05-01T09:30:00+02:00)"
        ) from None


def bounded(value: str, chars: int = ID_CHARS) -> str:
    """``value`` itself, or ``sha256:<hex>`` of it when it is longer than the column."""
    if len(value) <= chars:
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8")).hexdigest()


def stable_id(*parts: str) -> str:
    """A message id derived from the message itself (the same record always gets the same id,
    so a file without ids still imports once)."""
    joined = "\x1f".join(parts)
    return "h:" + hashlib.sha256(joined.encode("utf-8")).hexdigest()[:40]


def idempotency_key(channel: str, message_id: str) -> str:
    """The key the live path stores for a channel's message (``desk.IdempotencyKey.of``):
    ``channel:<channel>:<id>``, or ``channel#<sha256>`` when over the column. Storing the same
    key makes a later live delivery of an imported message a replay, not a clash."""
    raw = f"{channel}:{message_id}"
    stored = f"channel:{raw}"
    if len(stored) <= KEY_CHARS:
        return stored
    return "channel#" + hashlib.sha256(raw.encode("utf-8")).hexdigest()
