"""Customers: find one, read everything the desk knows about them, flag them.

- :func:`search` matches name, e-mail, phone and external id as case-insensitive substrings
  (LIKE with ``%``, ``_`` and the escape character escaped, so what is typed is matched
  literally, on SQLite and PostgreSQL alike). A query that looks like a phone number also
  matches the stored number with its separators left out (``5550100`` finds ``555-0100``).
- :func:`profile` is the customer page: contact data, history with risk and cause, sanctions
  with who gave them, notes, the archetype of their newest analysed message, CSAT answers;
  :func:`profile_for` the same with abusive words masked for a user who masks them.
- :func:`add_flag` / :func:`remove_flag`: supervisors and admins; each change is audited
  (``customer.flagged`` / ``customer.unflagged``). Policy rules read the flags as
  ``customer.flags`` (``store.situations.customer_history`` puts them in every Situation).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from gracedesk.errors import Conflict, InvalidRequest, NotFound
from gracedesk.model.flags import MAX_FLAGS, VOCABULARY, flag_problem, normal_flag
from gracedesk.model.staff import Staff
from gracedesk.service import protect
from gracedesk.service.desk import audit
from gracedesk.service.records import SANCTION_LEVELS, SUPERVISING, require, sanction_dict
from gracedesk.service.views import customer_summary
from gracedesk.store import customers as customers_x
from gracedesk.store.situations import top_cause

if TYPE_CHECKING:
    from sqlalchemy import Connection, Row
    from sqlalchemy.orm import Session

    from gracedesk.service.desk import Desk

QUERY_MAX = 200
PAGE_MAX = 200
HISTORY_MAX = 100  # conversations listed on the customer page (the total is counted)


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


# -- search --------------------------------------------------------------------------------------


def search(
    desk: Desk, query: str, *, now: datetime, limit: int = 50, offset: int = 0
) -> dict[str, Any]:
    """A page of customers matching ``query`` (all customers, newest first, when it is blank).

    Matches are ordered by name; each item carries its conversations, the open ones, the last
    contact and the sanction in force, so a list of namesakes can be told apart.
    """
    text = query.strip()
    if len(text) > QUERY_MAX:
        raise InvalidRequest(f"a search has at most {QUERY_MAX} characters")
    if not 1 <= limit <= PAGE_MAX or offset < 0:
        raise InvalidRequest(f"limit must be 1..{PAGE_MAX} and offset >= 0")
    with desk.store.read() as s:
        conn = s.connection()
        total, rows = customers_x.search(conn, text, limit=limit, offset=offset)
        activity = _activity(conn, [c.id for c in rows])
        levels = _in_force(conn, [c.id for c in rows], now=now)
        items = [
            {
                "id": c.id,
                "external_id": c.external_id,
                "name": c.name,
                "email": c.email,
                "phone": c.phone,
                "tier": c.tier,
                "flags": _stored_flags(c),
                "sanction": levels.get(c.id),
                **activity.get(c.id, {"conversations": 0, "open": 0, "last_contact": None}),
            }
            for c in rows
        ]
    return {"query": text, "total": total, "limit": limit, "offset": offset, "items": items}


def _activity(conn: Connection, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Per customer: conversations, open ones, and the last time the customer wrote."""
    return {
        cid: {"conversations": n, "open": int(open_ or 0), "last_contact": _iso(at)}
        for cid, n, open_, at in customers_x.activity(conn, ids)
    }


def _in_force(conn: Connection, ids: Sequence[int], *, now: datetime) -> dict[int, str]:
    """The highest active sanction not yet expired, per customer."""
    out: dict[int, str] = {}
    for cid, level in customers_x.sanction_levels(conn, ids, now=now):
        if level in SANCTION_LEVELS and (
            cid not in out or SANCTION_LEVELS.index(level) > SANCTION_LEVELS.index(out[cid])
        ):
            out[cid] = level
    return out


# -- the customer page ---------------------------------------------------------------------------


def profile_for(desk: Desk, customer_id: int, *, user: Staff, now: datetime) -> dict[str, Any]:
    """:func:`profile` as ``user`` may see it: while they mask abuse (``protect.masking_for``),
    every word the customer's abuse used is masked wherever the page quotes it (subjects, notes,
    sanction reasons, survey comments), as on the conversation page."""
    out = profile(desk, customer_id, now=now)
    if not protect.masking_for(desk, user):
        return {**out, "masking": False}
    with desk.store.read() as s:
        terms = abuse_terms(s, customer_ids=[customer_id])
    return {**protect.scrub_tree(out, terms), "masking": True}


def abuse_terms(
    s: Session, *, customer_ids: Iterable[int] = (), conversation_ids: Iterable[int] = ()
) -> dict[str, str]:
    """The abusive words (with their labels) of the customer messages of these customers or
    conversations, for ``protect.scrub``."""
    people, convs = sorted(set(customer_ids)), sorted(set(conversation_ids))
    rows = customers_x.abuse_evidence(s.connection(), customer_ids=people, conversation_ids=convs)
    terms: dict[str, str] = {}
    for text, signals in rows:
        terms.update(protect.terms_of((signals or {}).get("evidence") or [], text))
    return terms


