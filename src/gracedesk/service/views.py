"""Read models: what the API returns and the console shows, as plain JSON-ready dicts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from gracedesk.errors import InvalidRequest, NotFound, PermissionDenied
from gracedesk.model.staff import Staff
from gracedesk.service import rotation
from gracedesk.service.desk import audit
from gracedesk.service.effects import decision_dict
from gracedesk.service.outbox import delivery_dict
from gracedesk.service.records import (
    EXPOSURE_NUDGE,
    EXPOSURE_WINDOW,
    SUPERVISING,
    escalation_dict,
    follow_up_dict,
    open_survey,
    require,
    sanction_dict,
)
from gracedesk.store import views as read
from gracedesk.store.protocol import store
from gracedesk.store.situations import recent_counts

if TYPE_CHECKING:
    from sqlalchemy import Row
    from sqlalchemy.orm import Session

    from gracedesk.service.desk import Desk

STATUSES = ("open", "waiting", "escalated", "held", "resolved")
SORTS = read.SORTS


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


def conversation_item(c: Row[Any], names: dict[int, str], now: datetime) -> dict[str, Any]:
    """A conversation as listed (``store.views``: with its customer's external id, name and
    tier)."""
    due = c.first_response_due
    return {
        "id": c.id,
        "customer": {
            "id": c.customer_id,
            "external_id": c.customer_external_id,
            "name": c.customer_name,
            "tier": c.customer_tier,
        },
        "channel": c.channel,
        "subject": c.subject,
        "status": c.status,
        "priority": c.priority,
        "team": c.team,
        "risk": round(c.risk, 4),
        "labels": list(c.labels or []),
        "stage": c.stage,
        "assignee": names.get(c.assignee_id) if c.assignee_id else None,
        "reply_due": _iso(due),
        "resolution_due": _iso(c.resolution_due),
        "overdue": bool(due is not None and due < now and c.status != "resolved"),
        "sla_breached_at": _iso(c.sla_breached_at),
        "opened_at": _iso(c.opened_at),
        "updated_at": _iso(c.updated_at),
        "resolved_at": _iso(c.resolved_at),
    }


def list_conversations(
    desk: Desk,
    *,
    user: Staff,
    now: datetime,
    status: str | None = None,
    sort: str = "risk",
    mine: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    if status is not None and status not in (*STATUSES, "active"):
        raise InvalidRequest(f"status must be one of {[*STATUSES, 'active']}")
    if sort not in SORTS:
        raise InvalidRequest(f"sort must be one of {list(SORTS)}")
    if not 1 <= limit <= 200 or offset < 0:
        raise InvalidRequest("limit must be 1..200 and offset >= 0")
    with desk.store.read() as s:
        conn = s.connection()
        page = read.conversation_page(
            conn,
            status=status,
            assignee_id=user.id if mine else None,
            sort=sort,
            limit=limit,
            offset=offset,
        )
        names = read.user_names(conn, {c.assignee_id for c in page.rows})
        items = [conversation_item(c, names, now) for c in page.rows]
    return {"total": page.total, "limit": limit, "offset": offset, "items": items}


def _message(
    m: Row[Any],
    decisions: list[Row[Any]],
    names: dict[int, str],
    delivery: Row[Any] | None = None,
) -> dict[str, Any]:
    meta = m.meta or {}
    return {
        "id": m.id,
        "author": m.author,
        "author_user": names.get(m.author_user_id) if m.author_user_id else None,
        "channel": m.channel,
        "text": m.text,
        "received_at": m.received_at.isoformat(),
        "analysis": m.analysis_state,
        "model_version": m.model_version,
        "signals": m.signals,
        "decisions": [decision_dict(d) for d in decisions],
        "guidance": m.guidance,
        "critique": m.critique,
        "hold": m.hold,
        "auto": meta.get("auto") or meta.get("auto_reply"),  # auto-reply, bounce, or ours
        "attachments": meta.get("attachments", []),
        "delivery": delivery_dict(delivery),
    }


def conversation_detail(desk: Desk, conv_id: int, *, user: Staff, now: datetime) -> dict[str, Any]:
    with desk.store.read() as s:
        conn = s.connection()
        c = read.conversation(conn, conv_id)
        if c is None:
            raise NotFound(f"conversation {conv_id} does not exist")
        customer = read.customer(conn, c.customer_id)
        msgs = read.messages_of(conn, c.id)
        decisions: dict[int, list[Row[Any]]] = {}
        for d in read.decisions_of(conn, c.id):
            decisions.setdefault(d.message_id, []).append(d)
        names = read.user_names(conn, {c.assignee_id, *(m.author_user_id for m in msgs)})
        sent = {d.message_id: d for d in read.deliveries_of(conn, c.id)}
        out = conversation_item(c, names, now)
        out["resolution"] = c.resolution
        out["policy_version"] = c.policy_version
        out["messages"] = [
            _message(m, decisions.get(m.id, []), names, sent.get(m.id)) for m in msgs
        ]
        last = next((m for m in reversed(msgs) if m.author == "customer"), None)
        out["signals"] = last.signals if last else None
        out["guidance"] = last.guidance if last else None
        out["decisions"] = [decision_dict(d) for d in decisions.get(last.id, [])] if last else []
        out["follow_ups"] = [follow_up_dict(f._mapping) for f in read.follow_ups_of(conn, c.id)]
        out["escalations"] = [escalation_dict(e) for e in read.escalations_of(conn, c.id)]
        csat = read.latest_csat(conn, c.id)
        out["csat"] = (
            {
                "sent_at": _iso(csat.sent_at),
                "score": csat.score,
                "comment": csat.comment,
                "responded_at": _iso(csat.responded_at),
            }
            if csat
            else None
        )
        out["customer"] = customer_summary(s, customer, now=now, exclude=c.id)
    return out


def held_messages(desk: Desk, *, user: Staff, limit: int = 100) -> list[dict[str, Any]]:
    """Messages held by a sanction, oldest first, for supervisors to read and release."""
    require(user, *SUPERVISING)
    with desk.store.read_core() as conn:
        rows = read.held_messages(conn, limit=limit)
        return [
            {
                "message_id": m.id,
                "conversation_id": m.conversation_id,
                "customer_id": m.customer_id,
                "customer": m.customer_name or m.customer_external_id,
                "channel": m.channel,
                "text": m.text,
                "received_at": m.received_at.isoformat(),
            }
            for m in rows
        ]


def customer_summary(
    s: Session, c: Row[Any], *, now: datetime, exclude: int | None = None
) -> dict[str, Any]:
    """A customer (a ``customers`` row) with their recent history, in ``s``'s transaction."""
    record = read.customer_record(s.connection(), c.id)
    convs, notes, scores = record.conversations, record.notes, record.scores
    contacts, complaints = recent_counts(convs, now=now, exclude=exclude)
    return {
        "id": c.id,
        "external_id": c.external_id,
        "name": c.name,
        "email": c.email,
        "phone": c.phone,
        "tier": c.tier,
        "lifetime_value": c.lifetime_value,
        "preferences": c.preferences,
        "flags": c.flags,
        "since": _iso(c.created_at),
        "contacts_30d": contacts,
        "complaints_90d": complaints,
        "csat_mean": round(sum(scores) / len(scores), 2) if scores else None,
        "history": [
            {
                "id": x.id,
                "subject": x.subject,
                "status": x.status,
                "opened_at": _iso(x.opened_at),
                "resolution": x.resolution,
                "labels": list(x.labels or []),
            }
            for x in convs
            if x.id != exclude
        ],
        "sanctions": [sanction_dict(x) for x in record.sanctions],
        "notes": [
            {"id": n.id, "text": n.text, "author": n.author, "created_at": _iso(n.created_at)}
            for n in notes
        ],
    }


