"""Messages: every customer message is accepted here (with its customer and conversation) and
its analysis and decision rows stored here.

Every message takes this path, so it runs prepared statements: each is built once (on first
use) with bind parameters and reused, so executing it skips both building the expression and
computing its cache key. On this path that is most of the time SQLAlchemy would otherwise take
(measured in bench/bench_api.py; docs/bench-api.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Connection,
    Insert,
    Row,
    Update,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.sql import Select

from gracedesk.model.effect import StoreAnalysis
from gracedesk.model.staff import Staff
from gracedesk.store import audit, conversations, customers, outbox, sanctions
from gracedesk.store.engine import Encoded
from gracedesk.store.tables import DecisionRow, Message, table_of

if TYPE_CHECKING:
    from gracedesk.store.inbound import HoldPolicy, Incoming, Key

MESSAGES = table_of(Message)
DECISIONS = table_of(DecisionRow)

CONTEXT_MESSAGES = 40  # the newest messages a situation carries


@dataclass(frozen=True, slots=True)
class Holds:
    """What the policy's sanctions do to new messages (``[sanctions.block]``/``.restrict``)."""

    block_reply: str
    block_hours: float
    restrict_channels: tuple[str, ...]  # empty: every channel is still served
    restrict_reply: str
    restrict_hours: float
    webhook_url: str | None = None  # where an auto-reply on a chat/API conversation goes

    @classmethod
    def of(cls, sanctions: HoldPolicy, webhook_url: str | None) -> Holds:
        return cls(
            sanctions.block.auto_reply,
            sanctions.block.auto_reply_hours,
            tuple(sanctions.restrict.channels),
            sanctions.restrict.auto_reply,
            sanctions.restrict.auto_reply_hours,
            webhook_url,
        )

    def reason(self, levels: set[str], channel: str) -> str | None:
        """Why a message on ``channel`` is held under the sanctions in force, or None."""
        if "block" in levels:
            return "block"
        if (
            "restrict" in levels
            and self.restrict_channels
            and channel not in self.restrict_channels
        ):
            return "restrict"
        return None


@dataclass(frozen=True, slots=True)
class Accepted:
    message_id: int
    conversation_id: int
    customer_id: int
    new_customer: bool
    assignee_id: int | None
    customer: Any  # the customer row (name, tier, lifetime_value, preferences)
    state: str = "pending"  # the message's analysis_state as stored
    # under an active restriction or block (None: not looked up; ``take`` looks)
    restricted: bool | None = None


@cache
def message_by_key() -> Select[Any]:
    m = MESSAGES.c
    return select(m.id, m.request_hash).where(m.idempotency_key == bindparam("key"))


@cache
def message_by_keys() -> Select[Any]:
    """Messages stored under any of ``keys`` (an idempotency key, new and pre-namespace form)."""
    m = MESSAGES.c
    return select(m.id, m.request_hash, m.idempotency_key, m.channel, m.channel_message_id).where(
        m.idempotency_key.in_(bindparam("keys", expanding=True))
    )


@cache
def insert_message() -> Any:
    return insert(MESSAGES).returning(MESSAGES.c.id)


@cache
def recent_messages() -> Select[Any]:
    m = MESSAGES.c
    return (
        select(m.author, m.text, m.received_at)
        .where(m.conversation_id == bindparam("conv"), m.author != "system")
        .order_by(m.id.desc())
        .limit(CONTEXT_MESSAGES)
    )


@cache
def messages_upto() -> Select[Any]:
    m = MESSAGES.c
    return (
        select(m.author, m.text, m.received_at)
        .where(
            m.conversation_id == bindparam("conv"),
            m.author != "system",
            m.id <= bindparam("upto"),
        )
        .order_by(m.id.desc())
        .limit(CONTEXT_MESSAGES)
    )


