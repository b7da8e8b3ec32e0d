"""Prepared Core statements for the path every customer message takes.

Each statement is built once (on first use) with bind parameters and reused, so executing it
skips both building the expression and computing its cache key: on this path that is most of
the time SQLAlchemy would otherwise take (measured in bench/bench_api.py; docs/bench-api.md).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import bindparam, exists, insert, or_, select, update
from sqlalchemy.sql import Select

from gracedesk.store.tables import (
    AuditEvent,
    Conversation,
    Customer,
    DecisionRow,
    Delivery,
    Escalation,
    FollowUp,
    Message,
    Notification,
    Sanction,
    User,
    table_of,
)

A = table_of(AuditEvent)
C = table_of(Customer)
V = table_of(Conversation)
M = table_of(Message)
D = table_of(DecisionRow)
S = table_of(Sanction)
E = table_of(Escalation)
F = table_of(FollowUp)
U = table_of(User)
N = table_of(Notification)

CONTEXT_MESSAGES = 40  # the newest messages a scenario carries
HISTORY_CONVERSATIONS = 20


@cache
def message_by_key() -> Select[Any]:
    return select(M.c.id, M.c.request_hash).where(M.c.idempotency_key == bindparam("key"))


@cache
def message_by_keys() -> Select[Any]:
    """Messages stored under any of ``keys`` (an idempotency key, new and pre-namespace form)."""
    return select(
        M.c.id, M.c.request_hash, M.c.idempotency_key, M.c.channel, M.c.channel_message_id
    ).where(M.c.idempotency_key.in_(bindparam("keys", expanding=True)))


@cache
def customer_by_external(lock: bool) -> Select[Any]:
    q = select(
        C.c.id,
        C.c.name,
        C.c.email,
        C.c.phone,
        C.c.tier,
        C.c.lifetime_value,
        C.c.preferences,
        C.c.flags,
    ).where(C.c.external_id == bindparam("ext"))
    # FOR NO KEY UPDATE: rows inserted by other messages' transactions still reference it freely
    return q.with_for_update(key_share=True) if lock else q


@cache
def customer_by_id() -> Select[Any]:
    return select(C.c.name, C.c.tier, C.c.lifetime_value, C.c.preferences, C.c.flags).where(
        C.c.id == bindparam("cid")
    )


@cache
def open_conversation() -> Select[Any]:
    return (
        select(V.c.id, V.c.assignee_id, V.c.status)
        .where(
            V.c.customer_id == bindparam("cid"),
            V.c.channel == bindparam("channel"),
            V.c.status != "resolved",
        )
        .order_by(V.c.id.desc())
        .limit(1)
    )


@cache
def conversation_by_id() -> Select[Any]:
    return select(V.c.id, V.c.customer_id, V.c.assignee_id, V.c.status).where(
        V.c.id == bindparam("conv")
    )


@cache
def linked_conversation() -> Select[Any]:
    """The conversation of a helpdesk connector's conversation or ticket id."""
    return select(V.c.id, V.c.customer_id, V.c.assignee_id, V.c.status).where(
        V.c.connector_id == bindparam("cn"), V.c.external_ref == bindparam("ref")
    )


@cache
def insert_message() -> Any:
    return insert(M).returning(M.c.id)


@cache
def insert_conversation() -> Any:
    return insert(V).returning(V.c.id)


@cache
def touch_conversation() -> Any:
    return (
        update(V)
        .where(V.c.id == bindparam("conv"))
        .values(
            last_customer_at=bindparam("p_at"),
            updated_at=bindparam("p_at"),
            status=bindparam("p_status"),
            resolved_at=bindparam("p_resolved_at"),
        )
    )


@cache
def insert_audit() -> Any:
    return insert(A)