def customer_view(desk: Desk, customer_id: int, *, now: datetime) -> dict[str, Any]:
    with desk.store.read() as s:
        c = read.find_customer(s.connection(), customer_id)
        if c is None:
            raise NotFound(f"customer {customer_id} does not exist")
        return customer_summary(s, c, now=now)


def customer_export(desk: Desk, customer_id: int, *, user: Staff, now: datetime) -> dict[str, Any]:
    """Everything stored about one customer (a data-subject export; supervisors only)."""
    require(user, *SUPERVISING)
    out = customer_view(desk, customer_id, now=now)
    with desk.store.read_core() as conn:
        convs = read.conversation_ids_of(conn, customer_id)
    out["conversations"] = [conversation_detail(desk, cid, user=user, now=now) for cid in convs]
    out["exported_at"] = now.isoformat()
    with desk.store.write() as s:  # who exported whom, and when (never what)
        audit(
            s,
            "customer.exported",
            now=now,
            actor=user,
            customer_id=customer_id,
            conversations=len(convs),
        )
    return out


def list_escalations(
    desk: Desk, *, state: str | None = "pending", limit: int = 100
) -> list[dict[str, Any]]:
    with desk.store.read_core() as conn:
        rows = read.escalations(conn, state=state, limit=limit)
        ids = {e.conversation_id for e in rows}
        convs = {c.id: c for c in read.conversations_by_ids(conn, ids)}
        out = []
        for e in rows:
            d = escalation_dict(e)
            c = convs.get(e.conversation_id)
            d["conversation"] = (
                {"subject": c.subject, "risk": c.risk, "priority": c.priority, "status": c.status}
                if c
                else None
            )
            out.append(d)
        return out


