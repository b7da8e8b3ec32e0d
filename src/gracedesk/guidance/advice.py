"""``advise``: Signals + conversation + customer + agent + now -> Guidance. Pure.

The steps, each explained in its own module:

1. :mod:`~gracedesk.guidance.conversation` reads the turns and what the agent already did;
2. :mod:`~gracedesk.guidance.playbook` says where the conversation stands and the next step;
3. :mod:`~gracedesk.guidance.solutions` proposes options within the agent's authority;
4. :mod:`~gracedesk.guidance.phrases` fills in and ranks phrases for the step;
5. :mod:`~gracedesk.guidance.handover` builds the hand-over packet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from gracedesk.errors import InvalidScenario
from gracedesk.guidance import handover as handover_mod
from gracedesk.guidance.conversation import already_cancelled, turns, waiting
from gracedesk.guidance.history import channel_words, history, money
from gracedesk.guidance.phrases import Library, PhraseStats, suggest
from gracedesk.guidance.playbook import HIGH, abusive, earlier_threat, next_step
from gracedesk.guidance.solutions import authority, propose
from gracedesk.guidance.solutions import request as request_of
from gracedesk.model.guidance import ArticleRef, Guidance, Promise, Solution
from gracedesk.model.signals import Signals

DEFAULT_FOLLOW_UP_HOURS = 24
PHRASES_PER_STEP = 3


def time_frame(when: datetime, now: datetime) -> str:
    """A due time as a phrase says it, relative to ``now``: "by 5:00 pm today", "by Friday"."""
    clock = when.strftime("%I:%M %p").lstrip("0").lower()
    days = (when.date() - now.date()).days
    if days <= 0:
        return f"by {clock} today"
    if days == 1:
        return f"by {clock} tomorrow"
    if days < 7:
        return f"by {when.strftime('%A')}"
    return f"by {when.day} {when.strftime('%B')}"


def _time_frame(promised: Sequence[Promise], hours: float, now: datetime) -> str:
    pending = sorted(
        datetime.fromisoformat(p.due) for p in promised if p.due is not None and not p.overdue
    )
    if pending:
        return time_frame(pending[0], now)
    if hours <= 48:
        return f"within {hours:g} hours"
    return time_frame(now + timedelta(hours=hours), now)


def _tone(sig: Signals, archetype: str) -> str:
    if abusive(sig) >= HIGH or earlier_threat(sig) >= HIGH or archetype == "aggressive":
        return "calm"
    if archetype in ("serial_complainer", "demanding"):
        return "formal"
    if sig.emotions["confusion"] >= 0.5 or archetype == "vague":
        return "plain"
    return "warm"


def _agent(agent: Mapping[str, Any] | None) -> tuple[str | None, float]:
    if agent is None:
        return None, DEFAULT_FOLLOW_UP_HOURS
    if not isinstance(agent, Mapping):
        raise InvalidScenario("agent must be an object")
    name = agent.get("name")
    if name is not None and not isinstance(name, str):
        raise InvalidScenario("agent.name must be a string")
    hours = agent.get("follow_up_hours", DEFAULT_FOLLOW_UP_HOURS)
    if not isinstance(hours, int | float) or isinstance(hours, bool) or hours <= 0:
        raise InvalidScenario("agent.follow_up_hours must be a number above 0")
    return name, float(hours)


def _values(
    name: str | None,
    agent_name: str | None,
    thing: str | None,
    frame: str,
    channel: str | None,
    solutions: Sequence[Solution],
) -> dict[str, Any]:
    options = [s for s in solutions if not s.needs_approval] or list(solutions)
    refund = next((s for s in solutions if s.kind == "refund" and s.amount is not None), None)
    return {
        "name": name,
        "agent_name": agent_name,
        "issue": f"the problem with your {thing}" if thing else None,
        "time_frame": frame,
        "channel": channel_words(channel),
        "option_a": options[0].title if options else None,
        "option_b": options[1].title if len(options) > 1 else None,
        "amount": money(refund.amount, refund.currency)
        if refund is not None and refund.amount is not None and not refund.needs_approval
        else None,
    }


def advise(
    signals: Signals,
    conversation: Any,
    customer: Mapping[str, Any] | None = None,
    agent: Mapping[str, Any] | None = None,
    *,
    now: datetime,
    commitments: Sequence[Mapping[str, Any]] | None = None,
    library: Library | None = None,
    request: Mapping[str, Any] | None = None,
    phrase_stats: PhraseStats | None = None,
    articles: Sequence[ArticleRef] = (),
    shared_articles: Sequence[ArticleRef] = (),
) -> Guidance:
    """Guidance for the agent's next reply.

    ``signals`` are for the latest customer message (with ``context`` when ``analyze`` had
    the earlier messages); ``conversation`` is the message list including that message;
    ``agent`` is ``{"name", "authority": {...}, "follow_up_hours"?}``; ``commitments`` are the
    promises already made (``[{"text", "due"}]``); ``request`` is what the customer asks for
    (``{"kind": "refund"|"discount"|"credit"|"exception", "amount"?}``, as the policy reads it).
    ``phrase_stats``: measured phrase outcomes; given, phrases are ranked by them (Thompson
    sampling, ``phrases.by_outcome``); left out, the ranking is the rules' alone.
    ``articles``: knowledge-base passages that explain what the customer did not know (found by
    the service, ``service.knowledge_use``), passed through as they are; ``shared_articles``:
    those already quoted in the conversation, listed in the hand-over packet.
    Raises ``InvalidScenario`` on bad input.
    """
    ts = turns(conversation, now)
    h = history(customer, now=now)
    agent_name, hours = _agent(agent)
    auth = authority(agent)
    req = request_of(request)
    cancelled = already_cancelled(ts)
    ctx = signals.context
    archetype = ctx.archetype.name if ctx is not None else "none"
    pos, step = next_step(
        signals, ts, archetype=archetype, trajectory=ctx.trajectory if ctx else None
    )
    solutions, notes = propose(
        signals,
        h,
        auth,
        archetype=archetype,
        request=req,
        already_cancelled=cancelled.label() if cancelled is not None else None,
    )
    promised = handover_mod.promises(commitments, now=now)
    frame = _time_frame(promised, hours, now)
    thing = handover_mod.subject(ts)
    values = _values(h.name, agent_name, thing, frame, h.preferred_channel, solutions)
    phrases = suggest(
        library or Library.default(),
        step.step,
        signals,
        values,
        archetype=archetype,
        tone=_tone(signals, archetype),
        limit=PHRASES_PER_STEP,
        waiting=waiting(ts) is not None,
        stats=phrase_stats,
    )
    packet = handover_mod.packet(
        signals,
        ts,
        h,
        promised=promised,
        solutions=solutions,
        done=pos.done,
        agent_name=agent_name,
        shared=shared_articles,
    )
    return Guidance(
        stage=pos.stage,
        done=pos.done,
        next_step=step,
        phrases=phrases,
        solutions=solutions,
        solution_notes=notes,
        handover=packet,
        articles=tuple(articles),
    )
