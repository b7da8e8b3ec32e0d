"""Conversations: joined or opened by every message, placed (priority, team, risk, SLA) by
every analysis.

``state`` reads what a message's decisions are applied to (locked on PostgreSQL, so two
messages of one conversation are recorded one after the other); ``place`` writes it back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Update, bindparam, exists, insert, or_, select, update
from sqlalchemy.sql import Select

from gracedesk.errors import InvalidRequest, NotFound
from gracedesk.store import audit
from gracedesk.store.tables import Conversation, Escalation, Sanction, table_of

if TYPE_CHECKING:
    from gracedesk.model.effect import Place
    from gracedesk.store.customers import Actor
    from gracedesk.store.inbound import Incoming

CONVERSATIONS = table_of(Conversation)
_ESCALATIONS = table_of(Escalation)
_SANCTIONS = table_of(Sanction)

HISTORY_CONVERSATIONS = 20


@dataclass(frozen=True, slots=True)
class State:
    """What one message's decisions are applied to (``state``)."""

    customer_id: int
    assignee_id: int | None
    labels: list[str] | None
    priority: str
    team: str | None
    risk: float
    stage: str | None
    policy_version: str | None
    first_response_due: datetime | None
    resolution_due: datetime | None
    sla_breached_at: datetime | None


@cache
def open_conversation() -> Select[Any]:
    v = CONVERSATIONS.c
    return (
        select(v.id, v.assignee_id, v.status)
        .where(
            v.customer_id == bindparam("cid"),
            v.channel == bindparam("channel"),
            v.status != "resolved",
        )
        .order_by(v.id.desc())
        .limit(1)
    )


@cache
def conversation_by_id() -> Select[Any]:
    v = CONVERSATIONS.c
    return select(v.id, v.customer_id, v.assignee_id, v.status).where(v.id == bindparam("conv"))


@cache
def linked_conversation() -> Select[Any]:
    """The conversation of a helpdesk connector's conversation or ticket id."""
    v = CONVERSATIONS.c
    return select(v.id, v.customer_id, v.assignee_id, v.status).where(
        v.connector_id == bindparam("cn"), v.external_ref == bindparam("ref")
    )


@cache
def insert_conversation() -> Any:
    return insert(CONVERSATIONS).returning(CONVERSATIONS.c.id)


@cache
def touch_conversation() -> Update:
    return (
        update(CONVERSATIONS)
        .where(CONVERSATIONS.c.id == bindparam("conv"))
        .values(
            last_customer_at=bindparam("p_at"),
            updated_at=bindparam("p_at"),
            status=bindparam("p_status"),
            resolved_at=bindparam("p_resolved_at"),
        )
    )


@cache
def past_conversations() -> Select[Any]:
    v = CONVERSATIONS.c
    return (
        select(v.id, v.opened_at, v.subject, v.channel, v.labels)
        .where(v.customer_id == bindparam("cid"))
        .order_by(v.opened_at.desc(), v.id.desc())
        .limit(HISTORY_CONVERSATIONS)
    )


@cache
def conversations_state(lock: bool) -> Select[Any]:
    """What messages' decisions are applied to, for several conversations (``convs``), in id
    order (locked ``FOR NO KEY UPDATE`` when ``lock``: PostgreSQL)."""
    v = CONVERSATIONS.c
    q = select(
        v.id,
        v.customer_id,
        v.labels,
        v.first_response_due,
        v.resolution_due,
        v.priority,
        v.team,
        v.risk,
        v.stage,
        v.policy_version,
        v.assignee_id,
        v.sla_breached_at,
    ).where(v.id.in_(bindparam("convs", expanding=True)))
    q = q.order_by(v.id)
    return q.with_for_update(key_share=True) if lock else q


@cache
def update_conversation_state() -> Update:
    return (
        update(CONVERSATIONS)
        .where(CONVERSATIONS.c.id == bindparam("conv"))
        .values(
            updated_at=bindparam("p_at"),
            priority=bindparam("p_priority"),
            team=bindparam("p_team"),
            risk=bindparam("p_risk"),
            stage=bindparam("p_stage"),
            labels=bindparam("p_labels"),
            policy_version=bindparam("p_policy_version"),
            first_response_due=bindparam("p_first_due"),
            resolution_due=bindparam("p_resolution_due"),
            sla_breached_at=bindparam("p_breached"),
        )
    )


@cache
def set_status() -> Update:
    return (
        update(CONVERSATIONS)
        .where(CONVERSATIONS.c.id == bindparam("conv"))
        .values(status=bindparam("p_status"))
    )


@cache
def conversation_held() -> Select[Any]:
    """Whether the conversation waits on a decision or carries a sanction: a pending
    escalation, or a pending or active sanction (its priority then only goes up)."""
    e, s = _ESCALATIONS.c, _SANCTIONS.c
    pending = exists().where(e.conversation_id == bindparam("conv"), e.state == "pending")
    sanction = exists().where(
        s.conversation_id == bindparam("conv"), s.state.in_(("pending", "active"))
    )
    return select(or_(pending, sanction))


