"""Policy replay: run a candidate policy over stored history, beside the decisions that ran.

For every analysed customer message of the period, the scenario is rebuilt as the desk saw it
when it decided (``now`` = when its decisions were stored): the conversation up to that message
(``store.situations.take(..., upto=message_id)``), the message's stored signals (never re-analysed), and
the customer's history *as of then*: past conversations already opened, sanctions in force
(created, approved and not yet lifted by then), approved compensation and a cleared threat
decided by then. The candidate decides on that; :mod:`gracedesk.insights.replay` compares.

Not recoverable from the store, so taken as they are now: the customer's tier, lifetime value
and flags, and past conversations' labels. The customer's request (refund, credit, ...) is only
stored when it needed an approval, so it is read back from the stored approval decision (one
with an amount); a request within the agent's limits, or for an exception (no amount), is lost.
The assignee (whose role sets the authority) is rebuilt from the audit trail. The wellbeing
rotation's decisions (``wellbeing.rotation``) follow agents' exposure, not the rules, and are
left out of both sides.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from gracedesk.errors import InvalidFacts
from gracedesk.insights.replay import Replayed, choice_of
from gracedesk.model.signals import Archetype, ContextSignals
from gracedesk.model.situation import Request, Sanction
from gracedesk.policy.scenario import signals_from
from gracedesk.service.flow import run_situation
from gracedesk.store import replay as stored_history
from gracedesk.store import situations
from gracedesk.store.situations import Snapshot, compensation_of, past_issue, recent_counts

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from gracedesk.model import Signals
    from gracedesk.policy import PolicySet
    from gracedesk.store import Store

log = logging.getLogger("gracedesk.replay")

CHUNK = stored_history.CHUNK  # messages replayed per read of their decisions
HISTORY = 20  # past conversations read (as queries.HISTORY_CONVERSATIONS)
ROTATION = "wellbeing.rotation"  # service.rotation's decisions: agents' exposure, not the rules
ASSIGNING = (
    "conversation.assigned",
    "conversation.rotated",
    "escalation.approved",
    "sla.approved",
    "reply.sent",
    "conversation.resolved",
)


@dataclass(slots=True)
class _Customer:
    """A customer's sanctions and supervisor decisions, read once, filtered per message."""

    sanctions: list[tuple[datetime, str, str, datetime | None, datetime | None]] = field(
        default_factory=list
    )  # (created, level, reason, in force from, lifted at); in force from None: never
    approvals: list[tuple[datetime, dict[str, Any]]] = field(default_factory=list)
    cleared: dict[int, list[datetime]] = field(default_factory=dict)  # conv -> security decided


def _customer(conn: Connection, cid: int) -> _Customer:
    escs = stored_history.decided_escalations(conn, cid)
    approved_at = {
        int(e.data["sanction_id"]): e.decided_at
        for e in escs
        if e.kind == "sanction" and e.state == "approved" and e.data.get("sanction_id")
    }
    lifted_at = {
        int(a.detail["sanction_id"]): a.at
        for a in stored_history.lifted_sanctions(conn, cid)
        if isinstance(a.detail, dict) and a.detail.get("sanction_id")
    }
    out = _Customer()
    for s in stored_history.sanctions_of(conn, cid):
        if s.state not in ("active", "lifted"):
            continue  # rejected, closed or still pending: never in force
        start = approved_at.get(s.id, s.created_at)
        out.sanctions.append((s.created_at, s.level, s.reason, start, lifted_at.get(s.id)))
    for e in escs:
        if e.kind == "approval" and e.state == "approved":
            out.approvals.append((e.decided_at, e.data))
        if e.target == "security" and e.state != "pending":
            out.cleared.setdefault(e.conversation_id, []).append(e.decided_at)
    out.approvals.sort(key=lambda x: x[0], reverse=True)
    return out


def _history(
    conn: Connection, snap: Snapshot, cid: int, hist: _Customer, now: datetime
) -> Snapshot:
    """``snap`` with the customer's history and a cleared threat as they were at ``now``."""
    conv = snap.conversation_id
    past = [
        r
        for r in stored_history.past_conversations(conn, cid, exclude=conv, upto=now, limit=HISTORY)
        if r.opened_at < now or r.id < conv  # opened at the very same time: the older id first
    ]
    contacts, complaints = recent_counts(past, now=now, exclude=conv)
    sanctions = tuple(
        Sanction(level, created, reason[:200])
        for created, level, reason, start, lifted in hist.sanctions
        if created < now and start is not None and start < now and (lifted is None or lifted > now)
    )
    comp = tuple(
        c for at, d in hist.approvals if at < now and (c := compensation_of(d, at)) is not None
    )[:10]
    cleared = [t for t in hist.cleared.get(conv, []) if t < now]
    customer = replace(
        snap.situation.customer,
        contacts_30d=contacts,
        complaints_90d=complaints,
        issues=tuple(past_issue(r) for r in past[:5]),
        sanctions=sanctions,
        compensation=comp,
    )
    situation = replace(
        snap.situation, customer=customer, threat_cleared_at=max(cleared) if cleared else None
    )
    return replace(snap, situation=situation)


