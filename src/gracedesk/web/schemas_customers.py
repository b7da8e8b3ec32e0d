"""Response models for customers: the customer view, notes, sanctions, flags and erasure."""

from __future__ import annotations

from gracedesk.web.schemas import JsonObject, Out

SanctionLevel = str  # warn, restrict, block: the policy's ladder, which may name others


class Sanction(Out):
    """A sanction on a customer (``until``: the end of a timed restriction)."""

    id: int
    customer_id: int
    level: SanctionLevel
    state: str
    reason: str
    rule_id: str | None
    until: str | None
    created_at: str


class Note(Out):
    id: int
    text: str
    author: str | None
    created_at: str | None


class PastConversation(Out):
    id: int
    subject: str | None
    status: str
    opened_at: str | None
    resolution: str | None
    labels: list[str]


class CustomerSummary(Out):
    """``GET /api/v1/customers/{id}``, and the customer in a conversation's detail (its
    ``history`` then leaves that conversation out)."""

    id: int
    external_id: str
    name: str | None
    email: str | None
    phone: str | None
    tier: str
    lifetime_value: float
    preferences: JsonObject
    flags: list[str]
    since: str | None
    contacts_30d: int
    complaints_90d: int
    csat_mean: float | None
    history: list[PastConversation]
    sanctions: list[Sanction]
    notes: list[Note]


class Flags(Out):
    """A customer's flags after one was added or cleared."""

    customer_id: int
    flags: list[str]


class Erasure(Out):
    """What an erasure removed or masked, counted (never what it was)."""

    customer_id: int
    erased_at: str
    conversations: int
    messages: int
    notes: int
    kb_questions: int
    notifications_dropped: int
    notifications_masked: int
    audit_events: int
    scenario_files: int


class Held(Out):
    """A customer message a sanction holds, for a supervisor to read and release."""

    message_id: int
    conversation_id: int
    customer_id: int
    customer: str
    channel: str
    text: str
    received_at: str