@cache
def store_analysis() -> Update:
    return (
        update(MESSAGES)
        .where(MESSAGES.c.id == bindparam("mid"))
        .values(
            signals=bindparam("p_signals"),
            guidance=bindparam("p_guidance"),
            model_version=bindparam("p_model"),
            risk=bindparam("p_risk"),
            analysis_state="done",
            analysis_error=None,
            analysis_attempts=MESSAGES.c.analysis_attempts + 1,
            analysed_at=bindparam("p_at"),
        )
    )


@cache
def insert_decision() -> Insert:
    return insert(DECISIONS)


@cache
def messages_state() -> Select[Any]:
    m = MESSAGES.c
    return select(m.id, m.analysis_state).where(m.id.in_(bindparam("mids", expanding=True)))


@cache
def newest_customer_messages() -> Select[Any]:
    m = MESSAGES.c
    return (
        select(m.conversation_id, func.max(m.id))
        .where(m.conversation_id.in_(bindparam("convs", expanding=True)), m.author == "customer")
        .group_by(m.conversation_id)
    )


def analysis_states(conn: Connection, message_ids: Sequence[int]) -> dict[int, str]:
    """Each message's analysis state (a message not found is left out)."""
    rows = conn.execute(messages_state(), {"mids": list(message_ids)})
    return {int(r[0]): str(r[1]) for r in rows}


def newest_of(conn: Connection, conv_ids: Sequence[int]) -> dict[int, int]:
    """Each conversation's newest customer message id (only the newest sets the conversation's
    risk, stage and SLA)."""
    rows = conn.execute(newest_customer_messages(), {"convs": list(conv_ids)})
    return {int(r[0]): int(r[1]) for r in rows}


def store_results_many(conn: Connection, done: Sequence[StoreAnalysis]) -> None:
    """The analyses of messages and their decisions (conversation state is set by
    ``conversations.place_many``): one ``executemany`` for the messages, one for all their
    decisions."""
    if not done:
        return
    results = [
        {
            "mid": a.message_id,
            "p_signals": a.signals.to_dict() if a.signals_json is None else Encoded(a.signals_json),
            "p_guidance": (
                a.guidance.to_dict() if a.guidance_json is None else Encoded(a.guidance_json)
            ),
            "p_model": str(a.signals.model),
            "p_risk": float(a.signals.risk),
            "p_at": a.at,
        }
        for a in done
    ]
    conn.execute(store_analysis(), results[0] if len(results) == 1 else results)
    rows: Sequence[dict[str, Any]] = [
        {**d, "message_id": a.message_id, "conversation_id": a.conversation_id, "created_at": a.at}
        for a in done
        for d in a.decisions
    ]
    if rows:
        conn.execute(insert_decision(), rows)


def _auto_reply(
    conn: Connection,
    holds: Holds,
    level: str,
    conv_id: int,
    customer_id: int,
    *,
    now: datetime,
    events: list[dict[str, Any]],
) -> None:
    """The policy's auto-reply to a held message, at most once per ``auto_reply_hours`` in a
    conversation (an abusive customer writing fifty times gets one answer, and two desks'
    auto-replies never ping-pong)."""
    text, hours = (
        (holds.block_reply, holds.block_hours)
        if level == "block"
        else (holds.restrict_reply, holds.restrict_hours)
    )
    last = conn.execute(audit.last_auto_reply(), {"conv": conv_id}).scalar()
    if last is not None and last > now - timedelta(hours=hours):
        return
    mid = conn.execute(
        insert_message(),
        {
            "conversation_id": conv_id,
            "author": "system",
            "channel": "api",
            "channel_message_id": None,
            "idempotency_key": None,
            "request_hash": None,
            "text": text,
            "received_at": now,
            "analysis_state": "none",
            "analysis_attempts": 0,
            "meta": {"auto_reply": level},
            "hold": None,
        },
    ).scalar_one()
    transport = outbox.queue_reply(conn, mid, conv_id, webhook_url=holds.webhook_url, now=now)
    events.append(
        audit.event(
            audit.AUTO_REPLY,
            now=now,
            conversation_id=conv_id,
            customer_id=customer_id,
            message_id=mid,
            sanction=level,
            transport=transport,
        )
    )


