"""Scenarios from the desk's own hardest conversations (``gracedesk train build --from-desk``).

Pure: the service reads the store into :class:`DeskConversation` values
(``service.training.desk_conversations``); this module ranks them, masks them and turns each
into the scenario format of ``docs/training.md``, as TOML text. Same rows, same files.

What comes from where:

- **persona**: the archetype the analysis gave the conversation (``signals.context.archetype``,
  the most frequent across the customer's messages); when none scored, the archetype scores,
  then anger and abuse (aggressive), requests (demanding), else vague.
- **cause**: the highest summed root-cause score across the customer's messages.
- **difficulty**: from the peak risk, whether it was escalated and the CSAT answer
  (:func:`difficulty_of`).
- **opening**: the customer's first message; later customer messages become scenario lines,
  each filed under the reaction its signals show (public threat, manager, abusive, ...).
- **wants / resolution**: the customer's requests, and the solution words the agents' replies
  and the resolution note used (any one counts when the trainee offers it).
- **facts**: masked placeholders (the reference numbers' stand-ins, the channel, the subject).

Masking is the demo data's (``gracedesk.demo.mask``): addresses, links, handles, phone and card
numbers, account numbers (as stable stand-ins ``#10001``...), the customer's and the agents'
names. Braces are taken out too, so a customer's text can never read as a ``{fact}``.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gracedesk.demo.mask import Masker, greeted_names, signoff_of
from gracedesk.training.scenario import CAUSES, PERSONAS, parse_scenario

HIGH = 0.5  # a score at or above this counts (the analysis' decision threshold)
HARD_RISK = 0.8
MEDIUM_RISK = 0.5
LOW_CSAT = 2  # 1-5: this or lower is a dissatisfied customer
MAX_LINES = 6
OPENING_MAX = 600  # characters of the opening kept (a long e-mail is cut at a sentence)
CUSTOMER_STAND_IN = "[customer]"

# What each request means for the customer's wants, and the solution words that answer it.
WANTS = {
    "refund": "their money back",
    "cancel": "to cancel",
    "manager": "to speak to someone in charge",
    "policy_exception": "an exception to the usual policy",
}
ANSWERS = {
    "refund": ("refund",),
    "cancel": ("cancel", "cancellation"),
    "manager": ("supervisor", "manager"),
    "policy_exception": ("exception",),
}
# When the customer asked for nothing in particular: what each root cause wants, and resolves it.
CAUSE_WANTS = {
    "unmet_expectations": "what they were promised, or a concrete fix with a date",
    "poor_service": "the service put right, and someone who owns the problem",
    "miscommunication": "a straight answer that clears up what they were told",
    "lack_of_information": "to know what is happening and when it will be fixed",
    "personal_stress": "quick help from someone who understands the pressure they are under",
}
CAUSE_ANSWERS = {
    "unmet_expectations": ("replacement", "by tomorrow", "delivery date"),
    "poor_service": ("fix", "follow up", "personally"),
    "miscommunication": ("to clarify", "what happened is", "in writing"),
    "lack_of_information": ("update", "status", "by tomorrow"),
    "personal_stress": ("right now", "today", "priority"),
}
# Solution words looked for in the agents' replies and the resolution note, in this order.
SOLUTIONS = (
    "refund",
    "replacement",
    "credit",
    "voucher",
    "discount",
    "compensation",
    "reimburse",
    "exchange",
    "repair",
    "technician",
    "engineer",
    "rebook",
    "reset",
    "unlock",
    "tracking",
    "callback",
    "call you back",
    "escalate",
    "cancel",
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # kept: tab and newline
# A reaction line's kind, from the signals of the message it was.
LINE_KINDS = ("public_threat", "manager", "abusive", "accepting", "calming", "escalating")


@dataclass(frozen=True, slots=True)
class DeskTurn:
    """One message of a stored conversation; ``signals`` as stored (customer messages)."""

    author: str  # customer | agent | system
    text: str
    signals: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class DeskConversation:
    """A resolved conversation as the builder needs it (plain values, no store)."""

    id: int
    channel: str
    subject: str | None
    risk: float  # the highest risk the conversation reached
    escalated: bool
    csat: int | None  # the customer's answer, 1-5, if any
    resolution: str | None
    customer_name: str | None = None
    agent_names: tuple[str, ...] = ()
    turns: tuple[DeskTurn, ...] = ()

    @property
    def customer_turns(self) -> list[DeskTurn]:
        return [t for t in self.turns if t.author == "customer" and t.text.strip()]


@dataclass(frozen=True, slots=True)
class Built:
    """One scenario made from one conversation: its id, the TOML text and where it came from."""

    id: str
    toml: str
    conversation_id: int
    hardness: float
    data: dict[str, Any] = field(default_factory=dict)


def hardness(c: DeskConversation) -> float:
    """How hard the conversation was: peak risk, plus escalation, plus a low CSAT answer."""
    score = c.risk + (0.5 if c.escalated else 0.0)
    if c.csat is not None:
        score += max(0, 3 - c.csat) * 0.25  # 1: +0.5, 2: +0.25
    return round(score, 4)


def ranked(convs: Iterable[DeskConversation]) -> list[DeskConversation]:
    """Hardest first; the id breaks ties, so the order never depends on the database's."""
    return sorted(convs, key=lambda c: (-hardness(c), c.id))


