"""Decision: what the escalation policy says to do about one message, and why.

Every decision names the rule that made it (``rule_id``; ``"default"`` when the policy's declared
default filled a slot no rule did), a human-readable ``reason`` naming the values that matched,
and the ``policy_version`` it came from, so the console and the audit trail can show it as is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

ACTIONS: tuple[str, ...] = (
    "escalate",
    "require_approval",
    "set_priority",
    "route",
    "warn_customer",
    "restrict",
    "block",
    "protect_agent",
    "schedule_follow_up",
)
ESCALATION_TARGETS: tuple[str, ...] = ("supervisor", "specialist_team", "security", "legal")


@dataclass(frozen=True, slots=True)
class Decision:
    """One action decided by a rule (fields that do not apply to the action stay ``None``)."""

    action: str  # one of ACTIONS
    target: str | None  # escalate: a role/team; route: a team; require_approval: approver role
    rule_id: str
    reason: str
    policy_version: str
    precedence: int = 0
    priority: str | None = None  # set_priority
    mode: str | None = (
        None  # escalate: transfer|offer|immediate; protect_agent: suggest_break|reassign
    )
    approval_required: bool = False
    approver_role: str | None = None
    request_kind: str | None = None  # require_approval: refund|discount|credit|exception
    amount: float | None = None
    limit: float | None = None  # require_approval: the agent's own limit for the kind
    minutes: int | None = None  # restrict: cooling-off; schedule_follow_up: business minutes
    due: datetime | None = None  # restrict: until; schedule_follow_up: when

    def to_dict(self) -> dict[str, Any]:
        """JSON object with the fields that apply (``None`` and ``False`` left out)."""
        out: dict[str, Any] = {"action": self.action, "target": self.target}
        for key in (
            "priority",
            "mode",
            "approval_required",
            "approver_role",
            "request_kind",
            "amount",
            "limit",
            "minutes",
        ):
            value = getattr(self, key)
            if value is not None and value is not False:
                out[key] = value
        if self.due is not None:
            out["due"] = self.due.isoformat()
        out.update(
            rule_id=self.rule_id,
            precedence=self.precedence,
            reason=self.reason,
            policy_version=self.policy_version,
        )
        return out
