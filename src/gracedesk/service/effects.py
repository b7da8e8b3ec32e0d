"""What the policy's decisions do to the desk: escalations, approvals, sanctions, follow-ups.

``record`` stores the analysis of one message and applies its decisions in the caller's
transaction, in prepared Core statements (it runs for every message, under the write lock). Each effect is idempotent per conversation (an escalation to the same target is
not opened twice while one is pending) and leaves an audit event naming the rule and reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, update
from sqlalchemy.dialects import postgresql, sqlite

from gracedesk.model.signals import HIGH_RISK
from gracedesk.service import queries as q
from gracedesk.store.tables import DecisionRow

if TYPE_CHECKING:
    from gracedesk.model import Decision
    from gracedesk.service.desk import Desk
    from gracedesk.service.flow import Outcome

_COLUMNS = ("action", "target", "rule_id", "reason", "policy_version")  # the rest goes to data
DEFAULT_RULE = "default"  # the rule id of the policy's defaults (no rule set priority or team)
PLACEMENT = ("set_priority", "route")  # decisions ``record`` applies to the conversation row
ERASED = "erased"  # the analysis state of an erased customer's messages (service.erasure)


def decision_dict(r: DecisionRow) -> dict[str, Any]:
    return {
        "action": r.action,
        "target": r.target,
        **r.data,
        "rule_id": r.rule_id,
        "reason": r.reason,
        "policy_version": r.policy_version,
    }


def notify(
    conn: Connection,
    *,
    key: str,
    event: str,
    to: list[str],
    subject: str,
    body: str,
    payload: dict[str, Any],
    now: datetime,
) -> None:
    """Queue a notification in the outbox (once per key); the notify job sends it.

    The subject is made one line and recipients must look like one address each, so a
    notification queued from user text can always be sent.
    """
    subject = " ".join(subject.split())
    to = [t for t in to if t and "@" in t and "," not in t and not any(c.isspace() for c in t)]
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(
        dialect.insert(q.N)
        .values(
            key=key,
            event=event,
            recipients=[t for t in to if t],
            subject=subject[:300],
            body=body,
            payload=payload,
            state="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["key"])
    )


def audit_core(
    conn: Connection,
    kind: str,
    *,
    now: datetime,
    actor: str = "system",
    actor_id: int | None = None,
    conversation_id: int | None = None,
    customer_id: int | None = None,
    reason: str | None = None,
    **detail: Any,
) -> None:
    conn.execute(
        q.insert_audit(),
        q.audit_row(
            kind,
            now=now,
            actor=actor,
            actor_id=actor_id,
            conversation_id=conversation_id,
            customer_id=customer_id,
            reason=reason,
            **detail,
        ),
    )


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
    existing = conn.execute(
        q.pending_escalation(), {"conv": conv_id, "kind": kind, "target": target}
    ).scalar()
    if existing is not None:
        if packet is not None:  # the newest packet: the next agent sees the latest state
            conn.execute(q.escalation_packet(), {"eid": existing, "p_packet": packet})
        if requested_by is not None:  # an agent's own reason joins the pending escalation
            conn.execute(
                update(q.E)
                .where(q.E.c.id == existing)
                .values(reason=q.E.c.reason + "; " + reason, requested_by=requested_by)
            )
        return int(existing)
    eid = int(
        conn.execute(
            q.insert_escalation(),
            {
                "conversation_id": conv_id,
                "kind": kind,
                "target": target,
                "state": "pending",
                "reason": reason,
                "rule_id": rule_id,
                "packet": packet,
                "data": data or {},
                "requested_by": requested_by,
                "created_at": now,
            },
        ).scalar_one()
    )
    if kind == "escalation":
        conn.execute(q.set_status(), {"conv": conv_id, "p_status": "escalated"})
    audit_core(
        conn,
        f"{kind}.opened",
        now=now,
        actor="system" if requested_by is None else f"user:{requested_by}",
        actor_id=requested_by,
        conversation_id=conv_id,
        customer_id=customer_id,
        reason=reason,
        escalation_id=eid,
        target=target,
        rule_id=rule_id,
    )
    from gracedesk.service import protect

    # the reason is a rule's or an agent's words: never the customer's abuse (service.protect)
    said = protect.notification_text(conn, conv_id, reason)
    notify(
        conn,
        key=f"escalation:{eid}:opened",
        event=f"{kind}.opened",
        to=[desk.supervisor_email or ""],
        subject=f"[gracedesk] {kind} for conversation #{conv_id}: {said[:120]}",
        body=f"{said}\n\nOpen: {desk.base_url}/console/conversations/{conv_id}\n",
        payload={"escalation_id": eid, "conversation_id": conv_id, "kind": kind, "target": target},
        now=now,
    )
    return eid


def _apply(
    desk: Desk,
    conn: Connection,
    conv_id: int,
    customer_id: int,
    assignee_id: int | None,
    d: Decision,
    guidance: dict[str, Any],
    *,
    message_id: int,
    now: datetime,
) -> None:
    """One decision's effect (priority and route are set by ``record`` itself)."""
    packet = guidance.get("handover")
    if d.action == "escalate":
        open_escalation(
            desk,
            conn,
            conv_id,
            customer_id,
            kind="escalation",
            target=d.target,
            reason=d.reason,
            rule_id=d.rule_id,
            packet=packet,
            now=now,
            data={"mode": d.mode},
        )
    elif d.action == "require_approval":
        open_escalation(
            desk,
            conn,
            conv_id,
            customer_id,
            kind="approval",
            target=d.approver_role,
            reason=d.reason,
            rule_id=d.rule_id,
            packet=packet,
            now=now,
            data={"request_kind": d.request_kind, "amount": d.amount, "limit": d.limit},
        )
    elif d.action in ("warn_customer", "restrict", "block"):
        level = {"warn_customer": "warn", "restrict": "restrict", "block": "block"}[d.action]
        state = "pending" if d.approval_required else "active"
        if (
            state == "pending"
            and conn.execute(q.pending_sanction(), {"cid": customer_id, "level": level}).scalar()
        ):
            return  # already waiting for a supervisor's decision
        sid = conn.execute(
            q.insert_sanction(),
            {
                "customer_id": customer_id,
                "conversation_id": conv_id,
                "level": level,
                "state": state,
                "reason": d.reason,
                "rule_id": d.rule_id,
                "until": d.due,
                "created_by": None,
                "approved_by": None,
                "created_at": now,
            },
        ).scalar_one()
        if d.approval_required:
            open_escalation(
                desk,
                conn,
                conv_id,
                customer_id,
                kind="sanction",
                target=d.approver_role,
                reason=d.reason,
                rule_id=d.rule_id,
                packet=packet,
                now=now,
                data={"sanction_id": sid, "level": level},
            )
        audit_core(
            conn,
            f"sanction.{state}",
            now=now,
            conversation_id=conv_id,
            customer_id=customer_id,
            reason=d.reason,
            level=level,
            rule_id=d.rule_id,
        )
    elif d.action == "protect_agent":
        audit_core(
            conn,
            "agent.protect",
            now=now,
            conversation_id=conv_id,
            customer_id=customer_id,
            reason=d.reason,
            mode=d.mode,
            assignee_id=assignee_id,
        )
    elif (
        d.action == "schedule_follow_up"
        and d.due is not None
        and conn.execute(q.open_policy_follow_up(), {"conv": conv_id}).scalar() is None
    ):
        conn.execute(
            q.insert_follow_up(),
            {
                "conversation_id": conv_id,
                "message_id": message_id,
                "assignee_id": assignee_id,
                "promise": d.reason,
                "when_text": None,
                "due_at": d.due,
                "state": "open",
                "source": "policy",
                "reminded_at": None,
                "done_at": None,
                "created_at": now,
            },
        )


