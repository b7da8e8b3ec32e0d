"""What an import of history (``gracedesk.channels.imports``) reads and writes.

The run (the ``imports`` table): :func:`start` (a new file, a crashed one resumed, a finished
one again), :func:`advance` (a batch's counts and position, in the batch's transaction),
:func:`finish` (done; its totals).

A batch, a fixed number of statements whatever its size: reads :func:`stored_messages` (per
channel, on the unique index), :func:`stored_conversations` (the oldest of each key),
:func:`earlier_turns` (context for the analysis) and, before a file is arranged,
:func:`stored_parents` (the stored conversations earlier files' messages are in); writes
:func:`customers_of`, :func:`add_customers`, :func:`fill_customers`,
:func:`create_conversations`, :func:`add_messages` and :func:`touch` (one ``executemany``
each). Rows a unique key already has (a live message, a concurrent import) are left alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Table, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from gracedesk.model.situation import Turn
from gracedesk.store.conversations import CONVERSATIONS
from gracedesk.store.customers import CUSTOMERS
from gracedesk.store.messages import CONTEXT_MESSAGES, MESSAGES
from gracedesk.store.tables import ImportRun, table_of

RUNS = table_of(ImportRun)  # the imports table
LOOKUP = 1000  # ids per IN (...) look-up


@dataclass(slots=True)
class Conv:
    """A conversation's state as an import batch leaves it (stored, or to be created)."""

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


@dataclass(frozen=True, slots=True)
class NewCustomer:
    external_id: str
    name: str | None
    email: str | None
    since: datetime  # a customer since their first message


@dataclass(frozen=True, slots=True)
class NewMessage:
    """An imported message; ``signals`` None: stored without analysis."""

    conversation_id: int | None
    author: str
    channel: str
    channel_message_id: str
    idempotency_key: str
    text: str
    at: datetime  # history keeps its time
    signals: Mapping[str, Any] | None
    meta: Mapping[str, Any] | None


# -- the run --------------------------------------------------------------------------------------


def start(
    conn: Connection, path: str, sha: str, fmt: str, *, now: datetime, rejected: int
) -> tuple[int, int]:
    """The import's row: ``(id, position)``. A new file starts at 0; a crashed one where it
    stopped; a finished one again from 0."""
    t = RUNS.c
    row = conn.execute(
        select(t.id, t.state, t.position).where(t.sha256 == sha, t.format == fmt)
    ).first()
    if row is not None and row.state == "running":
        conn.execute(update(RUNS).where(t.id == row.id).values(path=path[:1000]))
        return int(row.id), int(row.position)
    fresh = {
        "path": path[:1000],
        "state": "running",
        "position": 0,
        "imported": 0,
        "skipped": 0,
        "rejected": rejected,
        "started_at": now,
        "finished_at": None,
    }
    if row is not None:
        conn.execute(update(RUNS).where(t.id == row.id).values(**fresh))
        return int(row.id), 0
    made = conn.execute(
        insert(RUNS).returning(t.id), {"sha256": sha, "format": fmt, **fresh}
    ).scalar_one()
    return int(made), 0


def advance(conn: Connection, run_id: int, *, position: int, imported: int, skipped: int) -> None:
    """A batch stored: the run's position, and its counts added."""
    t = RUNS.c
    conn.execute(
        update(RUNS)
        .where(t.id == run_id)
        .values(position=position, imported=t.imported + imported, skipped=t.skipped + skipped)
    )


def finish(conn: Connection, run_id: int, *, position: int, now: datetime) -> tuple[int, int]:
    """The run done at ``position``; its ``(imported, skipped)``."""
    t = RUNS.c
    conn.execute(
        update(RUNS).where(t.id == run_id).values(state="done", position=position, finished_at=now)
    )
    row = conn.execute(select(t.imported, t.skipped).where(t.id == run_id)).one()
    return int(row.imported), int(row.skipped)


# -- reads ----------------------------------------------------------------------------------------


