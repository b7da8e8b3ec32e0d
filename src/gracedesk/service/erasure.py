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
copy in the database (no search index). The analyzer's in-memory memo of earlier messages and
the conversations' turns a worker keeps (``store.situations.TurnCache``) are cleared in the
process that erases; other processes' memos lose the text as new messages push it out (at most
8,192 entries) or at their restart, and their kept turns when the conversation is read again
(it holds an erased message: read whole, and forgotten), as other conversations push it out (at
most 4,096) or at their restart. A message being analysed while its customer
is erased is stored as erased (``effects.record`` skips it).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from gracedesk.errors import Conflict, NotFound
from gracedesk.model.staff import Staff
from gracedesk.service import knowledge_index
from gracedesk.service.desk import audit
from gracedesk.service.effects import ERASED
from gracedesk.service.records import require
from gracedesk.store import erasure as erasure_x
from gracedesk.store import situations

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


def erase(store: Store, customer_id: int, *, actor: Staff | str, now: datetime) -> dict[str, Any]:
    """Erase one customer (no role check: ``erase_customer`` or the CLI checks who may)."""
    with store.write() as s:
        conn = s.connection()
        customer = erasure_x.lock_customer(conn, customer_id)
        if customer is None:
            raise NotFound(f"customer {customer_id} does not exist")
        if ERASED_FLAG in (customer.flags or []):
            raise Conflict(f"customer {customer_id} is already erased")
        mask = erasure_x.Masking(
            text=MASK,
            scrub=scrub,
            external_id=f"erased-{secrets.token_hex(12)}",
            flag=ERASED_FLAG,
            analysis_state=ERASED,
        )
        counts: dict[str, int] = asdict(erasure_x.erase(conn, customer, mask=mask))
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
    situations.forget_turns()  # this process's kept turns may hold the conversations' text
    return out


def erase_customer(
    desk: Desk, customer_id: int, *, user: Staff, now: datetime, supervisors_may_erase: bool = False
) -> dict[str, Any]:
    """``POST /api/v1/customers/{id}/erase``: admins (and supervisors where allowed) only."""
    require(user, *roles_that_erase(supervisors_may_erase))
    out = erase(desk.store, customer_id, actor=user, now=now)
    desk.analyzer.forget()  # this process's memo of earlier messages' texts
    return out
