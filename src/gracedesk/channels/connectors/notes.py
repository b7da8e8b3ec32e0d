"""The note written back to the helpdesk after a customer message is analysed.

Agents who stay in their helpdesk see what the desk saw, in a private note on the ticket:

- the signals: risk, labels and the top evidence (the customer's own words, quoted);
- the policy's decisions, each with its rule id and reason;
- the next de-escalation step and a suggested phrase;
- when a decision escalated, the hand-over summary (issue, what the customer wants, why, the
  opening line for whoever takes over).

The note also asks for tags (the labels, prefixed ``gracedesk-``) and the priority a rule set.
It is queued in the outbox (``channels.delivery.enqueue_note``) in one transaction and sent by
the worker through the helpdesk's API, never inside the webhook request. Every note starts with
``[gracedesk]``: should one come back in a webhook, it is never analysed as a customer message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gracedesk.channels.connectors.base import OWN_MARK
from gracedesk.channels.delivery import enqueue_note
from gracedesk.service.desk import Desk, Posted
from gracedesk.service.effects import DEFAULT_RULE
from gracedesk.store import connectors as stored_connectors

TAG_PREFIX = "gracedesk-"
EVIDENCE = 3  # quotes in a note
QUIET = ("emotions.", "abuse_target.")  # evidence that only repeats what the labels say
MAX_CHARS = 4000


@dataclass(frozen=True)
class Note:
    text: str
    tags: tuple[str, ...]
    priority: str | None


def compose(posted: Posted, *, priorities: Sequence[str]) -> Note:
    """The note for an analysed message (``priorities``: the policy's, most urgent first)."""
    sig = posted.signals or {}
    guidance = posted.guidance or {}
    lines = [_headline(sig), *_evidence(sig), *_decisions(posted.decisions), *_next(guidance)]
    if any(d.get("action") == "escalate" for d in posted.decisions):
        lines += _handover(guidance.get("handover"))
    text = "\n".join(lines)
    labels = [str(x) for x in sig.get("labels") or []]
    return Note(
        text=text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…",
        tags=tuple(TAG_PREFIX + label for label in labels),
        priority=_priority(posted.decisions, priorities),
    )


def queue_note(desk: Desk, posted: Posted, *, now: datetime) -> int | None:
    """Queue the note for a freshly analysed message of a connector conversation; returns the
    delivery id (None: not analysed, or not a helpdesk's conversation)."""
    if posted.analysis != "done" or posted.signals is None:
        return None
    note = compose(posted, priorities=desk.policy.sla.priorities)
    with desk.store.write_core() as conn:
        conv = stored_connectors.conversation(conn, posted.conversation_id)
        if conv.connector_id is None:
            return None
        d = enqueue_note(
            conn, conv, note.text, now=now, tags=list(note.tags), priority=note.priority
        )
        return int(d.id)


def _headline(sig: dict[str, Any]) -> str:
    labels = ", ".join(str(x) for x in sig.get("labels") or []) or "none"
    return f"{OWN_MARK} risk {float(sig.get('risk', 0.0)):.2f} · labels: {labels}"


def _evidence(sig: dict[str, Any]) -> list[str]:
    seen: set[str] = set()
    quotes = []
    for e in sig.get("evidence") or []:
        said = str(e.get("text", "")).strip()
        signal = str(e.get("signal", ""))
        if not said or signal.startswith(QUIET) or said.lower() in seen:
            continue
        seen.add(said.lower())
        quotes.append(f"“{said[:120]}” ({signal})")
        if len(quotes) == EVIDENCE:
            break
    return ["Evidence: " + "; ".join(quotes)] if quotes else []


def _decisions(decisions: Sequence[dict[str, Any]]) -> list[str]:
    out = []
    for d in decisions:
        what = str(d.get("action"))
        detail = d.get("target") or d.get("priority")
        head = f"{what} {detail}" if detail else what
        out.append(f"- {head} [rule {d.get('rule_id')}]: {d.get('reason', '')}")
    return ["Decisions:", *out] if out else ["Decisions: none"]


def _next(guidance: dict[str, Any]) -> list[str]:
    out = []
    step = guidance.get("next_step") or {}
    if step:
        out.append(f"Next step: {step.get('step')}: {step.get('instruction', '')}")
    phrases = guidance.get("phrases") or []
    if phrases:
        out.append(f"Suggested phrase: “{phrases[0].get('text', '')}”")
    return out


def _handover(packet: Any) -> list[str]:
    if not isinstance(packet, dict):
        return []
    out = ["Hand-over:"]
    if packet.get("issue"):
        out.append(f"- issue: {packet['issue']}")
    if packet.get("wants"):
        out.append("- wants: " + ", ".join(str(w) for w in packet["wants"]))
    if packet.get("why"):
        out.append("- why now: " + "; ".join(str(w) for w in packet["why"]))
    if packet.get("opening_line"):
        out.append(f"- opening line: “{packet['opening_line']}”")
    return out


def _priority(decisions: Sequence[dict[str, Any]], priorities: Sequence[str]) -> str | None:
    """The most urgent priority a rule set (the policy's default never changes the helpdesk's)."""
    asked = [
        str(d["priority"])
        for d in decisions
        if d.get("action") == "set_priority"
        and d.get("priority")
        and d.get("rule_id") != DEFAULT_RULE
    ]
    ranked = [p for p in priorities if p in asked]
    return ranked[0] if ranked else (asked[0] if asked else None)
