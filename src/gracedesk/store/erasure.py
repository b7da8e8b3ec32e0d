"""Erasure: one customer's personal data and text masked across every table, in one unit of work.

The service (``service.erasure``) holds the transaction, decides what masking means (the mask
for free text, how a JSON value keeps its vocabulary, the erased customer's flag and external
id, their messages' analysis state) and writes the audit event ``customer.erased`` after
:func:`erase` (through the one audit writer). Operations:

Core statements on the connection of the service's session (``Session.connection()``); rows
are rewritten only in the columns whose value changes.

- :func:`lock_customer`: the customer row, ``FOR UPDATE``.
- :func:`erase`: in the caller's transaction, lock the customer's conversations, mask their
  messages, deliveries, decisions, escalations, follow-ups, CSAT comments, sanctions and the
  customer's notes; delete the customer's questions kept as knowledge-base retrieval keys;
  drop the pending notifications about them and mask the others; mask the customer row; mask
  the reason and detail of the audit events about them. Returns how many of each
  (:class:`Erased`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, Table, Text, bindparam, cast, delete, or_, select, update

from gracedesk.store import follow_ups
from gracedesk.store.tables import (
    AuditEvent,
    Conversation,
    CsatResponse,
    Customer,
    CustomerNote,
    DecisionRow,
    Delivery,
    Escalation,
    KbQuestion,
    Message,
    Notification,
    Sanction,
    table_of,
)

CUSTOMERS = table_of(Customer)
CONVERSATIONS = table_of(Conversation)
MESSAGES = table_of(Message)
DELIVERIES = table_of(Delivery)
DECISIONS = table_of(DecisionRow)
ESCALATIONS = table_of(Escalation)
CSAT = table_of(CsatResponse)
SANCTIONS = table_of(Sanction)
NOTES = table_of(CustomerNote)
KB_QUESTIONS = table_of(KbQuestion)
NOTIFICATIONS = table_of(Notification)
AUDIT_EVENTS = table_of(AuditEvent)

Scrub = Callable[[Any], Any]  # a JSON value with the same shape, its free text masked


@dataclass(frozen=True, slots=True)
class Masking:
    """What erasing writes in place of what was there."""

    text: str  # replaces every free text that is kept non-empty
    scrub: Scrub  # masks the free text inside a JSON value
    external_id: str  # the customer's new external id (a random token)
    flag: str  # the customer's only flag afterwards
    analysis_state: str  # of the customer's messages: an analysis finishing later is not stored


@dataclass(frozen=True, slots=True)
class Erased:
    """How many rows one erasure touched (in the order the audit event lists them)."""

    conversations: int
    messages: int
    notes: int
    kb_questions: int
    notifications_dropped: int
    notifications_masked: int
    audit_events: int


def lock_customer(conn: Connection, customer_id: int) -> Row[Any] | None:
    """The customer row, locked for the erasure (``FOR UPDATE``)."""
    return conn.execute(
        select(CUSTOMERS).where(CUSTOMERS.c.id == customer_id).with_for_update()
    ).first()


def erase(conn: Connection, customer: Row[Any], *, mask: Masking) -> Erased:
    """Mask everything of ``customer`` (a row from :func:`lock_customer`) in ``conn``'s
    transaction; the audit events about them are masked last, so an event written after this
    call stays as written."""
    c = CONVERSATIONS.c
    convs = conn.execute(
        select(CONVERSATIONS).where(c.customer_id == customer.id).order_by(c.id).with_for_update()
    ).all()
    conv_ids = [x.id for x in convs]
    _rewrite(conn, CONVERSATIONS, ((x, _conversation(x, mask)) for x in convs))
    messages, notes, questions = _erase_rows(conn, customer.id, conv_ids, mask)
    dropped, masked = _outbox(conn, conv_ids, customer.email, mask)
    _erase_customer_row(conn, customer.id, mask)
    events = _audit_trail(conn, customer.id, conv_ids, mask)
    return Erased(
        conversations=len(convs),
        messages=messages,
        notes=notes,
        kb_questions=questions,
        notifications_dropped=dropped,
        notifications_masked=masked,
        audit_events=events,
    )


def _text(value: str | None, mask: Masking) -> str | None:
    return None if value is None else mask.text


def _json(value: Any, mask: Masking) -> Any:
    return None if value is None else mask.scrub(value)


def _rewrite(conn: Connection, table: Table, rows: Iterable[tuple[Any, Mapping[str, Any]]]) -> None:
    """Each row (by id) given its new values: only the columns whose value changes are written
    (a JSON column left None stays SQL NULL), rows changing the same columns in one
    executemany."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row, new in rows:
        changed = {k: v for k, v in new.items() if getattr(row, k) != v}
        if changed:
            params = {"_id": row.id, **{f"new_{k}": v for k, v in changed.items()}}
            groups.setdefault(tuple(sorted(changed)), []).append(params)
    for columns, each in groups.items():
        values = {k: bindparam(f"new_{k}", type_=table.c[k].type) for k in columns}
        conn.execute(update(table).where(table.c.id == bindparam("_id")).values(values), each)


def _conversation(x: Row[Any], mask: Masking) -> dict[str, Any]:
    return {
        "subject": _text(x.subject, mask),
        "resolution": _text(x.resolution, mask),
        "contact": None,  # their address
        "external_ref": None,  # their ticket at the helpdesk
    }


