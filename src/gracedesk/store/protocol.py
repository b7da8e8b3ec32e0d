"""The store's interface to the service: the operations it uses, per aggregate.

The service reaches persistence through :data:`store` (typed by the Protocols here, each met by
one module of this package), never through tables or statements of its own:

- ``messages``: accept a customer message (with its customer and conversation), store its
  analysis and decision rows (one message's, or a micro-batch's set-based), read its state;
  the queue of acknowledged messages (claim, what is left, failed).
- ``conversations``: read and place a conversation (priority, team, risk, stage, SLA), whether
  it is held.
- ``escalations``: open one (idempotent while pending) or refresh pending hand-over packets.
- ``sanctions``: impose one (with its approval's escalation).
- ``follow_ups``: add the policy's or a person's follow-up, read and list them, claim the due
  ones (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), mark them done, overdue or reminded, mask them.
- ``audit``: build and write audit events (the one writer of ``audit_events``) and read the
  trail (a page, the export's batches, the newest events).
- ``outbox``: route and queue replies, queue notifications.
- ``effects``: apply a message's effects (``gracedesk.model.effect``) in order; a micro-batch's
  analyses, placements and packets set-based (``apply_many``).

Reads that build a message's situation are ``store.situations`` (one message, or a micro-batch
set-based: ``take_many``).

The console's and API's workflows and read models have their own store modules, each named for
what it owns and listing its operations in its docstring: ``views`` (conversation lists and
pages, the team view), ``actions`` (replies, assignment, escalations decided, resolution),
``records`` (notes, sanctions by hand, breaks, CSAT surveys), ``customers`` (search, profile,
flags), ``users`` (staff, tokens, console sessions, the sign-in throttle), ``protect``
(masking settings, the abusive words of a conversation), ``rotation``, ``erasure`` (one
customer, every table, one unit of work), ``knowledge`` and ``fulltext`` (the knowledge base),
``training``, ``reports`` (read-only), ``replay`` (read-only), ``sweeps`` (the job sweeps'
claims), ``demo`` and ``health``; the channels' are ``mailboxes``, ``connectors``, ``threads``
(e-mail threading), ``imports`` (history imports) and the deliveries of ``outbox``. They run on
the caller's ``Connection`` (a service passes its Session's ``s.connection()``: one
transaction): the service keeps the transaction, checks roles and states and writes the audit
events (through ``audit.write``).

Every query is a SQL Core statement on ``table_of(Class)`` tables; the mapped classes only
declare the schema (``tests/test_layers.py::test_one_query_style_per_table``). No module outside
the store imports SQLAlchemy (bar its error types) or the tables at run time
(``tests/test_layers.py::test_persistence_goes_through_the_store``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Connection, Row
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from gracedesk.model.effect import (
    AddFollowUp,
    Effect,
    ImposeSanction,
    OpenEscalation,
    Place,
    StoreAnalysis,
)
from gracedesk.model.staff import Staff
from gracedesk.store import audit as _audit
from gracedesk.store import conversations as _conversations
from gracedesk.store import effects as _effects
from gracedesk.store import escalations as _escalations
from gracedesk.store import follow_ups as _follow_ups
from gracedesk.store import messages as _messages
from gracedesk.store import outbox as _outbox
from gracedesk.store import sanctions as _sanctions
from gracedesk.store.audit import Match as AuditMatch
from gracedesk.store.audit import Trail
from gracedesk.store.conversations import State as ConversationState
from gracedesk.store.escalations import Pending, Scrub
from gracedesk.store.follow_ups import NewFollowUp
from gracedesk.store.messages import Accepted, Holds

if TYPE_CHECKING:
    from gracedesk.store.inbound import Incoming, Key

__all__ = ["Accepted", "AuditMatch", "ConversationState", "Holds", "Persistence", "Trail", "store"]


class Messages(Protocol):
    def accept(
        self,
        conn: Connection,
        msg: Incoming,
        *,
        key: Key | None,
        now: datetime,
        actor: Staff | None,
        priority: str,
        subject: str,
        analysis_state: str = ...,
        holds: Holds | None = ...,
    ) -> Accepted | int: ...
    def message_by_keys(self) -> Select[Any]: ...
    def store_results_many(self, conn: Connection, done: Sequence[StoreAnalysis]) -> None: ...
    def analysis_states(self, conn: Connection, message_ids: Sequence[int]) -> dict[int, str]: ...
    def newest_of(self, conn: Connection, conv_ids: Sequence[int]) -> dict[int, int]: ...
    def claim_queued(
        self, conn: Connection, *, now: datetime, limit: int
    ) -> list[tuple[int, int]]: ...
    def queued_left(self, conn: Connection) -> bool: ...
    def fail_running(self, conn: Connection, ids: Sequence[int], *, error: str) -> None: ...
    def by_keys(self, conn: Connection, params: dict[str, Any]) -> Sequence[Row[Any]]: ...
    def answer(self, conn: Connection, message_id: int) -> tuple[Any, Sequence[Any]] | None: ...
    def reclaim(
        self, conn: Connection, message_id: int, *, now: datetime, grace_s: float
    ) -> bool: ...
    def mark_failed(
        self, conn: Connection, message_id: int, *, error: str, erased: str
    ) -> None: ...
    def pending_analysis(
        self, conn: Connection, *, old: datetime, limit: int, max_attempts: int
    ) -> list[int]: ...


class Conversations(Protocol):
    def states(self, conn: Connection, conv_ids: Sequence[int]) -> dict[int, ConversationState]: ...
    def held(self, conn: Connection, conv_id: int) -> bool: ...
    def place_many(self, conn: Connection, places: Sequence[Place]) -> None: ...


class Escalations(Protocol):
    def pending_of(self, conn: Connection, conv_ids: Sequence[int]) -> Pending: ...
    def open_escalation(
        self,
        conn: Connection,
        e: OpenEscalation,
        *,
        scrub: Scrub,
        pending: Pending | None = ...,
        trail: Trail | None = ...,
    ) -> int: ...
    def refresh_packets_many(
        self, conn: Connection, packets: Sequence[tuple[int, dict[str, Any]]]
    ) -> None: ...


class Sanctions(Protocol):
    def impose(
        self,
        conn: Connection,
        s: ImposeSanction,
        *,
        scrub: Scrub,
        pending: Pending | None = ...,
        trail: Trail | None = ...,
    ) -> None: ...


class FollowUps(Protocol):
    def add_policy(self, conn: Connection, f: AddFollowUp) -> None: ...

    def add(self, conn: Connection, f: NewFollowUp) -> int: ...

    def get(self, conn: Connection, fid: int) -> Row[Any] | None: ...

    def of_conversation(self, conn: Connection, conv_id: int) -> Sequence[Row[Any]]: ...

    def listing(
        self, conn: Connection, *, state: str | None, assignee_id: int | None, limit: int
    ) -> Sequence[Row[Any]]: ...

    def claim_due(
        self, conn: Connection, *, until: datetime, limit: int, skip_locked: bool
    ) -> Sequence[Row[Any]]: ...

    def complete(self, conn: Connection, fid: int, *, now: datetime) -> None: ...

    def mark_overdue(self, conn: Connection, fid: int) -> None: ...

    def mark_reminded(self, conn: Connection, fid: int, *, now: datetime) -> None: ...

    def close_open(self, conn: Connection, conv_id: int, *, now: datetime) -> None: ...

    def mask(self, conn: Connection, conv_ids: Sequence[int], *, text: str) -> None: ...


class Audit(Protocol):
    def actor_of(self, who: Staff | str) -> tuple[str, int | None]: ...
    def event(
        self,
        kind: str,
        *,
        now: datetime,
        actor: str = ...,
        actor_id: int | None = ...,
        conversation_id: int | None = ...,
        customer_id: int | None = ...,
        reason: str | None = ...,
        **detail: Any,
    ) -> dict[str, Any]: ...
    def write(self, target: Connection | Session, events: Sequence[Mapping[str, Any]]) -> None: ...
    def count(self, conn: Connection, match: AuditMatch) -> int: ...
    def page(
        self, conn: Connection, match: AuditMatch, *, limit: int, offset: int
    ) -> Sequence[Row[Any]]: ...
    def last_id(self, conn: Connection) -> int: ...
    def batch(
        self,
        conn: Connection,
        match: AuditMatch,
        *,
        upto: int,
        after: tuple[datetime, int] | None,
        limit: int,
    ) -> Sequence[Row[Any]]: ...
    def recent(
        self,
        conn: Connection,
        *,
        conversation_id: int | None = ...,
        customer_id: int | None = ...,
        limit: int,
    ) -> Sequence[Row[Any]]: ...


class Outbox(Protocol):
    def route(
        self, conv: Any, customer_email: str | None, webhook_url: str | None
    ) -> tuple[str, str | None]: ...
    def delivery_row(
        self, message_id: int, conv_id: int, transport: str, target: str | None, *, now: datetime
    ) -> dict[str, Any]: ...
    def notify(
        self,
        conn: Connection,
        *,
        key: str,
        event: str,
        to: list[str],
        subject: str,
        body: str,
        payload: dict[str, Any],
        now: datetime,
    ) -> None: ...


class Effects(Protocol):
    def apply(
        self,
        conn: Connection,
        effects: Iterable[Effect],
        *,
        scrub: Scrub,
        pending: Pending | None = ...,
        trail: Trail | None = ...,
    ) -> None: ...
    def apply_many(self, conn: Connection, effects: Sequence[Effect]) -> None: ...
    def set_based(self, e: Effect) -> bool: ...


@dataclass(frozen=True, slots=True)
class Persistence:
    messages: Messages
    conversations: Conversations
    escalations: Escalations
    sanctions: Sanctions
    follow_ups: FollowUps
    audit: Audit
    outbox: Outbox
    effects: Effects


store = Persistence(
    _messages,
    _conversations,
    _escalations,
    _sanctions,
    _follow_ups,
    _audit,
    _outbox,
    _effects,
)
