"""The Signals contract (v1): what analysis says about one customer message.

Every score is a probability in [0, 1] (sentiment in [-1, 1]); 0.5 is the threshold behind
``labels``. ``evidence`` offsets index the analysed text (Python string indices).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EMOTIONS: tuple[str, ...] = (
    "anger",
    "frustration",
    "disappointment",
    "confusion",
    "anxiety",
    "sadness",
    "gratitude",
    "joy",
)
# GoEmotions taxonomy, in the dataset's label-id order (../shared/data/goemotions/emotions.txt).
EMOTIONS_FINE: tuple[str, ...] = (
    "admiration",
    "amusement",
    "anger",
    "annoyance",
    "approval",
    "caring",
    "confusion",
    "curiosity",
    "desire",
    "disappointment",
    "disapproval",
    "disgust",
    "embarrassment",
    "excitement",
    "fear",
    "gratitude",
    "grief",
    "joy",
    "love",
    "nervousness",
    "optimism",
    "pride",
    "realization",
    "relief",
    "remorse",
    "sadness",
    "surprise",
    "neutral",
)
ABUSE: tuple[str, ...] = (
    "offensive",
    "insult",
    "threat",
    "profanity",
    "harassment",
    "identity_attack",
)
CAUSES: tuple[str, ...] = (
    "unmet_expectations",
    "poor_service",
    "miscommunication",
    "lack_of_information",
    "personal_stress",
)
REQUESTS: tuple[str, ...] = ("refund", "manager", "policy_exception", "cancel")
ARCHETYPES: tuple[str, ...] = (
    "serial_complainer",
    "indecisive",
    "demanding",
    "aggressive",
    "vague",
    "none",
)

CONTRACT_VERSION = "1"


@dataclass(frozen=True, slots=True)
class Evidence:
    """The words that drove a signal: ``text == analysed_text[start:end]``."""

    signal: str
    start: int
    end: int
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"signal": self.signal, "start": self.start, "end": self.end, "text": self.text}


@dataclass(frozen=True, slots=True)
class Archetype:
    """The customer's pattern across their history, with the reasons that led to it."""

    name: str
    score: float
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "score": self.score, "reasons": list(self.reasons)}


@dataclass(frozen=True, slots=True)
class ContextSignals:
    """Conversation-level signals computed from earlier messages and customer history."""

    archetype: Archetype
    archetype_scores: dict[str, float]
    trajectory: str  # "escalating" | "calming" | "steady" | "new"
    sentiment_trend: tuple[float, ...]
    repeat_contacts: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "archetype": self.archetype.name,
            "archetype_score": self.archetype.score,
            "archetype_reasons": list(self.archetype.reasons),
            "archetype_scores": dict(self.archetype_scores),
            "trajectory": self.trajectory,
            "sentiment_trend": list(self.sentiment_trend),
            "repeat_contacts": self.repeat_contacts,
        }


@dataclass(frozen=True, slots=True)
class Signals:
    """All signals for one message (contract v1)."""

    sentiment: float
    sentiment_label: str
    emotions: dict[str, float]
    emotions_fine: dict[str, float]
    abuse: dict[str, float]
    complaint: float
    causes: dict[str, float]
    requests: dict[str, float]
    public_threat: float
    legal_threat: float
    risk: float
    labels: tuple[str, ...]
    evidence: tuple[Evidence, ...]
    model: str
    id: Any = None
    context: ContextSignals | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of the contract (``id`` first; ``context`` only when computed)."""
        out: dict[str, Any] = {
            "id": self.id,
            "sentiment": self.sentiment,
            "sentiment_label": self.sentiment_label,
            "emotions": self.emotions,
            "emotions_fine": self.emotions_fine,
            "abuse": self.abuse,
            "complaint": self.complaint,
            "causes": self.causes,
            "requests": self.requests,
            "public_threat": self.public_threat,
            "legal_threat": self.legal_threat,
            "risk": self.risk,
            "labels": list(self.labels),
            "evidence": [e.to_dict() for e in self.evidence],
            "model": self.model,
        }
        if self.context is not None:
            out["context"] = self.context.to_dict()
        return out