def hardest(convs: Iterable[DeskConversation], limit: int) -> list[DeskConversation]:
    """The ``limit`` hardest conversations with a customer message, hardest first."""
    return [c for c in ranked(convs) if c.customer_turns][: max(0, limit)]


def difficulty_of(c: DeskConversation) -> str:
    """hard: risk 0.8+, or escalated and rated 1-2; medium: risk 0.5+, escalated or rated
    1-2; easy otherwise."""
    low = c.csat is not None and c.csat <= LOW_CSAT
    if c.risk >= HARD_RISK or (c.escalated and low):
        return "hard"
    if c.risk >= MEDIUM_RISK or c.escalated or low:
        return "medium"
    return "easy"


def _dict(x: Any) -> Mapping[str, Any]:
    return x if isinstance(x, Mapping) else {}


def _num(x: Any) -> float:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else 0.0


def persona_of(c: DeskConversation) -> str:
    """The archetype the analysis saw most often; else by scores and signals (see module)."""
    sigs = [_dict(t.signals) for t in c.customer_turns]
    named = Counter(
        str(a) for s in sigs if (a := _dict(s.get("context")).get("archetype")) in PERSONAS
    )
    if named:
        return min(named, key=lambda p: (-named[p], PERSONAS.index(p)))
    totals = {p: 0.0 for p in PERSONAS}
    for s in sigs:
        for p, v in _dict(_dict(s.get("context")).get("archetype_scores")).items():
            if p in totals:
                totals[p] = max(totals[p], _num(v))
    best = max(PERSONAS, key=lambda p: (totals[p], -PERSONAS.index(p)))
    if totals[best] > 0:
        return best
    anger = max((_num(_dict(s.get("emotions")).get("anger")) for s in sigs), default=0.0)
    abuse = max((max(map(_num, _dict(s.get("abuse")).values()), default=0.0) for s in sigs),
                default=0.0)  # fmt: skip
    if anger >= HIGH or abuse >= HIGH:
        return "aggressive"
    if _requests(c):
        return "demanding"
    return "vague"


def cause_of(c: DeskConversation) -> str:
    """The root cause with the highest summed score (the first in ``CAUSES`` on a tie)."""
    totals = {k: 0.0 for k in CAUSES}
    for t in c.customer_turns:
        for k, v in _dict(_dict(t.signals).get("causes")).items():
            if k in totals:
                totals[k] += _num(v)
    return max(CAUSES, key=lambda k: (totals[k], -CAUSES.index(k)))


def _requests(c: DeskConversation) -> list[str]:
    """The requests any customer message made (score 0.5+), in the contract's order."""
    seen = {
        k
        for t in c.customer_turns
        for k, v in _dict(_dict(t.signals).get("requests")).items()
        if _num(v) >= HIGH
    }
    return [k for k in WANTS if k in seen]


def _words(text: str, vocabulary: Sequence[str]) -> list[str]:
    low = text.lower()
    return [w for w in vocabulary if re.search(rf"\b{re.escape(w)}", low)]


def _line_kind(sig: Mapping[str, Any]) -> str:
    ctx = _dict(sig.get("context"))
    abuse = max(map(_num, _dict(sig.get("abuse")).values()), default=0.0)
    if _num(sig.get("public_threat")) >= HIGH:
        return "public_threat"
    if _num(_dict(sig.get("requests")).get("manager")) >= HIGH:
        return "manager"
    if abuse >= HIGH:
        return "abusive"
    if ctx.get("resolved") is True:
        return "accepting"
    if ctx.get("trajectory") == "calming":
        return "calming"
    return "escalating"


