"""What the core needs to know about a conversation (read by ``intake.take``).

``Snapshot.scenario()`` is a ``gracedesk decide`` scenario (messages, customer history, agent)
and ``Snapshot.customer`` the mapping guidance reads, so the desk and the CLI run the same code
on the same shapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Snapshot:
    conversation_id: int
    messages: tuple[dict[str, Any], ...]  # {"role", "text", "at"}: customer and agent turns
    customer: dict[str, Any]
    agent: dict[str, Any]
    commitments: tuple[dict[str, Any], ...]
    request: dict[str, Any] | None = None

    def scenario(self, id: Any) -> dict[str, Any]:
        sc: dict[str, Any] = {
            "id": id,
            "messages": list(self.messages),
            "customer": self.customer,
            "agent": {"role": self.agent.get("role", "agent")},
        }
        if self.request:
            sc["request"] = self.request
        return sc


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
