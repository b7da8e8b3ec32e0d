"""What agents and supervisors do on the desk: coach, reply, escalate, resolve, approve, note.

Every function takes the acting ``user`` and ``now``, checks the role, changes the store in one
transaction and leaves an audit event (who, what, when, why).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Any

from gracedesk.errors import Conflict, InvalidRequest, NotFound, PermissionDenied
from gracedesk.guidance.coach import authority_from_limits, coach
from gracedesk.guidance.moves import load_detector
from gracedesk.model.decision import ESCALATION_TARGETS
from gracedesk.model.situation import AgentProfile, CustomerHistory, Situation, Turn
from gracedesk.model.staff import Staff
from gracedesk.policy.authority import MONEY_KINDS, limit, over_authority
from gracedesk.policy.scenario import signals_from
from gracedesk.service import rotation
from gracedesk.service.desk import audit
from gracedesk.service.effects import ERASED, open_escalation
from gracedesk.service.knowledge_use import for_draft, record_reply, shared
from gracedesk.service.outbox import delivery_dict, enqueue
from gracedesk.service.records import (
    SUPERVISING,
    conversation,
    escalation_dict,
    new_follow_up_dict,
    open_survey,
    require,
)
from gracedesk.store import actions as stored
from gracedesk.store import records as stored_records
from gracedesk.store.follow_ups import NewFollowUp
from gracedesk.store.outbox import notify
from gracedesk.store.protocol import store as persistence

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy import Connection, Row
    from sqlalchemy.orm import Session

    from gracedesk.model.critique import Critique
    from gracedesk.service.desk import Desk
    from gracedesk.service.rotation import Rotation


def _customer_tz(c: Row[Any]) -> str | None:
    tz = (c.preferences or {}).get("tz")
    return tz if isinstance(tz, str) else None


def coach_draft(
    desk: Desk, conv_id: int, draft: str, *, user: Staff, now: datetime
) -> dict[str, Any]:
    """The coach's critique of a draft, in the context of the customer's last message."""
    return _critique(desk, conv_id, draft, user=user, now=now).to_dict()


def _critique(desk: Desk, conv_id: int, draft: str, *, user: Staff, now: datetime) -> Critique:
    with desk.store.read() as s:
        conn = s.connection()
        conv = conversation(conn, conv_id)
        last = stored.last_customer_message(conn, conv.id)
        customer = stored_records.customer(conn, conv.customer_id)
        # what the coach reads: the customer's last message, their name, the user's authority
        situation = Situation(
            turns=(Turn("customer", last.text),) if last else (),
            customer=CustomerHistory(name=customer.name),
            agent=AgentProfile(
                role=user.role, authority=authority_from_limits(_limits(desk, user))
            ),
        )
        signals = signals_from(last.signals) if last and last.signals else None
        tz = _customer_tz(customer)
    moves = None
    if desk.analyzer.tier == "accurate":  # the encoder is loaded already: read paraphrases too
        moves = load_detector()
    critique = coach(draft, situation, now=now, signals=signals, tz=tz, moves=moves)
    said = situation.message
    # jargon or a recited policy: the article's plain wording (searched only then)
    return for_draft(desk, critique, customer_text=said.text if said else None, signals=signals)


def _limits(desk: Desk, user: Staff) -> dict[str, float]:
    """What the user may grant alone: the policy's authority for their role."""
    role = desk.policy.authority.get(user.role)
    return {} if role is None else {k: limit(role, k) for k in MONEY_KINDS}