def stored_parents(conn: Connection, channel: str, ids: Sequence[str]) -> list[Row[str, str]]:
    """``(channel message id, conversation key)`` of the messages of ``channel`` with these ids
    that are in conversations an import made (no connector, no mailbox, a key)."""
    m, v = MESSAGES.c, CONVERSATIONS.c
    out: list[Row[str, str]] = []
    for i in range(0, len(ids), LOOKUP):
        rows = conn.execute(
            select(m.channel_message_id, v.external_ref)
            .join(CONVERSATIONS, v.id == m.conversation_id)
            .where(
                m.channel == channel,
                m.channel_message_id.in_(list(ids[i : i + LOOKUP])),
                v.connector_id.is_(None),
                v.mailbox_id.is_(None),
                v.external_ref.is_not(None),
            )
        )
        out.extend(rows)
    return out


def stored_messages(conn: Connection, ids: Mapping[str, Sequence[str]]) -> set[tuple[str, str]]:
    """``(channel, channel message id)`` of those (``ids``: channel -> message ids) the store
    already has (one query per channel, on the unique index)."""
    found: set[tuple[str, str]] = set()
    m = MESSAGES.c
    for channel, some in ids.items():
        rows = conn.execute(
            select(m.channel_message_id).where(
                m.channel == channel, m.channel_message_id.in_(list(some))
            )
        )
        found.update((channel, str(r[0])) for r in rows)
    return found


def stored_conversations(conn: Connection, refs: Iterable[str]) -> dict[str, Conv]:
    """The conversations an import made (no connector, no mailbox) with these keys, by key
    (the oldest, should a key be twice)."""
    v = CONVERSATIONS.c
    q = (
        select(
            v.id,
            v.external_ref,
            v.customer_id,
            v.channel,
            v.subject,
            v.status,
            v.risk,
            v.labels,
            v.opened_at,
            v.updated_at,
            v.last_customer_at,
            v.first_response_at,
            v.resolved_at,
        )
        .where(v.connector_id.is_(None), v.mailbox_id.is_(None), v.external_ref.in_(list(refs)))
        .order_by(v.id)
    )
    out: dict[str, Conv] = {}
    for r in conn.execute(q):
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
    m = MESSAGES.c
    rows = conn.execute(
        select(m.conversation_id, m.author, m.text, m.received_at)
        .where(m.conversation_id.in_(list(by_id)), m.author != "system")
        .order_by(m.conversation_id, m.id)
    )
    for r in rows:
        turns = by_id[r.conversation_id].turns
        turns.append(Turn(r.author, r.text, r.received_at))
        del turns[:-CONTEXT_MESSAGES]


# -- writes ---------------------------------------------------------------------------------------


