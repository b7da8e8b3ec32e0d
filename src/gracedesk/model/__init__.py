"""Frozen value types shared by every layer."""

from gracedesk.model.critique import Commitment, Critique, Finding
from gracedesk.model.decision import Decision
from gracedesk.model.guidance import (
    ArticleRef,
    Guidance,
    HandoverPacket,
    Phrase,
    Promise,
    Solution,
    Step,
)
from gracedesk.model.signals import (
    ABUSE,
    ABUSE_TARGETS,
    ARCHETYPES,
    CAUSES,
    EMOTIONS,
    EMOTIONS_FINE,
    MODEL_LANGUAGES,
    REQUESTS,
    Archetype,
    ContextSignals,
    Evidence,
    Signals,
)
from gracedesk.model.situation import (
    AgentProfile,
    Authority,
    CustomerHistory,
    OpenPromise,
    Request,
    Situation,
    Turn,
)

__all__ = [
    "ABUSE",
    "ABUSE_TARGETS",
    "ARCHETYPES",
    "CAUSES",
    "EMOTIONS",
    "EMOTIONS_FINE",
    "MODEL_LANGUAGES",
    "REQUESTS",
    "AgentProfile",
    "Archetype",
    "ArticleRef",
    "Authority",
    "Commitment",
    "ContextSignals",
    "Critique",
    "CustomerHistory",
    "Decision",
    "Evidence",
    "Finding",
    "Guidance",
    "HandoverPacket",
    "OpenPromise",
    "Phrase",
    "Promise",
    "Request",
    "Signals",
    "Situation",
    "Solution",
    "Step",
    "Turn",
]