def send_reply(
    desk: Desk, conv_id: int, text: str, *, user: Staff, now: datetime
) -> dict[str, Any]:
    """Store the agent's reply; its promises become follow-ups with deadlines."""
    critique = _critique(desk, conv_id, text, user=user, now=now)
    payload = critique.to_dict()
    with desk.store.write() as s:
        conn = s.connection()
        conv = conversation(conn, conv_id, lock=True)
        if conv.status == "resolved":
            raise Conflict(f"conversation {conv_id} is resolved; reopen it to reply")
        last = stored.last_customer_message(conn, conv.id)
        # answered: the next customer message sets a new first-response deadline
        reply_id = stored.add_reply(
            conn, conv, user_id=user.id, text=text, critique=payload, now=now
        )
        delivery = enqueue(
            conn,
            stored.message(conn, reply_id),
            conv,
            stored_records.customer(conn, conv.customer_id),
            webhook_url=desk.reply_webhook_url,
            now=now,
        )
        follow_ups = []
        for c in critique.commitments:
            if c.due is None:
                continue
            f = NewFollowUp(
                conversation_id=conv.id,
                message_id=reply_id,
                assignee_id=user.id,
                promise=c.text,
                when_text=c.when,
                due_at=c.due,
                source="promise",
                created_at=now,
            )
            follow_ups.append(new_follow_up_dict(persistence.follow_ups.add(conn, f), f))
        _exposure(s, user, last, conv.id, reply_id=reply_id, now=now)
        audit(
            s,
            "reply.sent",
            now=now,
            actor=user,
            conversation_id=conv.id,
            customer_id=conv.customer_id,
            message_id=reply_id,
            coach_score=critique.score,
            findings=[f.kind for f in critique.findings],
            follow_ups=[f["id"] for f in follow_ups],
            delivery=delivery.transport,
        )
        sent = {
            "message_id": reply_id,
            "conversation_id": conv.id,
            "delivery": delivery_dict(delivery),
            "critique": payload,
            "follow_ups": follow_ups,
        }
    # committed: the knowledge-base articles the reply quotes (insights: what settles questions)
    quoted = record_reply(desk, reply_id, text)
    sent["articles"] = [{"id": a, "version": v} for a, v in quoted]
    return sent


def _exposure(
    s: Session,
    user: Staff,
    last: Row[Any] | None,
    conv_id: int,
    *,
    reply_id: int,
    now: datetime,
) -> None:
    """Count an abusive contact against the agent who answers it (once per message)."""
    if last is None or not last.signals or "abusive" not in last.signals.get("labels", []):
        return
    conn = s.connection()
    if stored.answered_since(conn, conv_id, user_id=user.id, after=last.id, reply_id=reply_id):
        return  # this agent already answered (and counted) that message
    u = stored.count_exposure(conn, user.id, now=now)
    audit(
        s,
        "agent.exposed",
        now=now,
        actor="system",
        conversation_id=conv_id,
        reason="answered an abusive message",
        user_id=u.id,
        message_id=last.id,
    )


def escalate(
    desk: Desk,
    conv_id: int,
    *,
    user: Staff,
    reason: str,
    target: str = "supervisor",
    now: datetime,
) -> dict[str, Any]:
    """Escalate by hand, with a fresh hand-over packet so the customer never repeats."""
    if target not in ESCALATION_TARGETS:
        raise InvalidRequest(f"target must be one of {list(ESCALATION_TARGETS)}")
    if not reason.strip():
        raise InvalidRequest("reason is empty: say why you escalate")
    with desk.store.read() as s:
        conversation(s.connection(), conv_id)
        last = stored.last_customer_message(s.connection(), conv_id)
        packet = (last.guidance or {}).get("handover") if last else None
    if packet is not None:  # replies after that message may have shared articles too
        packet = {**packet, "articles": [a.to_dict() for a in shared(desk, conv_id)]}
    with desk.store.write() as s:
        conv = conversation(s.connection(), conv_id, lock=True)
        eid = open_escalation(
            desk,
            s.connection(),
            conv.id,
            conv.customer_id,
            kind="escalation",
            target=target,
            reason=f"{user.display_name}: {reason.strip()}",
            rule_id=None,
            packet=packet,
            now=now,
            requested_by=user.id,
        )
        return escalation_dict(stored.escalation(s.connection(), eid))


def _named(e: Row[Any]) -> str:
    """``approval #3 (refund 500)``: what a pending item is, for a problem's detail."""
    what = f"{e.kind} #{e.id}"
    if e.kind == "approval" and e.data.get("request_kind"):
        return f"{what} ({e.data['request_kind']} {e.data.get('amount')})"
    if e.kind == "sanction" and e.data.get("level"):
        return f"{what} ({e.data['level']})"
    return f"{what} (to {e.target})" if e.target else what