def accept(
    conn: Connection,
    msg: Incoming,
    *,
    key: Key | None,
    now: datetime,
    actor: Staff | None,
    priority: str,
    subject: str,
    analysis_state: str = "pending",
    holds: Holds | None = None,
) -> Accepted | int:
    """Store the message (the caller commits). An already stored key returns its message id;
    the same key with a different request is refused with a 409 (``IdempotencyKey.check``)."""
    if key is not None:
        found = key.find(conn.execute(message_by_keys(), key.params()).all())
        if found is not None:
            return key.check(found)
    who = audit.actor_of(actor if actor is not None else "customer")
    events: list[dict[str, Any]] = []
    customer, new = customers.find_or_create(conn, msg.customer, now=now, who=who, events=events)
    conv_id, assignee, status = conversations.find_or_open(
        conn, msg, customer.id, now=now, priority=priority, subject=subject, events=events, who=who
    )
    held = None
    levels: set[str] | None = set() if new else None  # a new customer has no sanction
    if holds is not None and not new and msg.analyse:
        levels = set(
            conn.execute(sanctions.sanctions_in_force(), {"cid": customer.id, "now": now}).scalars()
        )
        held = holds.reason(levels, msg.channel) if levels else None
    state = "held" if held else (analysis_state if msg.analyse else "none")
    mid = conn.execute(
        insert_message(),
        {
            "conversation_id": conv_id,
            "author": "customer",
            "channel": msg.channel,
            "channel_message_id": msg.channel_message_id,
            "idempotency_key": key.stored if key is not None else None,
            "request_hash": key.request if key is not None else None,
            "text": msg.text,
            "received_at": now,
            "analysis_state": state,
            "analysis_attempts": 0,
            "meta": msg.meta,
            "hold": "held" if held else None,
        },
    ).scalar_one()
    if held:
        new_status = status if status == "escalated" else "held"
    else:
        new_status = "open" if status in ("waiting", "resolved", "held") else status
    conversations.touch(conn, conv_id, status=new_status, now=now)
    events.append(
        audit.event(
            "message.received",
            now=now,
            actor=who[0],
            actor_id=who[1],
            conversation_id=conv_id,
            customer_id=customer.id,
            message_id=mid,
            channel=msg.channel,
        )
    )
    if held and holds is not None:
        events.append(
            audit.event(
                "message.held",
                now=now,
                actor=who[0],
                actor_id=who[1],
                conversation_id=conv_id,
                customer_id=customer.id,
                message_id=mid,
                reason=f"the customer is under an active {held}: kept for a supervisor",
                sanction=held,
            )
        )
        _auto_reply(conn, holds, held, conv_id, customer.id, now=now, events=events)
    audit.write(conn, events)
    restricted = None if levels is None else bool(levels)
    return Accepted(int(mid), conv_id, customer.id, new, assignee, customer, state, restricted)


# -- the queue of messages acknowledged before analysis (service.ingest) -----------------------

QUEUED, RUNNING = "queued", "running"
# an erased customer's messages (store.erasure): their text is masked, and they stay so for good
ERASED = "erased"


