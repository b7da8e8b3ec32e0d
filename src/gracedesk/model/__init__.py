"""Frozen value types shared by every layer."""

from gracedesk.model.critique import Commitment, Critique, Finding
from gracedesk.model.decision import Decision
from gracedesk.model.guidance import Guidance, HandoverPacket, Phrase, Promise, Solution, Step
from gracedesk.model.signals import (
    ABUSE,
    ARCHETYPES,
    CAUSES,
    EMOTIONS,
    EMOTIONS_FINE,
    REQUESTS,
    Archetype,
    ContextSignals,
    Evidence,
    Signals,
)

__all__ = [
    "ABUSE",
    "ARCHETYPES",
    "CAUSES",
    "EMOTIONS",
    "EMOTIONS_FINE",
    "REQUESTS",
    "Archetype",
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
