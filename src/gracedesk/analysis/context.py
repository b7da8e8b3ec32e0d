"""Conversation-level signals: archetype, sentiment trajectory and repeat contact.

``context`` is a mapping (the same shape as a ``gracedesk decide`` scenario):

    {"messages": [{"role": "customer"|"agent", "text": "...", "at": "..."}, ...],  # earlier
     "customer": {"complaints_90d": 4, "contacts_30d": 2, "sanctions": [...], ...}}

``messages`` may also be a list of plain strings (earlier customer messages). The archetype
rules are small and explicit; each archetype that scores reports the reasons behind it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from gracedesk.analysis.risk import risk as risk_of
from gracedesk.errors import InvalidContext
from gracedesk.model import Archetype, ContextSignals, Signals

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


def _earlier_customer_texts(context: Mapping[str, Any]) -> list[str]:
    msgs = context.get("messages", [])
    if not isinstance(msgs, Sequence) or isinstance(msgs, str):
        raise InvalidContext("context.messages must be a list")
    out = []
    for i, m in enumerate(msgs):
        text: Any
        if isinstance(m, str):
            text = m
        elif isinstance(m, Mapping):
            if m.get("role", "customer") != "customer":
                continue
            text = m.get("text")
            if not isinstance(text, str):
                raise InvalidContext(f"context.messages[{i}].text must be a string")
        else:
            raise InvalidContext(f"context.messages[{i}] must be an object or a string")
        if text.strip():
            out.append(text)
    return out


def _num(customer: Mapping[str, Any], key: str) -> float:
    v = customer.get(key, 0) or 0
    if not isinstance(v, int | float) or isinstance(v, bool):
        raise InvalidContext(f"context.customer.{key} must be a number")
    return float(v)


def archetypes(
    history: list[Signals], texts: list[str], customer: Mapping[str, Any]
) -> dict[str, tuple[float, list[str]]]:
    """Score each archetype in [0, 1] with its reasons, over earlier + current messages."""
    n = len(history)
    out: dict[str, tuple[float, list[str]]] = {}

    abusive = sum(1 for s in history if max(s.abuse.values()) >= 0.5)
    threats = sum(1 for s in history if s.abuse["threat"] >= 0.5)
    sanctions = customer.get("sanctions") or []
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

    complaints = sum(1 for s in history if s.complaint >= 0.5)
    c90 = _num(customer, "complaints_90d")
    reasons = []
    if c90:
        reasons.append(f"{int(c90)} complaints in the last 90 days")
    if complaints >= 2:
        reasons.append(f"complaints in {complaints} messages of this conversation")
    out["serial_complainer"] = (min(1.0, c90 / 4 + max(0, complaints - 1) / 4), reasons)

    demands = [m.group() for t in texts for m in _DEMAND.finditer(t)]
    asks = sum(
        1 for s in history if s.requests["policy_exception"] >= 0.5 or s.requests["manager"] >= 0.5
    )
    reasons = []
    if demands:
        reasons.append(
            "demanding phrases: " + ", ".join(sorted(set(d.lower() for d in demands))[:4])
        )
    if asks:
        reasons.append(f"asks for exceptions or a manager in {asks} message(s)")
    out["demanding"] = (min(1.0, 0.3 * len(demands) + 0.35 * asks), reasons)

    changes = [m.group() for t in texts for m in _INDECISIVE.finditer(t)]
    kinds = {r for s in history for r, v in s.requests.items() if v >= 0.5 and r != "manager"}
    reasons = []
    if changes:
        reasons.append("changes of mind: " + ", ".join(sorted(set(c.lower() for c in changes))[:4]))
    if len(kinds) >= 2:
        reasons.append("asked for different outcomes: " + ", ".join(sorted(kinds)))
    out["indecisive"] = (min(1.0, 0.3 * len(changes) + 0.3 * max(0, len(kinds) - 1)), reasons)

    vague = [m.group() for t in texts for m in _VAGUE.finditer(t)]
    confused = sum(1 for s in history if s.emotions["confusion"] >= 0.5)
    short = sum(1 for t in texts if len(t.split()) <= 6)
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
    """``sig`` with ``context`` signals added and its risk raised by them."""
    if not isinstance(context, Mapping):
        raise InvalidContext("context must be an object with 'messages' and/or 'customer'")
    customer = context.get("customer") or {}
    if not isinstance(customer, Mapping):
        raise InvalidContext("context.customer must be an object")
    earlier = _earlier_customer_texts(context)
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
    repeat = len(prev) + int(_num(customer, "contacts_30d"))
    ctx = ContextSignals(
        archetype=Archetype(name, round(score, 4), tuple(reasons)),
        archetype_scores={k: round(v[0], 4) for k, v in scores.items()},
        trajectory=trajectory,
        sentiment_trend=trend,
        repeat_contacts=repeat,
    )
    extra = {
        "repeat_contact": min(repeat, 5) / 5,
        "escalating": 1.0 if trajectory == "escalating" else 0.0,
        "aggressive": scores["aggressive"][0],
    }
    p = {**{f"abuse.{k}": v for k, v in sig.abuse.items()}, **_flat(sig)}
    risk = round(risk_of(p, extra), 4)
    labels = list(sig.labels)
    if risk >= 0.5 and "high_risk" not in labels:
        labels.append("high_risk")
    return replace(sig, context=ctx, risk=risk, labels=tuple(labels))


def _flat(sig: Signals) -> dict[str, float]:
    out = {f"emotion.{k}": v for k, v in sig.emotions.items()}
    out.update({f"requests.{k}": v for k, v in sig.requests.items()})
    out.update(
        complaint=sig.complaint, public_threat=sig.public_threat, legal_threat=sig.legal_threat
    )
    return out