def _message(m: Row[Any], mask: Masking) -> dict[str, Any]:
    new = {
        "text": mask.text,
        "channel_message_id": None,
        "idempotency_key": None,
        "request_hash": None,
        "analysis_error": _text(m.analysis_error, mask),
        "signals": _json(m.signals, mask),
        "guidance": _json(m.guidance, mask),
        "critique": _json(m.critique, mask),
    }
    if m.meta is not None:  # e-mail headers, attachment names: only the auto-reply flag stays
        new["meta"] = {k: v for k, v in m.meta.items() if k in ("auto", "auto_reply")}
    if m.author == "customer":
        new["analysis_state"] = mask.analysis_state  # an analysis finishing later is not stored
    return new


def _delivery(d: Row[Any], mask: Masking) -> dict[str, Any]:
    # a reply not sent yet never will be
    state = "cancelled" if d.state == "queued" else d.state
    return {"state": state, "target": None, "last_error": _text(d.last_error, mask)}


def _escalation(e: Row[Any], mask: Masking) -> dict[str, Any]:
    return {
        "reason": mask.text,
        "note": _text(e.note, mask),
        "packet": _json(e.packet, mask),
        "data": mask.scrub(e.data),
    }


def _of_conversations(conn: Connection, table: Table, conv_ids: Sequence[int]) -> list[Row[Any]]:
    return list(conn.execute(select(table).where(table.c.conversation_id.in_(conv_ids))))


def _erase_rows(
    conn: Connection, customer_id: int, conv_ids: list[int], mask: Masking
) -> tuple[int, int, int]:
    """Mask every row about the conversations; (messages, notes, kb questions)."""
    messages = _of_conversations(conn, MESSAGES, conv_ids)
    _rewrite(conn, MESSAGES, ((m, _message(m, mask)) for m in messages))
    deliveries = _of_conversations(conn, DELIVERIES, conv_ids)
    _rewrite(conn, DELIVERIES, ((d, _delivery(d, mask)) for d in deliveries))
    decisions = _of_conversations(conn, DECISIONS, conv_ids)
    _rewrite(
        conn,
        DECISIONS,
        ((d, {"reason": mask.text, "data": mask.scrub(d.data)}) for d in decisions),
    )
    escalations = _of_conversations(conn, ESCALATIONS, conv_ids)
    _rewrite(conn, ESCALATIONS, ((e, _escalation(e, mask)) for e in escalations))
    follow_ups.mask(conn, conv_ids, text=mask.text)
    conn.execute(update(CSAT).where(CSAT.c.conversation_id.in_(conv_ids)).values(comment=None))
    x = SANCTIONS.c
    conn.execute(
        update(SANCTIONS)
        .where(or_(x.customer_id == customer_id, x.conversation_id.in_(conv_ids)))
        .values(reason=mask.text)
    )
    notes = conn.execute(select(NOTES.c.id).where(NOTES.c.customer_id == customer_id)).all()
    conn.execute(update(NOTES).where(NOTES.c.customer_id == customer_id).values(text=mask.text))
    # the customer's questions kept as retrieval keys of the articles that answered them
    q = KB_QUESTIONS.c
    message_ids = [m.id for m in messages]
    questions = conn.execute(select(q.id).where(q.message_id.in_(message_ids))).scalars().all()
    if questions:
        conn.execute(delete(KB_QUESTIONS).where(q.id.in_(questions)))
    return len(messages), len(notes), len(questions)


def _outbox(
    conn: Connection, conv_ids: Sequence[int], email: str | None, mask: Masking
) -> tuple[int, int]:
    """Drop the notifications about these conversations not sent yet; mask the others."""
    n = NOTIFICATIONS.c
    about = n.payload["conversation_id"].as_integer().in_(conv_ids)
    if email:
        # as the recipients' JSON holds it: UTF-8 (store.engine.encode_json), or \u escapes
        # in rows written before (json.dumps)
        forms = dict.fromkeys((email, json.dumps(email)[1:-1]))
        about = or_(about, *(cast(n.recipients, Text).contains(f, autoescape=True) for f in forms))
    rows = conn.execute(select(NOTIFICATIONS).where(about)).all()
    dropped = [r.id for r in rows if r.state == "pending"]
    if dropped:
        conn.execute(delete(NOTIFICATIONS).where(n.id.in_(dropped)))
    masked = [r for r in rows if r.state != "pending"]
    _rewrite(
        conn,
        NOTIFICATIONS,
        (
            (
                r,
                {
                    "subject": mask.text,
                    "body": mask.text,
                    "recipients": [],
                    "payload": mask.scrub(r.payload),
                    "last_error": _text(r.last_error, mask),
                },
            )
            for r in masked
        ),
    )
    return len(dropped), len(masked)


def _erase_customer_row(conn: Connection, customer_id: int, mask: Masking) -> None:
    conn.execute(
        update(CUSTOMERS)
        .where(CUSTOMERS.c.id == customer_id)
        .values(
            external_id=mask.external_id,
            name=None,
            email=None,
            phone=None,
            preferences={},
            flags=[mask.flag],
        )
    )


def _audit_trail(conn: Connection, customer_id: int, conv_ids: Sequence[int], mask: Masking) -> int:
    """Audit events about the customer keep who, what and when; their reason and free text go."""
    a = AUDIT_EVENTS.c
    events = conn.execute(
        select(a.id, a.reason, a.detail).where(
            or_(a.customer_id == customer_id, a.conversation_id.in_(conv_ids))
        )
    ).all()
    _rewrite(
        conn,
        AUDIT_EVENTS,
        ((e, {"reason": _text(e.reason, mask), "detail": mask.scrub(e.detail)}) for e in events),
    )
    return len(events)