def profile(desk: Desk, customer_id: int, *, now: datetime) -> dict[str, Any]:
    """Everything the customer page shows (any role may read it; flags are read-only to agents)."""
    with desk.store.read() as s:
        conn = s.connection()
        c = customers_x.get(conn, customer_id)
        if c is None:
            raise NotFound(f"customer {customer_id} does not exist")
        out = customer_summary(s, c, now=now)
        out["flags"] = [{"name": f, "about": VOCABULARY.get(f)} for f in _stored_flags(c)]
        out["conversations"], out["conversations_total"] = _history(conn, c.id)
        out["sanctions"] = _sanctions(conn, c.id, now=now)
        out["archetype"] = _archetype(conn, c.id)
        out["csat"] = _csat(conn, c.id)
    return out


def _stored_flags(c: Row[Any]) -> list[str]:
    return [f for f in (c.flags or []) if isinstance(f, str)]


def _history(conn: Connection, customer_id: int) -> tuple[list[dict[str, Any]], int]:
    convs, total = customers_x.history(conn, customer_id, limit=HISTORY_MAX)
    items = [
        {
            "id": x.id,
            "subject": x.subject,
            "channel": x.channel,
            "status": x.status,
            "priority": x.priority,
            "risk": round(x.risk, 4),
            "cause": top_cause(list(x.labels or [])),
            "labels": list(x.labels or []),
            "opened_at": _iso(x.opened_at),
            "resolved_at": _iso(x.resolved_at),
        }
        for x in convs
    ]
    return items, total


def _sanctions(conn: Connection, customer_id: int, *, now: datetime) -> list[dict[str, Any]]:
    """Newest first, with who gave and who approved each, and whether it is in force now."""
    rows = customers_x.sanctions_with_staff(conn, customer_id)
    return [
        {
            **sanction_dict(x),
            "conversation_id": x.conversation_id,
            "created_by": x.given_by_name,
            "approved_by": x.approved_by_name,
            "in_force": x.state == "active" and (x.until is None or x.until > now),
        }
        for x in rows
    ]


def _archetype(conn: Connection, customer_id: int) -> dict[str, Any] | None:
    """The pattern the context module saw in the customer's newest analysed message."""
    row = customers_x.newest_analysed(conn, customer_id)
    ctx = (row.signals or {}).get("context") if row is not None else None
    if not isinstance(ctx, dict) or not isinstance(ctx.get("archetype"), str):
        return None
    reasons = ctx.get("archetype_reasons")
    return {
        "name": ctx["archetype"],
        "score": ctx.get("archetype_score"),
        "reasons": [r for r in reasons if isinstance(r, str)] if isinstance(reasons, list) else [],
        "trajectory": ctx.get("trajectory"),
        "at": _iso(row.received_at) if row is not None else None,
        "conversation_id": row.conversation_id if row is not None else None,
    }


def _csat(conn: Connection, customer_id: int) -> dict[str, Any]:
    rows = customers_x.csat_responses(conn, customer_id)
    answered = [(r, r.score) for r in rows if r.score is not None]
    answers = [
        {
            "conversation_id": r.conversation_id,
            "score": score,
            "comment": r.comment,
            "responded_at": _iso(r.responded_at),
        }
        for r, score in answered
    ]
    scores = [score for _, score in answered]
    return {
        "sent": len(rows),
        "answered": len(answers),
        "mean": round(sum(scores) / len(scores), 2) if scores else None,
        "answers": answers,
    }


# -- flags ---------------------------------------------------------------------------------------


def _locked(conn: Connection, customer_id: int) -> Row[Any]:
    """The customer row, locked: two supervisors flagging at once must not lose a flag."""
    c = customers_x.locked(conn, customer_id)
    if c is None:
        raise NotFound(f"customer {customer_id} does not exist")
    return c


def add_flag(
    desk: Desk,
    customer_id: int,
    flag: str,
    *,
    user: Staff,
    now: datetime,
    reason: str | None = None,
) -> dict[str, Any]:
    """Flag a customer (supervisors, admins). InvalidRequest for a flag that breaks the
    spelling rule; Conflict when it is there already or the customer has ``MAX_FLAGS``."""
    require(user, *SUPERVISING)
    name = normal_flag(flag)
    problem = flag_problem(name)
    if problem is not None:
        raise InvalidRequest(problem)
    with desk.store.write() as s:
        c = _locked(s.connection(), customer_id)
        flags = _stored_flags(c)
        if name in flags:
            raise Conflict(f"customer {customer_id} is already flagged {name!r}")
        if len(flags) >= MAX_FLAGS:
            raise Conflict(
                f"customer {customer_id} has {MAX_FLAGS} flags, the most allowed: clear one first"
            )
        now_flags = [*flags, name]
        customers_x.set_flags(s.connection(), c.id, now_flags)
        audit(
            s,
            "customer.flagged",
            now=now,
            actor=user,
            customer_id=c.id,
            reason=(reason or "").strip() or None,
            flag=name,
        )
        return {"customer_id": c.id, "flags": now_flags}


def remove_flag(
    desk: Desk, customer_id: int, flag: str, *, user: Staff, now: datetime
) -> dict[str, Any]:
    """Clear a flag (supervisors, admins); NotFound when the customer does not carry it."""
    require(user, *SUPERVISING)
    with desk.store.write() as s:
        c = _locked(s.connection(), customer_id)
        flags = _stored_flags(c)
        name = flag if flag in flags else normal_flag(flag)  # as stored, or as meant
        if name not in flags:
            raise NotFound(f"customer {customer_id} is not flagged {name!r}")
        now_flags = [f for f in flags if f != name]
        customers_x.set_flags(s.connection(), c.id, now_flags)
        audit(s, "customer.unflagged", now=now, actor=user, customer_id=c.id, flag=name)
        return {"customer_id": c.id, "flags": now_flags}
