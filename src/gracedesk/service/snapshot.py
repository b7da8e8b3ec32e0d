"""What the core needs to know about a conversation (read by ``intake.take``).

``Snapshot.scenario()`` is a ``gracedesk decide`` scenario (messages, customer history, agent)
and ``Snapshot.customer`` the mapping guidance reads, so the desk and the CLI run the same code
on the same shapes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True, slots=True)
class Snapshot:
    conversation_id: int
    messages: tuple[dict[str, Any], ...]  # {"role", "text", "at"}: customer and agent turns
    customer: dict[str, Any]
    agent: dict[str, Any]
    commitments: tuple[dict[str, Any], ...]
    request: dict[str, Any] | None = None
    threat_cleared_at: str | None = None  # a supervisor decided the security escalation
    restricted: bool = False  # the customer is under an active restriction (longer SLA)

    def scenario(self, id: Any) -> dict[str, Any]:
        sc: dict[str, Any] = {
            "id": id,
            "messages": list(self.messages),
            "customer": self.customer,
            "agent": {"role": self.agent.get("role", "agent")},
        }
        if self.threat_cleared_at:
            sc["conversation"] = {"threat_cleared_at": self.threat_cleared_at}
        if self.request:
            sc["request"] = self.request
        return sc


def recent_counts(past: Iterable[Any], *, now: datetime, exclude: int | None) -> tuple[int, int]:
    """(contacts in 30 days, complaints in 90 days) from past conversations, bar ``exclude``."""
    rows = [r for r in past if r.id != exclude]
    contacts = sum(1 for r in rows if r.opened_at >= now - timedelta(days=30))
    complaints = sum(
        1
        for r in rows
        if "complaint" in (r.labels or []) and r.opened_at >= now - timedelta(days=90)
    )
    return contacts, complaints


def top_cause(labels: list[Any]) -> str | None:
    from gracedesk.model import CAUSES

    return next((c for c in CAUSES if c in labels), None)


def agent_of(user: Any) -> dict[str, Any]:
    if user is None:
        return {"role": "agent"}
    return {
        "role": user.role,
        "name": user.display_name,
        "authority": dict(user.authority or {}),
    }
