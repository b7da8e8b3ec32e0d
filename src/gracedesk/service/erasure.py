"""Erasure (the right to be forgotten): a customer's personal data and text, gone for good.

``erase_customer`` masks, in one transaction, everything that identifies the customer or
carries what was written in their conversations, wherever the desk stores it:

- the customer row: external id -> a random ``erased-…`` token, name, e-mail, phone and
  preferences removed, flags ``["erased"]`` (tier and lifetime value stay, for the figures);
- every message of their conversations (theirs and the agents' replies): text, channel message
  id, idempotency key and request fingerprint, analysis error; the signals, guidance and coach
  critique keep their numbers, labels and rule ids, every free text in them (evidence spans,
  phrases with the name, the hand-over packet) becomes ``[erased]``;
- conversations (subject, resolution), decisions (reason, data), escalations (reason, note,
  packet, data), follow-ups (promise), sanctions (reason), customer notes, CSAT comments, and
  the reason and detail of every audit event about them;
- replies not delivered yet are cancelled; every delivery loses its address and error; the
  conversation's contact address and helpdesk ticket id, and each message's channel metadata
  (e-mail headers, attachment names) go too;
- the outbox: notifications about their conversations not yet sent are dropped, sent or failed
  ones are masked (subject, body, recipients, last error).

What stays: the rows themselves with their times, states, scores, risk and labels, so that the
customer's conversations still count in every aggregate; and the audit event
``customer.erased`` saying when, by whom and how much (never what). The desk keeps no other
copy in the database (no search index). The analyzer's in-memory memo of earlier messages is
cleared in the process that erases; other processes' memos lose the text as new messages push
it out (at most 8,192 entries) or at their restart. A message being analysed while its customer
is erased is stored as erased (``effects.record`` skips it).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Text, cast, delete, or_, select
from sqlalchemy.orm import Session

from gracedesk.errors import Conflict, NotFound
from gracedesk.model.staff import Staff
from gracedesk.service import knowledge_index
from gracedesk.service.desk import audit
from gracedesk.service.effects import ERASED
from gracedesk.service.records import require
from gracedesk.store.protocol import store as persistence
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

if TYPE_CHECKING:
    from gracedesk.service.desk import Desk
    from gracedesk.store import Store

MASK = "[erased]"
ERASED_FLAG = "erased"

# keys whose string values are names from the desk's own vocabulary (labels, signal and rule
# ids, stages, kinds), never free text; any other string in a JSON column is masked
SAFE_KEYS = frozenset(
    {
        "signal",
        "labels",
        "sentiment_label",
        "language",
        "model",
        "archetype",
        "trajectory",
        "stage",
        "step",
        "tone",
        "pack",
        "kind",
        "id",
        "action",
        "target",
        "rule_id",
        "mode",
        "priority",
        "approver_role",
        "request_kind",
        "level",
        "state",
        "source",
        "channel",
        "decisions",
        "findings",
        "fields",
        "role",
        "currency",
        "policy_version",
        "event",
        "to",
    }
)
_WORD = re.compile(r"[A-Za-z0-9_.:\-]{0,80}")  # a vocabulary word: no spaces, no @, no quotes


def roles_that_erase(supervisors_may_erase: bool) -> tuple[str, ...]:
    """Admins erase; supervisors too where ``GRACEDESK_ERASE_BY_SUPERVISORS`` allows it."""
    return ("supervisor", "admin") if supervisors_may_erase else ("admin",)


def scrub(value: Any, key: str | None = None) -> Any:
    """``value`` with the same shape, its numbers and vocabulary kept and any text masked."""
    if isinstance(value, Mapping):
        return {k: scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v, key) for v in value]
    if isinstance(value, str):
        return value if key in SAFE_KEYS and _WORD.fullmatch(value) else MASK
    return value


def _text(value: str | None) -> str | None:
    return None if value is None else MASK


def erase(store: Store, customer_id: int, *, actor: Staff | str, now: datetime) -> dict[str, Any]:
    """Erase one customer (no role check: ``erase_customer`` or the CLI checks who may)."""
    with store.write() as s:
        customer = s.scalar(select(Customer).where(Customer.id == customer_id).with_for_update())
        if customer is None:
            raise NotFound(f"customer {customer_id} does not exist")
        if ERASED_FLAG in (customer.flags or []):
            raise Conflict(f"customer {customer_id} is already erased")
        convs = list(
            s.scalars(
                select(Conversation)
                .where(Conversation.customer_id == customer_id)
                .order_by(Conversation.id)
                .with_for_update()
            )
        )
        conv_ids = [c.id for c in convs]
        counts = _erase_rows(s, customer, convs, conv_ids)
        counts["notifications_dropped"], counts["notifications_masked"] = _outbox(
            s, conv_ids, customer.email
        )
        _erase_customer_row(customer)
        counts["audit_events"] = _audit_trail(s, customer_id, conv_ids)
        audit(
            s,
            "customer.erased",
            now=now,
            actor=actor,
            customer_id=customer_id,
            reason="erasure of personal data (right to be forgotten)",
            **counts,
        )
        out = {"customer_id": customer_id, "erased_at": now.isoformat(), **counts}
    if counts["kb_questions"]:
        # this process's search cache held the questions' text (others see the count change)
        knowledge_index.forget(store)
    return out


def erase_customer(
    desk: Desk, customer_id: int, *, user: Staff, now: datetime, supervisors_may_erase: bool = False
) -> dict[str, Any]:
    """``POST /api/v1/customers/{id}/erase``: admins (and supervisors where allowed) only."""
    require(user, *roles_that_erase(supervisors_may_erase))
    out = erase(desk.store, customer_id, actor=user, now=now)
    desk.analyzer.forget()  # this process's memo of earlier messages' texts
    return out


def _erase_customer_row(c: Customer) -> None:
    c.external_id = f"erased-{secrets.token_hex(12)}"
    c.name = c.email = c.phone = None
    c.preferences = {}
    c.flags = [ERASED_FLAG]


def _erase_rows(
    s: Session, customer: Customer, convs: list[Conversation], conv_ids: list[int]
) -> dict[str, int]:
    for c in convs:
        c.subject, c.resolution = _text(c.subject), _text(c.resolution)
        c.contact = c.external_ref = None  # their address; their ticket at the helpdesk
    messages = list(s.scalars(select(Message).where(Message.conversation_id.in_(conv_ids))))
    for m in messages:
        m.text = MASK
        m.channel_message_id = m.idempotency_key = m.request_hash = None
        m.analysis_error = _text(m.analysis_error)
        m.signals = scrub(m.signals) if m.signals is not None else None
        m.guidance = scrub(m.guidance) if m.guidance is not None else None
        m.critique = scrub(m.critique) if m.critique is not None else None
        if m.meta is not None:  # e-mail headers, attachment names: only the auto-reply flag stays
            m.meta = {k: v for k, v in m.meta.items() if k in ("auto", "auto_reply")}
        if m.author == "customer":
            m.analysis_state = ERASED  # an analysis finishing later is not stored
    for out in s.scalars(select(Delivery).where(Delivery.conversation_id.in_(conv_ids))):
        if out.state == "queued":  # not sent yet: it never will be
            out.state = "cancelled"
        out.target, out.last_error = None, _text(out.last_error)
    for d in s.scalars(select(DecisionRow).where(DecisionRow.conversation_id.in_(conv_ids))):
        d.reason, d.data = MASK, scrub(d.data)
    for e in s.scalars(select(Escalation).where(Escalation.conversation_id.in_(conv_ids))):
        e.reason, e.note = MASK, _text(e.note)
        e.packet = scrub(e.packet) if e.packet is not None else None
        e.data = scrub(e.data)
    persistence.follow_ups.mask(s.connection(), conv_ids, text=MASK)
    for r in s.scalars(select(CsatResponse).where(CsatResponse.conversation_id.in_(conv_ids))):
        r.comment = None
    sanctions = s.scalars(
        select(Sanction).where(
            or_(Sanction.customer_id == customer.id, Sanction.conversation_id.in_(conv_ids))
        )
    )
    for x in sanctions:
        x.reason = MASK
    notes = list(s.scalars(select(CustomerNote).where(CustomerNote.customer_id == customer.id)))
    for n in notes:
        n.text = MASK
    # the customer's questions kept as retrieval keys of the articles that answered them
    message_ids = [m.id for m in messages]
    questions = list(s.scalars(select(KbQuestion.id).where(KbQuestion.message_id.in_(message_ids))))
    if questions:
        s.execute(delete(KbQuestion).where(KbQuestion.id.in_(questions)))
    return {
        "conversations": len(convs),
        "messages": len(messages),
        "notes": len(notes),
        "kb_questions": len(questions),
    }


def _outbox(s: Session, conv_ids: list[int], email: str | None) -> tuple[int, int]:
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
        n.subject, n.body, n.recipients = MASK, MASK, []
        n.payload, n.last_error = scrub(n.payload), _text(n.last_error)
    return len(dropped), len(masked)


def _audit_trail(s: Session, customer_id: int, conv_ids: list[int]) -> int:
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
        e.reason, e.detail = _text(e.reason), scrub(e.detail)
    return len(events)