def audit_row(
    kind: str,
    *,
    now: Any,
    actor: str,
    actor_id: int | None = None,
    conversation_id: int | None = None,
    customer_id: int | None = None,
    reason: str | None = None,
    **detail: Any,
) -> dict[str, Any]:
    """The parameters of ``insert_audit`` for one event (who, what, when, why)."""
    return {
        "at": now,
        "actor": actor,
        "actor_id": actor_id,
        "kind": kind,
        "conversation_id": conversation_id,
        "customer_id": customer_id,
        "reason": reason,
        "detail": detail,
    }


@cache
def recent_messages() -> Select[Any]:
    return (
        select(M.c.author, M.c.text, M.c.received_at)
        .where(M.c.conversation_id == bindparam("conv"), M.c.author != "system")
        .order_by(M.c.id.desc())
        .limit(CONTEXT_MESSAGES)
    )


@cache
def messages_upto() -> Select[Any]:
    return (
        select(M.c.author, M.c.text, M.c.received_at)
        .where(
            M.c.conversation_id == bindparam("conv"),
            M.c.author != "system",
            M.c.id <= bindparam("upto"),
        )
        .order_by(M.c.id.desc())
        .limit(CONTEXT_MESSAGES)
    )


@cache
def open_promises() -> Select[Any]:
    return select(F.c.promise, F.c.due_at).where(
        F.c.conversation_id == bindparam("conv"), F.c.state == "open"
    )


@cache
def threat_cleared_at() -> Select[Any]:
    """When a supervisor last decided the conversation's security escalation (a threat of
    violence is remembered until then)."""
    from sqlalchemy import func

    return select(func.max(E.c.decided_at)).where(
        E.c.conversation_id == bindparam("conv"),
        E.c.target == "security",
        E.c.state != "pending",
    )


@cache
def agent_by_id() -> Select[Any]:
    return select(U.c.role, U.c.display_name, U.c.authority).where(U.c.id == bindparam("uid"))


@cache
def past_conversations() -> Select[Any]:
    return (
        select(V.c.id, V.c.opened_at, V.c.subject, V.c.channel, V.c.labels)
        .where(V.c.customer_id == bindparam("cid"))
        .order_by(V.c.opened_at.desc())
        .limit(HISTORY_CONVERSATIONS)
    )


@cache
def active_sanctions() -> Select[Any]:
    return (
        select(S.c.level, S.c.created_at, S.c.reason)
        .where(S.c.customer_id == bindparam("cid"), S.c.state == "active")
        .order_by(S.c.created_at)
    )


@cache
def sanctions_in_force() -> Select[Any]:
    """The levels of the customer's active restrictions and blocks at ``now``."""
    return select(S.c.level).where(
        S.c.customer_id == bindparam("cid"),
        S.c.state == "active",
        S.c.level.in_(("restrict", "block")),
        or_(S.c.until.is_(None), S.c.until > bindparam("now")),
    )


@cache
def last_auto_reply() -> Select[Any]:
    """When the conversation last got a sanction's auto-reply."""
    return (
        select(A.c.at)
        .where(A.c.conversation_id == bindparam("conv"), A.c.kind == "auto_reply.queued")
        .order_by(A.c.at.desc())
        .limit(1)
    )


@cache
def delivery_route() -> Select[Any]:
    return (
        select(
            V.c.channel, V.c.connector_id, V.c.mailbox_id, V.c.contact, V.c.external_ref, C.c.email
        )
        .join(C, C.c.id == V.c.customer_id)
        .where(V.c.id == bindparam("conv"))
    )


@cache
def insert_delivery() -> Any:
    return insert(table_of(Delivery))


@cache
def compensation() -> Select[Any]:
    return (
        select(E.c.data, E.c.decided_at)
        .join(V, V.c.id == E.c.conversation_id)
        .where(V.c.customer_id == bindparam("cid"), E.c.kind == "approval", E.c.state == "approved")
        .order_by(E.c.decided_at.desc())
        .limit(10)
    )


@cache
def message_state() -> Select[Any]:
    return select(M.c.analysis_state).where(M.c.id == bindparam("mid"))


