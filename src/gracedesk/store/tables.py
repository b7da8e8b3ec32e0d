"""The desk's tables (SQLAlchemy 2 declarative). One schema for SQLite and PostgreSQL.

Times are stored timezone-aware (UTC). JSON columns hold what the core returned
(``Signals.to_dict()``, ``Guidance.to_dict()``, a hand-over packet) with the model or policy
version beside it, so a result can be shown as it was and recomputed later. Migrations in
``store/migrations`` create exactly this metadata (a test compares them).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (no time zones) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware time (UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        """On SQLite, the stored text parsed straight into an aware UTC time: one call per value
        instead of the DateTime parse then :meth:`process_result_value` (a situation reads ~40
        times per message); the same ``fromisoformat`` parse, so the same values and errors."""
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        parse = datetime.fromisoformat

        def process(value: Any) -> Any:
            if value is None:
                return None
            d = parse(value)
            return d.replace(tzinfo=UTC) if d.tzinfo is None else d.astimezone(UTC)

        return process


Stamp = UTCDateTime()


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class User(Base):
    """A person who signs in: agent, supervisor or admin, with authority and well-being."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str | None] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(20))  # agent | supervisor | admin
    password_hash: Mapped[str | None] = mapped_column(String(200))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    authority: Mapped[dict[str, Any]] = mapped_column(default=dict)
    active: Mapped[bool] = mapped_column(default=True)
    abuse_exposures: Mapped[int] = mapped_column(Integer, default=0)
    last_exposure_at: Mapped[datetime | None] = mapped_column(Stamp)
    last_break_at: Mapped[datetime | None] = mapped_column(Stamp)
    created_at: Mapped[datetime] = mapped_column(Stamp)
    # the console: times shown in this IANA zone (None: UTC); abusive words masked or not
    # (None: the team default, desk_settings "mask_abuse")
    timezone: Mapped[str | None] = mapped_column(String(60))
    mask_abuse: Mapped[bool | None] = mapped_column()


class Customer(Base):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(50))
    tier: Mapped[str] = mapped_column(String(40), default="standard")
    lifetime_value: Mapped[float] = mapped_column(Float, default=0.0)
    preferences: Mapped[dict[str, Any]] = mapped_column(default=dict)
    flags: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(Stamp)


class CustomerNote(Base):
    __tablename__ = "customer_notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Stamp)


class Sanction(Base):
    """A step on the sanctions ladder: warn, restrict, block. Blocks wait for approval."""

    __tablename__ = "sanctions"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"))
    level: Mapped[str] = mapped_column(String(20))  # warn | restrict | block
    state: Mapped[str] = mapped_column(String(20))  # active | pending | rejected | lifted | closed
    reason: Mapped[str] = mapped_column(Text)
    rule_id: Mapped[str | None] = mapped_column(String(120))
    until: Mapped[datetime | None] = mapped_column(Stamp)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(Stamp)


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_status_risk", "status", "risk"),
        UniqueConstraint("connector_id", "external_ref"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    channel: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20))  # open | waiting | escalated | resolved
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    team: Mapped[str | None] = mapped_column(String(80))
    stage: Mapped[str | None] = mapped_column(String(20))
    risk: Mapped[float] = mapped_column(Float, default=0.0)
    labels: Mapped[list[Any]] = mapped_column(default=list)
    first_response_due: Mapped[datetime | None] = mapped_column(Stamp)
    resolution_due: Mapped[datetime | None] = mapped_column(Stamp)
    first_response_at: Mapped[datetime | None] = mapped_column(Stamp)
    sla_breached_at: Mapped[datetime | None] = mapped_column(Stamp)
    opened_at: Mapped[datetime] = mapped_column(Stamp)
    updated_at: Mapped[datetime] = mapped_column(Stamp)
    last_customer_at: Mapped[datetime | None] = mapped_column(Stamp)
    resolved_at: Mapped[datetime | None] = mapped_column(Stamp)
    resolution: Mapped[str | None] = mapped_column(Text)
    policy_version: Mapped[str | None] = mapped_column(String(80))
    # where the conversation lives outside the desk (gracedesk.channels): the mailbox it came
    # in through, or the helpdesk connector and that helpdesk's conversation/ticket id
    mailbox_id: Mapped[int | None] = mapped_column(ForeignKey("mailboxes.id"))
    connector_id: Mapped[int | None] = mapped_column(ForeignKey("connectors.id"))
    external_ref: Mapped[str | None] = mapped_column(String(200))
    contact: Mapped[str | None] = mapped_column(String(300))  # where replies go (an address)


