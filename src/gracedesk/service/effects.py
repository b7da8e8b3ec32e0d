"""What the policy's decisions do to the desk: escalations, approvals, sanctions, follow-ups.

``record`` stores the analysis of one message and applies its decisions in the caller's
transaction (it runs for every message, under the write lock): it reads the conversation,
:func:`effects_for` turns the decisions into effects (pure: ``gracedesk.model.effect``), and the
store writes them in order (``store.effects.apply``). Each effect is idempotent per conversation
(an escalation to the same target is not opened twice while one is pending) and leaves an audit
event naming the rule and reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from gracedesk.model.effect import (
    AddFollowUp,
    Audited,
    Effect,
    ImposeSanction,
    Notice,
    OpenEscalation,
    Place,
    RefreshPackets,
    StoreAnalysis,
)
from gracedesk.model.signals import HIGH_RISK
from gracedesk.service.flow import analysed_text
from gracedesk.store.engine import Encoded, encode_json
from gracedesk.store.messages import ERASED  # the analysis state of an erased customer's messages
from gracedesk.store.protocol import ConversationState, Trail, store

if TYPE_CHECKING:
    from sqlalchemy import Connection, Row

    from gracedesk.model import Decision, Guidance, Signals
    from gracedesk.service.desk import Desk
    from gracedesk.service.flow import Outcome
    from gracedesk.store.escalations import Scrub

__all__ = [
    "DEFAULT_RULE",
    "ERASED",
    "PLACEMENT",
    "Judged",
    "Landing",
    "analysed",
    "conversation_labels",
    "decision_dict",
    "effects_for",
    "lowers_priority",
    "open_escalation",
    "placement",
    "record",
    "record_many",
]

_COLUMNS = ("action", "target", "rule_id", "reason", "policy_version")  # the rest goes to data
DEFAULT_RULE = "default"  # the rule id of the policy's defaults (no rule set priority or team)
PLACEMENT = ("set_priority", "route")  # decisions ``record`` applies to the conversation row
SANCTION_LEVEL = {"warn_customer": "warn", "restrict": "restrict", "block": "block"}


def decision_dict(r: Row[Any]) -> dict[str, Any]:
    """A stored decision (a row of ``decisions``) as the API shows it."""
    return {
        "action": r.action,
        "target": r.target,
        **r.data,
        "rule_id": r.rule_id,
        "reason": r.reason,
        "policy_version": r.policy_version,
    }


def decision_row(d: Decision) -> dict[str, Any]:
    """The ``DecisionRow`` columns of a decision (less the message's); ``data`` encoded as
    JSON here (the worker makes its batch's rows before it takes the write lock)."""
    return {
        "action": d.action,
        "target": d.target,
        "rule_id": d.rule_id,
        "reason": d.reason,
        "policy_version": d.policy_version,
        "data": Encoded(encode_json({k: v for k, v in d.to_dict().items() if k not in _COLUMNS})),
    }


def notification_text(conn: Connection, conv_id: int, text: str) -> str:
    """``protect.notification_text``: how the store words a new escalation's notification."""
    # cycle: service.protect imports service.desk, which imports this module
    from gracedesk.service import protect

    return protect.notification_text(conn, conv_id, text)


def notification_scrubber(prefetch: Sequence[int] = ()) -> Scrub:
    """``protect.notification_scrubber``: :func:`notification_text` for a micro-batch."""
    # cycle: service.protect imports service.desk, which imports this module
    from gracedesk.service import protect

    return protect.notification_scrubber(prefetch)


def remember_terms(conn: Connection, batch: Sequence[Judged]) -> None:
    """``protect.remember_terms`` for a batch whose analyses were just stored."""
    # cycle: service.protect imports service.desk, which imports this module
    from gracedesk.service import protect

    protect.remember_terms(
        conn,
        {
            j.message_id: (j.outcome.signals.evidence, analysed_text(j.outcome.situation))
            for j in batch
        },
    )


def notice(desk: Desk) -> Notice:
    return Notice(desk.supervisor_email or "", desk.base_url)


def open_escalation(
    desk: Desk,
    conn: Connection,
    conv_id: int,
    customer_id: int,
    *,
    kind: str,
    target: str | None,
    reason: str,
    rule_id: str | None,
    packet: dict[str, Any] | None,
    now: datetime,
    data: dict[str, Any] | None = None,
    requested_by: int | None = None,
) -> int:
    """Open an escalation (or refresh the packet of the pending one); returns its id."""
    e = OpenEscalation(
        conv_id,
        customer_id,
        kind,
        target,
        reason,
        rule_id,
        packet,
        notice(desk),
        now,
        data or {},
        requested_by,
    )
    return store.escalations.open_escalation(conn, e, scrub=notification_text)


def _effect(
    d: Decision,
    *,
    conv_id: int,
    current: ConversationState,
    message_id: int,
    packet: Mapping[str, Any] | None,
    refresh: bool,
    notice: Notice,
    now: datetime,
) -> Effect | None:
    """One decision's effect (priority and route are placed by :func:`effects_for` itself)."""
    customer_id = current.customer_id

    def escalation(kind: str, target: str | None, data: dict[str, Any]) -> OpenEscalation:
        return OpenEscalation(
            conv_id,
            customer_id,
            kind,
            target,
            d.reason,
            d.rule_id,
            packet,
            notice,
            now,
            data,
            refresh_pending=refresh,
        )

    if d.action == "escalate":
        return escalation("escalation", d.target, {"mode": d.mode})
    if d.action == "require_approval":
        data = {"request_kind": d.request_kind, "amount": d.amount, "limit": d.limit}
        return escalation("approval", d.approver_role, data)
    if d.action in SANCTION_LEVEL:
        level = SANCTION_LEVEL[d.action]
        return ImposeSanction(
            conv_id,
            customer_id,
            level,
            "pending" if d.approval_required else "active",
            d.reason,
            d.rule_id,
            d.due,
            now,
            # the escalation's data gains the sanction's id first, when it is stored
            escalation("sanction", d.approver_role, {"level": level})
            if d.approval_required
            else None,
        )
    if d.action == "protect_agent":
        return Audited(
            store.audit.event(
                "agent.protect",
                now=now,
                conversation_id=conv_id,
                customer_id=customer_id,
                reason=d.reason,
                mode=d.mode,
                assignee_id=current.assignee_id,
            )
        )
    if d.action == "schedule_follow_up" and d.due is not None:
        return AddFollowUp(conv_id, message_id, current.assignee_id, d.reason, d.due, now)
    return None


def _urgency(priority: str | None, order: Sequence[str]) -> int:
    """Higher is more urgent (``order``: most urgent first); an unknown priority ranks lowest."""
    return len(order) - order.index(priority) if priority in order else 0


def lowers_priority(priority: str, decisions: Sequence[Decision], order: Sequence[str]) -> bool:
    """A rule's decision would lower ``priority`` (only then does it matter whether the
    conversation is held, so only then is that read)."""
    return any(
        d.action == "set_priority"
        and d.priority
        and d.rule_id != DEFAULT_RULE
        and _urgency(d.priority, order) < _urgency(priority, order)
        for d in decisions
    )


def placement(
    priority: str,
    team: str | None,
    decisions: Sequence[Decision],
    *,
    order: Sequence[str],
    held: bool,
) -> tuple[str, str | None]:
    """The conversation's priority and team after one message's decisions.

    A policy default (no rule matched) never lowers the priority nor replaces a team. While the
    conversation is ``held`` (a pending escalation, a pending or active sanction) no decision
    lowers the priority: it comes down once that is decided, or when a human changes it.
    """
    for d in decisions:
        default = d.rule_id == DEFAULT_RULE
        if d.action == "set_priority" and d.priority:
            lowers = _urgency(d.priority, order) < _urgency(priority, order)
            if not (lowers and (default or held)):
                priority = d.priority
        elif d.action == "route" and not (default and team):
            team = d.target
    return priority, team


def _labels(labels: Sequence[str] | None, new: Sequence[str], risk: float) -> list[str]:
    out = set(labels or []) | set(new)
    if risk < HIGH_RISK:
        out.discard("high_risk")
    return sorted(out)


def conversation_labels(labels: Sequence[str] | None, sig: Mapping[str, Any]) -> list[str]:
    """Every message's labels, less ``high_risk`` while the latest risk is below the line (so
    the labels agree with the risk badge); ``sig`` is stored signals."""
    return _labels(labels, sig.get("labels", []), float(sig["risk"]))


@dataclass(frozen=True, slots=True)
class Judged:
    """A message analysed, decided and advised, to be recorded."""

    message_id: int
    conversation_id: int
    outcome: Outcome
    guidance: Guidance
    packet: dict[str, Any] = field(init=False)  # the guidance's hand-over packet as stored
    # the signals' and guidance's JSON, encoded where the Judged is made: the worker makes its
    # batch's before it takes the write lock, so the lock is not held for the encoding
    signals_json: str = field(init=False, repr=False)
    guidance_json: str = field(init=False, repr=False)
    decision_rows: tuple[dict[str, Any], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "packet", self.guidance.handover.to_dict())
        rows = tuple(decision_row(d) for d in self.outcome.trace.decisions)
        object.__setattr__(self, "decision_rows", rows)
        object.__setattr__(self, "signals_json", encode_json(self.outcome.signals.to_dict()))
        object.__setattr__(self, "guidance_json", encode_json(self.guidance.to_dict()))


@dataclass(frozen=True, slots=True)
class Landing:
    """Where a judged message lands, as ``record`` read it before writing.

    ``current``: the conversation; ``latest``: the message is its newest customer message, the
    only one that sets its risk, stage and SLA (an older message, re-analysed or finishing late,
    changes only itself); ``held``: the conversation waits on a decision or carries a sanction
    (read only when :func:`lowers_priority`: no decision lowers a held one); ``order``: the
    policy's priorities, most urgent first; ``notice``: whom a new escalation notifies.
    """

    current: ConversationState
    latest: bool
    held: bool
    order: Sequence[str]
    notice: Notice


def effects_for(j: Judged, at: Landing, *, now: datetime) -> list[Effect]:
    """What one judged message does, in the order it is written (pure): its analysis stored,
    the conversation placed, pending hand-over packets refreshed, then one effect per other
    decision. The ``message.analysed`` event is :func:`analysed` (written after rotation).
    """
    decisions, signals, guidance = j.outcome.trace.decisions, j.outcome.signals, j.guidance
    message_id, conv_id, current = j.message_id, j.conversation_id, at.current
    packet, order, held, sla, notice = j.packet, at.order, at.held, j.outcome.sla, at.notice
    out: list[Effect] = [
        StoreAnalysis(
            message_id,
            conv_id,
            signals,
            guidance,
            j.decision_rows,
            now,
            j.signals_json,
            j.guidance_json,
        )
    ]
    priority, team = placement(current.priority, current.team, decisions, order=order, held=held)
    c = current
    if at.latest:
        out.append(
            Place(
                conv_id,
                now,
                priority,
                team,
                float(signals.risk),
                guidance.stage,
                _labels(c.labels, signals.labels, float(signals.risk)),
                decisions[0].policy_version if decisions else None,
                min(t for t in (c.first_response_due, sla.first_response_due) if t is not None),
                min(t for t in (c.resolution_due, sla.resolution_due) if t is not None),
                # a new wait for a reply starts a new SLA clock, which may breach again
                c.sla_breached_at if c.first_response_due is not None else None,
            )
        )
        # every pending escalation shows the latest state
        out.append(RefreshPackets(conv_id, packet))
    else:
        out.append(
            Place(
                conv_id,
                now,
                priority,
                team,
                c.risk,
                c.stage,
                c.labels,
                c.policy_version,
                c.first_response_due,
                c.resolution_due,
                c.sla_breached_at,
            )
        )
    for d in decisions:
        if d.action not in PLACEMENT:
            e = _effect(
                d,
                conv_id=conv_id,
                current=current,
                message_id=message_id,
                packet=packet,
                # the newest message's RefreshPackets above wrote this packet already
                refresh=not at.latest,
                notice=notice,
                now=now,
            )
            if e is not None:
                out.append(e)
    return out


def analysed(
    decisions: Sequence[Decision],
    *,
    message_id: int,
    conv_id: int,
    customer_id: int,
    signals: Signals,
    now: datetime,
) -> dict[str, Any]:
    """The ``message.analysed`` audit event, the last thing ``record`` writes."""
    return store.audit.event(
        "message.analysed",
        now=now,
        conversation_id=conv_id,
        customer_id=customer_id,
        message_id=message_id,
        model=str(signals.model),
        risk=signals.risk,
        labels=list(signals.labels),
        decisions=[f"{d.action}:{d.rule_id}" for d in decisions],
    )


def record(
    desk: Desk,
    conn: Connection,
    message_id: int,
    conv_id: int,
    outcome: Outcome,
    guidance: Guidance,
    *,
    now: datetime,
) -> None:
    """Store a message's analysis and decisions and apply them (in the caller's transaction).

    The conversation row is locked first (PostgreSQL), so two messages of one conversation are
    recorded one after the other.
    """
    record_many(desk, conn, [Judged(message_id, conv_id, outcome, guidance)], now=now)


def record_many(desk: Desk, conn: Connection, batch: Sequence[Judged], *, now: datetime) -> None:
    """:func:`record` for a micro-batch of messages, one per conversation (the worker's): the
    conversations, analysis states and newest messages are read in one statement each, the
    analyses, placements and packets written set-based (``store.effects.apply_many``), then
    each message's other effects, rotation and ``message.analysed`` event, as for one message.
    """
    # cycle: service.rotation imports this module
    from gracedesk.service import rotation

    if not batch:
        return
    conv_ids = [j.conversation_id for j in batch]
    states = store.conversations.states(conn, conv_ids)
    stored = store.messages.analysis_states(conn, [j.message_id for j in batch])
    newest = store.messages.newest_of(conn, conv_ids)
    order, alert, plans = desk.policy.sla.priorities, notice(desk), []
    for j in batch:
        if stored.get(j.message_id) == ERASED:
            continue  # the customer was erased while this message was analysed: keep nothing
        current = states[j.conversation_id]
        decisions = j.outcome.trace.decisions
        latest = newest.get(j.conversation_id) == j.message_id
        held = lowers_priority(current.priority, decisions, order) and store.conversations.held(
            conn, j.conversation_id
        )
        effects = effects_for(j, Landing(current, latest, held, order, alert), now=now)
        plans.append((j, current, latest, effects))
    rest: list[list[Effect]] = [[] for _ in plans]
    placed: list[Effect] = []  # written set-based for the whole batch, before the rest
    for i, p in enumerate(plans):
        for e in p[3]:
            (placed if store.effects.set_based(e) else rest[i]).append(e)
    store.effects.apply_many(conn, placed)
    # the abusive words of the analyses just stored: what notifications are scrubbed of, here
    # and in later batches, without reading that evidence back (service.protect)
    remember_terms(conn, [p[0] for p in plans])
    pending = store.escalations.pending_of(  # read once the conversations' rows are locked
        conn,
        [
            p[0].conversation_id
            for p, r in zip(plans, rest, strict=True)
            if any(isinstance(e, OpenEscalation | ImposeSanction) for e in r)
        ],
    )
    # the conversations that will notify (a new escalation, a sanction): their abusive words
    # are read together when the first notification needs them
    notifying = {
        e.conversation_id
        for r in rest
        for e in r
        if isinstance(e, ImposeSanction)
        or (
            isinstance(e, OpenEscalation)
            and pending.find(conn, e.conversation_id, e.kind, e.target) is None
        )
    }
    scrub = notification_scrubber(sorted(notifying))
    # the batch's audit events, in the order one message after the other would write them,
    # inserted together; flushed before rotation reads the trail (exposures)
    trail = Trail()
    for (j, current, latest, _), effects in zip(plans, rest, strict=True):
        store.effects.apply(conn, effects, scrub=scrub, pending=pending, trail=trail)
        if latest and current.assignee_id is not None:  # rotation may read and write them
            pending.flush(conn)
            trail.flush(conn)
        if latest:  # an agent at the exposure limit gets no more abuse (service.rotation)
            rotation.on_message(
                desk,
                conn,
                message_id=j.message_id,
                conv_id=j.conversation_id,
                customer_id=current.customer_id,
                assignee_id=current.assignee_id,
                signals=j.outcome.signals,
                packet=j.packet,
                now=now,
            )
        trail.events.append(
            analysed(
                j.outcome.trace.decisions,
                message_id=j.message_id,
                conv_id=j.conversation_id,
                customer_id=current.customer_id,
                signals=j.outcome.signals,
                now=now,
            )
        )
    pending.flush(conn)
    trail.flush(conn)
