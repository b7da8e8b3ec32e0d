"""Builders shared by the guidance tests (no tests here): synthetic Signals and conversations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gracedesk.errors import InvalidScenario
from gracedesk.guidance.coach import authority_from_limits
from gracedesk.model.signals import (
    ABUSE,
    CAUSES,
    EMOTIONS,
    EMOTIONS_FINE,
    REQUESTS,
    Archetype,
    ContextSignals,
    Evidence,
    Signals,
)
from gracedesk.model.situation import AgentProfile, CustomerHistory, Situation, Turn
from gracedesk.model.situation_parse import parse_situation

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def make_signals(
    *,
    emotions: dict[str, float] | None = None,
    abuse: dict[str, float] | None = None,
    causes: dict[str, float] | None = None,
    requests: dict[str, float] | None = None,
    sentiment: float = 0.0,
    risk: float = 0.2,
    archetype: str = "none",
    trajectory: str = "steady",
    repeat: int = 0,
    legal: float = 0.0,
    public: float = 0.0,
    evidence: tuple[Evidence, ...] = (),
    labels: tuple[str, ...] = (),
    target: dict[str, float] | None = None,
    earlier_threat: float = 0.0,
    earlier_abuse: int = 0,
    resolved: bool = False,
) -> Signals:
    """Signals with every score 0.0 except those given (and a context with ``archetype``).

    ``target``: who the abuse is aimed at (``abuse_target``; left out: unknown, read as people).
    """
    ctx = ContextSignals(
        archetype=Archetype(archetype, 0.8, ("set by the test",) if archetype != "none" else ()),
        archetype_scores={},
        trajectory=trajectory,
        sentiment_trend=(sentiment,),
        repeat_contacts=repeat,
        earlier_threat=earlier_threat,
        earlier_abuse=earlier_abuse,
        resolved=resolved,
    )
    return Signals(
        sentiment=sentiment,
        sentiment_label="negative" if sentiment < 0 else "neutral",
        emotions={k: 0.0 for k in EMOTIONS} | (emotions or {}),
        emotions_fine={k: 0.0 for k in EMOTIONS_FINE},
        abuse={k: 0.0 for k in ABUSE} | (abuse or {}),
        complaint=0.0,
        causes={k: 0.0 for k in CAUSES} | (causes or {}),
        requests={k: 0.0 for k in REQUESTS} | (requests or {}),
        public_threat=public,
        legal_threat=legal,
        risk=risk,
        labels=labels,
        evidence=evidence,
        model="test",
        context=ctx,
        abuse_target=dict(target or {}),
    )


def convo(*turns: tuple[str, str]) -> list[dict[str, Any]]:
    """``("c", text)`` / ``("a", text)`` pairs as messages."""
    role = {"c": "customer", "a": "agent"}
    return [{"role": role[r], "text": t} for r, t in turns]


def situation(conversation: Any, **parts: Any) -> Situation:
    """``conversation`` (and ``customer``, ``agent``, ``commitments``, ``request``) as the
    Situation guidance reads, parsed as ``gracedesk advise`` parses a scenario line."""
    return parse_situation(
        {"messages": conversation, **parts}, error=InvalidScenario, edge_keys=None
    )


def said(
    message: str | None, *, name: str | None = None, limits: dict[str, float] | None = None
) -> Situation:
    """What the coach reads: the customer's message and name, and what the agent may grant alone
    (``{"refund": 50, "credit": 25}``; a kind not given is not checked)."""
    return Situation(
        (Turn("customer", message),) if message else (),
        customer=CustomerHistory(name=name),
        agent=AgentProfile(authority=authority_from_limits(limits or {})),
    )