def _clean(text: str, limit: int = OPENING_MAX) -> str:
    """One line of scenario text: no braces (they would read as facts), at most ``limit``."""
    text = _CONTROL.sub(" ", text.replace("\r\n", "\n")).replace("{", "(").replace("}", ")")
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[:limit]
    end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "))
    return (cut[: end + 1] if end > limit // 2 else cut.rstrip() + "…").strip()


def _masker(c: DeskConversation) -> Masker:
    names = {p for p in (c.customer_name or "").split() if len(p) > 1}
    # the names agents greet the customer by, and sign with (as the demo data was masked)
    for t in c.turns:
        if t.author == "agent":
            names |= greeted_names(t.text)
    agents = {p for n in c.agent_names for p in re.split(r"[\s._-]+", n) if len(p) > 1}
    agents |= {n for t in c.turns if t.author == "agent" and (n := signoff_of(t.text, agent=True))}
    return Masker(
        own_company=None,
        customer_handle="",
        customer_name=CUSTOMER_STAND_IN,
        names=names,
        agent_names=agents,
    )


def scenario_of(c: DeskConversation) -> dict[str, Any]:
    """The scenario (as the TOML's data) made from one conversation; see the module text."""
    mask = _masker(c)
    customer = c.customer_turns
    opening = _clean(mask(customer[0].text))
    lines: list[dict[str, str]] = []
    for t in customer[1:]:
        text = _clean(mask(t.text), 300)
        if text and len(lines) < MAX_LINES:
            lines.append({"when": _line_kind(_dict(t.signals)), "text": text})
    agents = [mask(t.text, agent=True) for t in c.turns if t.author == "agent"]
    resolution_note = mask(c.resolution or "", agent=True)
    requests = _requests(c)
    offered = _words(" ".join([*agents, resolution_note]), SOLUTIONS)
    resolution = list(dict.fromkeys([*(w for r in requests for w in ANSWERS[r]), *offered]))
    persona, cause, level = persona_of(c), cause_of(c), difficulty_of(c)
    if not resolution:
        resolution = list(CAUSE_ANSWERS[cause])
    subject = _clean(mask(c.subject or ""), 120)
    wants = " and ".join(WANTS[r] for r in requests) if requests else CAUSE_WANTS[cause]
    facts = {"channel": c.channel}
    if subject:
        facts["subject"] = subject
    for i, stand_in in enumerate(mask.numbers.seen.values(), start=1):
        facts[f"reference_{i}" if i > 1 else "reference"] = stand_in
    history = [
        f"risk peaked at {c.risk:.2f}",
        "escalated to a supervisor" if c.escalated else "not escalated",
        f"CSAT {c.csat}/5" if c.csat is not None else "no CSAT answer",
    ]
    data: dict[str, Any] = {
        "id": f"desk-{c.id}-{persona.replace('_', '-')}",
        "title": _clean(subject or f"A {persona.replace('_', ' ')} customer ({c.channel})", 120),
        "persona": persona,
        "cause": cause,
        "difficulty": level,
        "wants": wants,
        "resolution": resolution,
        "opening": opening,
        "briefing": (
            f"Made from conversation {c.id} of this desk, masked ({', '.join(history)}). "
            f"The customer wrote on {c.channel}; earlier messages and names are not shown."
        ),
        "facts": facts,
    }
    if persona == "aggressive" or any(x["when"] == "abusive" for x in lines):
        data["rubric"] = {"boundaries": 1.5, "empathy": 1.5}
    if lines:
        data["lines"] = lines
    return data


def build(convs: Iterable[DeskConversation], limit: int) -> list[Built]:
    """The ``limit`` hardest conversations as scenarios, hardest first, each validated by the
    scenario loader (``ScenarioInvalid`` would name the conversation)."""
    out = []
    for c in hardest(convs, limit):
        data = scenario_of(c)
        text = to_toml(data)
        parse_scenario(text, f"desk conversation {c.id}", stem=data["id"])
        out.append(Built(data["id"], text, c.id, hardness(c), data))
    return out


# -- TOML (the subset scenarios use: strings, lists of strings, tables, arrays of tables) -----


def _string(s: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's (DEL escaped too, TOML forbids it raw)."""
    return json.dumps(s, ensure_ascii=False).replace("\x7f", "\\u007f")


def _value(v: Any) -> str:
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return "[" + ", ".join(_string(x) for x in v) + "]"
    raise TypeError(f"no TOML for {type(v).__name__} here")


def to_toml(data: Mapping[str, Any]) -> str:
    """``data`` as TOML: plain keys first, then tables, then arrays of tables (``[[lines]]``)."""
    head = ["# Made by `gracedesk train build --from-desk` from a masked desk conversation."]
    tables, arrays = [], []
    for key, v in data.items():
        if isinstance(v, Mapping):
            tables.append((key, v))
        elif isinstance(v, list) and v and all(isinstance(x, Mapping) for x in v):
            arrays.append((key, v))
        else:
            head.append(f"{key} = {_value(v)}")
    out = "\n".join(head) + "\n"
    for key, table in tables:
        out += f"\n[{key}]\n" + "".join(f"{k} = {_value(x)}\n" for k, x in table.items())
    for key, rows in arrays:
        for row in rows:
            out += f"\n[[{key}]]\n" + "".join(f"{k} = {_value(x)}\n" for k, x in row.items())
    return out
