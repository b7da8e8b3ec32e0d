"""The hand-over packet: what the next agent needs so that the customer never repeats themselves.

Built from the conversation (customer turns: what happened and what they want; agent turns:
what was tried), the latest Signals (risk, labels, evidence spans), the customer's history, the
promises already made (the Situation's open promises) and a suggested opening line.
``recommended`` says whether escalating now is advised, with the reasons.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from gracedesk.guidance import history as hist_mod
from gracedesk.guidance.conversation import Turn
from gracedesk.guidance.phrases import clean_value
from gracedesk.guidance.playbook import abusive, earlier_threat
from gracedesk.model.guidance import ArticleRef, HandoverPacket, Promise, Solution
from gracedesk.model.memo import per_text
from gracedesk.model.signals import HIGH_RISK, Evidence, Signals
from gracedesk.model.situation import OpenPromise

HIGH = 0.5
SNIPPET = 160
WANTS = {
    "refund": "a refund",
    "manager": "to speak to a manager",
    "policy_exception": "an exception to policy",
    "cancel": "to cancel",
}
CAUSE_TEXT = {
    "unmet_expectations": "Expectations not met",
    "poor_service": "Poor service",
    "miscommunication": "Miscommunication",
    "lack_of_information": "Lack of information",
    "personal_stress": "Customer under personal stress",
}
MOVE_TEXT = {
    "boundary": "set a boundary",
    "listen": "invited the full story",
    "acknowledge": "acknowledged",
    "clarify": "asked to clarify",
    "common_ground": "found common ground",
    "offer": "offered a solution",
    "commit": "committed to a time",
    "close": "started closing",
}
_SUBJECT = re.compile(
    r"\bmy (order|parcel|package|delivery|refund|account|bill|invoice|subscription|booking|"
    r"reservation|flight|card|payment|phone|laptop|device|plan|contract|item|claim|loan)\b",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def subject(ts: Sequence[Turn]) -> str | None:
    """The thing the customer is writing about ("order"), from the first customer turn naming one."""
    for t in ts:
        if t.role == "customer" and (thing := _subject_of(t.text)) is not None:
            return thing
    return None


@per_text
def _subject_of(text: str) -> str | None:
    # a conversation's earlier turns come back at every new message: read each text once
    m = _SUBJECT.search(text)
    return m.group(1).lower() if m else None


def snippet(text: str, limit: int = SNIPPET) -> str:
    s = " ".join(text.split())
    if len(s) <= limit:
        return s
    first = _SENTENCE.split(s)[0]
    if len(first) <= limit:
        return first + " …"
    return s[:limit].rsplit(" ", 1)[0] + " …"


KEY_SIGNALS = ("abuse.", "requests.", "causes.", "complaint", "legal_threat", "public_threat")
MAX_EVIDENCE = 8


def key_evidence(sig: Signals) -> tuple[Evidence, ...]:
    """The evidence spans worth quoting: requests, causes, threats, abuse (one per span)."""
    seen: set[tuple[int, int]] = set()
    out = []
    for e in sig.evidence:
        if e.signal.startswith(KEY_SIGNALS) and (e.start, e.end) not in seen:
            seen.add((e.start, e.end))
            out.append(e)
    return tuple(out[:MAX_EVIDENCE])


def promises(open_promises: Sequence[OpenPromise], *, now: datetime) -> tuple[Promise, ...]:
    """The Situation's open promises as the packet lists them, overdue at ``now``."""
    return tuple(
        Promise(
            p.text, p.due.isoformat() if p.due else None, bool(p.due is not None and p.due < now)
        )
        for p in open_promises
    )


