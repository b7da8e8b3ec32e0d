"""A stored conversation as the core reads it: a :class:`~gracedesk.model.situation.Situation`
built straight from rows (messages, customer history, agent, open promises).

Read on every customer message (``service.desk``, the worker's micro-batches, policy replay), so
it runs the prepared statements of the store's modules (``store.messages``, ``.customers``, ...).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cache
from typing import Any, cast

from sqlalchemy import Connection, and_, bindparam, func, or_, select
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import BindParameter

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
from gracedesk.store.conversations import (
    CONVERSATIONS,
    HISTORY_CONVERSATIONS,
    conversation_by_id,
    past_conversations,
)
from gracedesk.store.customers import customer_by_id
from gracedesk.store.escalations import compensation, threat_cleared_at
from gracedesk.store.follow_ups import open_promises
from gracedesk.store.messages import CONTEXT_MESSAGES, MESSAGES, messages_upto, recent_messages
from gracedesk.store.sanctions import active_sanctions, sanctions_in_force
from gracedesk.store.tables import Customer, Escalation, FollowUp, User, table_of
from gracedesk.store.tables import Sanction as SanctionRow

CUSTOMERS, USERS = table_of(Customer), table_of(User)
FOLLOW_UPS, ESCALATIONS, SANCTIONS = table_of(FollowUp), table_of(Escalation), table_of(SanctionRow)

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


def _base(cust: Any) -> CustomerHistory:
    """What the customer's row says (a row with name, tier, lifetime_value, preferences, flags)."""
    prefs: Mapping[str, Any] = cust.preferences or {}
    channel = _text(prefs.get("preferred_channel"))
    return CustomerHistory(
        name=cust.name,
        tier=cust.tier,
        lifetime_value=cust.lifetime_value,
        flags=valid_flags(cust.flags),
        preferred_channel=channel.lower() if channel else None,
        currency=_text(prefs.get("currency")),
    )