def _urgency(priority: str | None, order: Sequence[str]) -> int:
    """Higher is more urgent (``order``: most urgent first); an unknown priority ranks lowest."""
    return len(order) - order.index(priority) if priority in order else 0


def placement(
    priority: str,
    team: str | None,
    decisions: Sequence[Decision],
    *,
    order: Sequence[str],
    held: Callable[[], bool],
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
            if not (lowers and (default or held())):
                priority = d.priority
        elif d.action == "route" and not (default and team):
            team = d.target
    return priority, team


def conversation_labels(labels: Sequence[str] | None, sig: Mapping[str, Any]) -> list[str]:
    """Every message's labels, less ``high_risk`` while the latest risk is below the line (so
    the labels agree with the risk badge)."""
    out = set(labels or []) | set(sig.get("labels", []))
    if float(sig["risk"]) < HIGH_RISK:
        out.discard("high_risk")
    return sorted(out)


def record(
    desk: Desk,
    conn: Connection,
    message_id: int,
    conv_id: int,
    outcome: Outcome,
    guidance: dict[str, Any],
    *,
    now: datetime,
) -> None:
    """Store a message's analysis and decisions and apply them (in the caller's transaction).

    The conversation row is locked first (PostgreSQL), so two messages of one conversation are
    recorded one after the other. Only the conversation's newest customer message sets its
    risk, stage and SLA (an older message, re-analysed or finishing late, changes only itself).
    """
    from gracedesk.service import intake

    sig = outcome.signals
    decisions = outcome.trace.decisions
    rows = [
        {
            "action": d.action,
            "target": d.target,
            "rule_id": d.rule_id,
            "reason": d.reason,
            "policy_version": d.policy_version,
            "data": {k: v for k, v in d.to_dict().items() if k not in _COLUMNS},
        }
        for d in decisions
    ]
    lock = conn.dialect.name == "postgresql"
    cur = conn.execute(q.conversation_state(lock), {"conv": conv_id}).one()
    if conn.execute(q.message_state(), {"mid": message_id}).scalar() == ERASED:
        return  # the customer was erased while this message was analysed: keep nothing of it
    latest = conn.execute(q.newest_customer_message(), {"conv": conv_id}).scalar() == message_id
    intake.store_results(conn, message_id, conv_id, sig, guidance, rows, now=now)
    priority, team = placement(
        cur.priority,
        cur.team,
        decisions,
        order=desk.policy.sla.priorities,
        held=lambda: bool(conn.execute(q.conversation_held(), {"conv": conv_id}).scalar()),
    )
    heavy = [d for d in decisions if d.action not in PLACEMENT]
    due = outcome.sla
    state = {
        "p_risk": cur.risk,
        "p_stage": cur.stage,
        "p_labels": cur.labels,
        "p_policy_version": cur.policy_version,
        "p_first_due": cur.first_response_due,
        "p_resolution_due": cur.resolution_due,
        "p_breached": cur.sla_breached_at,
    }
    if latest:
        state = {
            "p_risk": float(sig["risk"]),
            "p_stage": guidance.get("stage"),
            "p_labels": conversation_labels(cur.labels, sig),
            "p_policy_version": decisions[0].policy_version if decisions else None,
            "p_first_due": min(
                t for t in (cur.first_response_due, due.first_response_due) if t is not None
            ),
            "p_resolution_due": min(
                t for t in (cur.resolution_due, due.resolution_due) if t is not None
            ),
            # a new wait for a reply starts a new SLA clock, which may breach again
            "p_breached": cur.sla_breached_at if cur.first_response_due is not None else None,
        }
    conn.execute(
        q.update_conversation_state(),
        {"conv": conv_id, "p_at": now, "p_priority": priority, "p_team": team, **state},
    )
    packet = guidance.get("handover")
    if latest and packet is not None:  # every pending escalation shows the latest state
        conn.execute(q.refresh_pending_packets(), {"conv": conv_id, "p_packet": packet})
    for d in heavy:
        _apply(
            desk,
            conn,
            conv_id,
            cur.customer_id,
            cur.assignee_id,
            d,
            guidance,
            message_id=message_id,
            now=now,
        )
    if latest:  # an agent at the exposure limit gets no more abuse (service.rotation)
        from gracedesk.service import rotation

        rotation.on_message(
            desk,
            conn,
            message_id=message_id,
            conv_id=conv_id,
            customer_id=cur.customer_id,
            assignee_id=cur.assignee_id,
            signals=sig,
            packet=packet,
            now=now,
        )
    conn.execute(
        q.insert_audit(),
        dict(
            at=now,
            actor="system",
            actor_id=None,
            kind="message.analysed",
            conversation_id=conv_id,
            customer_id=cur.customer_id,
            reason=None,
            detail={
                "message_id": message_id,
                "model": str(sig.get("model")),
                "risk": sig["risk"],
                "labels": sig.get("labels", []),
                "decisions": [f"{d.action}:{d.rule_id}" for d in decisions],
            },
        ),
    )