def _why(
    sig: Signals,
    solutions: Sequence[Solution],
    done: Sequence[str],
    promised: Sequence[Promise],
) -> list[str]:
    why = []
    # A threat or abuse aimed at people comes first: it is why the next person needs to know.
    if sig.threat_at_people() >= HIGH:
        why.append(
            f"threat of violence (abuse.threat {sig.abuse['threat']:.2f}, "
            f"at people {sig.threat_at_people():.2f})"
        )
    elif abusive(sig) >= HIGH:
        who = "the agent" if sig.at_agent_share() >= HIGH else "people"
        why.append(f"abuse aimed at {who} (abuse at people {abusive(sig):.2f})")
    if earlier_threat(sig) >= HIGH:
        why.append(
            f"threat of violence earlier in the conversation (context.earlier_threat "
            f"{earlier_threat(sig):.2f}), not cleared by a supervisor"
        )
    if sig.requests["manager"] >= HIGH:
        why.append(
            f"the customer asks for a manager (requests.manager {sig.requests['manager']:.2f})"
        )
    if sig.legal_threat >= HIGH:
        why.append(f"legal threat ({sig.legal_threat:.2f})")
    if sig.public_threat >= HIGH:
        why.append(f"threat to go public ({sig.public_threat:.2f})")
    if sig.risk >= HIGH_RISK:
        why.append(f"risk {sig.risk:.2f} is at or above {HIGH_RISK:.2f}")
    if abusive(sig) >= HIGH and "boundary" in done:
        why.append("abuse continues after a boundary was set")
    approvals = [s.title for s in solutions if s.needs_approval]
    if approvals:
        why.append("needs approval: " + "; ".join(approvals))
    late = [p.text for p in promised if p.overdue]
    if late:
        why.append("overdue promise(s): " + "; ".join(late))
    ctx = sig.context
    if ctx is not None and ctx.repeat_contacts >= 3:
        why.append(f"{ctx.repeat_contacts} repeat contacts")
    return why


def _opening(
    name: str | None,
    agent_name: str | None,
    thing: str | None,
    wants: Sequence[str],
    promised: Sequence[Promise],
) -> str:
    hi = f"Hi {name}," if name else "Hello,"
    who = agent_name or "my colleague"
    about = f"what happened with your {thing}" if thing else "what has happened so far"
    want = f" and that you'd like {' and '.join(wants)}" if wants else ""
    line = (
        f"{hi} I've taken over your case from {who} and read the whole conversation, so you "
        f"won't need to repeat anything. I know {about}{want}."
    )
    late = [p for p in promised if p.overdue]
    if late:
        line += (
            f" I can also see we missed a promise (“{clean_value(late[0].text)}”); I'm sorry, "
            "and I'll put that right first."
        )
    elif promised:
        line += f" I'll make sure the promise we made (“{clean_value(promised[0].text)}”) is kept."
    return line + " Let me take it from here."


def packet(
    sig: Signals,
    ts: Sequence[Turn],
    h: hist_mod.History,
    *,
    promised: Sequence[Promise] = (),
    solutions: Sequence[Solution] = (),
    done: Sequence[str] = (),
    agent_name: str | None = None,
    shared: Sequence[ArticleRef] = (),
) -> HandoverPacket:
    """The hand-over packet for this conversation (``promised``: see ``promises``; ``shared``:
    the knowledge-base articles agents already quoted, so the next one does not send them
    again)."""
    customer = [t for t in ts if t.role == "customer" and t.text.strip()]
    shown = customer if len(customer) <= 5 else [customer[0], *customer[-4:]]
    happened = tuple(f"{t.at.isoformat() if t.at else t.label()}: {snippet(t.text)}" for t in shown)
    wants = tuple(WANTS[k] for k, v in sig.requests.items() if v >= HIGH)
    cause = max(sig.causes.items(), key=lambda kv: kv[1])
    head = CAUSE_TEXT[cause[0]] if cause[1] >= HIGH else "Customer contact"
    issue = f"{head}: “{snippet(customer[0].text, 100)}”" if customer else head
    tried = tuple(
        f"{t.label()}: "
        + (", ".join(MOVE_TEXT[m] for m in MOVE_TEXT if m in t.moves) or "replied")
        + f" — “{snippet(t.text, 120)}”"
        for t in ts
        if t.role == "agent"
    )
    ctx = sig.context
    hist_lines = list(hist_mod.lines(h))
    if ctx is not None:
        arche = ctx.archetype
        if arche.name != "none":
            hist_lines.append(f"archetype {arche.name}: " + "; ".join(arche.reasons))
        if ctx.repeat_contacts:
            hist_lines.append(f"{ctx.repeat_contacts} repeat contact(s)")
    why = _why(sig, solutions, done, promised)
    return HandoverPacket(
        recommended=bool(why),
        why=tuple(why),
        issue=issue,
        what_happened=happened,
        wants=wants or ("a resolution (no specific request stated)",),
        evidence=key_evidence(sig),
        tried=tried,
        history=tuple(hist_lines),
        risk=sig.risk,
        labels=sig.labels,
        archetype=ctx.archetype.name if ctx else None,
        trajectory=ctx.trajectory if ctx else None,
        promises=tuple(promised),
        opening_line=_opening(
            clean_value(h.name), clean_value(agent_name), subject(ts), wants, promised
        ),
        articles=tuple(shared),
    )
