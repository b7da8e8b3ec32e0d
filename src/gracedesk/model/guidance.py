"""What guidance says about a conversation: the next step, phrases, solutions and a hand-over.

Every value explains itself: a step, a phrase and a solution each carry ``why`` (the signals,
turns and history that led to it). ``to_dict()`` gives the JSON of ``gracedesk advise``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gracedesk.model.signals import Evidence

# The playbook's stages, in the order a conversation normally moves through them.
STAGES: tuple[str, ...] = (
    "listen",
    "acknowledge",
    "clarify",
    "common_ground",
    "offer",
    "commit",
    "close",
)
# A step is a stage, or a calm boundary statement that comes before anything else.
STEPS: tuple[str, ...] = ("boundary", *STAGES)


@dataclass(frozen=True, slots=True)
class Step:
    """The next best step: what to do, why, and how to adapt it to this customer."""

    step: str
    instruction: str
    why: tuple[str, ...]
    tactics: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "instruction": self.instruction,
            "why": list(self.why),
            "tactics": list(self.tactics),
        }


@dataclass(frozen=True, slots=True)
class Phrase:
    """A phrase from the library, filled in for this conversation and ranked with its reasons."""

    id: str
    text: str
    stage: str
    tone: str
    score: float
    why: tuple[str, ...]
    pack: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "stage": self.stage,
            "tone": self.tone,
            "score": self.score,
            "why": list(self.why),
            "pack": self.pack,
        }


@dataclass(frozen=True, slots=True)
class Solution:
    """A concrete option for the customer; ``needs_approval`` when it is above the agent's limit."""

    kind: str
    title: str
    detail: str
    why: tuple[str, ...]
    amount: float | None = None
    percent: float | None = None
    currency: str | None = None
    channel: str | None = None
    needs_approval: bool = False
    approval_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "title": self.title,
            "detail": self.detail,
            "why": list(self.why),
            "amount": self.amount,
            "percent": self.percent,
            "currency": self.currency,
            "channel": self.channel,
            "needs_approval": self.needs_approval,
            "approval_reason": self.approval_reason,
        }


@dataclass(frozen=True, slots=True)
class Promise:
    """A commitment already made to the customer (``due`` as ISO text; ``overdue`` at ``now``)."""

    text: str
    due: str | None
    overdue: bool

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "due": self.due, "overdue": self.overdue}


@dataclass(frozen=True, slots=True)
class ArticleRef:
    """A knowledge-base passage that guidance cites: which article, which version, what words.

    ``passage`` is plain text the agent may put in a reply as it is; ``id`` and ``version`` say
    where it came from, so a reply that quotes it can be traced to the version it quoted.
    A reference to an article already shared in a conversation may carry no passage.
    """

    id: str
    title: str
    version: int
    passage: str = ""
    heading: str | None = None
    score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "version": self.version,
            "passage": self.passage,
            "heading": self.heading,
            "score": self.score,
        }


@dataclass(frozen=True, slots=True)
class HandoverPacket:
    """Everything the next agent needs so that the customer never repeats themselves."""

    recommended: bool
    why: tuple[str, ...]
    issue: str
    what_happened: tuple[str, ...]
    wants: tuple[str, ...]
    evidence: tuple[Evidence, ...]
    tried: tuple[str, ...]
    history: tuple[str, ...]
    risk: float
    labels: tuple[str, ...]
    archetype: str | None
    trajectory: str | None
    promises: tuple[Promise, ...]
    opening_line: str
    # knowledge-base articles agents already quoted to the customer (docs/knowledge.md)
    articles: tuple[ArticleRef, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "recommended": self.recommended,
            "why": list(self.why),
            "issue": self.issue,
            "what_happened": list(self.what_happened),
            "wants": list(self.wants),
            "evidence": [e.to_dict() for e in self.evidence],
            "tried": list(self.tried),
            "history": list(self.history),
            "signals": {
                "risk": self.risk,
                "labels": list(self.labels),
                "archetype": self.archetype,
                "trajectory": self.trajectory,
            },
            "promises": [p.to_dict() for p in self.promises],
            "opening_line": self.opening_line,
            "articles": [a.to_dict() for a in self.articles],
        }

    def to_markdown(self) -> str:
        """The packet as Markdown, for a ticket note or the console."""

        def items(lines: tuple[str, ...] | list[str]) -> list[str]:
            return [f"- {line}" for line in lines] or ["- (none)"]

        head = "recommended" if self.recommended else "not needed yet"
        out = [f"## Hand-over: {self.issue}", "", f"Escalation {head}."]
        out += items(self.why) if self.why else []
        out += ["", "### What happened", *items(self.what_happened)]
        out += ["", "### What they want", *items(self.wants)]
        quotes = [f"{e.signal}: “{e.text}”" for e in self.evidence]
        out += ["", "### Key evidence", *items(quotes)]
        out += ["", "### Already tried", *items(self.tried)]
        out += ["", "### Customer history", *items(self.history)]
        sig = [f"risk {self.risk:.2f}", "labels: " + (", ".join(self.labels) or "none")]
        if self.archetype:
            sig.append(f"archetype: {self.archetype}")
        if self.trajectory:
            sig.append(f"trajectory: {self.trajectory}")
        out += ["", "### Signals", *items(sig)]
        promised = [
            f"{p.text} (due {p.due or 'no date'}{', OVERDUE' if p.overdue else ''})"
            for p in self.promises
        ]
        out += ["", "### Promises made", *items(promised)]
        if self.articles:
            shared = [f"{a.title} ({a.id}, version {a.version})" for a in self.articles]
            out += ["", "### Articles already shared", *items(shared)]
        out += ["", "### Suggested opening line", "", f"> {self.opening_line}", ""]
        return "\n".join(out)

    def to_text(self) -> str:
        """The packet as plain text (Markdown without the markup)."""
        lines = []
        for line in self.to_markdown().splitlines():
            if line.startswith("#"):
                line = line.lstrip("#").strip().upper()
            elif line.startswith("> "):
                line = "  " + line[2:]
            lines.append(line)
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Guidance:
    """The result of ``guidance.advise``: where the conversation stands and what to do next."""

    stage: str
    done: tuple[str, ...]
    next_step: Step
    phrases: tuple[Phrase, ...]
    solutions: tuple[Solution, ...]
    solution_notes: tuple[str, ...]
    handover: HandoverPacket
    # knowledge-base passages that explain what the customer did not know (docs/knowledge.md)
    articles: tuple[ArticleRef, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "done": list(self.done),
            "next_step": self.next_step.to_dict(),
            "phrases": [p.to_dict() for p in self.phrases],
            "solutions": [s.to_dict() for s in self.solutions],
            "solution_notes": list(self.solution_notes),
            "handover": self.handover.to_dict(),
            "articles": [a.to_dict() for a in self.articles],
        }