@cache
def store_analysis() -> Any:
    return (
        update(M)
        .where(M.c.id == bindparam("mid"))
        .values(
            signals=bindparam("p_signals"),
            guidance=bindparam("p_guidance"),
            model_version=bindparam("p_model"),
            risk=bindparam("p_risk"),
            analysis_state="done",
            analysis_error=None,
            analysis_attempts=M.c.analysis_attempts + 1,
            analysed_at=bindparam("p_at"),
        )
    )


@cache
def insert_decision() -> Any:
    return insert(D)


@cache
def conversation_state(lock: bool) -> Select[Any]:
    q = select(
        V.c.customer_id,
        V.c.labels,
        V.c.first_response_due,
        V.c.resolution_due,
        V.c.priority,
        V.c.team,
        V.c.risk,
        V.c.stage,
        V.c.policy_version,
        V.c.assignee_id,
        V.c.sla_breached_at,
    ).where(V.c.id == bindparam("conv"))
    return q.with_for_update(key_share=True) if lock else q


@cache
def newest_customer_message() -> Select[Any]:
    return (
        select(M.c.id)
        .where(M.c.conversation_id == bindparam("conv"), M.c.author == "customer")
        .order_by(M.c.id.desc())
        .limit(1)
    )


@cache
def pending_sanction() -> Select[Any]:
    return select(S.c.id).where(
        S.c.customer_id == bindparam("cid"), S.c.level == bindparam("level"), S.c.state == "pending"
    )


@cache
def update_conversation_state() -> Any:
    return (
        update(V)
        .where(V.c.id == bindparam("conv"))
        .values(
            updated_at=bindparam("p_at"),
            priority=bindparam("p_priority"),
            team=bindparam("p_team"),
            risk=bindparam("p_risk"),
            stage=bindparam("p_stage"),
            labels=bindparam("p_labels"),
            policy_version=bindparam("p_policy_version"),
            first_response_due=bindparam("p_first_due"),
            resolution_due=bindparam("p_resolution_due"),
            sla_breached_at=bindparam("p_breached"),
        )
    )


@cache
def pending_escalation() -> Select[Any]:
    return select(E.c.id).where(
        E.c.conversation_id == bindparam("conv"),
        E.c.kind == bindparam("kind"),
        E.c.target.is_not_distinct_from(bindparam("target")),
        E.c.state == "pending",
    )


@cache
def escalation_packet() -> Any:
    return update(E).where(E.c.id == bindparam("eid")).values(packet=bindparam("p_packet"))


@cache
def insert_escalation() -> Any:
    return insert(E).returning(E.c.id)


@cache
def set_status() -> Any:
    return update(V).where(V.c.id == bindparam("conv")).values(status=bindparam("p_status"))


@cache
def insert_sanction() -> Any:
    return insert(S).returning(S.c.id)


@cache
def open_policy_follow_up() -> Select[Any]:
    return select(F.c.id).where(
        F.c.conversation_id == bindparam("conv"), F.c.source == "policy", F.c.state == "open"
    )


@cache
def insert_follow_up() -> Any:
    return insert(F)


@cache
def conversation_held() -> Select[Any]:
    """Whether the conversation waits on a decision or carries a sanction: a pending
    escalation, or a pending or active sanction (its priority then only goes up)."""
    pending = exists().where(E.c.conversation_id == bindparam("conv"), E.c.state == "pending")
    sanction = exists().where(
        S.c.conversation_id == bindparam("conv"), S.c.state.in_(("pending", "active"))
    )
    return select(or_(pending, sanction))


@cache
def refresh_pending_packets() -> Any:
    """The newest hand-over packet on every pending escalation of the conversation."""
    return (
        update(E)
        .where(E.c.conversation_id == bindparam("conv"), E.c.state == "pending")
        .values(packet=bindparam("p_packet"))
    )
