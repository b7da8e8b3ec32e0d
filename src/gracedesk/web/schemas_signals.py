"""Response models for one analysed message: its signals, the policy's decisions, the guidance.

``Signals`` is contract v1 (``model/signals.py`` ``Signals.to_dict``, docs/analysis.md); the
score maps (``emotions``, ``abuse``, ``causes`` ...) are keyed by the model's labels, which a
model version may extend, so they stay ``dict[str, float]``. ``Posted`` is the body of
``POST /api/v1/messages`` and ``GET /api/v1/messages/{id}``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gracedesk.web.schemas import Out

Analysis = Literal["queued", "pending", "running", "done", "failed", "held", "none", "erased"]
Priority = str  # one the policy names (``sla.priorities``: urgent, high, normal, low by default)
Action = Literal[
    "escalate",
    "require_approval",
    "set_priority",
    "route",
    "warn_customer",
    "restrict",
    "block",
    "protect_agent",
    "schedule_follow_up",
]


class Evidence(Out):
    """A span of the message (``start``/``end``: string indices) behind one signal."""

    signal: str
    start: int
    end: int
    text: str


class ContextSignals(Out):
    """Conversation-level signals from earlier messages and the customer's history."""

    archetype: str
    archetype_score: float
    archetype_reasons: list[str]
    archetype_scores: dict[str, float]
    trajectory: Literal["escalating", "calming", "steady", "new"]
    sentiment_trend: list[float]
    repeat_contacts: int
    earlier_risk: float = 0.0
    earlier_threat: float = 0.0
    earlier_abuse: int = 0
    resolved: bool = False


class Signals(Out):
    """All signals for one message (contract v1); ``context`` only when it was computed."""

    id: int | str | None
    sentiment: float
    sentiment_label: str
    emotions: dict[str, float]
    emotions_fine: dict[str, float]
    abuse: dict[str, float]
    abuse_target: dict[str, float] = Field(default_factory=dict)
    complaint: float
    causes: dict[str, float]
    requests: dict[str, float]
    public_threat: float
    legal_threat: float
    risk: float
    labels: list[str]
    evidence: list[Evidence]
    language: str = "en"
    model: str
    context: ContextSignals | None = None


class Decision(Out):
    """One action a policy rule decided; the keys that do not apply to the action are absent."""

    action: Action
    target: str | None
    priority: Priority | None = None
    mode: str | None = None
    approval_required: bool | None = None
    approver_role: str | None = None
    request_kind: str | None = None
    amount: float | None = None
    limit: float | None = None
    minutes: int | None = None
    due: str | None = None
    rule_id: str
    precedence: int = 0
    reason: str
    policy_version: str


class Step(Out):
    step: str
    instruction: str
    why: list[str]
    tactics: list[str]


class Phrase(Out):
    id: str
    text: str
    stage: str
    tone: str
    score: float
    why: list[str]
    pack: str


class Solution(Out):
    kind: str
    title: str
    detail: str
    why: list[str]
    amount: float | None
    percent: float | None
    currency: str | None
    channel: str | None
    needs_approval: bool
    approval_reason: str | None


class Promise(Out):
    text: str
    due: str | None
    overdue: bool


class ArticleRef(Out):
    """A knowledge-base passage cited (``passage`` empty when the article was shared already)."""

    id: str
    title: str
    version: int
    passage: str
    heading: str | None
    score: float | None


class HandoverSignals(Out):
    risk: float
    labels: list[str]
    archetype: str | None
    trajectory: str | None


class Handover(Out):
    """The hand-over packet: what the next agent needs so the customer never repeats it."""

    recommended: bool
    why: list[str]
    issue: str
    what_happened: list[str]
    wants: list[str]
    evidence: list[Evidence]
    tried: list[str]
    history: list[str]
    signals: HandoverSignals
    promises: list[Promise]
    opening_line: str
    articles: list[ArticleRef] = Field(default_factory=list)


class Guidance(Out):
    stage: str
    done: list[str]
    next_step: Step
    phrases: list[Phrase]
    solutions: list[Solution]
    solution_notes: list[str]
    handover: Handover
    articles: list[ArticleRef] = Field(default_factory=list)


class Sla(Out):
    priority: Priority
    first_response_due: str
    resolution_due: str


class Posted(Out):
    """A stored customer message and, once analysed, what the desk made of it."""

    message_id: int
    conversation_id: int
    analysis: Analysis
    signals: Signals | None
    decisions: list[Decision]
    guidance: Guidance | None
    sla: Sla | None
