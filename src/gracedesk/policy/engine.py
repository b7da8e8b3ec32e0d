"""``decide`` and ``explain``: a situation and a policy -> decisions, each with its rule and reason.

Every enabled rule is evaluated. A matched rule proposes one decision per action; decisions
compete for a *slot* (one priority, one route, one sanction, one agent protection, one
follow-up, one escalation per target, one approval per request kind). Within a slot the winner
has the highest precedence, then the highest specificity (number of comparisons), then the rule
id that sorts first. Slots no rule filled for priority and route take the policy's declared
default. The result is sorted by precedence, then action, then target: the same inputs always
give the same list.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from gracedesk.errors import InvalidFacts
from gracedesk.model.decision import ACTIONS, Decision
from gracedesk.model.signals import Signals
from gracedesk.model.situation import AgentProfile, Request, Situation
from gracedesk.policy import authority, sanctions
from gracedesk.policy.condition import Outcome, evaluate, fmt
from gracedesk.policy.facts import Conversation, Value, conversation_of, facts
from gracedesk.policy.schema import Action, PolicySet, Rule
from gracedesk.policy.sla import clock_of


@dataclass(frozen=True, slots=True)
class RuleTrace:
    """One rule's evaluation: did it match, why, and what became of each of its actions."""

    rule_id: str
    precedence: int
    specificity: int
    description: str
    matched: bool
    outcome: Outcome  # its ``because``: the comparisons that decided it (worded when read)
    effects: tuple[str, ...]  # one line per action when matched

    @property
    def because(self) -> tuple[str, ...]:
        return self.outcome.because


@dataclass(frozen=True, slots=True)
class Trace:
    rules: tuple[RuleTrace, ...]  # by precedence (highest first), then id
    decisions: tuple[Decision, ...]
    violence: Outcome
    facts: dict[str, Value]
    conversation: Conversation  # the facts about the conversation the SLA is timed on


@dataclass(frozen=True, slots=True)
class _Candidate:
    slot: str
    decision: Decision
    specificity: int
    order: int
    rule_id: str
    action_index: int


def _reason(rule: Rule, because: tuple[str, ...], extra: str = "") -> str:
    text = f"{rule.description}: {'; '.join(because)}"
    return f"{text}; {extra}" if extra else text


def _realise(
    rule: Rule,
    action: Action,
    because: tuple[str, ...],
    f: dict[str, Value],
    *,
    policy: PolicySet,
    agent: AgentProfile,
    request: Request | None,
    violence: Outcome,
    now: datetime,
) -> tuple[str, Decision] | str:
    """The slot and decision for one action, or a note saying why it has no effect."""
    # the Decision is built once with its own fields (``replace`` on a base one cost the
    # worker ~0.05 ms per message: every matching rule makes one)
    common: dict[str, Any] = {
        "target": action.target,
        "rule_id": rule.id,
        "reason": _reason(rule, because),
        "policy_version": policy.version,
        "precedence": rule.precedence,
    }
    t = action.type
    if t == "escalate":
        return f"escalate:{action.target}", Decision(t, **common, mode=action.mode or "transfer")
    if t == "route":
        return "route", Decision(t, **common)
    if t == "set_priority":
        return "priority", Decision(t, **common, priority=action.priority)
    if t == "protect_agent":
        return "protect_agent", Decision(t, **(common | {"target": "agent"}), mode=action.mode)
    if t == "schedule_follow_up":
        assert action.minutes is not None
        when = clock_of(policy.calendar).add(now, action.minutes)
        return "follow_up", Decision(t, **common, minutes=action.minutes, due=when)
    base = Decision(t, **common)
    if t == "require_approval":
        return _approval(rule, action, because, base, policy=policy, agent=agent, request=request)
    return _sanction(rule, action, because, base, f, policy=policy, violence=violence, now=now)


