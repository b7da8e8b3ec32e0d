"""What one message's decisions do to the desk, as data: ``service.effects.effects_for`` builds
the list (pure), ``store.effects.apply`` writes it in the caller's transaction, in order.

Each effect says what to write; the store keeps it idempotent per conversation (an escalation
is not opened twice while one is pending, nor a policy follow-up while one is open).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gracedesk.model.guidance import Guidance
from gracedesk.model.signals import Signals


@dataclass(frozen=True, slots=True)
class StoreAnalysis:
    """The message's signals, guidance and decision rows (``DecisionRow`` columns)."""

    message_id: int
    conversation_id: int
    signals: Signals
    guidance: Guidance
    decisions: tuple[Mapping[str, Any], ...]
    at: datetime
    # the signals' and guidance's JSON when encoded already (outside the write transaction)
    signals_json: str | None = None
    guidance_json: str | None = None


@dataclass(frozen=True, slots=True)
class Place:
    """The conversation's priority, team, risk, stage, labels and SLA after the message."""

    conversation_id: int
    at: datetime
    priority: str
    team: str | None
    risk: float
    stage: str | None
    labels: list[str] | None
    policy_version: str | None
    first_response_due: datetime | None
    resolution_due: datetime | None
    sla_breached_at: datetime | None


@dataclass(frozen=True, slots=True)
class RefreshPackets:
    """The newest hand-over packet on every pending escalation of the conversation."""

    conversation_id: int
    packet: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Notice:
    """Who hears of a new escalation, and the console they open it in."""

    to: str
    console_url: str


@dataclass(frozen=True, slots=True)
class OpenEscalation:
    conversation_id: int
    customer_id: int
    kind: str  # escalation | approval | sanction
    target: str | None
    reason: str
    rule_id: str | None
    packet: Mapping[str, Any] | None
    notice: Notice
    at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)
    requested_by: int | None = None  # the agent who asked (None: the policy)
    # a pending escalation found gets ``packet``; False when the same message's
    # ``RefreshPackets`` has just written it to every pending escalation (its newest message)
    refresh_pending: bool = True


@dataclass(frozen=True, slots=True)
class ImposeSanction:
    """A sanction; ``approval`` is the escalation it waits on (its ``data`` gains the
    sanction's id when stored)."""

    conversation_id: int
    customer_id: int
    level: str  # warn | restrict | block
    state: str  # active | pending
    reason: str
    rule_id: str | None
    until: datetime | None
    at: datetime
    approval: OpenEscalation | None = None


@dataclass(frozen=True, slots=True)
class AddFollowUp:
    """The policy's follow-up (unless the conversation has an open one)."""

    conversation_id: int
    message_id: int
    assignee_id: int | None
    promise: str
    due_at: datetime
    at: datetime


@dataclass(frozen=True, slots=True)
class Audited:
    """An audit event (a row of ``store.audit.event``)."""

    event: Mapping[str, Any]


Effect = (
    StoreAnalysis | Place | RefreshPackets | OpenEscalation | ImposeSanction | AddFollowUp | Audited
)