def _insert(conn: Connection, table: Table) -> Any:
    """An INSERT that leaves a row alone when a unique key already has it (a live message or
    a concurrent import got there first)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


def customers_of(
    conn: Connection, external_ids: Iterable[str]
) -> dict[str, Row[int, str, str | None, str | None]]:
    """``(id, external_id, name, email)`` of the stored customers of these external ids."""
    c = CUSTOMERS.c
    pick = select(c.id, c.external_id, c.name, c.email).where(c.external_id.in_(list(external_ids)))
    return {r.external_id: r for r in conn.execute(pick)}


def add_customers(conn: Connection, new: Sequence[NewCustomer]) -> None:
    """New customers (a standard tier, nothing else known), unless stored meanwhile."""
    if not new:
        return
    conn.execute(
        _insert(conn, CUSTOMERS),
        [
            {
                "external_id": p.external_id,
                "name": p.name,
                "email": p.email,
                "phone": None,
                "tier": "standard",
                "lifetime_value": 0.0,
                "preferences": {},
                "flags": [],
                "created_at": p.since,
            }
            for p in new
        ],
    )


def fill_customers(conn: Connection, fills: Sequence[tuple[int, str | None, str | None]]) -> None:
    """``(id, name, email)``: each customer's empty name and e-mail filled in (a stored value
    is never overwritten)."""
    if not fills:
        return
    c = CUSTOMERS.c
    conn.execute(
        update(CUSTOMERS)
        .where(c.id == bindparam("b_id"))
        .values(
            name=func.coalesce(c.name, bindparam("b_name")),
            email=func.coalesce(c.email, bindparam("b_email")),
        ),
        [{"b_id": i, "b_name": name, "b_email": email} for i, name, email in fills],
    )


def create_conversations(
    conn: Connection, convs: Sequence[tuple[str, Conv, str | None]], *, priority: str
) -> None:
    """Insert new conversations ``(key, state, contact)`` with their final state; each
    ``Conv`` gets its id."""
    if not convs:
        return
    rows = []
    for ref, c, contact in convs:
        resolved = c.status == "resolved"
        rows.append(
            {
                "customer_id": c.customer_id,
                "channel": c.channel,
                "subject": (c.subject or "")[:300] or None,
                "status": c.status,
                "priority": priority,
                "risk": c.risk,
                "labels": c.labels,
                "opened_at": c.opened_at,
                "updated_at": c.updated_at,
                "last_customer_at": c.last_customer_at,
                "first_response_at": c.first_response_at,
                "resolved_at": c.updated_at if resolved else None,
                "external_ref": ref,
                "connector_id": None,
                "mailbox_id": None,
                "contact": contact,
            }
        )
    made = conn.execute(
        insert(CONVERSATIONS).returning(CONVERSATIONS.c.id, CONVERSATIONS.c.external_ref), rows
    ).all()
    by_ref = {ref: c for ref, c, _ in convs}
    for r in made:
        by_ref[r.external_ref].id = int(r.id)


def add_messages(conn: Connection, new: Sequence[NewMessage], *, now: datetime) -> int:
    """Imported messages (analysed at ``now`` where they have signals), unless stored
    meanwhile; how many were inserted."""
    if not new:
        return 0
    rows = []
    for n in new:
        sig = n.signals
        rows.append(
            {
                "conversation_id": n.conversation_id,
                "author": n.author,
                "author_user_id": None,
                "channel": n.channel,
                "channel_message_id": n.channel_message_id,
                "idempotency_key": n.idempotency_key,
                "request_hash": None,  # any later delivery of this message replays it
                "text": n.text,
                "received_at": n.at,
                "analysis_state": "done" if sig is not None else "none",
                "analysis_error": None,
                "analysis_attempts": 1 if sig is not None else 0,
                "signals": sig,
                "guidance": None,
                "critique": None,
                "model_version": str(sig.get("model")) if sig is not None else None,
                "risk": float(sig["risk"]) if sig is not None else None,
                "analysed_at": now if sig is not None else None,
                "meta": n.meta,
                "hold": None,
            }
        )
    result = conn.execute(_insert(conn, MESSAGES), rows)
    return len(rows) if result.rowcount is None or result.rowcount < 0 else int(result.rowcount)


def touch(conn: Connection, convs: Sequence[Conv]) -> None:
    """Stored conversations that gained messages: times, risk and labels (status stays: an
    archive does not reopen or close what the desk is handling)."""
    if not convs:
        return
    conn.execute(
        update(CONVERSATIONS)
        .where(CONVERSATIONS.c.id == bindparam("b_id"))
        .values(
            opened_at=bindparam("b_opened"),
            updated_at=bindparam("b_updated"),
            last_customer_at=bindparam("b_last_customer"),
            first_response_at=bindparam("b_first_response"),
            resolved_at=bindparam("b_resolved"),
            risk=bindparam("b_risk"),
            labels=bindparam("b_labels"),
        ),
        [
            {
                "b_id": c.id,
                "b_opened": c.opened_at,
                "b_updated": c.updated_at,
                "b_last_customer": c.last_customer_at,
                "b_first_response": c.first_response_at,
                "b_resolved": (
                    max(c.resolved_at or c.updated_at, c.updated_at)
                    if c.status == "resolved" and c.updated_at is not None
                    else c.resolved_at
                ),
                "b_risk": c.risk,
                "b_labels": c.labels,
            }
            for c in convs
        ],
    )
