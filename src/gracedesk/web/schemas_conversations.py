"""Response models for conversations: the queue, the detail, replies, escalations, follow-ups."""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

from gracedesk.web.schemas import JsonObject, Out
from gracedesk.web.schemas_customers import CustomerSummary
from gracedesk.web.schemas_signals import (
    Analysis,
    ArticleRef,
    Decision,
    Guidance,
    Handover,
    Priority,
    Signals,
)

C = TypeVar("C", bound=Out)
Status = Literal["open", "waiting", "escalated", "held", "resolved"]


class QueueCustomer(Out):
    id: int
    external_id: str
    name: str | None
    tier: str


class ConversationBase(Out, Generic[C]):
    """What a conversation row shows in the queue (times ISO 8601; ``reply_due``: the first
    response's deadline while one is owed). ``C``: how much of the customer comes with it."""

    id: int
    customer: C
    channel: str
    subject: str | None
    status: Status
    priority: Priority
    team: str | None
    risk: float
    labels: list[str]
    stage: str | None
    assignee: str | None
    reply_due: str | None
    resolution_due: str | None
    overdue: bool
    sla_breached_at: str | None
    opened_at: str | None
    updated_at: str | None
    resolved_at: str | None


class ConversationItem(ConversationBase[QueueCustomer]):
    pass


class ConversationPage(Out):
    total: int
    limit: int
    offset: int
    items: list[ConversationItem]


class Delivery(Out):
    """How a reply is delivered (``target`` of a webhook: where, never its URL)."""

    state: str
    transport: str
    target: str | None
    attempts: int
    last_error: str | None
    remote_id: str | None
    sent_at: str | None
    next_attempt_at: str | None


class Finding(Out):
    """A problem in a draft: its span, why it hurts, a rewrite (and an article, if any)."""

    kind: str
    start: int
    end: int
    text: str
    message: str
    suggestion: str
    article: ArticleRef | None = None


class Commitment(Out):
    """A promise with a time: the clause, the time phrase, the deadline."""

    text: str
    start: int
    end: int
    when: str
    due: str | None


class Has(Out):
    empathy: bool
    apology: bool
    ownership: bool
    solution: bool
    next_step: bool
    timeline: bool


class Critique(Out):
    """The draft coach's verdict on one reply (docs/coach.md)."""

    score: int
    politeness: float
    has: Has
    findings: list[Finding]
    commitments: list[Commitment]
    rewrite: str


class Attachment(Out):
    filename: str | None
    content_type: str
    size: int


class MessageView(Out):
    id: int
    author: Literal["customer", "agent", "system"]
    author_user: str | None
    channel: str
    text: str
    received_at: str
    analysis: Analysis
    model_version: str | None
    signals: Signals | None
    decisions: list[Decision]
    guidance: Guidance | None
    critique: Critique | None
    hold: Literal["held", "released"] | None
    auto: str | None
    attachments: list[Attachment]
    delivery: Delivery | None


class FollowUp(Out):
    id: int
    conversation_id: int
    promise: str
    when: str | None
    due: str
    state: Literal["open", "done", "overdue", "cancelled"]
    source: str
    reminded_at: str | None


class Escalation(Out):
    """An escalation, approval or sanction waiting for (or decided by) a supervisor."""

    id: int
    conversation_id: int
    kind: str
    target: str | None
    state: str
    reason: str | None
    rule_id: str | None
    data: JsonObject | None
    packet: Handover | None
    created_at: str
    decided_at: str | None
    note: str | None


class ConversationBrief(Out):
    subject: str | None
    risk: float
    priority: Priority
    status: Status


class EscalationListed(Escalation):
    conversation: ConversationBrief | None


class Decided(Escalation):
    """An escalation just decided; ``taken_over``: the decider now holds the conversation."""

    taken_over: bool


class Csat(Out):
    sent_at: str | None
    score: int | None
    comment: str | None
    responded_at: str | None


class ConversationDetail(ConversationBase[CustomerSummary]):
    """A conversation with its messages; ``signals``, ``guidance`` and ``decisions`` are those
    of the last customer message."""

    resolution: str | None
    policy_version: str | None
    messages: list[MessageView]
    signals: Signals | None
    guidance: Guidance | None
    decisions: list[Decision]
    follow_ups: list[FollowUp]
    escalations: list[Escalation]
    csat: Csat | None


class QuotedArticle(Out):
    id: str
    version: int


class Reply(Out):
    """A reply stored: its delivery, the coach's critique, its promises as follow-ups."""

    message_id: int
    conversation_id: int
    delivery: Delivery | None
    critique: Critique
    follow_ups: list[FollowUp]
    articles: list[QuotedArticle]


class SurveySent(Out):
    sent_at: str
    score: None
    responded_at: None


class Closed(Out):
    id: int
    kind: str
    target: str | None
    state: str


class Resolved(Out):
    conversation_id: int
    status: Literal["resolved"]
    resolution: str
    csat: SurveySent
    closed: list[Closed]


class Rotation(Out):
    rule_id: str
    reason: str


class Assigned(Out):
    """Who holds the conversation now (``rotation``: an agent over the exposure limit)."""

    conversation_id: int
    assignee: str | None
    rotation: Rotation | None = None


class CsatAnswer(Out):
    conversation_id: int
    score: int


class CustomerExport(CustomerSummary):
    """Everything stored about one customer: the customer view and each conversation whole."""

    conversations: list[ConversationDetail]
    exported_at: str
