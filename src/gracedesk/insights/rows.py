"""The plain rows a report reads: one frozen dataclass per kind of stored fact.

The service builds them from the store (``service.reports``); tests build them by hand. Business
minutes are computed by the service with the policy's clock and stored on the row, because this
package may not import the policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Period:
    """The report's window ``[since, until)`` and its filters (None: every team, every agent)."""

    since: datetime
    until: datetime
    team: str | None = None
    agent: str | None = None

    def contains(self, t: datetime | None) -> bool:
        return t is not None and self.since <= t < self.until


@dataclass(frozen=True, slots=True)
class Target:
    """One priority's SLA targets, in the minutes its clock counts."""

    first_response_minutes: float
    resolution_minutes: float


@dataclass(frozen=True, slots=True)
class ConversationRow:
    id: int
    customer_id: int
    channel: str
    team: str | None
    assignee_id: int | None
    priority: str
    status: str
    opened_at: datetime
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    sla_breached_at: datetime | None = None
    # business minutes as the SLA clock of the conversation's priority counts them
    first_response_minutes: float | None = None  # opened -> first reply
    resolution_minutes: float | None = None  # opened -> resolved, waiting on the customer left out


@dataclass(frozen=True, slots=True)
class MessageRow:
    """A message with what a report reads of its analysis (customer) or critique (agent)."""

    id: int
    conversation_id: int
    author: str  # customer | agent | system
    channel: str
    received_at: datetime
    analysed: bool = False
    risk: float | None = None
    anger: float | None = None
    labels: tuple[str, ...] = ()
    causes: Mapping[str, float] = field(default_factory=dict)
    archetype: str | None = None  # signals["context"]["archetype"]
    coach_score: float | None = None  # the coach's score of an agent reply (0-100)


@dataclass(frozen=True, slots=True)
class EscalationRow:
    id: int
    conversation_id: int
    kind: str  # escalation | approval | sanction | sla
    target: str | None
    rule_id: str | None  # None: opened by hand
    state: str
    created_at: datetime
    decided_at: datetime | None = None
    turnaround_minutes: float | None = None  # business minutes from created to decided


@dataclass(frozen=True, slots=True)
class SanctionRow:
    id: int
    customer_id: int
    conversation_id: int | None
    level: str  # warn | restrict | block
    state: str
    created_at: datetime
    lifted_at: datetime | None = None  # from the ``sanction.lifted`` audit event


@dataclass(frozen=True, slots=True)
class SurveyRow:
    id: int
    conversation_id: int
    sent_at: datetime
    score: int | None = None
    responded_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class EventRow:
    """An audit event a report counts; ``user_id``: the agent it is about (or who acted)."""

    kind: str
    at: datetime
    conversation_id: int | None = None
    user_id: int | None = None


@dataclass(frozen=True, slots=True)
class UserRow:
    id: int
    name: str
    display_name: str
    role: str
    last_break_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CustomerRow:
    id: int
    external_id: str
    name: str | None


@dataclass(frozen=True, slots=True)
class QuoteRow:
    """An agent's reply that quoted a knowledge-base article (``kb_quotes``), at its time."""

    message_id: int
    conversation_id: int
    article_id: str
    title: str
    version: int
    at: datetime


@dataclass(frozen=True, slots=True)
class QuestionRow:
    """An analysed customer message that called for an article (``knowledge.triggers``:
    missing or misunderstood information, confusion, a policy request) and how many articles
    guidance found for it."""

    message_id: int
    conversation_id: int
    received_at: datetime
    reasons: tuple[str, ...]
    found: int


@dataclass(frozen=True, slots=True)
class History:
    """Everything a report reads, already narrowed to the report's team and agent.

    Messages, escalations, sanctions, surveys and events belong to the conversations here
    (``agent.break`` events and, without a filter, sanctions outside a conversation excepted);
    each section picks what falls in the period by its own time stamp.
    """

    conversations: tuple[ConversationRow, ...] = ()
    messages: tuple[MessageRow, ...] = ()
    escalations: tuple[EscalationRow, ...] = ()
    sanctions: tuple[SanctionRow, ...] = ()
    surveys: tuple[SurveyRow, ...] = ()
    events: tuple[EventRow, ...] = ()
    users: tuple[UserRow, ...] = ()
    customers: tuple[CustomerRow, ...] = ()
    kb_quotes: tuple[QuoteRow, ...] = ()  # replies in these conversations that quoted articles
    kb_questions: tuple[QuestionRow, ...] = ()  # their messages that called for an article