def _taken_over_by(conn: Connection, conv: Row[Any], user: Staff) -> Row[Any] | None:
    """The supervisor or admin who holds the conversation, when ``user`` is an agent and not
    them (an agent may not undo a take-over); None otherwise."""
    if user.role in SUPERVISING or conv.assignee_id is None or conv.assignee_id == user.id:
        return None
    holder = stored.user(conn, conv.assignee_id)
    return holder if holder is not None and holder.role in SUPERVISING else None


def _close_pending(
    s: Session, conv: Row[Any], pending: Sequence[Row[Any]], *, user: Staff, now: datetime
) -> None:
    """A supervisor resolving closes what was waiting: each item (and a pending sanction behind
    it) becomes ``closed`` with an audit event, never approved by the way."""
    for e in pending:
        stored.close_escalation(s.connection(), e, approver_id=user.id, now=now)
        audit(
            s,
            f"{e.kind}.closed",
            now=now,
            actor=user,
            conversation_id=conv.id,
            customer_id=conv.customer_id,
            reason="closed when the conversation was resolved",
            escalation_id=e.id,
        )


def resolve(
    desk: Desk, conv_id: int, *, user: Staff, resolution: str, now: datetime
) -> dict[str, Any]:
    """Close the conversation with its resolution and send the customer a CSAT request.

    An agent may not resolve while anything waits for a supervisor (an escalation, an approval,
    a sanction to confirm, an SLA breach): Conflict naming each. A supervisor or admin may: the
    pending items are closed and audited. An agent may not resolve a conversation a supervisor
    took over. The survey's link goes to the customer only (the outbox): the answer says that a
    survey was sent, never its token.
    """
    if not resolution.strip():
        raise InvalidRequest("resolution is empty: say how it was resolved")
    with desk.store.write() as s:
        conn = s.connection()
        conv = conversation(conn, conv_id, lock=True)
        if conv.status == "resolved":
            raise Conflict(f"conversation {conv_id} is already resolved")
        holder = _taken_over_by(conn, conv, user)
        if holder is not None:
            raise PermissionDenied(
                f"conversation {conv_id} was taken over by {holder.role} {holder.name}: "
                "only a supervisor may resolve it now"
            )
        pending = stored.pending_escalations(conn, conv.id)
        if pending and user.role not in SUPERVISING:
            raise Conflict(
                f"conversation {conv_id} has {len(pending)} item(s) waiting for a supervisor: "
                f"{', '.join(_named(e) for e in pending)}; a supervisor must decide them "
                "(or resolve the conversation) first"
            )
        _close_pending(s, conv, pending, user=user, now=now)
        resolved = resolution.strip()
        stored.resolve(conn, conv.id, resolution=resolved, assignee_id=user.id, now=now)
        persistence.follow_ups.close_open(conn, conv.id, now=now)
        token = secrets.token_urlsafe(24)
        stored_records.add_survey(conn, conv.id, token=token, now=now)
        customer = stored_records.customer(conn, conv.customer_id)
        link = f"{desk.base_url}/csat/{token}"
        notify(  # the token's only way out: the customer's e-mail and the channel's webhooks
            conn,
            key=f"csat:{token}",
            event="csat.request",
            to=[customer.email or ""],
            subject="How did we do?",
            body=(
                f"Hello {customer.name or ''},\n\nYour request has been resolved: "
                f"{resolved}\n\nHow did we do? Rate us from 1 to 5: {link}\n"
            ),
            payload={"conversation_id": conv.id, "csat_url": link},
            now=now,
        )
        audit(
            s,
            "conversation.resolved",
            now=now,
            actor=user,
            conversation_id=conv.id,
            customer_id=conv.customer_id,
            reason=resolved,
            closed=[e.id for e in pending],
        )
        return {
            "conversation_id": conv.id,
            "status": "resolved",
            "resolution": resolved,
            "csat": {"sent_at": now.isoformat(), "score": None, "responded_at": None},
            "closed": [
                {"id": e.id, "kind": e.kind, "target": e.target, "state": "closed"} for e in pending
            ],
        }


STAFF_SURVEY = (
    "staff may not answer a customer's satisfaction survey: only the customer, from the link "
    "they were sent, without signing in"
)