def _approval(
    rule: Rule,
    action: Action,
    because: tuple[str, ...],
    base: Decision,
    *,
    policy: PolicySet,
    agent: AgentProfile,
    request: Request | None,
) -> tuple[str, Decision] | str:
    kind = action.kind or (request.kind if request else None)
    if kind is None:
        return "no effect: the scenario has no request"
    amount = (request.amount or 0.0) if request is not None and request.kind == kind else 0.0
    role = authority.role_of(policy.authority, agent.role)
    own = authority.limit(role, kind)
    if not authority.over_authority(role, kind, amount):
        if kind == "exception":
            return f"no effect: {agent.role} may approve exceptions"
        return f"no effect: {kind} {fmt(amount)} is within the {agent.role} limit {fmt(own)}"
    approver, covered = authority.approver(policy.authority, kind, amount)
    if kind == "exception":
        extra = f"{agent.role} may not approve exceptions; approver: {approver}"
    else:
        their = authority.limit(policy.authority[approver], kind)
        extra = f"{kind} {fmt(amount)} > {agent.role} limit {fmt(own)}; approver: {approver}"
        extra += f" (limit {fmt(their)})" if covered else " (beyond every limit: highest role)"
    return f"approval:{kind}", replace(
        base,
        target=approver,
        reason=_reason(rule, because, extra),
        approval_required=True,
        approver_role=approver,
        request_kind=kind,
        amount=None if kind == "exception" else amount,
        limit=None if kind == "exception" else own,
    )


def _sanction(
    rule: Rule,
    action: Action,
    because: tuple[str, ...],
    base: Decision,
    f: dict[str, Value],
    *,
    policy: PolicySet,
    violence: Outcome,
    now: datetime,
) -> tuple[str, Decision]:
    rank = f["customer.sanction_rank"]
    current = rank if isinstance(rank, int) else 0
    wanted = (
        None
        if action.type == "sanction"
        else sanctions.LEVELS.index(sanctions.LEVEL_OF[action.type])
    )
    level = sanctions.step(current, wanted, violence=violence.matched)
    name = sanctions.LEVELS[level]
    on_record = sanctions.LEVELS[current]
    if wanted is not None and level > current + 1:
        extra = f"ladder: on record {on_record}; skips to {name} ({'; '.join(violence.because)})"
    elif wanted is not None and level < wanted:
        extra = (
            f"ladder: on record {on_record}; capped at {name} "
            f"(asked {sanctions.LEVELS[wanted]}; no step is skipped without violence)"
        )
    else:
        extra = f"ladder: on record {on_record} -> {name}"
    d = replace(base, action=sanctions.ACTION_OF[name], reason=_reason(rule, because, extra))
    if name == "restrict":
        minutes = action.minutes or policy.sanctions.restrict_minutes
        d = replace(d, minutes=minutes, due=now + timedelta(minutes=minutes))
    elif name == "block":
        approver = policy.sanctions.block_approver
        d = replace(d, approval_required=True, approver_role=approver)
        d = replace(d, reason=f"{d.reason}; a block always needs {approver} approval")
    return "sanction", d


def _why(winner: _Candidate, loser: _Candidate) -> str:
    w, lo = winner.decision, loser.decision
    if w.rule_id == lo.rule_id:
        return f"overridden by action {winner.action_index + 1} of the same rule"
    if w.precedence != lo.precedence:
        return f"overridden by {w.rule_id} (precedence {w.precedence} > {lo.precedence})"
    if winner.specificity != loser.specificity:
        return (
            f"overridden by {w.rule_id} (same precedence; specificity "
            f"{winner.specificity} > {loser.specificity})"
        )
    return f"overridden by {w.rule_id} (same precedence and specificity; its id sorts first)"


def _describe(d: Decision) -> str:
    parts = [d.action]
    for v in (d.target, d.priority, d.mode):
        if v is not None and v not in parts:
            parts.append(v)
    return " ".join(parts)


