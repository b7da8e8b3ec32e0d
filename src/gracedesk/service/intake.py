"""The hot path of a customer message, in prepared Core statements: accept, snapshot, results.

Every message takes this path, so it runs a handful of prepared statements (``queries``) instead
of the ORM's unit of work. The rest of the service uses the ORM.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite

from gracedesk.errors import InvalidRequest, NotFound
from gracedesk.model.flags import valid_flags
from gracedesk.service import queries as q
from gracedesk.service.snapshot import Snapshot, agent_of, recent_counts, top_cause

if TYPE_CHECKING:
    from gracedesk.service.desk import IdempotencyKey, Incoming
    from gracedesk.store.tables import User


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
    def of(cls, sanctions: Any, webhook_url: str | None) -> Holds:
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


def _event(kind: str, now: datetime, who: tuple[str, int | None], **fields: Any) -> dict[str, Any]:
    return q.audit_row(kind, now=now, actor=who[0], actor_id=who[1], **fields)


def _customer(
    conn: Connection, msg: Incoming, now: datetime, events: list[dict[str, Any]], who: Any
) -> tuple[Any, bool]:
    ref = msg.customer
    lock = conn.dialect.name == "postgresql"  # one message per customer at a time (PostgreSQL)
    row = conn.execute(q.customer_by_external(lock), {"ext": ref.external_id}).first()
    new = row is None
    if row is None:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(
            dialect.insert(q.C)
            .values(
                external_id=ref.external_id,
                name=ref.name,
                email=ref.email,
                phone=ref.phone,
                tier=ref.tier or "standard",
                lifetime_value=0.0,
                preferences={},
                flags=[],
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["external_id"])
        )
        # ours, or the one a concurrent request created first
        row = conn.execute(q.customer_by_external(lock), {"ext": ref.external_id}).one()
        events.append(_event("customer.created", now, who, customer_id=row.id))
    changed = {
        k: v
        for k, v in (("name", ref.name), ("email", ref.email), ("phone", ref.phone))
        if v and getattr(row, k) != v
    }
    if changed and not new:
        from sqlalchemy import update

        conn.execute(update(q.C).where(q.C.c.id == row.id).values(**changed))
        events.append(
            _event("customer.updated", now, who, customer_id=row.id, fields=sorted(changed))
        )
    return row, new


def _existing(
    row: Any, now: datetime, events: list[dict[str, Any]], who: Any, customer_id: int
) -> tuple[int, int | None, str]:
    if row.status == "resolved":
        events.append(
            _event(
                "conversation.reopened",
                now,
                who,
                conversation_id=row.id,
                customer_id=customer_id,
                reason="the customer wrote again",
            )
        )
    return row.id, row.assignee_id, row.status


def _conversation(
    conn: Connection,
    msg: Incoming,
    customer_id: int,
    *,
    now: datetime,
    priority: str,
    subject: str,
    events: list[dict[str, Any]],
    who: Any,
) -> tuple[int, int | None, str]:
    if msg.conversation_id is not None:
        row = conn.execute(q.conversation_by_id(), {"conv": msg.conversation_id}).first()
        if row is None:
            raise NotFound(f"conversation {msg.conversation_id} does not exist")
        if row.customer_id != customer_id:
            raise InvalidRequest(f"conversation {msg.conversation_id} belongs to another customer")
        return _existing(row, now, events, who, customer_id)
    link = msg.link
    if link is None:
        row = conn.execute(
            q.open_conversation(), {"cid": customer_id, "channel": msg.channel}
        ).first()
        if row is not None:
            return row.id, row.assignee_id, row.status
    elif link.connector_id is not None and link.external_ref is not None:
        row = conn.execute(
            q.linked_conversation(), {"cn": link.connector_id, "ref": link.external_ref}
        ).first()
        if row is not None:
            if row.customer_id != customer_id:
                raise InvalidRequest(
                    f"the helpdesk's conversation {link.external_ref!r} belongs to another customer"
                )
            return _existing(row, now, events, who, customer_id)
    conv_id = conn.execute(
        q.insert_conversation(),
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
        _event(
            "conversation.opened",
            now,
            who,
            conversation_id=conv_id,
            customer_id=customer_id,
            channel=msg.channel,
        )
    )
    return conv_id, None, "open"


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
    from datetime import timedelta

    from gracedesk.service.outbox import delivery_row, route

    text, hours = (
        (holds.block_reply, holds.block_hours)
        if level == "block"
        else (holds.restrict_reply, holds.restrict_hours)
    )
    last = conn.execute(q.last_auto_reply(), {"conv": conv_id}).scalar()
    if last is not None and last > now - timedelta(hours=hours):
        return
    mid = conn.execute(
        q.insert_message(),
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
    r = conn.execute(q.delivery_route(), {"conv": conv_id}).one()
    transport, target = route(r, r.email, holds.webhook_url)
    conn.execute(q.insert_delivery(), delivery_row(mid, conv_id, transport, target, now=now))
    events.append(
        _event(
            "auto_reply.queued",
            now,
            ("system", None),
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
    key: IdempotencyKey | None,
    now: datetime,
    actor: User | None,
    priority: str,
    subject: str,
    analysis_state: str = "pending",
    holds: Holds | None = None,
) -> Accepted | int:
    """Store the message (the caller commits). An already stored key returns its message id;
    the same key with a different request is refused with a 409 (``IdempotencyKey.check``)."""
    if key is not None:
        found = key.find(conn.execute(q.message_by_keys(), key.params()).all())
        if found is not None:
            return key.check(found)
    who = (f"user:{actor.name}", actor.id) if actor is not None else ("customer", None)
    events: list[dict[str, Any]] = []
    customer, new = _customer(conn, msg, now, events, who)
    conv_id, assignee, status = _conversation(
        conn, msg, customer.id, now=now, priority=priority, subject=subject, events=events, who=who
    )
    held = None
    levels: set[str] | None = set() if new else None  # a new customer has no sanction
    if holds is not None and not new and msg.analyse:
        levels = set(
            conn.execute(q.sanctions_in_force(), {"cid": customer.id, "now": now}).scalars()
        )
        held = holds.reason(levels, msg.channel) if levels else None
    state = "held" if held else (analysis_state if msg.analyse else "none")
    mid = conn.execute(
        q.insert_message(),
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
    conn.execute(
        q.touch_conversation(),
        {"conv": conv_id, "p_at": now, "p_status": new_status, "p_resolved_at": None},
    )
    events.append(
        _event(
            "message.received",
            now,
            who,
            conversation_id=conv_id,
            customer_id=customer.id,
            message_id=mid,
            channel=msg.channel,
        )
    )
    if held and holds is not None:
        events.append(
            _event(
                "message.held",
                now,
                who,
                conversation_id=conv_id,
                customer_id=customer.id,
                message_id=mid,
                reason=f"the customer is under an active {held}: kept for a supervisor",
                sanction=held,
            )
        )
        _auto_reply(conn, holds, held, conv_id, customer.id, now=now, events=events)
    conn.execute(q.insert_audit(), events)
    restricted = None if levels is None else bool(levels)
    return Accepted(int(mid), conv_id, customer.id, new, assignee, customer, state, restricted)


def customer_history(
    conn: Connection,
    customer_id: int,
    *,
    now: datetime,
    exclude: int | None,
    new: bool = False,
    row: Any = None,
) -> dict[str, Any]:
    """The customer's history in the shape analysis, policy and guidance read."""
    cust = row if row is not None else conn.execute(q.customer_by_id(), {"cid": customer_id}).one()
    out: dict[str, Any] = {
        "name": cust.name,
        "tier": cust.tier,
        "lifetime_value": cust.lifetime_value,
        "complaints_90d": 0,
        "contacts_30d": 0,
        "sanctions": [],
        "issues": [],
        "compensation": [],
        # policy rules read them as customer.flags (set by supervisors, gracedesk.model.flags)
        "flags": list(valid_flags(cust.flags)),
    }
    prefs = cust.preferences or {}
    for k in ("preferred_channel", "currency"):
        if isinstance(prefs.get(k), str):
            out[k] = prefs[k]
    if new:  # a customer created by this very message has no history yet
        return out
    past = [
        r for r in conn.execute(q.past_conversations(), {"cid": customer_id}) if r.id != exclude
    ]
    out["contacts_30d"], out["complaints_90d"] = recent_counts(past, now=now, exclude=exclude)
    out["issues"] = [
        {
            "at": r.opened_at.isoformat(),
            "summary": (r.subject or r.channel)[:200],
            "cause": top_cause(r.labels or []),
        }
        for r in past[:5]
    ]
    out["sanctions"] = [
        {"level": r.level, "at": r.created_at.isoformat(), "reason": r.reason[:200]}
        for r in conn.execute(q.active_sanctions(), {"cid": customer_id})
    ]
    out["compensation"] = [
        {
            "kind": r.data.get("request_kind"),
            "amount": r.data.get("amount"),
            "at": r.decided_at.isoformat() if r.decided_at else None,
        }
        for r in conn.execute(q.compensation(), {"cid": customer_id})
        if r.data.get("request_kind") in ("refund", "credit", "discount")
    ]
    return out


