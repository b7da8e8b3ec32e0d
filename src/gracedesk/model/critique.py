"""What the draft coach says about one agent reply: findings with spans, promises, a score.

Offsets (``start``, ``end``) index the draft as given (Python string indices). ``due`` is an
aware datetime in the customer's time zone, or ``None`` when no ``now`` was supplied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gracedesk.model.guidance import ArticleRef

FINDING_KINDS: tuple[str, ...] = (
    "excuse",
    "blame",
    "jargon",
    "dismissive",
    "negative_phrasing",
    "sarcasm",
    "all_caps",
    "over_apology",
    "vague_promise",
    "no_empathy",
    "no_next_step",
    "no_timeline",
    "over_authority",
)
HAS_FIELDS: tuple[str, ...] = (
    "empathy",
    "apology",
    "ownership",
    "solution",
    "next_step",
    "timeline",
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem in a draft: where it is, why it hurts, and a rewrite of that span."""

    kind: str
    start: int
    end: int
    text: str
    message: str
    suggestion: str
    # jargon or a policy recited: the knowledge base's plain wording for it, when one was found
    article: ArticleRef | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "message": self.message,
            "suggestion": self.suggestion,
        }
        if self.article is not None:
            out["article"] = self.article.to_dict()
        return out


@dataclass(frozen=True, slots=True)
class Commitment:
    """A promise with a resolvable time: the clause, the time phrase and the deadline."""

    text: str
    start: int
    end: int
    when: str
    due: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "when": self.when,
            "due": self.due.isoformat() if self.due is not None else None,
        }


@dataclass(frozen=True, slots=True)
class Critique:
    """The coach's verdict on one draft (see docs/coach.md for the score formula)."""

    score: int
    politeness: float
    has: dict[str, bool]
    findings: tuple[Finding, ...]
    commitments: tuple[Commitment, ...]
    version: str = "1"
    rewrite: str = ""  # the draft with every phrase finding replaced by its suggestion

    @property
    def clean(self) -> bool:
        return not self.findings

    def kinds(self) -> set[str]:
        return {f.kind for f in self.findings}

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "politeness": self.politeness,
            "has": dict(self.has),
            "findings": [f.to_dict() for f in self.findings],
            "commitments": [c.to_dict() for c in self.commitments],
            "rewrite": self.rewrite,
        }