def explain(
    signals: Signals,
    situation: Situation,
    policy: PolicySet,
    *,
    now: datetime,
    conversation: Conversation | None = None,
) -> Trace:
    """Evaluate every rule and resolve conflicts; the trace says what matched and why.

    ``conversation``: the conversation facts when they are known without the turns (a
    property test, a what-if); by default they are counted from ``situation``'s turns."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise InvalidFacts(f"now must carry a time zone offset: {now.isoformat()}")
    if conversation is None:
        conversation = conversation_of(situation, policy, now=now)
    f = facts(signals, situation, conversation, policy, now=now)
    violence = evaluate(policy.sanctions.violence, f)
    outcomes: dict[str, Outcome] = {}
    candidates: list[_Candidate] = []
    notes: dict[tuple[str, int], str] = {}
    for order, (rule, test) in enumerate(zip(policy.rules, policy.tests, strict=True)):
        out = Outcome.of(rule.when, f, test)
        outcomes[rule.id] = out
        if not out.matched:
            continue
        for i, action in enumerate(rule.action):
            made = _realise(
                rule,
                action,
                out.because,
                f,
                policy=policy,
                agent=situation.agent,
                request=situation.request,
                violence=violence,
                now=now,
            )
            if isinstance(made, str):
                notes[(rule.id, i)] = made
                continue
            slot, decision = made
            spec = policy.specificity[rule.id]
            candidates.append(_Candidate(slot, decision, spec, order, rule.id, i))

    winners: dict[str, _Candidate] = {}
    for c in sorted(candidates, key=lambda c: (-c.decision.precedence, -c.specificity, c.order)):
        if c.slot in winners:
            notes[(c.rule_id, c.action_index)] = (
                f"{_describe(c.decision)}: {_why(winners[c.slot], c)}"
            )
        else:
            winners[c.slot] = c
            notes[(c.rule_id, c.action_index)] = f"{_describe(c.decision)}: applied"

    decided = sorted(
        winners.values(),
        key=lambda c: (
            -c.decision.precedence,
            -c.specificity,
            ACTIONS.index(c.decision.action),
            c.decision.target or "",
            c.rule_id,
            c.action_index,
        ),
    )
    decisions = [c.decision for c in decided]
    if "priority" not in winners:
        decisions.append(
            Decision(
                action="set_priority",
                target=None,
                rule_id="default",
                reason=f"no rule set the priority; policy default {policy.default.priority}",
                policy_version=policy.version,
                priority=policy.default.priority,
            )
        )
    if "route" not in winners:
        decisions.append(
            Decision(
                action="route",
                target=policy.default.route,
                rule_id="default",
                reason=f"no rule chose a team; policy default {policy.default.route}",
                policy_version=policy.version,
            )
        )

    traces = []
    for rule in policy.by_precedence:
        out = outcomes[rule.id]
        effects = tuple(notes[(rule.id, i)] for i in range(len(rule.action))) if out.matched else ()
        traces.append(
            RuleTrace(
                rule_id=rule.id,
                precedence=rule.precedence,
                specificity=policy.specificity[rule.id],
                description=rule.description,
                matched=out.matched,
                outcome=out,
                effects=effects,
            )
        )
    return Trace(tuple(traces), tuple(decisions), violence, f, conversation)


def decide(
    signals: Signals,
    situation: Situation,
    policy: PolicySet,
    *,
    now: datetime,
    conversation: Conversation | None = None,
) -> list[Decision]:
    """The decisions for one message (pure: the same inputs give the same list)."""
    trace = explain(signals, situation, policy, now=now, conversation=conversation)
    return list(trace.decisions)


def priority_of(decisions: list[Decision] | tuple[Decision, ...], default: str) -> str:
    """The priority the decisions set (``default`` when none did)."""
    for d in decisions:
        if d.action == "set_priority" and d.priority is not None:
            return d.priority
    return default