def stored_signals(d: dict[str, Any], message_id: int) -> Signals:
    """The stored Signals of a message, context included (the policy reads the archetype,
    trajectory and conversation memory from it)."""
    raw = {k: v for k, v in d.items() if k != "context"}
    if not raw.get("abuse_target"):  # unknown target: the abuse kinds decide, as when it ran
        raw.pop("abuse_target", None)
    sig = signals_from({**raw, "id": message_id})
    c = d.get("context")
    if not isinstance(c, dict):
        return sig
    ctx = ContextSignals(
        archetype=Archetype(
            str(c.get("archetype") or "none"),
            float(c.get("archetype_score") or 0.0),
            tuple(c.get("archetype_reasons") or ()),
        ),
        archetype_scores=dict(c.get("archetype_scores") or {}),
        trajectory=str(c.get("trajectory") or "new"),
        sentiment_trend=tuple(c.get("sentiment_trend") or ()),
        repeat_contacts=int(c.get("repeat_contacts") or 0),
        earlier_risk=float(c.get("earlier_risk") or 0.0),
        earlier_threat=float(c.get("earlier_threat") or 0.0),
        earlier_abuse=int(c.get("earlier_abuse") or 0),
        resolved=bool(c.get("resolved")),
    )
    return replace(sig, context=ctx)


def _messages(
    conn: Connection, since: datetime | None, until: datetime | None
) -> tuple[list[Any], int]:
    """The period's analysed customer messages (oldest first) and how many others it has."""
    rows = stored_history.customer_messages(conn, since, until)
    done = [r for r in rows if r.analysis_state == "done" and isinstance(r.signals, dict)]
    return done, len(rows) - len(done)


def _request(stored: Sequence[Any]) -> Request | None:
    """What the customer asked for, as far as the store kept it: an approval with an amount
    (the engine sets one only from the request; a rule's own approval kind has none)."""
    for r in stored:
        amount = r.data.get("amount") if r.action == "require_approval" else None
        if isinstance(amount, int | float) and amount > 0 and r.data.get("request_kind"):
            return Request(r.data["request_kind"], float(amount))
    return None


Hand = tuple[datetime, str, int | None]  # (when, how, who): a change of the assignee


def _handovers(conn: Connection, conv_id: int, names: dict[str, int]) -> list[Hand]:
    """Who held the conversation when, from its audit trail: assigned, rotated, taken over by
    an approving supervisor, or answered / resolved while nobody held it."""
    out: list[Hand] = []
    for e in stored_history.handover_events(conn, conv_id, ASSIGNING):
        detail = e.detail if isinstance(e.detail, dict) else {}
        if e.kind in ("conversation.assigned", "conversation.rotated"):
            out.append((e.at, "set", names.get(str(detail.get("to")))))
        elif e.kind in ("reply.sent", "conversation.resolved"):
            out.append((e.at, "claim", e.actor_id))
        else:  # an approved escalation or SLA breach: the approver takes it over
            out.append((e.at, "set", e.actor_id))
    return out


def _assignee(hands: Sequence[Hand], now: datetime) -> int | None:
    """The assignee just before ``now``: the last set, or the first to claim an unheld one."""
    who: int | None = None
    for at, how, uid in hands:
        if at >= now:
            break
        if how == "set" or who is None:
            who = uid
    return who


def _one(
    conn: Connection,
    m: Any,
    stored: list[Any],
    hist: _Customer,
    hands: Sequence[Hand],
    policy: PolicySet,
) -> Replayed:
    """One message: its scenario as of when it was decided, the candidate's decisions."""
    now = min((r.created_at for r in stored), default=m.analysed_at or m.received_at)
    snap = situations.take(
        conn,
        m.conversation_id,
        now=now,
        customer_id=m.customer_id,
        assignee_id=_assignee(hands, now),
        upto=m.id,
        id=m.id,
    )
    snap = _history(conn, snap, m.customer_id, hist, now)
    situation = replace(snap.situation, request=_request(stored))
    out = run_situation(situation, policy, None, now, signals=stored_signals(m.signals, m.id))
    ran = [r for r in stored if r.rule_id != ROTATION]
    before = (
        choice_of({**r.data, "action": r.action, "target": r.target, "rule_id": r.rule_id})
        for r in ran
    )
    return Replayed(
        m.conversation_id,
        m.id,
        now,
        tuple(sorted(before)),
        tuple(sorted(choice_of(d.to_dict()) for d in out.trace.decisions)),
        ran=ran[0].policy_version if ran else "",
    )


def replay(
    store: Store,
    policy: PolicySet,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[list[Replayed], int]:
    """Every analysed customer message of ``[since, until)`` replayed under ``policy`` (oldest
    first), and how many of the period's customer messages were skipped because they were
    never decided (held by a sanction, failed, pending, or not for analysis) or whose stored
    signals the policy cannot read."""
    rows: list[Replayed] = []
    with store.read_core() as conn:
        msgs, skipped = _messages(conn, since, until)
        names = stored_history.user_ids(conn)
        customers: dict[int, _Customer] = {}
        hands: dict[int, list[Hand]] = {}
        for i in range(0, len(msgs), CHUNK):
            part = msgs[i : i + CHUNK]
            stored = stored_history.decisions_by_message(conn, [m.id for m in part])
            for m in part:
                if m.customer_id not in customers:
                    customers[m.customer_id] = _customer(conn, m.customer_id)
                if m.conversation_id not in hands:
                    hands[m.conversation_id] = _handovers(conn, m.conversation_id, names)
                hist, held = customers[m.customer_id], hands[m.conversation_id]
                try:
                    rows.append(_one(conn, m, stored.get(m.id, []), hist, held, policy))
                except InvalidFacts:  # stored signals the policy cannot read: not comparable
                    log.warning("message %s skipped: its stored signals are unusable", m.id)
                    skipped += 1
    return rows, skipped
