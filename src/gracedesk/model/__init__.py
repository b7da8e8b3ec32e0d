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

__all__ = [
    "ABUSE",
    "ABUSE_TARGETS",
    "ARCHETYPES",
    "CAUSES",
    "EMOTIONS",
    "EMOTIONS_FINE",
    "MODEL_LANGUAGES",
    "REQUESTS",
    "Archetype",
    "ArticleRef",
    "Commitment",
    "ContextSignals",
    "Critique",
    "Decision",
    "Evidence",
    "Finding",
    "Guidance",
    "HandoverPacket",
    "Phrase",
    "Promise",
    "Signals",
    "Solution",
    "Step",
]