def list_follow_ups(
    desk: Desk, *, user: Staff, state: str | None = "open", mine: bool = False, limit: int = 200
) -> list[dict[str, Any]]:
    with desk.store.read_core() as conn:
        rows = read.follow_up_listing(
            conn, state=state, assignee_id=user.id if mine else None, limit=limit
        )
        return [follow_up_dict(f._mapping) for f in rows]


def team(desk: Desk, *, user: Staff, now: datetime) -> list[dict[str, Any]]:
    """Agents' exposure to abusive contacts, with a nudge to rotate or take a break."""
    require(user, *SUPERVISING)
    since = now - EXPOSURE_WINDOW
    with desk.store.read_core() as conn:
        users = read.active_users(conn)
        recent = read.exposures_since(conn, since)
        load = read.open_load(conn)
    out = []
    for u in users:
        n = recent.get(u.id, 0)
        on_break = u.last_break_at is not None and u.last_break_at >= (
            u.last_exposure_at or u.last_break_at
        )
        nudge = None
        if n >= EXPOSURE_NUDGE and not on_break:
            nudge = f"{n} abusive contacts in the last {int(EXPOSURE_WINDOW.total_seconds() // 3600)} h: suggest a break and rotate them off abusive queues"
        elif n >= 1 and not on_break:
            nudge = f"{n} abusive contact(s) recently: check in with them"
        out.append(
            {
                "name": u.name,
                "display_name": u.display_name,
                "role": u.role,
                "open_conversations": load.get(u.id, 0),
                "abusive_contacts_recent": n,
                "abusive_contacts_total": u.abuse_exposures,
                "last_exposure_at": _iso(u.last_exposure_at),
                "last_break_at": _iso(u.last_break_at),
                "nudge": nudge,
            }
        )
    rotation.annotate(desk, out, users, now)  # the policy's exposure limit (issue 16)
    return out


def me(desk: Desk, *, user: Staff, now: datetime) -> dict[str, Any]:
    rows = {r["name"]: r for r in team(desk, user=_as_supervisor(user), now=now)}
    return rows.get(user.name, {"name": user.name})


@dataclass(frozen=True, slots=True)
class _Supervising:
    """A staff member as a supervisor (what ``team`` checks), the rest of them unset."""

    id: int
    name: str
    display_name: str
    role: str = "supervisor"
    email: str | None = None
    active: bool = True
    timezone: str | None = None
    mask_abuse: bool | None = None


def _as_supervisor(user: Staff) -> Staff:
    # well-being of oneself is always visible; the team view is supervisor-only
    return _Supervising(id=user.id, name=user.name, display_name=user.display_name)


def audit_log(
    desk: Desk,
    *,
    user: Staff,
    conversation_id: int | None = None,
    customer_id: int | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    if user.role not in SUPERVISING and conversation_id is None:
        raise PermissionDenied("the full audit log is for supervisors; ask for one conversation")
    with desk.store.read_core() as conn:
        rows = store.audit.recent(
            conn, conversation_id=conversation_id, customer_id=customer_id, limit=limit
        )
        return [
            {
                "id": e.id,
                "at": e.at.isoformat(),
                "actor": e.actor,
                "kind": e.kind,
                "conversation_id": e.conversation_id,
                "customer_id": e.customer_id,
                "reason": e.reason,
                "detail": e.detail,
            }
            for e in rows
        ]


def sla_breaches(desk: Desk, *, now: datetime) -> list[dict[str, Any]]:
    with desk.store.read_core() as conn:
        rows = read.sla_breaches(conn, now=now)
        names = read.user_names(conn, {c.assignee_id for c in rows})
        return [conversation_item(c, names, now) for c in rows]


def csat_survey(desk: Desk, token: str) -> dict[str, Any]:
    """The survey behind a token, if it can still be answered (NotFound / Conflict otherwise)."""
    with desk.store.read_core() as conn:
        r = open_survey(conn, token)
        return {"conversation_id": r.conversation_id, "sent_at": r.sent_at.isoformat()}
