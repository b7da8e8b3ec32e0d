"""Frozen value types shared by every layer."""

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
    "ContextSignals",
    "Evidence",
    "Signals",
]
