"""``advise``: Signals + Situation + now -> Guidance. Pure.

The Situation (:mod:`gracedesk.model.situation`) is parsed once at the edge; guidance only reads
it. The steps, each explained in its own module:

1. :mod:`~gracedesk.guidance.conversation` reads the turns and what the agent already did;
2. :mod:`~gracedesk.guidance.playbook` says where the conversation stands and the next step;
3. :mod:`~gracedesk.guidance.solutions` proposes options within the agent's authority;
4. :mod:`~gracedesk.guidance.phrases` fills in and ranks phrases for the step;
5. :mod:`~gracedesk.guidance.handover` builds the hand-over packet.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from gracedesk.guidance import handover as handover_mod
from gracedesk.guidance.conversation import already_cancelled, turns, waiting
from gracedesk.guidance.history import channel_words, history, money
from gracedesk.guidance.phrases import Library, PhraseStats, suggest
from gracedesk.guidance.playbook import HIGH, abusive, earlier_threat, next_step
from gracedesk.guidance.solutions import propose
from gracedesk.model.guidance import ArticleRef, Guidance, Solution
from gracedesk.model.signals import Signals
from gracedesk.model.situation import OpenPromise, Situation

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


def _time_frame(promised: Sequence[OpenPromise], hours: float, now: datetime) -> str:
    pending = sorted(p.due for p in promised if p.due is not None and not p.due < now)
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
    situation: Situation,
    *,
    now: datetime,
    library: Library | None = None,
    phrase_stats: PhraseStats | None = None,
    articles: Sequence[ArticleRef] = (),
    shared_articles: Sequence[ArticleRef] = (),
) -> Guidance:
    """Guidance for the agent's next reply.

    ``signals`` are for the Situation's analysed message, its latest customer turn (with
    ``context`` when ``analyze`` had the earlier messages); the turns may go on with agent turns
    after it. The Situation also gives the customer's history, the agent (name, authority,
    ``follow_up_hours``), the promises already made and the request (sized and checked as the
    policy reads it). ``now`` without a time zone is UTC, as every time in a Situation.
    ``phrase_stats``: measured phrase outcomes; given, phrases are ranked by them (Thompson
    sampling, ``phrases.by_outcome``); left out, the ranking is the rules' alone.
    ``articles``: knowledge-base passages that explain what the customer did not know (found by
    the service, ``service.knowledge_use``), passed through as they are; ``shared_articles``:
    those already quoted in the conversation, listed in the hand-over packet.
    Raises ``InvalidScenario`` when the Situation has no customer message with text.
    """
    now = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    ts = turns(situation)
    h = history(situation.customer, now=now)
    agent_name = situation.agent.name
    hours = situation.agent.follow_up_hours or DEFAULT_FOLLOW_UP_HOURS
    cancelled = already_cancelled(ts)
    ctx = signals.context
    archetype = ctx.archetype.name if ctx is not None else "none"
    pos, step = next_step(
        signals, ts, archetype=archetype, trajectory=ctx.trajectory if ctx else None
    )
    solutions, notes = propose(
        signals,
        h,
        situation.agent.authority,
        archetype=archetype,
        request=situation.request,
        already_cancelled=cancelled.label() if cancelled is not None else None,
    )
    promised = handover_mod.promises(situation.promises, now=now)
    frame = _time_frame(situation.promises, hours, now)
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
