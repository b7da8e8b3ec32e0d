"""The playbook: where the conversation stands and the next best step, with the reasons.

Stages, in order: listen (let them vent), acknowledge, clarify, common_ground, offer, commit,
close. A calm ``boundary`` statement comes first whenever the latest customer message has abuse
aimed at people (``abusive``: the same line as the policy's) and the agent has not set one
since; while an earlier threat of violence is not cleared, the step stays a ``boundary`` step
with the safety instruction. Profanity or offensive words about the company or the situation
are venting: acknowledge, and do not mirror the tone. The rules below are checked in order; the
first that applies gives the step, and every reason names the signal (with its score) or the
turn. Tactics adapt the step to the customer's emotions, cause and archetype.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gracedesk.guidance.conversation import (
    ACCEPT,
    REJECT,
    Turn,
    is_nudge,
    last_customer,
    resolved_words,
)
from gracedesk.model.guidance import STAGES, Step
from gracedesk.model.signals import DIRECTED, Signals

HIGH = 0.5  # a signal "is there" at the contract's threshold
PRESENT = 0.35  # strong enough to adapt the wording

INSTRUCTIONS = {
    "boundary": "Set a calm boundary: name the behaviour once, without blame; say you want to "
    "help and what happens if it continues. Then carry on with the issue.",
    "listen": "Let them vent: invite the whole story and do not interrupt, explain or defend yet.",
    "acknowledge": "Acknowledge the emotion and its impact before any facts or solutions "
    "(no 'but').",
    "clarify": "Clarify: restate what you understood or ask one specific question.",
    "common_ground": "Find common ground: agree on the goal you share and on what is fair in "
    "the complaint.",
    "offer": "Offer a concrete solution within your authority and say why it fits.",
    "commit": "Commit to a follow-up: who does what, by when, on which channel.",
    "close": "Close: confirm the outcome, check nothing else is open, and thank them.",
}
# The boundary step while an earlier threat of violence has not been cleared by a supervisor.
SAFETY = (
    "Safety first: do not engage on the threat or argue about it; security is handling it. "
    "Keep replies short and factual: say the message was received and what happens next."
)
# The acknowledge step for a bare nudge ("hello? anyone?").
WAIT = (
    "Acknowledge the wait: say sorry for the silence, that you are on it, and when they will "
    "hear from you next."
)


def abusive(sig: Signals) -> float:
    """Abuse aimed at people (the agent, staff, another person or a group): the strongest of
    insult, threat, harassment and identity attack times the share aimed at people. At or above
    ``HIGH`` it needs a boundary; the policy's sanctions read the same value. Profanity and
    offensive words about the company or the situation are venting, not abuse at people."""
    return max(sig.abuse_at_people(), sig.threat_at_people())


def earlier_threat(sig: Signals) -> float:
    """The strongest threat at people earlier in the conversation, until a supervisor clears it."""
    return sig.context.earlier_threat if sig.context is not None else 0.0


def venting(sig: Signals) -> list[tuple[str, float]]:
    """Abuse scores at or above ``HIGH`` in a message whose abuse is aimed at the company or
    the situation (its target says so), not at people."""
    if abusive(sig) >= HIGH or sig.at_people_share() >= HIGH:
        return []
    return _top(sig.abuse, HIGH)


def rough(sig: Signals) -> list[tuple[str, float]]:
    """Abuse scores at or above ``HIGH`` aimed at people but below the boundary line (an
    offensive word at the agent, no clear insult): calm wording, no boundary yet."""
    if abusive(sig) >= HIGH or sig.at_people_share() < HIGH:
        return []
    return _top(sig.abuse, HIGH)


def _target(sig: Signals) -> str:
    """Who the abuse is aimed at, for a reason line ("" when the target is unknown)."""
    t = sig.abuse_target
    if not t:
        return ""
    share = sig.at_agent_share()
    if share >= HIGH:
        return f"; aimed at the agent ({share:.2f} of it)"
    return f"; aimed at people ({sig.at_people_share():.2f} of it)"


@dataclass(frozen=True, slots=True)
class Position:
    """What the agent has done so far, and where the conversation stands."""

    done: tuple[str, ...]  # stages covered by agent turns, in playbook order
    stage: str  # the furthest stage covered ("listen" before the agent has done anything)
    last: Turn  # the customer message the signals are for


def position(ts: list[Turn]) -> Position:
    covered = {m for t in ts if t.role == "agent" for m in t.moves}
    done = tuple(s for s in STAGES if s in covered)
    stage = done[-1] if done else "listen"
    return Position(done, stage, last_customer(ts))


def _top(scores: dict[str, float], floor: float) -> list[tuple[str, float]]:
    return sorted(((k, v) for k, v in scores.items() if v >= floor), key=lambda kv: -kv[1])


def _fmt(pairs: list[tuple[str, float]], prefix: str) -> str:
    return ", ".join(f"{prefix}.{k} {v:.2f}" for k, v in pairs)


def _last_with(ts: list[Turn], move: str, before: int) -> Turn | None:
    for t in reversed(ts[:before]):
        if t.role == "agent" and move in t.moves:
            return t
    return None


def _moves_between(ts: list[Turn], start: int, end: int) -> set[str]:
    return {m for t in ts[start:end] if t.role == "agent" for m in t.moves}


def _reaction(sig: Signals, text: str) -> str:
    """How the latest customer message answers the agent: accepted, rejected or neutral (abuse
    of any kind, venting included, turns an offer down)."""
    e = sig.emotions
    if (
        REJECT.search(text)
        or sig.sentiment <= -0.3
        or max(e["anger"], e["frustration"]) >= HIGH
        or (max(sig.abuse.values()) >= HIGH)
    ):
        return "rejected"
    if ACCEPT.search(text) or e["gratitude"] >= HIGH or e["joy"] >= HIGH or sig.sentiment >= 0.2:
        return "accepted"
    return "neutral"


def tactics(sig: Signals, archetype: str, step: str, *, nudge: bool = False) -> tuple[str, ...]:
    """How to adapt ``step`` to this customer, each with the signal behind it.

    ``nudge``: the message is a bare nudge ("hello?"), whose own scores say nothing about the
    customer; only the archetype (from the whole history) adapts the step then.
    """
    if nudge:
        return tuple(t for t in tactics(sig, archetype, step) if "(archetype " in t)
    at_people = abusive(sig) >= HIGH
    return (
        *_tone_tactics(sig, step),
        *_archetype_tactics(archetype, step, at_people=at_people),
        *_emotion_tactics(sig.emotions),
        *_cause_tactics(sig.causes),
    )


def _tone_tactics(sig: Signals, step: str) -> list[str]:
    """Calm wording for abuse at people, venting about the situation, or rough words."""
    if abusive(sig) >= HIGH:
        directed = _top({k: sig.abuse[k] for k in DIRECTED if k in sig.abuse}, HIGH)
        out = [
            "Keep sentences short and calm; do not mirror the tone "
            f"({_fmt(directed[:2], 'abuse')}{_target(sig)})."
        ]
        ctx = sig.context
        if ctx is not None and ctx.earlier_abuse and step == "boundary":
            out.append(
                f"This is not the first time ({ctx.earlier_abuse} earlier message(s) with abuse "
                "at people, context.earlier_abuse): say once, calmly, what happens if it "
                "continues (the chat ends and a supervisor takes over), then do it."
            )
        return out
    vent = venting(sig)
    if vent:
        return [
            "Do not mirror the tone; it is aimed at the situation, not at you "
            f"({_fmt(vent[:2], 'abuse')}; abuse at people {abusive(sig):.2f})."
        ]
    if rough(sig):
        return [
            "Keep sentences short and calm; do not mirror the tone "
            f"({_fmt(rough(sig)[:2], 'abuse')}{_target(sig)})."
        ]
    return []


def _archetype_tactics(archetype: str, step: str, *, at_people: bool) -> list[str]:
    out = []
    if archetype == "aggressive" and not at_people:
        out.append(
            "Stay calm and neutral; this customer's messages have been aggressive "
            "(archetype aggressive)."
        )
    if archetype == "indecisive" and step in ("offer", "common_ground", "commit"):
        out.append(
            "Give exactly two clear options and recommend one; do not reopen choices already "
            "made (archetype indecisive)."
        )
    if archetype == "serial_complainer":
        out.append(
            "Give a documented, consistent answer: the same as earlier cases, written in the "
            "case notes and sent to the customer (archetype serial_complainer)."
        )
    if archetype == "demanding":
        out.append(
            "State plainly what you can and cannot do; promise nothing above your authority "
            "(archetype demanding)."
        )
    if archetype == "vague" and step in ("clarify", "acknowledge", "listen"):
        out.append(
            "Ask one specific question at a time: what, when, which order (archetype vague)."
        )
    return out


def _emotion_tactics(e: dict[str, float]) -> list[str]:
    out = []
    if e["anxiety"] >= PRESENT:
        out.append(
            f"Reassure and give a timeline: say what happens next and exactly when "
            f"(emotions.anxiety {e['anxiety']:.2f})."
        )
    if e["confusion"] >= PRESENT:
        out.append(
            f"Explain in plain, numbered steps without jargon, then check understanding "
            f"(emotions.confusion {e['confusion']:.2f})."
        )
    if e["sadness"] >= HIGH:
        out.append(f"Show care before process (emotions.sadness {e['sadness']:.2f}).")
    return out


def _cause_tactics(c: dict[str, float]) -> list[str]:
    out = []
    if c["miscommunication"] >= HIGH:
        out.append(
            f"Put what is agreed in writing (causes.miscommunication {c['miscommunication']:.2f})."
        )
    if c["lack_of_information"] >= HIGH:
        out.append(
            "Share what you know now and when you will know more "
            f"(causes.lack_of_information {c['lack_of_information']:.2f})."
        )
    if c["personal_stress"] >= HIGH:
        out.append(
            "Offer flexibility (a deadline extension or fee waiver) and keep it simple "
            f"(causes.personal_stress {c['personal_stress']:.2f})."
        )
    return out


def _step(
    name: str,
    why: list[str],
    sig: Signals,
    archetype: str,
    instruction: str | None = None,
    *,
    nudge: bool = False,
) -> Step:
    how = tactics(sig, archetype, name, nudge=nudge)
    return Step(name, instruction or INSTRUCTIONS[name], tuple(why), how)


def _quote(s: str) -> str:
    return f"“{s}”"


@dataclass(frozen=True, slots=True)
class _Facts:
    """What the playbook rules read: the signals, the turns and what follows from them."""

    sig: Signals
    ts: list[Turn]
    archetype: str
    trajectory: str | None
    pos: Position
    after: frozenset[str]  # moves of the agent turns after the latest customer message
    hot: list[tuple[str, float]]  # anger, frustration and sadness at or above HIGH
    said: str  # the latest customer message's label
    offer: Turn | None  # the latest agent offer before the latest customer message
    prev: Turn | None  # the customer message before the latest one

    def step(
        self, name: str, why: list[str], instruction: str | None = None, *, nudge: bool = False
    ) -> tuple[Position, Step]:
        return self.pos, _step(name, why, self.sig, self.archetype, instruction, nudge=nudge)

    def specifics(self) -> list[tuple[str, float]]:
        """Causes and requests at or above ``HIGH``: what makes the issue clear."""
        return _top(self.sig.causes, HIGH) + _top(self.sig.requests, HIGH)


def _facts(sig: Signals, ts: list[Turn], archetype: str, trajectory: str | None) -> _Facts:
    pos = position(ts)
    last = pos.last
    e = sig.emotions
    return _Facts(
        sig=sig,
        ts=ts,
        archetype=archetype,
        trajectory=trajectory,
        pos=pos,
        after=frozenset(_moves_between(ts, last.index + 1, len(ts))),
        hot=_top({k: e[k] for k in ("anger", "frustration", "sadness")}, HIGH),
        said=last.label(),
        offer=_last_with(ts, "offer", last.index),
        prev=next((t for t in reversed(ts[: last.index]) if t.role == "customer"), None),
    )


_Outcome = tuple[Position, Step]


def _abuse_boundary(f: _Facts) -> _Outcome | None:
    """1. Abuse aimed at people: a calm boundary first."""
    sig = f.sig
    at_people = abusive(sig)
    if at_people < HIGH or "boundary" in f.after:
        return None
    directed = _top({k: sig.abuse[k] for k in DIRECTED if k in sig.abuse}, HIGH)
    why = [
        f"abuse at people {at_people:.2f} ({_fmt(directed, 'abuse')}{_target(sig)}) "
        f"in the latest message ({f.said})"
    ]
    quotes = [ev.text for ev in sig.evidence if ev.signal.startswith("abuse.")]
    if quotes:
        why.append("words: " + ", ".join(_quote(q) for q in quotes[:3]))
    ctx = sig.context
    if ctx is not None and ctx.earlier_abuse:
        why.append(f"{ctx.earlier_abuse} earlier message(s) with abuse at people")
    why.append("no boundary statement from the agent since that message")
    return f.step("boundary", why)


def _threat_safety(f: _Facts) -> _Outcome | None:
    """1b. A threat of violence, not cleared (earlier in the conversation, or in the latest
    message after a boundary was set): stay on safety."""
    sig = f.sig
    threat, now_threat = earlier_threat(sig), sig.threat_at_people()
    if max(threat, now_threat) < HIGH:
        return None
    if threat >= HIGH:
        why = [
            f"a threat of violence earlier in the conversation (context.earlier_threat "
            f"{threat:.2f}), not cleared by a supervisor",
            f"the latest message ({f.said}) does not change that: security is handling it",
        ]
    else:
        why = [
            f"a threat of violence in the latest message ({f.said}: abuse.threat "
            f"{sig.abuse['threat']:.2f}{_target(sig)})",
            "the agent has set a boundary since: security is handling the threat",
        ]
    nudge = is_nudge(f.pos.last.text)
    if nudge:
        why.append("the customer is waiting for a reply: acknowledge it briefly and factually")
    return f.step("boundary", why, SAFETY, nudge=nudge)


def _resolved_close(f: _Facts) -> _Outcome | None:
    """1c. The customer says the issue is solved, and nothing new is open: close."""
    sig, last = f.sig, f.pos.last
    solved = resolved_words(last.text)
    ctx_solved = sig.context is not None and sig.context.resolved
    settled = (
        not _top(sig.abuse, HIGH)
        and not _top(sig.requests, HIGH)
        and sig.emotions["anxiety"] < HIGH
    )
    if not ((solved or ctx_solved) and settled):
        return None
    why = [
        f"the customer confirms the issue is resolved in {f.said}"
        + (f": {_quote(solved)}" if solved else " (context.resolved)"),
        "no abuse, no request at 0.50 or above and no anxiety at 0.50 or above in that message",
    ]
    if "close" in f.after:
        why.append("the agent has already started closing: confirm and end warmly")
    return Position(f.pos.done, "close", last), _step("close", why, sig, f.archetype)


def _offer_rejected(f: _Facts) -> _Outcome | None:
    """2. The customer turned an offer down: back to common ground (then a revised offer)."""
    offer, sig, last = f.offer, f.sig, f.pos.last
    if offer is None or "offer" in f.after or _reaction(sig, last.text) != "rejected":
        return None
    since = _moves_between(f.ts, offer.index + 1, len(f.ts))
    why = [
        f"the agent offered a solution in {offer.label()}",
        f"the customer turned it down in {last.label()} (sentiment "
        f"{sig.sentiment:.2f}" + (f", {_fmt(f.hot, 'emotions')})" if f.hot else ")"),
    ]
    if "common_ground" not in since:
        why.append("no common ground found since the offer: agree on the goal first")
        return f.step("common_ground", why)
    why.append("common ground is already set: revise the offer (a different option)")
    return f.step("offer", why)


def _nudge_wait(f: _Facts) -> _Outcome | None:
    """2b. A bare nudge ("hello? anyone?") after an earlier message: acknowledge the wait."""
    last = f.pos.last
    if f.prev is None or not is_nudge(last.text):
        return None
    why = [
        f"the customer is waiting for a reply ({f.said}: {_quote(last.text.strip())})",
        "a bare nudge carries no new issue: say sorry for the wait, then carry on from "
        f"the {f.pos.stage} stage",
    ]
    return f.step("acknowledge", why, WAIT, nudge=True)


def _acknowledge(f: _Facts) -> _Outcome | None:
    """3. Nothing acknowledged yet, or emotions rising again without an acknowledgement (or
    venting: strong words about the situation, acknowledged rather than bounded)."""
    vent = venting(f.sig)
    if not _needs_ack(f, vent):
        return None
    if _first_vent(f):
        why = [
            f"strong emotion in the first message ({_fmt(f.hot, 'emotions')})",
            "no clear cause or request yet (all causes and requests below 0.50)",
            "the agent has not replied yet: let them vent before anything else",
        ]
        return f.step("listen", why)
    return f.step("acknowledge", _ack_why(f, vent))


def _escalating(f: _Facts) -> bool:
    return bool(f.hot) and f.trajectory == "escalating"


def _needs_ack(f: _Facts, vent: list[tuple[str, float]]) -> bool:
    """No acknowledgement yet, or none since the customer's previous message while the
    conversation escalates or the customer vents."""
    if "acknowledge" not in f.pos.done:
        return True
    recent = _moves_between(f.ts, f.prev.index + 1 if f.prev else 0, len(f.ts))
    return "acknowledge" not in recent and (_escalating(f) or bool(vent))


def _first_vent(f: _Facts) -> bool:
    """A first, emotional message with nothing specific, before any agent turn."""
    agent_turns = [t for t in f.ts if t.role == "agent"]
    return not agent_turns and bool(f.hot) and not f.specifics() and "listen" not in f.pos.done


def _ack_why(f: _Facts, vent: list[tuple[str, float]]) -> list[str]:
    e = f.sig.emotions
    feel = (
        _top({k: v for k, v in e.items() if k not in ("gratitude", "joy")}, PRESENT)
        or _top(e, 0.0)[:1]
    )
    why = [f"the customer feels {_fmt(feel[:3], 'emotions')} ({f.said})"]
    if vent:
        why.append(
            f"venting: {_fmt(vent[:3], 'abuse')} is about the situation, not aimed at "
            f"people (abuse at people {abusive(f.sig):.2f}): acknowledge, no boundary"
        )
    if "acknowledge" not in f.pos.done:
        why.append("no agent turn has acknowledged the emotion yet")
    elif _escalating(f):
        why.append(
            "the conversation is escalating and the agent has not acknowledged since "
            "the customer's previous message"
        )
    else:
        why.append("the agent has not acknowledged since the customer's previous message")
    return why


def _clarify(f: _Facts) -> _Outcome | None:
    """4. The issue is unclear, or the customer is confused."""
    confusion = f.sig.emotions["confusion"]
    confused = confusion >= HIGH
    vague = f.archetype == "vague"
    specifics = f.specifics()
    if not (confused or vague or not specifics):
        return None
    clarified = "clarify" in f.pos.done
    if clarified and not confused:
        return None
    why = []
    if confused:
        why.append(f"emotions.confusion {confusion:.2f} ({f.said})")
        earlier = _last_with(f.ts, "clarify", len(f.ts))
        if earlier is not None:
            why.append(f"still confused after the clarification in {earlier.label()}")
    if vague:
        why.append("archetype vague: the issue has not been described specifically")
    if not specifics:
        why.append("no cause or request at 0.50 or above: the issue is not clear yet")
    if not clarified:
        why.append("the agent has not asked a clarifying question yet")
    return f.step("clarify", why)


def _common_ground(f: _Facts) -> _Outcome | None:
    """5. Disagreement to bridge before an offer lands."""
    done, sig = f.pos.done, f.sig
    if "common_ground" in done or "offer" in done:
        return None
    reasons = []
    if f.archetype in ("demanding", "serial_complainer", "aggressive"):
        reasons.append(f"archetype {f.archetype}: agree on the goal before the offer")
    wants = _top({k: sig.requests[k] for k in ("manager", "policy_exception")}, HIGH)
    if wants:
        reasons.append(f"the customer asks for {_fmt(wants, 'requests')}")
    anger = sig.emotions["anger"]
    if anger >= HIGH:
        reasons.append(f"emotions.anger {anger:.2f} is still high")
    return f.step("common_ground", reasons) if reasons else None


def _offer(f: _Facts) -> _Outcome | None:
    """6. Offer a solution."""
    if "offer" in f.pos.done:
        return None
    why = ["the issue is acknowledged and clear, and no solution has been offered yet"]
    top = _top(f.sig.causes, PRESENT)[:2] + _top(f.sig.requests, HIGH)[:2]
    if top:
        why.append("to address " + ", ".join(f"{k} {v:.2f}" for k, v in top))
    return f.step("offer", why)


def _commit(f: _Facts) -> _Outcome | None:
    """7. Offer made; commit to a time if not yet."""
    if "commit" in f.pos.done:
        return None
    why = [
        f"a solution was offered in {f.offer.label() if f.offer else 'an agent turn'}",
        "no agent turn commits to a specific time yet",
    ]
    anxiety = f.sig.emotions["anxiety"]
    if anxiety >= PRESENT:
        why.append(f"emotions.anxiety {anxiety:.2f}: a timeline reassures")
    return f.step("commit", why)


def _after_commit(f: _Facts) -> _Outcome:
    """8. Committed: close when the customer is settled, otherwise reassure or re-acknowledge."""
    sig = f.sig
    committed = _last_with(f.ts, "commit", len(f.ts))
    where = committed.label() if committed else "an agent turn"
    reaction = _reaction(sig, f.pos.last.text)
    anxiety = sig.emotions["anxiety"]
    if anxiety >= HIGH:
        why = [
            f"emotions.anxiety {anxiety:.2f} after the commitment in {where}",
            "restate the timeline and what happens next",
        ]
        return f.step("commit", why)
    if reaction == "rejected":
        why = [
            f"the customer is still upset after the commitment in {where} "
            f"(sentiment {sig.sentiment:.2f})",
            "acknowledge before repeating the plan",
        ]
        return f.step("acknowledge", why)
    why = [f"a follow-up was committed in {where}", f"the customer's reply is {reaction}"]
    if "close" in f.pos.done:
        why.append("the agent has already started closing: confirm and end warmly")
    return f.step("close", why)


# The playbook's rules, in order: the first that gives a step wins; ``_after_commit`` is last.
_RULES: tuple[Callable[[_Facts], _Outcome | None], ...] = (
    _abuse_boundary,
    _threat_safety,
    _resolved_close,
    _offer_rejected,
    _nudge_wait,
    _acknowledge,
    _clarify,
    _common_ground,
    _offer,
    _commit,
)


def next_step(
    sig: Signals, ts: list[Turn], *, archetype: str = "none", trajectory: str | None = None
) -> tuple[Position, Step]:
    """The position of the conversation and the next best step for the agent."""
    f = _facts(sig, ts, archetype, trajectory)
    for rule in _RULES:
        found = rule(f)
        if found is not None:
            return found
    return _after_commit(f)