def submit_csat(
    desk: Desk,
    token: str,
    score: int,
    comment: str | None,
    *,
    now: datetime,
    staff: Staff | None = None,
) -> dict[str, Any]:
    """The customer's answer. ``staff``: the user behind a credential sent with the answer (a
    bearer token, a console session); any staff answer is refused and audited."""
    if staff is not None:
        with desk.store.write() as s:
            r = stored_records.survey(s.connection(), token)
            conv = stored_records.survey_conversation(s.connection(), r) if r is not None else None
            if conv is not None:
                audit(
                    s,
                    "csat.refused",
                    now=now,
                    actor=staff,
                    conversation_id=conv.id,
                    customer_id=conv.customer_id,
                    reason="a staff credential came with the survey answer",
                    assignee=conv.assignee_id == staff.id,
                )
        raise PermissionDenied(STAFF_SURVEY)
    if not 1 <= score <= 5:
        raise InvalidRequest("score must be between 1 and 5")
    with desk.store.write() as s:
        r = open_survey(s.connection(), token, lock=True)
        conv = stored_records.answer_survey(
            s.connection(), r, score=score, comment=(comment or "").strip()[:2000] or None, now=now
        )
        audit(
            s,
            "csat.answered",
            now=now,
            actor="customer",
            conversation_id=conv.id,
            customer_id=conv.customer_id,
            score=score,
        )
        return {"conversation_id": conv.id, "score": score}


def policy_role(desk: Desk, user: Staff) -> str:
    """The authority-matrix role a desk user acts with (an admin: the highest-ranked one)."""
    matrix = desk.policy.authority
    if user.role in matrix and user.role != "admin":
        return user.role
    return max(matrix.items(), key=lambda kv: (kv[1].rank, kv[0]))[0]


def _check_authority(desk: Desk, user: Staff, e: Row[Any]) -> None:
    """An approval beyond the approver's own authority needs someone ranked higher."""
    kind, amount = e.data.get("request_kind"), e.data.get("amount")
    if e.kind != "approval" or not isinstance(kind, str):
        return
    name = policy_role(desk, user)
    role = desk.policy.authority[name]
    if over_authority(role, kind, float(amount or 0)):
        raise PermissionDenied(
            f"approving this {kind} ({amount}) is beyond the authority of {name}; "
            "a higher-ranked approver (an admin) must decide"
        )


TAKEN_OVER = ("escalation", "sla")  # kinds whose approval hands the conversation to the approver


def _take_over(conn: Connection, conv: Row[Any], e: Row[Any], user: Staff) -> bool:
    """The approver takes an approved escalation or SLA breach over; True if the assignee changed."""
    if e.kind not in TAKEN_OVER or e.state != "approved" or conv.status == "resolved":
        return False
    changed: bool = conv.assignee_id != user.id
    stored.set_assignee(conn, conv.id, user.id)
    return changed


def decide_escalation(
    desk: Desk, esc_id: int, *, user: Staff, approve: bool, note: str | None, now: datetime
) -> dict[str, Any]:
    """A supervisor approves or rejects an escalation, approval request or sanction.

    Approving an escalation or an SLA breach takes the conversation over: ``taken_over`` in the
    answer says whether the assignee changed. Locks the conversation before the escalation (the
    order the message path uses), so the two never deadlock on PostgreSQL.
    """
    require(user, *SUPERVISING)
    with desk.store.write() as s:
        conn = s.connection()
        conv_id = stored.escalation_conversation_id(conn, esc_id)
        if conv_id is None:
            raise NotFound(f"escalation {esc_id} does not exist")
        conv = conversation(conn, conv_id, lock=True)
        e = stored.lock_escalation(conn, esc_id)
        if e.state != "pending":
            raise Conflict(f"escalation {esc_id} is already {e.state}")
        if approve:
            _check_authority(desk, user, e)
        stored.decide_escalation(
            conn,
            e,
            approve=approve,
            approver_id=user.id,
            note=(note or "").strip() or None,
            now=now,
        )
        e = stored.escalation(conn, esc_id)  # as decided (the pending check below sees it too)
        taken_over = _take_over(conn, conv, e, user)
        if conv.status == "escalated" and not stored.has_pending(conn, conv.id, "escalation"):
            stored.set_status(conn, conv.id, "open")
        stored.touch(conn, conv.id, now=now)
        audit(
            s,
            f"{e.kind}.{e.state}",
            now=now,
            actor=user,
            conversation_id=conv.id,
            customer_id=conv.customer_id,
            reason=e.note,
            escalation_id=e.id,
            taken_over=taken_over,
        )
        return {**escalation_dict(e), "taken_over": taken_over}


