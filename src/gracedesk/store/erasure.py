"""Erasure: one customer's personal data and text masked across every table, in one unit of work.

The service (``service.erasure``) holds the transaction, decides what masking means (the mask
for free text, how a JSON value keeps its vocabulary, the erased customer's flag and external
id, their messages' analysis state) and writes the audit event ``customer.erased`` after
:func:`erase` (through the one audit writer). Operations:

- :func:`lock_customer`: the customer row, ``FOR UPDATE``.
- :func:`erase`: in the caller's transaction, lock the customer's conversations, mask their
  messages, deliveries, decisions, escalations, follow-ups, CSAT comments, sanctions and the
  customer's notes; delete the customer's questions kept as knowledge-base retrieval keys;
  drop the pending notifications about them and mask the others; mask the customer row; mask
  the reason and detail of the audit events about them. Returns how many of each
  (:class:`Erased`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, cast, delete, or_, select
from sqlalchemy.orm import Session

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
)

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


def lock_customer(s: Session, customer_id: int) -> Customer | None:
    """The customer row, locked for the erasure (``FOR UPDATE``)."""
    return s.scalar(select(Customer).where(Customer.id == customer_id).with_for_update())


def erase(s: Session, customer: Customer, *, mask: Masking) -> Erased:
    """Mask everything of ``customer`` (a row from :func:`lock_customer`) in ``s``'s
    transaction; the audit events about them are masked last, so an event written after this
    call stays as written."""
    convs = list(
        s.scalars(
            select(Conversation)
            .where(Conversation.customer_id == customer.id)
            .order_by(Conversation.id)
            .with_for_update()
        )
    )
    conv_ids = [c.id for c in convs]
    messages, notes, questions = _erase_rows(s, customer, convs, conv_ids, mask)
    dropped, masked = _outbox(s, conv_ids, customer.email, mask)
    _erase_customer_row(customer, mask)
    events = _audit_trail(s, customer.id, conv_ids, mask)
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


def _erase_customer_row(c: Customer, mask: Masking) -> None:
    c.external_id = mask.external_id
    c.name = c.email = c.phone = None
    c.preferences = {}
    c.flags = [mask.flag]


def _erase_rows(
    s: Session, customer: Customer, convs: list[Conversation], conv_ids: list[int], mask: Masking
) -> tuple[int, int, int]:
    """Mask the conversations and every row about them; (messages, notes, kb questions)."""
    scrub = mask.scrub
    for c in convs:
        c.subject, c.resolution = _text(c.subject, mask), _text(c.resolution, mask)
        c.contact = c.external_ref = None  # their address; their ticket at the helpdesk
    messages = list(s.scalars(select(Message).where(Message.conversation_id.in_(conv_ids))))
    for m in messages:
        m.text = mask.text
        m.channel_message_id = m.idempotency_key = m.request_hash = None
        m.analysis_error = _text(m.analysis_error, mask)
        m.signals = scrub(m.signals) if m.signals is not None else None
        m.guidance = scrub(m.guidance) if m.guidance is not None else None
        m.critique = scrub(m.critique) if m.critique is not None else None
        if m.meta is not None:  # e-mail headers, attachment names: only the auto-reply flag stays
            m.meta = {k: v for k, v in m.meta.items() if k in ("auto", "auto_reply")}
        if m.author == "customer":
            m.analysis_state = mask.analysis_state  # an analysis finishing later is not stored
    for out in s.scalars(select(Delivery).where(Delivery.conversation_id.in_(conv_ids))):
        if out.state == "queued":  # not sent yet: it never will be
            out.state = "cancelled"
        out.target, out.last_error = None, _text(out.last_error, mask)
    for d in s.scalars(select(DecisionRow).where(DecisionRow.conversation_id.in_(conv_ids))):
        d.reason, d.data = mask.text, scrub(d.data)
    for e in s.scalars(select(Escalation).where(Escalation.conversation_id.in_(conv_ids))):
        e.reason, e.note = mask.text, _text(e.note, mask)
        e.packet = scrub(e.packet) if e.packet is not None else None
        e.data = scrub(e.data)
    follow_ups.mask(s.connection(), conv_ids, text=mask.text)
    for r in s.scalars(select(CsatResponse).where(CsatResponse.conversation_id.in_(conv_ids))):
        r.comment = None
    sanctions = s.scalars(
        select(Sanction).where(
            or_(Sanction.customer_id == customer.id, Sanction.conversation_id.in_(conv_ids))
        )
    )
    for x in sanctions:
        x.reason = mask.text
    notes = list(s.scalars(select(CustomerNote).where(CustomerNote.customer_id == customer.id)))
    for n in notes:
        n.text = mask.text
    # the customer's questions kept as retrieval keys of the articles that answered them
    message_ids = [m.id for m in messages]
    questions = list(s.scalars(select(KbQuestion.id).where(KbQuestion.message_id.in_(message_ids))))
    if questions:
        s.execute(delete(KbQuestion).where(KbQuestion.id.in_(questions)))
    return len(messages), len(notes), len(questions)


def _outbox(
    s: Session, conv_ids: Sequence[int], email: str | None, mask: Masking
) -> tuple[int, int]:
    """Drop the notifications about these conversations not sent yet; mask the others."""
    about = Notification.payload["conversation_id"].as_integer().in_(conv_ids)
    if email:
        about = or_(about, cast(Notification.recipients, Text).contains(email, autoescape=True))
    rows = list(s.scalars(select(Notification).where(about)))
    dropped = [n.id for n in rows if n.state == "pending"]
    if dropped:
        s.execute(delete(Notification).where(Notification.id.in_(dropped)))
    masked = [n for n in rows if n.state != "pending"]
    for n in masked:
        n.subject, n.body, n.recipients = mask.text, mask.text, []
        n.payload, n.last_error = mask.scrub(n.payload), _text(n.last_error, mask)
    return len(dropped), len(masked)


def _audit_trail(s: Session, customer_id: int, conv_ids: Sequence[int], mask: Masking) -> int:
    """Audit events about the customer keep who, what and when; their reason and free text go."""
    events = list(
        s.scalars(
            select(AuditEvent).where(
                or_(
                    AuditEvent.customer_id == customer_id,
                    AuditEvent.conversation_id.in_(conv_ids),
                )
            )
        )
    )
    for e in events:
        e.reason, e.detail = _text(e.reason, mask), mask.scrub(e.detail)
    return len(events)
