"""Conversation-level signals: archetype, sentiment trajectory and repeat contact.

``context`` is the :class:`~gracedesk.model.situation.Situation` the message was written in (the
analysed message is its last customer turn): earlier messages, customer history, a cleared
threat. At the library's edge (``gracedesk.analyze``, the CLI's ``--context``) a mapping is read
into one by :func:`situation_of`:

    {"messages": [{"role": "customer"|"agent", "text": "...", "at": "..."}, ...],  # earlier
     "customer": {"complaints_90d": 4, "contacts_30d": 2, "sanctions": [...], ...},
     "at": "...", "threat_cleared_at": "..."}

``messages`` may also be a list of plain strings (earlier customer messages). The archetype
rules are small and explicit; each archetype that scores reports the reasons behind it.

Conversation memory. Risk is judged on the conversation, not only on the last message:

- ``earlier_risk``: each earlier customer message's risk, decayed by ``TURN_DECAY`` for every
  customer message after it and halved every ``HALF_LIFE_HOURS`` when times are known
  (the earlier turns' and the analysed message's times); the
  strongest one is a floor under this message's risk. A message that says the issue is solved
  (``resolved``) lifts that floor.
- ``earlier_threat``: the strongest threat of violence aimed at people in an earlier customer
  message. It does not decay: it is a floor under risk, and policy and playbook keep security,
  priority and the safety step, until a supervisor clears it (``threat_cleared_at``: threats
  at or before that time no longer count).
- ``earlier_abuse``: how many earlier customer messages carried abuse aimed at people (the
  sanctions ladder counts them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from gracedesk.analysis.risk import risk as risk_of
from gracedesk.errors import InvalidContext
from gracedesk.model import Archetype, ContextSignals, Signals
from gracedesk.model.clock import parse_iso
from gracedesk.model.memo import per_text
from gracedesk.model.signals import HIGH_RISK
from gracedesk.model.situation import CustomerHistory, Sanction, Situation, Turn

TURN_DECAY = 0.75  # an earlier message's risk keeps this share per later customer message
HALF_LIFE_HOURS = 6.0  # ... and halves every this many hours, when times are known
_RESOLVED = re.compile(
    r"\b(?:(?:that|it|this)(?:\x27s| is| has| has been)? (?:solved|fixed|resolved|sorted)"
    r"|(?:all )?(?:solved|fixed|resolved|sorted)(?: now| it| that)?"
    r"|(?:it|everything)(?:\x27s| is)? working (?:now|again)|works (?:now|again|perfectly)"
    r"|all good(?: now)?|that (?:did it|worked|helped)|problem solved|issue (?:is )?resolved)\b",
    re.IGNORECASE,
)
_NOT_RESOLVED = re.compile(
    r"\b(?:not|never|isn'?t|hasn'?t|wasn'?t|nothing|still|no longer)\b[^.!?]{0,25}"
    r"\b(?:solved|fixed|resolved|sorted|working|works|good)\b|\?\s*$",
    re.IGNORECASE,
)

if TYPE_CHECKING:
    from gracedesk.analysis.pipeline import Analyzer

_DEMAND = re.compile(
    r"\b(?:i demand|i expect|i insist|you owe me|i deserve|right now|immediately|at once|"
    r"as a (?:loyal|premium|long[- ]time|valued) (?:customer|member)|do you know who i am|"
    r"this instant|or else|non[- ]negotiable|i will not accept|unacceptable)\b",
    re.IGNORECASE,
)
_INDECISIVE = re.compile(
    r"\b(?:actually|changed my mind|change my mind|on second thought|or maybe|not sure (?:if|whether)|"
    r"i can\x27?t decide|can\x27?t make up my mind|instead|never ?mind|wait,? no|or should i|"
    r"which (?:one|option) (?:is|would) (?:be )?better)\b",
    re.IGNORECASE,
)
_VAGUE = re.compile(
    r"\b(?:it doesn\x27?t work|not working|something(?:\x27s| is) wrong|it\x27?s broken|help|"
    r"i don\x27?t know|whatever|the thing|stuff|it just)\b",
    re.IGNORECASE,
)


def _earlier_customer(situation: Situation) -> list[Turn]:
    """The earlier customer messages (with text) of ``situation``."""
    return [t for t in situation.earlier() if t.role == "customer" and t.text.strip()]


def _hours(a: datetime | None, b: datetime | None) -> float | None:
    if a is None or b is None:
        return None
    return max(0.0, (b - a).total_seconds() / 3600)


def situation_of(text: str, context: Any) -> Situation:
    """The library's context mapping -> a Situation ending with ``text`` (an edge: the CLI's
    ``--context`` and ``gracedesk.analyze(text, context={...})``).

    ``{"messages": [earlier messages, as objects or plain customer strings], "customer": {...},
    "at": time of ``text``, "threat_cleared_at": ...}``. Lenient, as the context always was:
    only the earlier *customer* messages and the customer's counts and sanctions are read (other
    roles, keys and an ``at`` that is not a string are ignored); raises ``InvalidContext``
    (GD103) naming what cannot be read.
    """
    if isinstance(context, Situation):
        return context
    if not isinstance(context, Mapping):
        raise InvalidContext("context must be an object with 'messages' and/or 'customer'")
    customer = context.get("customer") or {}
    if not isinstance(customer, Mapping):
        raise InvalidContext("context.customer must be an object")
    sanctions = customer.get("sanctions") or []
    history = CustomerHistory(
        complaints_90d=int(_count(customer, "complaints_90d")),
        contacts_30d=int(_count(customer, "contacts_30d")),
        # only their number is read here: any label counts
        sanctions=tuple(Sanction(str(x)) for x in sanctions) if isinstance(sanctions, list) else (),
    )
    turns = [
        *_context_turns(context.get("messages", [])),
        Turn("customer", text, _time(context, "at")),
    ]
    cleared = context.get("threat_cleared_at")
    return Situation(
        tuple(turns),
        customer=history,
        threat_cleared_at=_time(context, "threat_cleared_at") if isinstance(cleared, str) else None,
    )


def _context_turns(msgs: Any) -> list[Turn]:
    if not isinstance(msgs, Sequence) or isinstance(msgs, str):
        raise InvalidContext("context.messages must be a list")
    out: list[Turn] = []
    for i, m in enumerate(msgs):
        if isinstance(m, str):
            m = {"text": m}
        elif not isinstance(m, Mapping):
            raise InvalidContext(f"context.messages[{i}] must be an object or a string")
        if m.get("role", "customer") != "customer":
            continue
        if not isinstance(m.get("text"), str):
            raise InvalidContext(f"context.messages[{i}].text must be a string")
        if m["text"].strip():
            out.append(Turn("customer", m["text"], _time(m, "at", f"context.messages[{i}].at")))
    return out


def _time(m: Mapping[str, Any], key: str, where: str | None = None) -> datetime | None:
    v = m.get(key)
    if not isinstance(v, str):
        return None
    try:
        return parse_iso(v)
    except ValueError as exc:
        raise InvalidContext(f"{where or 'context.' + key}: not an ISO 8601 time: {v!r}") from exc


def _count(customer: Mapping[str, Any], key: str) -> float:
    v = customer.get(key, 0) or 0
    if not isinstance(v, int | float) or isinstance(v, bool):
        raise InvalidContext(f"context.customer.{key} must be a number")
    return float(v)


def resolved(text: str) -> bool:
    """The customer says the issue is solved ("that fixed it, thanks")."""
    return _RESOLVED.search(text) is not None and _NOT_RESOLVED.search(text) is None


def memory(
    prev: Sequence[Signals], earlier: Sequence[Turn], situation: Situation
) -> tuple[float, float, int]:
    """``(earlier_risk, earlier_threat, earlier_abuse)`` of the earlier customer messages."""
    now = situation.message.at if situation.message is not None else None
    cleared = situation.threat_cleared_at
    n = len(prev)
    risk = threat = 0.0
    abuse = 0
    for k, (s, turn) in enumerate(zip(prev, earlier, strict=True)):
        decay = TURN_DECAY ** (n - k)
        h = _hours(turn.at, now)
        if h is not None:
            decay *= 0.5 ** (h / HALF_LIFE_HOURS)
        risk = max(risk, s.risk * decay)
        at_people, threat_at_people = s.at_people()
        if at_people >= 0.5:
            abuse += 1
        if cleared is None or (turn.at is not None and turn.at > cleared):
            threat = max(threat, threat_at_people)
    return round(risk, 4), round(threat, 4), abuse


@per_text
def _phrases(text: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], bool]:
    """A message's demanding, indecisive and vague phrases and whether it is very short: read
    once per text (a conversation's earlier messages come back at every new message)."""
    return (
        tuple(m.group() for m in _DEMAND.finditer(text)),
        tuple(m.group() for m in _INDECISIVE.finditer(text)),
        tuple(m.group() for m in _VAGUE.finditer(text)),
        len(text.split()) <= 6,
    )


def archetypes(
    history: list[Signals], texts: list[str], customer: CustomerHistory
) -> dict[str, tuple[float, list[str]]]:
    """Score each archetype in [0, 1] with its reasons, over earlier + current messages."""
    n = len(history)
    out: dict[str, tuple[float, list[str]]] = {}

    # one pass over the messages (a backlog's conversations carry up to 40 turns of context)
    abusive = threats = complaints = asks = confused = 0
    kinds: set[str] = set()
    for s in history:
        abuse, req = s.abuse, s.requests
        abusive += max(abuse.values()) >= 0.5
        threats += abuse["threat"] >= 0.5
        complaints += s.complaint >= 0.5
        asks += req["policy_exception"] >= 0.5 or req["manager"] >= 0.5
        confused += s.emotions["confusion"] >= 0.5
        kinds.update(r for r, v in req.items() if v >= 0.5 and r != "manager")
    sanctions = customer.sanctions
    reasons = []
    if abusive:
        reasons.append(f"abusive language in {abusive} of {n} messages")
    if threats:
        reasons.append(f"threats in {threats} message(s)")
    if sanctions:
        reasons.append(f"{len(sanctions)} earlier sanction(s) on record")
    out["aggressive"] = (
        min(1.0, abusive / max(n, 1) + 0.5 * threats + 0.25 * len(sanctions)),
        reasons,
    )

    c90 = float(customer.complaints_90d)
    reasons = []
    if c90:
        reasons.append(f"{int(c90)} complaints in the last 90 days")
    if complaints >= 2:
        reasons.append(f"complaints in {complaints} messages of this conversation")
    out["serial_complainer"] = (min(1.0, c90 / 4 + max(0, complaints - 1) / 4), reasons)

    words = [_phrases(t) for t in texts]
    demands = [d for w in words for d in w[0]]
    reasons = []
    if demands:
        reasons.append(
            "demanding phrases: " + ", ".join(sorted(set(d.lower() for d in demands))[:4])
        )
    if asks:
        reasons.append(f"asks for exceptions or a manager in {asks} message(s)")
    out["demanding"] = (min(1.0, 0.3 * len(demands) + 0.35 * asks), reasons)

    changes = [c for w in words for c in w[1]]
    reasons = []
    if changes:
        reasons.append("changes of mind: " + ", ".join(sorted(set(c.lower() for c in changes))[:4]))
    if len(kinds) >= 2:
        reasons.append("asked for different outcomes: " + ", ".join(sorted(kinds)))
    out["indecisive"] = (min(1.0, 0.3 * len(changes) + 0.3 * max(0, len(kinds) - 1)), reasons)

    vague = [v for w in words for v in w[2]]
    short = sum(1 for w in words if w[3])
    reasons = []
    if vague:
        reasons.append(
            "unspecific wording: " + ", ".join(sorted(set(v.lower() for v in vague))[:4])
        )
    if confused:
        reasons.append(f"confusion in {confused} message(s)")
    if short >= 2:
        reasons.append(f"{short} very short messages")
    score = 0.25 * len(vague) + 0.3 * confused + 0.15 * max(0, short - 1)
    out["vague"] = (min(1.0, score), reasons)
    return out


def with_context(an: Analyzer, sig: Signals, text: str, context: Any) -> Signals:
    """``sig`` with ``context`` signals added and its risk raised by them. ``context`` is the
    Situation ``text`` was written in (its last customer turn), or the library's mapping."""
    situation = situation_of(text, context)
    customer = situation.customer
    messages = _earlier_customer(situation)
    earlier = [t.text for t in messages]
    prev = an.analyze_memo(earlier) if earlier else []
    history = [*prev, sig]
    texts = [*earlier, text]
    scores = archetypes(history, texts, customer)
    name, (score, reasons) = max(scores.items(), key=lambda kv: kv[1][0])
    if score < 0.5:
        name, score, reasons = "none", 1.0 - score, []
    trend = tuple(s.sentiment for s in history)
    if not prev:
        trajectory = "new"
    else:
        base = sum(s.sentiment for s in prev[-3:]) / len(prev[-3:])
        delta = sig.sentiment - base
        rdelta = sig.risk - max(s.risk for s in prev[-3:])
        if delta <= -0.25 or rdelta >= 0.2:
            trajectory = "escalating"
        elif delta >= 0.25 or rdelta <= -0.2:
            trajectory = "calming"
        else:
            trajectory = "steady"
    repeat = len(prev) + customer.contacts_30d
    earlier_risk, earlier_threat, earlier_abuse = memory(prev, messages, situation)
    solved = bool(prev) and resolved(text) and sig.abuse_at_people() < 0.5
    ctx = ContextSignals(
        archetype=Archetype(name, round(score, 4), tuple(reasons)),
        archetype_scores={k: round(v[0], 4) for k, v in scores.items()},
        trajectory=trajectory,
        sentiment_trend=trend,
        repeat_contacts=repeat,
        earlier_risk=earlier_risk,
        earlier_threat=earlier_threat,
        earlier_abuse=earlier_abuse,
        resolved=solved,
    )
    extra = {
        "repeat_contact": min(repeat, 5) / 5,
        "escalating": 1.0 if trajectory == "escalating" else 0.0,
        "aggressive": scores["aggressive"][0],
    }
    p = {**{f"abuse.{k}": v for k, v in sig.abuse.items()}, **_flat(sig)}
    risk = risk_of(p, extra)
    if not solved:
        risk = max(risk, earlier_risk)
    if earlier_threat >= 0.5:
        risk = max(risk, earlier_threat)
    risk = round(risk, 4)
    labels = [x for x in sig.labels if x != "high_risk"]
    if risk >= HIGH_RISK:
        labels.append("high_risk")
    return replace(sig, context=ctx, risk=risk, labels=tuple(labels))


def _flat(sig: Signals) -> dict[str, float]:
    out = {f"emotion.{k}": v for k, v in sig.emotions.items()}
    out.update({f"requests.{k}": v for k, v in sig.requests.items()})
    out.update(
        complaint=sig.complaint, public_threat=sig.public_threat, legal_threat=sig.legal_threat
    )
    return out