def take(
    conn: Connection,
    conv_id: int,
    *,
    now: datetime,
    customer_id: int | None = None,
    assignee_id: int | None = None,
    new_customer: bool = False,
    customer_row: Any = None,
    upto: int | None = None,
    restricted: bool | None = None,
) -> Snapshot:
    """What the core needs about a conversation: messages, customer history, agent, promises.

    ``upto``: only the messages up to this message id (re-analysing an older message).
    ``restricted``: whether a restriction or block is in force, when ``accept`` already
    looked (else it is looked up here).
    """
    if customer_id is None:
        conv = conn.execute(q.conversation_by_id(), {"conv": conv_id}).one()
        customer_id, assignee_id = conv.customer_id, conv.assignee_id
    rows = (
        conn.execute(q.recent_messages(), {"conv": conv_id}).all()
        if upto is None
        else conn.execute(q.messages_upto(), {"conv": conv_id, "upto": upto}).all()
    )
    messages = tuple(
        {"role": r.author, "text": r.text, "at": r.received_at.isoformat()} for r in reversed(rows)
    )
    promises = conn.execute(q.open_promises(), {"conv": conv_id}).all()
    assignee = conn.execute(q.agent_by_id(), {"uid": assignee_id}).first() if assignee_id else None
    cleared = conn.execute(q.threat_cleared_at(), {"conv": conv_id}).scalar()
    return Snapshot(
        conversation_id=conv_id,
        messages=messages,
        customer=customer_history(
            conn, customer_id, now=now, exclude=conv_id, new=new_customer, row=customer_row
        ),
        agent=agent_of(assignee),
        commitments=tuple({"text": p.promise, "due": p.due_at.isoformat()} for p in promises),
        threat_cleared_at=cleared.isoformat() if cleared is not None else None,
        restricted=(
            restricted
            if restricted is not None
            else bool(
                conn.execute(q.sanctions_in_force(), {"cid": customer_id, "now": now}).first()
            )
        ),
    )


def store_results(
    conn: Connection,
    message_id: int,
    conv_id: int,
    signals: dict[str, Any],
    guidance: dict[str, Any],
    decisions: list[dict[str, Any]],
    *,
    now: datetime,
) -> None:
    """The analysis of a message and its decisions; conversation state is set by the caller."""
    conn.execute(
        q.store_analysis(),
        {
            "mid": message_id,
            "p_signals": signals,
            "p_guidance": guidance,
            "p_model": str(signals.get("model")),
            "p_risk": float(signals["risk"]),
            "p_at": now,
        },
    )
    if decisions:
        conn.execute(
            q.insert_decision(),
            [
                {**d, "message_id": message_id, "conversation_id": conv_id, "created_at": now}
                for d in decisions
            ],
        )