def claim_queued(conn: Connection, *, now: datetime, limit: int) -> list[tuple[int, int]]:
    """Claim up to ``limit`` queued messages (``analysis_state = 'running'``): only a message
    with no older message of its conversation still queued or running, so a conversation's
    messages are decided one after the other, across workers too, and one busy conversation
    never holds the others up. Returns ``(message id, conversation id)`` in arrival order. On
    PostgreSQL the rows are locked with ``SKIP LOCKED``, so workers never claim the same one."""
    m = MESSAGES.c
    older = MESSAGES.alias("older")
    picked = (
        select(m.id)
        .where(
            m.analysis_state == QUEUED,
            ~exists().where(
                older.c.conversation_id == m.conversation_id,
                older.c.id < m.id,
                older.c.analysis_state.in_((QUEUED, RUNNING)),
            ),
        )
        .order_by(m.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    got = conn.execute(
        update(MESSAGES)
        .where(m.id.in_(picked.scalar_subquery()), m.analysis_state == QUEUED)
        .values(analysis_state=RUNNING, analysed_at=now)
        .returning(m.id, m.conversation_id)
    ).all()
    return sorted((int(r[0]), int(r[1])) for r in got)


def queued_left(conn: Connection) -> bool:
    """Whether any message is still queued (claimed ones are ``running``)."""
    m = MESSAGES.c
    q = select(m.id).where(m.analysis_state == QUEUED).limit(1)
    return conn.execute(q).first() is not None


def fail_running(conn: Connection, ids: Sequence[int], *, error: str) -> None:
    """Mark claimed messages failed (the re-analysis sweep retries them); an erased one stays."""
    m = MESSAGES.c
    conn.execute(
        update(MESSAGES)
        .where(m.id.in_(ids), m.analysis_state == RUNNING)
        .values(
            analysis_state="failed",
            analysis_error=error,
            analysis_attempts=m.analysis_attempts + 1,
        )
    )


# -- one message's answer, re-analysis and failures (service.desk) -------------------------------


def by_keys(conn: Connection, params: dict[str, Any]) -> Sequence[Row[Any]]:
    """The messages stored under an idempotency key or channel message id (``message_by_keys``)."""
    return conn.execute(message_by_keys(), params).all()


def answer(conn: Connection, message_id: int) -> tuple[Any, Sequence[Any]] | None:
    """A message's stored answer: its row (id, conversation_id, author, analysis_state,
    signals, guidance) and its decision rows in order; None when there is no such message."""
    m = MESSAGES.c
    row = conn.execute(
        select(m.id, m.conversation_id, m.author, m.analysis_state, m.signals, m.guidance).where(
            m.id == message_id
        )
    ).first()
    if row is None:
        return None
    d = DECISIONS.c
    rows = conn.execute(select(DECISIONS).where(d.message_id == message_id).order_by(d.id)).all()
    return row, rows


def reclaim(conn: Connection, message_id: int, *, now: datetime, grace_s: float) -> bool:
    """Claim a message for re-analysis (``running``) unless another worker has run it for less
    than ``grace_s``, or its customer was erased (an erased message stays so: its analysis is
    never stored again); its decisions are dropped (the analysis writes them again)."""
    m = MESSAGES.c
    claimed = conn.execute(
        update(MESSAGES)
        .where(
            m.id == message_id,
            m.analysis_state != ERASED,
            or_(m.analysis_state != RUNNING, m.analysed_at < now - timedelta(seconds=grace_s)),
        )
        .values(analysis_state=RUNNING, analysed_at=now)
    )
    if not claimed.rowcount:
        return False
    conn.execute(delete(DECISIONS).where(DECISIONS.c.message_id == message_id))
    return True


def mark_failed(conn: Connection, message_id: int, *, error: str, erased: str) -> None:
    """Record a failed analysis on the message (kept, and retried); an erased one stays so."""
    m = MESSAGES.c
    conn.execute(
        update(MESSAGES)
        .where(m.id == message_id, m.analysis_state != erased)
        .values(
            analysis_state="failed",
            analysis_error=error,
            analysis_attempts=m.analysis_attempts + 1,
        )
    )


def pending_analysis(
    conn: Connection, *, old: datetime, limit: int, max_attempts: int
) -> list[int]:
    """Customer messages whose analysis failed or never finished (received before ``old``),
    and claims of crashed workers (running since before ``old``), oldest first."""
    m = MESSAGES.c
    return list(
        conn.scalars(
            select(m.id)
            .where(
                m.author == "customer",
                m.analysis_attempts < max_attempts,
                or_(
                    and_(m.analysis_state.in_(("pending", "failed")), m.received_at < old),
                    and_(m.analysis_state == RUNNING, m.analysed_at < old),
                ),
            )
            .order_by(m.id)
            .limit(limit)
        )
    )
