"""Response model of ``GET /api/v1/reports/summary`` (``insights/report.py``; docs/insights.md).

Durations are business minutes; a rate or a mean is ``null`` when nothing was counted. Maps
keyed by a channel, priority, cause, archetype, rule or sanction level follow the policy and the
model's labels, so they are ``dict[str, ...]`` of a fixed value shape.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gracedesk.web.schemas import Out


class Period(Out):
    since: str
    until: str
    days: float
    team: str | None
    agent: str | None
    timezone: str


class ChannelVolume(Out):
    conversations: int
    messages: int


class Volume(Out):
    messages: int
    replies: int
    conversations: int
    resolved: int
    by_channel: dict[str, ChannelVolume]


class Durations(Out):
    count: int
    median: float | None
    p90: float | None


class FirstResponse(Durations):
    unanswered: int


class Met(Out):
    met: int
    total: int
    rate: float | None


class PrioritySla(Out):
    first_response_target: int
    resolution_target: int
    first_response: Met
    resolution: Met
    breaches: int


class SlaReport(Out):
    first_response: Met
    resolution: Met
    by_priority: dict[str, PrioritySla]
    breaches: int


class Reopened(Out):
    resolved: int
    reopened: int
    rate: float | None


class CsatReport(Out):
    sent: int
    answered: int
    response_rate: float | None
    mean: float | None
    distribution: dict[str, int]  # "1".."5"


class EscalationRate(Out):
    conversations: int
    escalated: int
    rate: float | None


class Escalations(Out):
    total: int
    by_kind: dict[str, int]
    by_rule: dict[str, int]
    by_target: dict[str, int]
    rate: EscalationRate
    approval_turnaround: Durations


class Share(Out):
    count: int
    share: float | None


class Week(Out):
    week: str
    total: int
    counts: dict[str, int]


class Causes(Out):
    messages: int
    by_cause: dict[str, Share]
    weekly: list[Week]


class Archetypes(Out):
    conversations: int
    mix: dict[str, Share]


class Complainer(Out):
    customer_id: int
    external_id: str | None
    name: str | None
    complaints: int
    conversations: int


class RepeatComplainers(Out):
    minimum: int
    customers: list[Complainer]


class Exposed(Out):
    name: str
    display_name: str
    exposures: int
    breaks: int
    last_break_at: str | None


class AbuseExposure(Out):
    abusive_messages: int
    agents: list[Exposed]


class LevelCounts(Out):
    created: int
    lifted: int


class Sanctions(Out):
    created: int
    lifted: int
    by_level: dict[str, LevelCounts]
    by_state: dict[str, int]


class QuotedArticle(Out):
    article_id: str
    title: str
    quotes: int
    conversations: int
    settled: int
    settled_rate: float | None


class Question(Out):
    message_id: int
    conversation_id: int
    received_at: str
    reasons: list[str]


class Questions(Out):
    messages: int
    without_article: int
    rate: float | None
    by_reason: dict[str, int]
    recent: list[Question]


class KnowledgeBase(Out):
    quotes: int
    conversations: int
    settled: int
    settled_rate: float | None
    articles_quoted: int
    articles: list[QuotedArticle]
    questions: Questions


class Definition(Out):
    kind: Literal["rate", "mean"]
    better: Literal["higher", "lower"]
    meaning: str


class Overall(Out):
    value: float | None
    n: int


class Effect(Out):
    """A with-minus-without difference, adjusted by stratum, with its 95% interval."""

    with_: float | None = Field(alias="with")
    without: float | None
    raw_difference: float | None
    difference: float | None
    ci95: list[float] | None
    excludes_zero: bool
    n: int
    n_without: int
    n_matched: int
    n_without_matched: int
    strata: int


class Feature(Out):
    """A playbook step, phrase or coach finding, and the outcomes that went with it."""

    key: str
    replies: int
    evidence: str | None
    outcomes: dict[str, Effect | None]


class Outcomes(Out):
    observational: bool
    caveat: str
    adjustment: str
    definitions: dict[str, Definition]
    replies: int
    measured: int
    strata: int
    overall: dict[str, Overall]
    steps: list[Feature]
    phrases: list[Feature]
    findings: list[Feature]


class Predicted(Out):
    conversations: int
    mean: float | None


class Calibration(Out):
    slope: float
    intercept: float


class CsatModel(Out):
    kind: Literal["ridge"]
    alpha: float
    coefficients: dict[str, float]
    calibration: Calibration


class PredictedCsat(Out):
    status: str
    answered: int
    minimum: int
    folds: int
    answered_mean: float | None
    mae: float | None
    baseline_mae: float | None
    predicted: Predicted
    model: CsatModel | None


class Report(Out):
    period: Period
    volume: Volume
    first_response: FirstResponse
    resolution: Durations
    sla: SlaReport
    reopen_rate: Reopened
    csat: CsatReport
    escalations: Escalations
    causes: Causes
    archetypes: Archetypes
    repeat_complainers: RepeatComplainers
    abuse_exposure: AbuseExposure
    sanctions: Sanctions
    knowledge_base: KnowledgeBase
    outcomes: Outcomes
    predicted_csat: PredictedCsat
