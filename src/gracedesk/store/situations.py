"""A stored conversation as the core reads it: a :class:`~gracedesk.model.situation.Situation`
built straight from rows (messages, customer history, agent, open promises).

Read on every customer message (``service.desk``, the worker's micro-batches, policy replay), so
it runs the prepared statements of the store's modules (``store.messages``, ``.customers``, ...).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection

from gracedesk.model.flags import valid_flags
from gracedesk.model.signals import CAUSES
from gracedesk.model.situation import (
    AUTHORITY_KEYS,
    AgentProfile,
    Authority,
    Compensation,
    CustomerHistory,
    OpenPromise,
    PastIssue,
    Role,
    Sanction,
    Situation,
    Turn,
)
from gracedesk.store.agents import agent_by_id
from gracedesk.store.conversations import conversation_by_id, past_conversations
from gracedesk.store.customers import customer_by_id
from gracedesk.store.escalations import compensation, threat_cleared_at
from gracedesk.store.follow_ups import open_promises
from gracedesk.store.messages import messages_upto, recent_messages
from gracedesk.store.sanctions import active_sanctions, sanctions_in_force

COMPENSATION_KINDS = ("refund", "credit", "discount")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A conversation's Situation and what the desk adds: whether a restriction or block is in
    force (longer SLA)."""

    conversation_id: int
    situation: Situation
    restricted: bool = False


def recent_counts(past: Iterable[Any], *, now: datetime, exclude: int | None) -> tuple[int, int]:
    """(contacts in 30 days, complaints in 90 days) from past conversations, bar ``exclude``."""
    rows = [r for r in past if r.id != exclude]
    contacts = sum(1 for r in rows if r.opened_at >= now - timedelta(days=30))
    complaints = sum(
        1
        for r in rows
        if "complaint" in (r.labels or []) and r.opened_at >= now - timedelta(days=90)
    )
    return contacts, complaints


def top_cause(labels: list[Any]) -> str | None:
    return next((c for c in CAUSES if c in labels), None)


def agent_of(row: Any) -> AgentProfile:
    """The assignee as the core reads it (a row with role, display_name, authority)."""
    if row is None:
        return AgentProfile()
    raw: Mapping[str, Any] = row.authority or {}
    limits = {k: float(raw.get(k) or 0.0) for k in AUTHORITY_KEYS}
    return AgentProfile(role=row.role, name=row.display_name, authority=Authority(**limits))


def past_issue(row: Any) -> PastIssue:
    """An earlier conversation (a row with subject, channel, opened_at, labels) as history."""
    return PastIssue(
        _text((row.subject or row.channel)[:200]) or "(no summary)",
        row.opened_at,
        top_cause(row.labels or []),
    )


def compensation_of(data: Mapping[str, Any], at: datetime | None) -> Compensation | None:
    """What an approved escalation's ``data`` granted (refund, credit, discount), or None."""
    kind, amount = data.get("request_kind"), data.get("amount")
    if kind not in COMPENSATION_KINDS:
        return None
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        amount = None
    return Compensation(kind, None if amount is None else float(amount), at)


def _text(v: Any) -> str | None:
    return v.strip() or None if isinstance(v, str) else None


def customer_history(
    conn: Connection,
    customer_id: int,
    *,
    now: datetime,
    exclude: int | None,
    new: bool = False,
    row: Any = None,
) -> CustomerHistory:
    """The customer's history: counts, past issues, sanctions in force, compensation given."""
    cust = row if row is not None else conn.execute(customer_by_id(), {"cid": customer_id}).one()
    prefs: Mapping[str, Any] = cust.preferences or {}
    channel = _text(prefs.get("preferred_channel"))
    base = CustomerHistory(
        name=cust.name,
        tier=cust.tier,
        lifetime_value=cust.lifetime_value,
        flags=valid_flags(cust.flags),
        preferred_channel=channel.lower() if channel else None,
        currency=_text(prefs.get("currency")),
    )
    if new:  # a customer created by this very message has no history yet
        return base
    past = [r for r in conn.execute(past_conversations(), {"cid": customer_id}) if r.id != exclude]
    contacts, complaints = recent_counts(past, now=now, exclude=exclude)
    issues = tuple(past_issue(r) for r in past[:5])
    sanctions = tuple(
        Sanction(r.level, r.created_at, r.reason[:200])
        for r in conn.execute(active_sanctions(), {"cid": customer_id})
    )
    given = [
        c
        for r in conn.execute(compensation(), {"cid": customer_id})
        if (c := compensation_of(r.data, r.decided_at)) is not None
    ]
    return replace(
        base,
        complaints_90d=complaints,
        contacts_30d=contacts,
        sanctions=sanctions,
        issues=issues,
        compensation=tuple(given),
    )


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
    id: int | None = None,
) -> Snapshot:
    """The conversation's Situation: messages, customer history, agent, open promises.

    ``upto``: only the messages up to this message id (re-analysing an older message).
    ``restricted``: whether a restriction or block is in force, when ``accept`` already
    looked (else it is looked up here). ``id``: the Situation's reference (the message id).
    """
    if customer_id is None:
        conv = conn.execute(conversation_by_id(), {"conv": conv_id}).one()
        customer_id, assignee_id = conv.customer_id, conv.assignee_id
    rows = (
        conn.execute(recent_messages(), {"conv": conv_id}).all()
        if upto is None
        else conn.execute(messages_upto(), {"conv": conv_id, "upto": upto}).all()
    )
    turns = tuple(Turn(cast("Role", r.author), r.text, r.received_at) for r in reversed(rows))
    promises = tuple(
        OpenPromise(p.promise, p.due_at)
        for p in conn.execute(open_promises(), {"conv": conv_id}).all()
    )
    assignee = conn.execute(agent_by_id(), {"uid": assignee_id}).first() if assignee_id else None
    cleared = conn.execute(threat_cleared_at(), {"conv": conv_id}).scalar()
    if restricted is None:
        found = conn.execute(sanctions_in_force(), {"cid": customer_id, "now": now}).first()
        restricted = found is not None
    situation = Situation(
        turns=turns,
        customer=customer_history(
            conn, customer_id, now=now, exclude=conv_id, new=new_customer, row=customer_row
        ),
        agent=agent_of(assignee),
        promises=promises,
        threat_cleared_at=cleared,
        id=id,
    )
    return Snapshot(conv_id, situation, restricted)
