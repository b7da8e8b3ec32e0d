"""What the store reads of an incoming message, its idempotency key and the policy's holds.

The service's types (``service.desk.Incoming``, ``IdempotencyKey``; ``policy.schema.Sanctions``)
meet these Protocols; the store imports neither layer (DESIGN.md, layers).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class CustomerRef(Protocol):
    @property
    def external_id(self) -> str: ...
    @property
    def name(self) -> str | None: ...
    @property
    def email(self) -> str | None: ...
    @property
    def phone(self) -> str | None: ...
    @property
    def tier(self) -> str | None: ...


class Link(Protocol):
    """Where a conversation lives outside the desk (a mailbox, a helpdesk connector)."""

    @property
    def mailbox_id(self) -> int | None: ...
    @property
    def connector_id(self) -> int | None: ...
    @property
    def external_ref(self) -> str | None: ...
    @property
    def contact(self) -> str | None: ...


class Incoming(Protocol):
    @property
    def customer(self) -> CustomerRef: ...
    @property
    def text(self) -> str: ...
    @property
    def channel(self) -> str: ...
    @property
    def conversation_id(self) -> int | None: ...
    @property
    def channel_message_id(self) -> str | None: ...
    @property
    def link(self) -> Link | None: ...
    @property
    def meta(self) -> dict[str, Any] | None: ...
    @property
    def analyse(self) -> bool: ...


class Key(Protocol):
    """A message's idempotency key (``service.desk.IdempotencyKey``)."""

    @property
    def stored(self) -> str: ...
    @property
    def request(self) -> str: ...
    def params(self) -> dict[str, Any]: ...
    def find(self, rows: Any) -> Any: ...
    def check(self, row: Any) -> int: ...


class AutoReply(Protocol):
    """A sanction level's auto-reply (``[sanctions.block]``, ``[sanctions.restrict]``)."""

    @property
    def auto_reply(self) -> str: ...
    @property
    def auto_reply_hours(self) -> float: ...


class Restriction(AutoReply, Protocol):
    @property
    def channels(self) -> Sequence[str]: ...


class HoldPolicy(Protocol):
    """The policy's ``[sanctions]``, as far as holding new messages goes."""

    @property
    def block(self) -> AutoReply: ...
    @property
    def restrict(self) -> Restriction: ...
