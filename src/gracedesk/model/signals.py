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
# Who the abuse is aimed at; "none": the message is not abusive (analysis/target.py).
ABUSE_TARGETS: tuple[str, ...] = ("agent", "company", "person", "group", "none")
# Languages the models were trained on; others get the "unsupported_language" label.
MODEL_LANGUAGES: tuple[str, ...] = ("en",)
ARCHETYPES: tuple[str, ...] = (
    "serial_complainer",
    "indecisive",
    "demanding",
    "aggressive",
    "vague",
    "none",
)

CONTRACT_VERSION = "1"
HIGH_RISK = 0.5  # risk at or above this is "high": the high_risk label, the badge, hand-overs
MEDIUM_RISK = 0.3  # the console's "medium" badge from here
# Abuse kinds that can be aimed at someone (profanity and plain offensiveness can be venting).
DIRECTED: tuple[str, ...] = ("insult", "threat", "harassment", "identity_attack")


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
    # Conversation memory (analysis/context.py, docs/analysis.md "Conversation memory"):
    earlier_risk: float = 0.0  # the earlier customer messages' peak risk, decayed
    earlier_threat: float = 0.0  # strongest threat at people since a supervisor cleared it
    earlier_abuse: int = 0  # earlier customer messages with abuse at people
    resolved: bool = False  # the customer says the issue is solved (and nothing new is open)

    def to_dict(self) -> dict[str, Any]:
        return {
            "archetype": self.archetype.name,
            "archetype_score": self.archetype.score,
            "archetype_reasons": list(self.archetype.reasons),
            "archetype_scores": dict(self.archetype_scores),
            "trajectory": self.trajectory,
            "sentiment_trend": list(self.sentiment_trend),
            "repeat_contacts": self.repeat_contacts,
            "earlier_risk": self.earlier_risk,
            "earlier_threat": self.earlier_threat,
            "earlier_abuse": self.earlier_abuse,
            "resolved": self.resolved,
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
    # P(abusive and aimed at each target); empty when unknown (signals given, not analysed)
    abuse_target: dict[str, float] = field(default_factory=dict)
    language: str = "en"  # ISO 639-1 code of the message's language, "und" when undecided

    @property
    def language_supported(self) -> bool:
        """The models read this language ("und", too short or unsure, is read as English)."""
        return self.language in MODEL_LANGUAGES or self.language == "und"

    # (directed abuse, share at people, threat): read for every earlier message of every new one
    # (conversation memory) and by every step of the playbook, so computed once per object
    _people: tuple[float, float, float] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def _at_people(self) -> tuple[float, float, float]:
        got = self._people
        if got is None:
            got = (
                self._directed(),
                self._share(("agent", "person", "group")),
                float(self.abuse.get("threat", 0.0)),
            )
            object.__setattr__(self, "_people", got)  # frozen: a cache, not a field's value
        return got

    def at_people_share(self) -> float:
        """P(the abuse is aimed at people | the message is abusive): the agent or staff,
        another person or a group, as opposed to the company or the situation. When the target
        is unknown (signals given, not analysed) the abuse kinds decide: an insult, threat,
        harassment or identity attack at 0.5 or above is read as aimed at people (as before
        targets existed), profanity alone as aimed at the situation."""
        return self._at_people()[1]

    def _share(self, targets: tuple[str, ...]) -> float:
        """P(the abuse is aimed at one of ``targets`` | abusive); see :meth:`at_people_share`
        for signals without a target."""
        t = self.abuse_target
        if not t:
            return 1.0 if self._directed() >= 0.5 else 0.0
        abusive = 1.0 - t.get("none", 0.0)
        if abusive <= 1e-6:
            return 0.0
        return min(1.0, sum([t.get(x, 0.0) for x in targets]) / abusive)

    def _directed(self) -> float:
        """The strongest directed abuse score (insult, threat, harassment, identity attack):
        ``max`` over them, ties and NaN included."""
        abuse = self.abuse
        top = float(abuse.get(DIRECTED[0], 0.0))
        for a in DIRECTED[1:]:
            v = float(abuse.get(a, 0.0))
            if v > top:
                top = v
        return top

    def abuse_at_people(self) -> float:
        """The strongest directed abuse (insult, threat, harassment, identity attack) times
        the share aimed at people: what warnings, sanctions and a boundary step read."""
        directed, share, _ = self._at_people()
        return directed * share

    def at_people(self) -> tuple[float, float]:
        """``(abuse_at_people(), threat_at_people())``."""
        directed, share, threat = self._at_people()
        return directed * share, threat * share

    def threat_at_people(self) -> float:
        """The threat score times the share aimed at people (not at property or the company)."""
        _, share, threat = self._at_people()
        return threat * share

    def at_agent_share(self) -> float:
        """P(the abuse is aimed at the agent or staff | abusive); when the target is unknown,
        as :meth:`at_people_share` reads it."""
        return self._share(("agent",))

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of the contract (``id`` first; ``context`` only when computed)."""
        out: dict[str, Any] = {
            "id": self.id,
            "sentiment": self.sentiment,
            "sentiment_label": self.sentiment_label,
            "emotions": self.emotions,
            "emotions_fine": self.emotions_fine,
            "abuse": self.abuse,
            "abuse_target": self.abuse_target,
            "complaint": self.complaint,
            "causes": self.causes,
            "requests": self.requests,
            "public_threat": self.public_threat,
            "legal_threat": self.legal_threat,
            "risk": self.risk,
            "labels": list(self.labels),
            "evidence": [e.to_dict() for e in self.evidence],
            "language": self.language,
            "model": self.model,
        }
        if self.context is not None:
            out["context"] = self.context.to_dict()
        return out