def states(conn: Connection, conv_ids: Sequence[int]) -> dict[int, State]:
    """The placement of conversations, locked until the transaction ends on PostgreSQL (in id
    order, so two workers never wait on each other in a cycle)."""
    lock = conn.dialect.name == "postgresql"
    rows = conn.execute(conversations_state(lock), {"convs": sorted(set(conv_ids))})
    return {int(r.id): _state(r) for r in rows}


def _state(r: Any) -> State:
    return State(
        r.customer_id,
        r.assignee_id,
        r.labels,
        r.priority,
        r.team,
        r.risk,
        r.stage,
        r.policy_version,
        r.first_response_due,
        r.resolution_due,
        r.sla_breached_at,
    )


def held(conn: Connection, conv_id: int) -> bool:
    return bool(conn.execute(conversation_held(), {"conv": conv_id}).scalar())


def place_many(conn: Connection, places: Sequence[Place]) -> None:
    """Write each conversation's placement (one ``executemany``)."""
    if not places:
        return
    rows = [_placed(p) for p in places]
    conn.execute(update_conversation_state(), rows[0] if len(rows) == 1 else rows)


def _placed(p: Place) -> dict[str, Any]:
    return {
        "conv": p.conversation_id,
        "p_at": p.at,
        "p_priority": p.priority,
        "p_team": p.team,
        "p_risk": p.risk,
        "p_stage": p.stage,
        "p_labels": p.labels,
        "p_policy_version": p.policy_version,
        "p_first_due": p.first_response_due,
        "p_resolution_due": p.resolution_due,
        "p_breached": p.sla_breached_at,
    }


def mark_escalated(conn: Connection, conv_id: int) -> None:
    conn.execute(set_status(), {"conv": conv_id, "p_status": "escalated"})


def touch(conn: Connection, conv_id: int, *, status: str, now: datetime) -> None:
    """A customer message arrived: the conversation's status and times."""
    conn.execute(
        touch_conversation(),
        {"conv": conv_id, "p_at": now, "p_status": status, "p_resolved_at": None},
    )


def _existing(
    row: Any, now: datetime, events: list[dict[str, Any]], who: Actor, customer_id: int
) -> tuple[int, int | None, str]:
    if row.status == "resolved":
        events.append(
            audit.event(
                "conversation.reopened",
                now=now,
                actor=who[0],
                actor_id=who[1],
                conversation_id=row.id,
                customer_id=customer_id,
                reason="the customer wrote again",
            )
        )
    return row.id, row.assignee_id, row.status


def find_or_open(
    conn: Connection,
    msg: Incoming,
    customer_id: int,
    *,
    now: datetime,
    priority: str,
    subject: str,
    events: list[dict[str, Any]],
    who: Actor,
) -> tuple[int, int | None, str]:
    """The conversation a message joins (its id, assignee and status): the one it names, its
    helpdesk's, the customer's open one on its channel, or a new one."""
    if msg.conversation_id is not None:
        row = conn.execute(conversation_by_id(), {"conv": msg.conversation_id}).first()
        if row is None:
            raise NotFound(f"conversation {msg.conversation_id} does not exist")
        if row.customer_id != customer_id:
            raise InvalidRequest(f"conversation {msg.conversation_id} belongs to another customer")
        return _existing(row, now, events, who, customer_id)
    link = msg.link
    if link is None:
        row = conn.execute(
            open_conversation(), {"cid": customer_id, "channel": msg.channel}
        ).first()
        if row is not None:
            return row.id, row.assignee_id, row.status
    elif link.connector_id is not None and link.external_ref is not None:
        row = conn.execute(
            linked_conversation(), {"cn": link.connector_id, "ref": link.external_ref}
        ).first()
        if row is not None:
            if row.customer_id != customer_id:
                raise InvalidRequest(
                    f"the helpdesk's conversation {link.external_ref!r} belongs to another customer"
                )
            return _existing(row, now, events, who, customer_id)
    conv_id = conn.execute(
        insert_conversation(),
        {
            "customer_id": customer_id,
            "channel": msg.channel,
            "subject": subject[:300],
            "status": "open",
            "priority": priority,
            "risk": 0.0,
            "labels": [],
            "opened_at": now,
            "updated_at": now,
            "mailbox_id": link.mailbox_id if link else None,
            "connector_id": link.connector_id if link else None,
            "external_ref": link.external_ref if link else None,
            "contact": link.contact if link else None,
        },
    ).scalar_one()
    events.append(
        audit.event(
            "conversation.opened",
            now=now,
            actor=who[0],
            actor_id=who[1],
            conversation_id=conv_id,
            customer_id=customer_id,
            channel=msg.channel,
        )
    )
    return conv_id, None, "open"
