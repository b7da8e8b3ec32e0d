"""The facts a rule can test: the inputs of ``decide`` and the dotted names conditions use.

``FIELDS`` is the whole condition vocabulary with each name's type; the loader rejects any other
name. :func:`facts` flattens one situation into ``{dotted name: value}``, computed fields
included (``request.over_authority``, ``signals.abuse_at_people``, ``customer.sanction_level``).

Abuse is read with its target (``Signals.abuse_target``): ``signals.abuse_at_people`` and
``signals.threat_at_people`` are the directed-abuse and threat scores times the share of the abuse
aimed at people (the agent or staff, another person, a group), ``signals.directed_abuse`` the same
for the agent or staff only. Swearing about the company or the situation scores low on all three.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from gracedesk.errors import InvalidFacts
from gracedesk.model.signals import (
    ABUSE,
    ABUSE_TARGETS,
    CAUSES,
    DIRECTED,
    EMOTIONS,
    REQUESTS,
    Signals,
)
from gracedesk.model.situation import Situation, Turn
from gracedesk.policy import authority, sanctions
from gracedesk.policy.schema import PolicySet
from gracedesk.policy.sla import BusinessClock, clock_of

Value = bool | int | float | str | tuple[str, ...]

FIELDS: dict[str, str] = {
    "signals.sentiment": "number",
    **{f"signals.emotions.{e}": "number" for e in EMOTIONS},
    **{f"signals.abuse.{a}": "number" for a in ABUSE},
    "signals.complaint": "number",
    **{f"signals.causes.{c}": "number" for c in CAUSES},
    **{f"signals.requests.{r}": "number" for r in REQUESTS},
    "signals.public_threat": "number",
    "signals.legal_threat": "number",
    "signals.risk": "number",
    "signals.labels": "list",
    **{f"signals.abuse_target.{t}": "number" for t in ABUSE_TARGETS},
    "signals.max_abuse": "number",
    "signals.directed_abuse": "number",
    "signals.abuse_at_people": "number",
    "signals.at_people_share": "number",
    "signals.threat_at_people": "number",
    "signals.language": "string",
    "signals.language_supported": "bool",
    "signals.context.archetype": "string",
    "signals.context.trajectory": "string",
    "signals.context.repeat_contacts": "number",
    "signals.context.earlier_risk": "number",
    "signals.context.earlier_threat": "number",
    "signals.context.earlier_abuse": "number",
    "signals.context.resolved": "bool",
    "conversation.turns": "number",
    "conversation.customer_turns": "number",
    "conversation.agent_turns": "number",
    "conversation.unresolved_attempts": "number",
    "conversation.business_minutes_open": "number",
    "conversation.warnings": "number",
    "customer.tier": "string",
    "customer.lifetime_value": "number",
    "customer.complaints_90d": "number",
    "customer.contacts_30d": "number",
    "customer.sanctions": "list",
    "customer.sanction_level": "string",
    "customer.sanction_rank": "number",
    "customer.flags": "list",
    "agent.role": "string",
    "agent.rank": "number",
    "agent.may_approve_exceptions": "bool",
    "agent.may_block": "bool",
    "request.kind": "string",
    "request.amount": "number",
    "request.limit": "number",
    "request.over_authority": "bool",
}


@dataclass(frozen=True, slots=True)
class Conversation:
    """Facts about the conversation so far (the analysed message included)."""

    turns: int = 1
    customer_turns: int = 1
    agent_turns: int = 0
    unresolved_attempts: int = 0
    business_minutes_open: float = 0.0
    warnings: int = 0
    opened_at: datetime | None = None
    pauses: tuple[tuple[datetime, datetime], ...] = field(default=())

    @classmethod
    def from_turns(
        cls,
        turns: Sequence[Turn],  # gracedesk.model.situation.Turn
        *,
        clock: BusinessClock,
        now: datetime,
        pause_while_waiting: bool = True,
        warnings: int = 0,
    ) -> Conversation:
        """Count turns and attempts, and the business minutes open since the first ``at``.

        Unresolved attempts are the agent turns after the first customer turn. While the last
        word was the agent's (waiting on the customer) the clock is paused when the calendar
        says so.
        """
        if not turns:
            raise InvalidFacts("a conversation needs at least one message")
        first_customer = next((i for i, t in enumerate(turns) if t.role == "customer"), None)
        attempts = (
            0
            if first_customer is None
            else sum(1 for t in turns[first_customer + 1 :] if t.role == "agent")
        )
        pauses: list[tuple[datetime, datetime]] = []
        if pause_while_waiting:
            waiting_since: datetime | None = None
            for t in turns:
                if t.role == "agent" and t.at is not None and waiting_since is None:
                    waiting_since = t.at
                elif t.role == "customer" and t.at is not None and waiting_since is not None:
                    if t.at > waiting_since:
                        pauses.append((waiting_since, t.at))
                    waiting_since = None
            if waiting_since is not None and now > waiting_since:
                pauses.append((waiting_since, now))
        opened = turns[0].at
        minutes = 0.0
        if opened is not None and now > opened:
            minutes = clock.minutes_between(opened, now, pauses=pauses)
        return cls(
            turns=len(turns),
            customer_turns=sum(1 for t in turns if t.role == "customer"),
            agent_turns=sum(1 for t in turns if t.role == "agent"),
            unresolved_attempts=attempts,
            business_minutes_open=round(minutes, 2),
            warnings=warnings,
            opened_at=opened,
            pauses=tuple(pauses),
        )


def conversation_of(situation: Situation, policy: PolicySet, *, now: datetime) -> Conversation:
    """The conversation facts of ``situation``: turns, attempts, business minutes open (the
    policy's calendar), and the warnings given since it opened."""
    opened = situation.turns[0].at if situation.turns else None
    warnings = sum(
        1
        for s in situation.customer.sanctions
        if s.level == "warn" and s.at is not None and opened is not None and s.at >= opened
    )
    return Conversation.from_turns(
        situation.turns,
        clock=clock_of(policy.calendar),
        now=now,
        pause_while_waiting=policy.calendar.pause_while_waiting_on_customer,
        warnings=warnings,
    )


def facts(
    signals: Signals,
    situation: Situation,
    conversation: Conversation,
    policy: PolicySet,
    *,
    now: datetime,
) -> dict[str, Value]:
    """Every name in ``FIELDS`` with its value for this situation."""
    customer, agent, request = situation.customer, situation.agent, situation.request
    amount = request.amount or 0.0 if request else 0.0
    role = authority.role_of(policy.authority, agent.role)
    level = sanctions.current_level(
        customer.sanctions, now=now, window=timedelta(days=policy.sanctions.window_days)
    )
    ctx = signals.context
    out: dict[str, Value] = {
        "signals.sentiment": signals.sentiment,
        **{f"signals.emotions.{e}": float(signals.emotions.get(e, 0.0)) for e in EMOTIONS},
        **{f"signals.abuse.{a}": float(signals.abuse.get(a, 0.0)) for a in ABUSE},
        "signals.complaint": signals.complaint,
        **{f"signals.causes.{c}": float(signals.causes.get(c, 0.0)) for c in CAUSES},
        **{f"signals.requests.{r}": float(signals.requests.get(r, 0.0)) for r in REQUESTS},
        "signals.public_threat": signals.public_threat,
        "signals.legal_threat": signals.legal_threat,
        "signals.risk": signals.risk,
        "signals.labels": tuple(signals.labels),
        **{
            f"signals.abuse_target.{t}": float(signals.abuse_target.get(t, 0.0))
            for t in ABUSE_TARGETS
        },
        "signals.max_abuse": max((float(signals.abuse.get(a, 0.0)) for a in ABUSE), default=0.0),
        "signals.directed_abuse": max(float(signals.abuse.get(a, 0.0)) for a in DIRECTED)
        * signals.at_agent_share(),
        "signals.abuse_at_people": signals.abuse_at_people(),
        "signals.at_people_share": signals.at_people_share(),
        "signals.threat_at_people": signals.threat_at_people(),
        "signals.language": signals.language,
        "signals.language_supported": signals.language_supported,
        "signals.context.archetype": ctx.archetype.name if ctx else "none",
        "signals.context.trajectory": ctx.trajectory if ctx else "new",
        "signals.context.repeat_contacts": ctx.repeat_contacts if ctx else 0,
        "signals.context.earlier_risk": ctx.earlier_risk if ctx else 0.0,
        "signals.context.earlier_threat": ctx.earlier_threat if ctx else 0.0,
        "signals.context.earlier_abuse": ctx.earlier_abuse if ctx else 0,
        "signals.context.resolved": ctx.resolved if ctx else False,
        "conversation.turns": conversation.turns,
        "conversation.customer_turns": conversation.customer_turns,
        "conversation.agent_turns": conversation.agent_turns,
        "conversation.unresolved_attempts": conversation.unresolved_attempts,
        "conversation.business_minutes_open": conversation.business_minutes_open,
        "conversation.warnings": conversation.warnings,
        "customer.tier": customer.tier if customer.tier is not None else "standard",
        "customer.lifetime_value": customer.lifetime_value or 0.0,
        "customer.complaints_90d": customer.complaints_90d,
        "customer.contacts_30d": customer.contacts_30d,
        "customer.sanctions": tuple(s.level for s in customer.sanctions),
        "customer.sanction_level": sanctions.LEVELS[level],
        "customer.sanction_rank": level,
        "customer.flags": customer.flags,
        "agent.role": agent.role,
        "agent.rank": role.rank,
        "agent.may_approve_exceptions": role.approve_exceptions,
        "agent.may_block": role.may_block,
        "request.kind": request.kind if request else "none",
        "request.amount": amount,
        "request.limit": authority.limit(role, request.kind) if request else 0.0,
        "request.over_authority": (
            authority.over_authority(role, request.kind, amount) if request else False
        ),
    }
    return out