def assign(
    desk: Desk, conv_id: int, *, user: Staff, assignee: str | None, now: datetime
) -> dict[str, Any]:
    """Take a conversation, or (supervisors) give it to someone. An agent may not take back,
    nor give away, a conversation a supervisor or admin took over."""
    with desk.store.write() as s:
        conn = s.connection()
        conv = conversation(conn, conv_id, lock=True)
        target: Staff = user
        if assignee is not None and assignee != user.name:
            require(user, *SUPERVISING)
            found = stored.active_user(conn, assignee)
            if found is None:
                raise NotFound(f"user {assignee!r} does not exist")
            target = found
        holder = _taken_over_by(conn, conv, user)
        if holder is not None:
            raise PermissionDenied(
                f"conversation {conv_id} was taken over by {holder.role} {holder.name}: "
                "only a supervisor may re-assign it"
            )
        rotated = _rotate(desk, conn, conv, target, user=user, now=now)
        to: Staff | Row[Any] | None = target
        if rotated is not None:  # over the exposure limit: someone else, or a supervisor
            to = stored.user(conn, rotated.to.id) if rotated.to is not None else None
        stored.assign(conn, conv.id, to.id if to else None, now=now)
        name = to.name if to else None
        audit(s, "conversation.assigned", now=now, actor=user, conversation_id=conv.id, to=name)
        out: dict[str, Any] = {"conversation_id": conv.id, "assignee": name}
        if rotated is not None:
            out["rotation"] = {"rule_id": "wellbeing.rotation", "reason": rotated.reason}
        return out


def _rotate(
    desk: Desk, conn: Connection, conv: Row[Any], target: Staff, *, user: Staff, now: datetime
) -> Rotation | None:
    """An agent at the exposure limit taking an abusive conversation: it goes to someone else
    (``service.rotation``), explained by a decision row. A supervisor's explicit choice of
    assignee stands: it is a person's decision, audited as such."""
    if user.role in SUPERVISING or rotation.ABUSIVE not in (conv.labels or []):
        return None
    last = stored.last_customer_message(conn, conv.id)
    if last is None:
        return None
    r = rotation.plan(conn, desk.policy.wellbeing, target.id, now=now)
    if r is not None:
        rotation.apply(
            desk,
            conn,
            r,
            conv_id=conv.id,
            customer_id=conv.customer_id,
            message_id=last.id,
            packet=(last.guidance or {}).get("handover"),
            now=now,
            reassign=False,
        )
    return r


def release(desk: Desk, message_id: int, *, user: Staff, now: datetime) -> dict[str, Any]:
    """A supervisor releases a message a sanction held: it is analysed, decided on and advised
    as if it had just arrived, and its conversation goes back to the agents' queue (unless it
    holds other held messages). The sanction itself stays until it is lifted."""
    require(user, *SUPERVISING)
    with desk.store.write() as s:
        conn = s.connection()
        m = stored.message(conn, message_id)
        if m is None:
            raise NotFound(f"message {message_id} does not exist")
        if m.hold != "held" or m.analysis_state == ERASED:
            raise Conflict(f"message {message_id} is not held (or its customer was erased)")
        conv = conversation(conn, m.conversation_id, lock=True)
        stored.release_message(conn, m.id)
        others = stored.other_held(conn, conv.id, m.id)
        if conv.status == "held" and not others:
            stored.set_status(conn, conv.id, "open")
        stored.touch(conn, conv.id, now=now)
        audit(
            s,
            "message.released",
            now=now,
            actor=user,
            conversation_id=conv.id,
            customer_id=conv.customer_id,
            message_id=m.id,
        )
    posted = desk.reanalyse(message_id, now=now, grace_s=0)
    return posted.to_dict()