class Message(Base):
    """A message as received. Committed before analysis; ``signals`` come after."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel", "channel_message_id"),
        # the worker's queue: queued and running messages, oldest first, without a scan of
        # the analysed ones (store.messages.claim_queued, queued_left)
        Index("ix_messages_analysis_state_id", "analysis_state", "id"),
        # a conversation's messages (both lead with it): whether an older one is still
        # queued or running (claim_queued), and its newest customer message (newest_of), each
        # read from the index alone
        Index("ix_messages_conversation_state_id", "conversation_id", "analysis_state", "id"),
        Index("ix_messages_conversation_author_id", "conversation_id", "author", "id"),
        # a conversation's newest messages up to one, newest first, system messages left
        # out (a situation's turns: store.messages.messages_upto, store.situations)
        Index("ix_messages_conversation_id_author", "conversation_id", "id", "author"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    author: Mapped[str] = mapped_column(String(20))  # customer | agent | system
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    channel: Mapped[str] = mapped_column(String(40))
    channel_message_id: Mapped[str | None] = mapped_column(String(200))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    request_hash: Mapped[str | None] = mapped_column(String(64))  # what the key was first used for
    text: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(Stamp)
    analysis_state: Mapped[str] = mapped_column(String(20))  # pending | done | failed | none
    analysis_error: Mapped[str | None] = mapped_column(Text)
    analysis_attempts: Mapped[int] = mapped_column(Integer, default=0)
    signals: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    guidance: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    critique: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    model_version: Mapped[str | None] = mapped_column(String(80))
    risk: Mapped[float | None] = mapped_column(Float)
    analysed_at: Mapped[datetime | None] = mapped_column(Stamp)
    # channel facts kept as metadata: e-mail headers, attachments (names, types, sizes), the
    # helpdesk's ids, whether it was an auto-reply or a bounce (stored, never analysed)
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    hold: Mapped[str | None] = mapped_column(String(20))  # held | released (sanctions)


class DecisionRow(Base):
    """One policy decision about one message, with the rule that made it and why."""

    __tablename__ = "decisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str | None] = mapped_column(String(80))
    rule_id: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str] = mapped_column(Text)
    policy_version: Mapped[str] = mapped_column(String(80))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(Stamp)


class Escalation(Base):
    """Something waiting for a supervisor: an escalation, an approval or a sanction to confirm."""

    __tablename__ = "escalations"
    __table_args__ = (
        Index("ix_escalations_state", "state", "created_at"),
        # a batch's pending escalations, by conversation (store.escalations.pending_of)
        Index("ix_escalations_conversation_state", "conversation_id", "state"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # escalation | approval | sanction | sla
    target: Mapped[str | None] = mapped_column(String(80))
    state: Mapped[str] = mapped_column(String(20))  # pending | approved | rejected | closed
    reason: Mapped[str] = mapped_column(Text)
    rule_id: Mapped[str | None] = mapped_column(String(120))
    packet: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approver_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Stamp)
    decided_at: Mapped[datetime | None] = mapped_column(Stamp)


class FollowUp(Base):
    """A promise made in a reply, tracked to its deadline."""

    __tablename__ = "follow_ups"
    __table_args__ = (Index("ix_follow_ups_state_due", "state", "due_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    promise: Mapped[str] = mapped_column(Text)
    when_text: Mapped[str | None] = mapped_column(String(200))
    due_at: Mapped[datetime] = mapped_column(Stamp)
    state: Mapped[str] = mapped_column(String(20))  # open | done | overdue | cancelled
    source: Mapped[str] = mapped_column(String(20))  # promise | policy | manual
    reminded_at: Mapped[datetime | None] = mapped_column(Stamp)
    done_at: Mapped[datetime | None] = mapped_column(Stamp)
    created_at: Mapped[datetime] = mapped_column(Stamp)


class CsatResponse(Base):
    __tablename__ = "csat"
    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    sent_at: Mapped[datetime] = mapped_column(Stamp)
    score: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    responded_at: Mapped[datetime | None] = mapped_column(Stamp)


class AuditEvent(Base):
    """Every change to a conversation or customer: who, what, when, why."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(Stamp, index=True)
    actor: Mapped[str] = mapped_column(String(120))  # "user:<name>", "customer", "system", ...
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(60))
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Notification(Base):
    """The outbox: a notification to send at least once (``key`` de-duplicates)."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_state_next", "state", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    event: Mapped[str] = mapped_column(String(60))
    recipients: Mapped[list[Any]] = mapped_column(default=list)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(20))  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(Stamp)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Stamp)
    sent_at: Mapped[datetime | None] = mapped_column(Stamp)


class ConsoleSession(Base):
    """A signed-in console session: the cookie carries its random id, the store its hash.

    Signing out deletes the row, so a copied cookie stops working at once (in every process);
    a row past ``expires_at`` is no longer accepted.
    """

    __tablename__ = "console_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the session id
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(Stamp)
    expires_at: Mapped[datetime] = mapped_column(Stamp)


class AuthThrottle(Base):
    """Failed sign-ins per user name or client address (the key is a SHA-256 of either)."""

    __tablename__ = "auth_throttle"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(Stamp)
    forget_at: Mapped[datetime] = mapped_column(Stamp, index=True)  # row is stale after this


class Delivery(Base):
    """An agent's reply on its way to the customer: one row per reply, so it is sent once.

    ``transport`` says how: ``email`` (SMTP), ``connector`` (the helpdesk's API), ``webhook``
    (a signed POST for chat) or ``none`` (the desk is the only place it lives). The sweep claims
    rows like the notification outbox (a lease), retries with back-off, then gives up.
    """

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_state_next", "state", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    transport: Mapped[str] = mapped_column(String(20))  # email | connector | webhook | none
    target: Mapped[str | None] = mapped_column(String(300))  # address, connector or URL
    state: Mapped[str] = mapped_column(String(20))  # queued|sent|failed|stored|cancelled
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(Stamp)
    last_error: Mapped[str | None] = mapped_column(Text)
    remote_id: Mapped[str | None] = mapped_column(String(300))  # Message-ID or the remote id
    created_at: Mapped[datetime] = mapped_column(Stamp)
    sent_at: Mapped[datetime | None] = mapped_column(Stamp)


class Mailbox(Base):
    """An IMAP mailbox read by the desk; ``address`` is the support address replies come from."""

    __tablename__ = "mailboxes"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    host: Mapped[str] = mapped_column(String(253))
    port: Mapped[int] = mapped_column(Integer)
    security: Mapped[str] = mapped_column(String(10))  # ssl | starttls | none
    username: Mapped[str] = mapped_column(String(254))
    password: Mapped[str] = mapped_column(Text)
    folder: Mapped[str] = mapped_column(String(200), default="INBOX")
    address: Mapped[str] = mapped_column(String(254))
    done_folder: Mapped[str | None] = mapped_column(String(200))  # move here; else flag \Seen
    active: Mapped[bool] = mapped_column(default=True)
    uidvalidity: Mapped[int | None] = mapped_column(Integer)
    last_uid: Mapped[int | None] = mapped_column(Integer)
    last_checked_at: Mapped[datetime | None] = mapped_column(Stamp)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Stamp)


class Connector(Base):
    """A helpdesk the desk plugs into (Chatwoot, Zammad, Zendesk, Freshdesk, Help Scout)."""

    __tablename__ = "connectors"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    secret: Mapped[str] = mapped_column(Text)  # verifies the helpdesk's webhook signatures
    api_url: Mapped[str] = mapped_column(String(500))
    api_token: Mapped[str] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)  # account id, user, ...
    active: Mapped[bool] = mapped_column(default=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Stamp)


class ImportRun(Base):
    """A bulk import of an archive, resumable: ``position`` is the last record committed."""

    __tablename__ = "imports"
    __table_args__ = (UniqueConstraint("sha256", "format"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(String(1000))
    sha256: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(20))  # running | done
    position: Mapped[int] = mapped_column(Integer, default=0)
    imported: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(Stamp)
    finished_at: Mapped[datetime | None] = mapped_column(Stamp)


class DeskSetting(Base):
    """A team-wide console setting chosen by a supervisor (e.g. ``mask_abuse``), audited."""

    __tablename__ = "desk_settings"
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"value": ...}
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(Stamp)


class TrainingSession(Base):
    """A practice session with a simulated customer (``gracedesk.training``).

    Only what replays it is kept: the scenario, the seed and the trainee's turns. The
    simulation is deterministic, so every page rebuilds the customer's lines, states and the
    rubric from these; score, passed and outcome are copied here when it ends, for the
    progress tables.
    """

    __tablename__ = "training_sessions"
    __table_args__ = (Index("ix_training_sessions_user_started", "user_id", "started_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    scenario_id: Mapped[str] = mapped_column(String(80))
    seed: Mapped[int] = mapped_column(Integer)
    turns: Mapped[list[Any]] = mapped_column(default=list)  # the trainee's texts, in order
    status: Mapped[str] = mapped_column(String(20))  # in_progress | done
    score: Mapped[float | None] = mapped_column(Float)
    passed: Mapped[bool | None] = mapped_column()
    outcome: Mapped[str | None] = mapped_column(String(40))
    started_at: Mapped[datetime] = mapped_column(Stamp)
    finished_at: Mapped[datetime | None] = mapped_column(Stamp)


class TrainingAssignment(Base):
    """A scenario, or a named set of them, that a supervisor asked an agent to practise."""

    __tablename__ = "training_assignments"
    id: Mapped[int] = mapped_column(primary_key=True)
    scenario_id: Mapped[str | None] = mapped_column(String(80))  # one of scenario_id, set_name
    set_name: Mapped[str | None] = mapped_column(String(80))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    assigned_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    due_at: Mapped[datetime | None] = mapped_column(Stamp)
    created_at: Mapped[datetime] = mapped_column(Stamp)
    done_at: Mapped[datetime | None] = mapped_column(Stamp)  # passed (every scenario of the set)


class TrainingCertification(Base):
    """An agent passed every scenario of a set; ``sessions`` are the passing sessions' ids."""

    __tablename__ = "training_certifications"
    __table_args__ = (UniqueConstraint("user_id", "set_name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    set_name: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(Stamp)
    sessions: Mapped[list[Any]] = mapped_column(default=list)


class KbArticle(Base):
    """A knowledge-base article (``gracedesk.knowledge``): its current version's front matter.

    The text of every version is in ``kb_versions``; the current version's passages, with their
    sentence vectors, in ``kb_passages``. ``deleted`` hides an article without losing its trail.
    """

    __tablename__ = "kb_articles"
    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    audience: Mapped[str] = mapped_column(String(20))  # customer | internal
    tags: Mapped[list[Any]] = mapped_column(default=list)
    policy_rules: Mapped[list[Any]] = mapped_column(default=list)
    updated: Mapped[date] = mapped_column()  # the date the article's author gives
    hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of the current version's Markdown
    deleted: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(Stamp)
    updated_at: Mapped[datetime] = mapped_column(Stamp)


class KbVersion(Base):
    """One version of an article as written (front matter and Markdown), who saved it and why."""

    __tablename__ = "kb_versions"
    __table_args__ = (UniqueConstraint("article_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)  # max(id) versions the passage cache
    article_id: Mapped[str] = mapped_column(ForeignKey("kb_articles.id"))
    version: Mapped[int] = mapped_column(Integer)
    markdown: Mapped[str] = mapped_column(Text)
    hash: Mapped[str] = mapped_column(String(64))
    author: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(Stamp)


class KbPassage(Base):
    """A passage of an article's current version: its span in the body and its vector.

    ``search_text`` (title, heading and the passage without Markdown marks) is what full-text
    search reads: SQLite's FTS5 table ``kb_fts`` (rowid = ``id``), PostgreSQL's generated column
    ``search_tsv`` (``to_tsvector('english', search_text)``) and its GIN index; both are made by
    migration 0005, not by this metadata (see :func:`include_name`). ``vector`` is float32,
    L2-normalised, from ``embedder``.
    """

    __tablename__ = "kb_passages"
    __table_args__ = (UniqueConstraint("article_id", "ordinal"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[str] = mapped_column(ForeignKey("kb_articles.id"))
    version: Mapped[int] = mapped_column(Integer)
    ordinal: Mapped[int] = mapped_column(Integer)
    heading: Mapped[str | None] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    search_text: Mapped[str] = mapped_column(Text)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes | None] = mapped_column()
    embedder: Mapped[str | None] = mapped_column(String(80))


class KbQuote(Base):
    """An agent's reply that quoted an article (which version): what settles questions."""

    __tablename__ = "kb_quotes"
    __table_args__ = (UniqueConstraint("message_id", "article_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    article_id: Mapped[str] = mapped_column(ForeignKey("kb_articles.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(Stamp)


class KbQuestion(Base):
    """A customer question an article answered: a second retrieval key for that article
    (:mod:`gracedesk.knowledge.memory`). ``source`` is ``reply`` (the customer message before an
    agent reply that quoted the article; ``message_id`` is that message, and erasing the
    customer deletes the row) or ``import`` (``gracedesk kb questions``, past tickets).
    ``vector`` as in ``kb_passages``."""

    __tablename__ = "kb_questions"
    # AUTOINCREMENT on SQLite: ids of deleted (erased) questions are never reused, so
    # (count, max(id)) always changes when questions do (the search cache's version)
    __table_args__ = (UniqueConstraint("article_id", "hash"), {"sqlite_autoincrement": True})
    id: Mapped[int] = mapped_column(primary_key=True)  # max(id) versions the question cache
    article_id: Mapped[str] = mapped_column(ForeignKey("kb_articles.id"))
    text: Mapped[str] = mapped_column(Text)
    hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of the text, for idempotence
    source: Mapped[str] = mapped_column(String(20))  # reply | import
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    vector: Mapped[bytes | None] = mapped_column()
    embedder: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(Stamp)


# What a migration makes outside this metadata: SQLite's full-text index over kb_passages (an
# FTS5 virtual table and its shadow tables), PostgreSQL's tsvector column and its index.
UNMODELLED_PREFIXES = ("kb_fts",)
UNMODELLED_INDEXES = ("ix_kb_passages_fts",)
UNMODELLED_COLUMNS = ("search_tsv",)


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic's ``include_name`` hook: leave the unmodelled full-text objects out of
    autogenerate and of the test that compares the migrations with this metadata."""
    if name is None:
        return True
    if type_ == "table":
        return not name.startswith(UNMODELLED_PREFIXES)
    if type_ == "index":
        return name not in UNMODELLED_INDEXES
    if type_ == "column":
        return name not in UNMODELLED_COLUMNS
    return True


def table_of(cls: type[Base]) -> Table:
    """The Core table of a mapped class (for the hot path's Core statements)."""
    t = cls.__table__
    assert isinstance(t, Table)
    return t