def _history(
    cust: Any,
    past: Sequence[Any],
    sanctions: Iterable[Any],
    given: Iterable[Any],
    *,
    now: datetime,
    exclude: int | None,
) -> CustomerHistory:
    """The history from the customer's row, past conversations (newest first, without
    ``exclude``), active sanctions (oldest first) and approved escalations (newest first)."""
    contacts, complaints = recent_counts(past, now=now, exclude=exclude)
    return replace(
        _base(cust),
        complaints_90d=complaints,
        contacts_30d=contacts,
        sanctions=tuple(Sanction(r.level, r.created_at, r.reason[:200]) for r in sanctions),
        issues=tuple(past_issue(r) for r in past[:5]),
        compensation=tuple(
            c for r in given if (c := compensation_of(r.data, r.decided_at)) is not None
        ),
    )


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
    if new:  # a customer created by this very message has no history yet
        return _base(cust)
    past = [r for r in conn.execute(past_conversations(), {"cid": customer_id}) if r.id != exclude]
    return _history(
        cust,
        past,
        conn.execute(active_sanctions(), {"cid": customer_id}),
        conn.execute(compensation(), {"cid": customer_id}),
        now=now,
        exclude=exclude,
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


# -- a micro-batch's situations, read set-based ------------------------------------------------


@cache
def _messages_upto_many(n: int) -> Select[Any]:
    """The newest ``CONTEXT_MESSAGES`` messages of each of ``n`` conversations (``c{i}``), up to
    a message id of each (``u{i}``), as :func:`take` reads them one conversation at a time."""
    m = MESSAGES.c
    rn = func.row_number().over(partition_by=m.conversation_id, order_by=m.id.desc())
    inner = (
        select(m.conversation_id, m.author, m.text, m.received_at, m.id, rn.label("rn"))
        .where(
            or_(
                *(
                    and_(m.conversation_id == bindparam(f"c{i}"), m.id <= bindparam(f"u{i}"))
                    for i in range(n)
                )
            ),
            m.author != "system",
        )
        .subquery()
    )
    return (
        select(inner.c.conversation_id, inner.c.author, inner.c.text, inner.c.received_at)
        .where(inner.c.rn <= CONTEXT_MESSAGES)
        .order_by(inner.c.conversation_id, inner.c.id)
    )


@cache
def _statements() -> dict[str, Select[Any]]:
    """The set-based reads of :func:`take_many` (expanding ``IN`` lists: one statement each)."""
    v, c, u = CONVERSATIONS.c, CUSTOMERS.c, USERS.c
    f, e, s = FOLLOW_UPS.c, ESCALATIONS.c, SANCTIONS.c
    convs: BindParameter[Any] = bindparam("convs", expanding=True)
    custs: BindParameter[Any] = bindparam("custs", expanding=True)
    past_rn = func.row_number().over(
        partition_by=v.customer_id, order_by=(v.opened_at.desc(), v.id.desc())
    )
    past = (
        select(v.customer_id, v.id, v.opened_at, v.subject, v.channel, v.labels)
        .add_columns(past_rn.label("rn"))
        .where(v.customer_id.in_(custs))
        .subquery()
    )
    comp_rn = func.row_number().over(
        partition_by=v.customer_id, order_by=(e.decided_at.desc(), e.id.desc())
    )
    comp = (
        select(v.customer_id, e.data, e.decided_at, comp_rn.label("rn"))
        .join(CONVERSATIONS, v.id == e.conversation_id)
        .where(v.customer_id.in_(custs), e.kind == "approval", e.state == "approved")
        .subquery()
    )
    return {
        "conversations": select(v.id, v.customer_id, v.assignee_id).where(v.id.in_(convs)),
        "promises": select(f.conversation_id, f.promise, f.due_at)
        .where(f.conversation_id.in_(convs), f.state == "open")
        .order_by(f.id),
        "agents": select(u.id, u.role, u.display_name, u.authority).where(
            u.id.in_(bindparam("users", expanding=True))
        ),
        "cleared": select(e.conversation_id, func.max(e.decided_at))
        .where(e.conversation_id.in_(convs), e.target == "security", e.state != "pending")
        .group_by(e.conversation_id),
        "in_force": select(s.customer_id).where(
            s.customer_id.in_(custs),
            s.state == "active",
            s.level.in_(("restrict", "block")),
            or_(s.until.is_(None), s.until > bindparam("now")),
        ),
        "customers": select(c.id, c.name, c.tier, c.lifetime_value, c.preferences, c.flags).where(
            c.id.in_(custs)
        ),
        "past": select(
            past.c.customer_id,
            past.c.id,
            past.c.opened_at,
            past.c.subject,
            past.c.channel,
            past.c.labels,
        )
        .where(past.c.rn <= HISTORY_CONVERSATIONS)
        .order_by(past.c.customer_id, past.c.rn),
        "sanctions": select(s.customer_id, s.level, s.created_at, s.reason)
        .where(s.customer_id.in_(custs), s.state == "active")
        .order_by(s.customer_id, s.created_at, s.id),
        "compensation": select(comp.c.customer_id, comp.c.data, comp.c.decided_at)
        .where(comp.c.rn <= 10)
        .order_by(comp.c.customer_id, comp.c.rn),
    }


def _grouped(rows: Iterable[Any]) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = defaultdict(list)
    for r in rows:
        out[int(r[0])].append(r)
    return out


def _turns_by_conversation(rows: Sequence[Any]) -> dict[int, tuple[Turn, ...]]:
    """``(conversation_id, author, text, received_at)`` rows, in order -> each conversation's
    turns (the author column holds a Role: customer, agent; system rows are not read). About
    forty rows per message of a batch: unpacked as tuples, not read by column name."""
    out: dict[int, list[Turn]] = defaultdict(list)
    for cid, author, text, at in rows:
        out[cid].append(Turn(author, text, at))
    return {cid: tuple(turns) for cid, turns in out.items()}


def take_many(
    conn: Connection, work: Sequence[tuple[int, int]], *, now: datetime
) -> list[Snapshot]:
    """``take(conn, conv, now=now, upto=mid, id=mid)`` for each ``(mid, conv)`` of a
    micro-batch (one message per conversation), in about ten statements for the whole batch
    instead of about ten per message. The same Situations, field for field
    (tests/desk/test_ingest.py compares them)."""
    if not work:
        return []
    q = _statements()
    conv_ids = [cid for _, cid in work]
    if len(set(conv_ids)) != len(conv_ids):
        raise ValueError("take_many reads one message per conversation")
    convs = {int(r.id): r for r in conn.execute(q["conversations"], {"convs": conv_ids})}
    cust_ids = sorted({int(r.customer_id) for r in convs.values()})
    user_ids = sorted({int(r.assignee_id) for r in convs.values() if r.assignee_id})
    params: dict[str, Any] = {f"c{i}": cid for i, (_, cid) in enumerate(work)}
    params |= {f"u{i}": mid for i, (mid, _) in enumerate(work)}
    turns = _turns_by_conversation(conn.execute(_messages_upto_many(len(work)), params).all())
    promises = _grouped(conn.execute(q["promises"], {"convs": conv_ids}).all())
    agents = (
        {int(r.id): r for r in conn.execute(q["agents"], {"users": user_ids})} if user_ids else {}
    )
    cleared: dict[int, datetime | None] = {
        int(r[0]): r[1] for r in conn.execute(q["cleared"], {"convs": conv_ids})
    }
    restricted = {int(r[0]) for r in conn.execute(q["in_force"], {"custs": cust_ids, "now": now})}
    customers = {int(r.id): r for r in conn.execute(q["customers"], {"custs": cust_ids})}
    past = _grouped(conn.execute(q["past"], {"custs": cust_ids}).all())
    sanctions = _grouped(conn.execute(q["sanctions"], {"custs": cust_ids}).all())
    comp = _grouped(conn.execute(q["compensation"], {"custs": cust_ids}).all())
    out = []
    for mid, cid in work:
        conv = convs[cid]
        cust_id = int(conv.customer_id)
        situation = Situation(
            turns=turns.get(cid, ()),
            customer=_history(
                customers[cust_id],
                [r for r in past.get(cust_id, ()) if r.id != cid],
                sanctions.get(cust_id, ()),
                comp.get(cust_id, ()),
                now=now,
                exclude=cid,
            ),
            agent=agent_of(agents.get(conv.assignee_id) if conv.assignee_id else None),
            promises=tuple(OpenPromise(p.promise, p.due_at) for p in promises.get(cid, ())),
            threat_cleared_at=cleared.get(cid),
            id=mid,
        )
        out.append(Snapshot(cid, situation, cust_id in restricted))
    return out
