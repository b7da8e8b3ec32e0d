"""The desk: a customer message is stored first, then understood, decided on and guided.

    accept (commit)  ->  analyse + decide + advise (pure)  ->  record (commit)

``post_message`` commits the message before anything else, so an analysis failure (or a crash)
never loses it: the message stays ``pending``/``failed`` and ``reanalyse_pending`` picks it up.
Time comes in as ``now``; nothing here reads the clock or the environment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from gracedesk.errors import InvalidRequest, NotFound
from gracedesk.service import effects, snapshot
from gracedesk.store import Store
from gracedesk.store.tables import DecisionRow, Message, User

if TYPE_CHECKING:
    from gracedesk.analysis.pipeline import Analyzer
    from gracedesk.guidance.phrases import Library
    from gracedesk.policy import PolicySet
    from gracedesk.service.flow import Outcome

log = logging.getLogger("gracedesk.desk")

CHANNELS = ("api", "email", "chat", "web", "phone", "twitter", "webhook", "import")


@dataclass(frozen=True, slots=True)
class CustomerRef:
    external_id: str
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    tier: str | None = None


@dataclass(frozen=True, slots=True)
class Incoming:
    customer: CustomerRef
    text: str
    channel: str = "api"
    conversation_id: int | None = None
    channel_message_id: str | None = None
    subject: str | None = None
    request: dict[str, Any] | None = None  # {"kind": "refund", "amount": 120}


@dataclass(slots=True)
class Posted:
    message_id: int
    conversation_id: int
    created: bool
    analysis: str  # done | failed | pending
    signals: dict[str, Any] | None = None
    decisions: list[dict[str, Any]] = field(default_factory=list)
    guidance: dict[str, Any] | None = None
    sla: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "conversation_id": self.conversation_id,
            "analysis": self.analysis,
            "signals": self.signals,
            "decisions": self.decisions,
            "guidance": self.guidance,
            "sla": self.sla,
        }


def audit(
    s: Session,
    kind: str,
    *,
    now: datetime,
    actor: User | str,
    conversation_id: int | None = None,
    customer_id: int | None = None,
    reason: str | None = None,
    **detail: Any,
) -> None:
    """An audit event in the session's transaction (who, what, when, why)."""
    name, uid = (f"user:{actor.name}", actor.id) if isinstance(actor, User) else (actor, None)
    effects.audit_core(
        s.connection(),
        kind,
        now=now,
        actor=name,
        actor_id=uid,
        conversation_id=conversation_id,
        customer_id=customer_id,
        reason=reason,
        **detail,
    )


class Desk:
    """The service. Built once at the entry point with its store, policy and models."""

    def __init__(
        self,
        store: Store,
        *,
        policy: PolicySet,
        analyzer: Analyzer,
        library: Library | None = None,
        supervisor_email: str | None = None,
        base_url: str = "http://127.0.0.1:8000",
        follow_up_lead_minutes: int = 60,
    ) -> None:
        from gracedesk.guidance.phrases import Library

        self.store = store
        self.policy = policy
        self.analyzer = analyzer
        self.library = library or Library.default()
        self.supervisor_email = supervisor_email
        self.base_url = base_url.rstrip("/")
        self.follow_up_lead_minutes = follow_up_lead_minutes

    # -- customer messages ---------------------------------------------------------------------

    def post_message(
        self,
        msg: Incoming,
        *,
        actor: User | None,
        now: datetime,
        idempotency_key: str | None = None,
    ) -> Posted:
        """Store, then analyse, decide and advise. A replayed key returns the first result."""
        if not msg.text.strip():
            raise InvalidRequest("text is empty")
        if msg.channel not in CHANNELS:
            raise InvalidRequest(f"channel must be one of {list(CHANNELS)}")
        key = idempotency_key
        if key is None and msg.channel_message_id:
            key = f"{msg.channel}:{msg.channel_message_id}"
        try:
            accepted = retrying(lambda: self._accept(msg, actor=actor, now=now, key=key))
        except IntegrityError:
            # a concurrent request with the same key won the race: answer with its message
            if key is None:
                raise
            accepted = None
        if accepted is None or isinstance(accepted, int):
            return self.replay(accepted if isinstance(accepted, int) else self._by_key(key))
        message_id, conv_id, snap = accepted
        return self._understand(message_id, conv_id, snap, now=now, request=msg.request)

    def _by_key(self, key: str | None) -> int:
        with self.store.read() as s:
            mid = s.scalar(select(Message.id).where(Message.idempotency_key == key))
        if mid is None:
            raise InvalidRequest(
                "the message could not be stored: its Idempotency-Key or channel message id "
                "clashes with another message"
            )
        return mid

    def _accept(
        self, msg: Incoming, *, actor: User | None, now: datetime, key: str | None
    ) -> tuple[int, int, snapshot.Snapshot] | int:
        from gracedesk.service import intake

        with self.store.write_core() as conn:
            acc = intake.accept(
                conn,
                msg,
                key=key,
                now=now,
                actor=actor,
                priority=self.policy.default.priority,
                subject=msg.subject or _subject(msg.text),
            )
        if isinstance(acc, int):
            return acc
        # committed; the context is read outside the write lock (WAL readers do not block)
        with self.store.read_core() as conn:
            snap = intake.take(
                conn,
                acc.conversation_id,
                now=now,
                customer_id=acc.customer_id,
                assignee_id=acc.assignee_id,
                new_customer=acc.new_customer,
                customer_row=acc.customer,
            )
        return acc.message_id, acc.conversation_id, snap

    def _understand(
        self,
        message_id: int,
        conv_id: int,
        snap: snapshot.Snapshot,
        *,
        now: datetime,
        request: dict[str, Any] | None,
    ) -> Posted:
        from dataclasses import replace

        if request is not None:
            snap = replace(snap, request=request)
        try:
            outcome, guidance = self._analyse(message_id, snap, now=now)

            def rec() -> None:
                with self.store.write_core() as conn:
                    effects.record(self, conn, message_id, conv_id, outcome, guidance, now=now)

            retrying(rec)
        except Exception as exc:  # the message is kept whatever went wrong; it is retried later
            log.exception("analysis of message %s failed", message_id)
            with self.store.write() as s:
                m = s.get_one(Message, message_id)
                m.analysis_state = "failed"
                m.analysis_error = f"{type(exc).__name__}: {exc}"[:2000]
                m.analysis_attempts += 1
            return Posted(message_id, conv_id, created=True, analysis="failed")
        return Posted(
            message_id,
            conv_id,
            created=True,
            analysis="done",
            signals=outcome.signals,
            decisions=[d.to_dict() for d in outcome.trace.decisions],
            guidance=guidance,
            sla=outcome.sla.to_dict(),
        )

    def _analyse(
        self, message_id: int, snap: snapshot.Snapshot, *, now: datetime
    ) -> tuple[Outcome, dict[str, Any]]:
        from gracedesk.guidance.advice import advise
        from gracedesk.service.flow import run_scenario

        outcome = run_scenario(snap.scenario(message_id), self.policy, self.analyzer, now)
        g = advise(
            outcome.signals_obj,
            list(snap.messages),
            snap.customer,
            snap.agent,
            now=now,
            commitments=list(snap.commitments),
            library=self.library,
            request=snap.request,
        )
        return outcome, g.to_dict()

    def replay(self, message_id: int) -> Posted:
        """The stored answer for a message (an idempotent replay)."""
        with self.store.read() as s:
            m = s.get(Message, message_id)
            if m is None:
                raise NotFound(f"message {message_id} does not exist")
            rows = s.scalars(
                select(DecisionRow).where(DecisionRow.message_id == m.id).order_by(DecisionRow.id)
            ).all()
            return Posted(
                m.id,
                m.conversation_id,
                created=False,
                analysis=m.analysis_state,
                signals=m.signals,
                decisions=[effects.decision_dict(r) for r in rows],
                guidance=m.guidance,
            )

    def reanalyse(self, message_id: int, *, now: datetime, grace_s: float = 60.0) -> Posted:
        """Analyse a stored customer message again (after a failure, or with new models).

        The message is claimed first (``analysis_state = 'running'``), so two workers never
        analyse it at once; its context is the conversation up to that message.
        """
        from datetime import timedelta

        from sqlalchemy import or_, update

        from gracedesk.service import intake

        with self.store.write() as s:
            m = s.get(Message, message_id)
            if m is None:
                raise NotFound(f"message {message_id} does not exist")
            if m.author != "customer":
                raise InvalidRequest(f"message {message_id} is not a customer message")
            claimed = s.execute(
                update(Message)
                .where(
                    Message.id == message_id,
                    or_(
                        Message.analysis_state != "running",
                        Message.analysed_at < now - timedelta(seconds=grace_s),
                    ),
                )
                .values(analysis_state="running", analysed_at=now)
                .execution_options(synchronize_session=False)
            )
            if not claimed.rowcount:  # type: ignore[attr-defined]
                return self.replay(message_id)
            conv_id = m.conversation_id
            snap = intake.take(s.connection(), conv_id, now=now, upto=message_id)
            s.query(DecisionRow).filter(DecisionRow.message_id == m.id).delete()
        return self._understand(message_id, conv_id, snap, now=now, request=None)

    def pending_analysis(
        self, *, now: datetime, limit: int = 100, max_attempts: int = 5, grace_s: float = 60.0
    ) -> list[int]:
        """Customer messages whose analysis failed or never finished (older than ``grace_s``),
        and claims of crashed workers (running for longer than ``grace_s``)."""
        from datetime import timedelta

        from sqlalchemy import and_, or_

        old = now - timedelta(seconds=grace_s)
        with self.store.read() as s:
            return list(
                s.scalars(
                    select(Message.id)
                    .where(
                        Message.author == "customer",
                        Message.analysis_attempts < max_attempts,
                        or_(
                            and_(
                                Message.analysis_state.in_(("pending", "failed")),
                                Message.received_at < old,
                            ),
                            and_(Message.analysis_state == "running", Message.analysed_at < old),
                        ),
                    )
                    .order_by(Message.id)
                    .limit(limit)
                )
            )


T = TypeVar("T")
RETRY_SQLSTATES = ("40P01", "40001")  # PostgreSQL: deadlock detected, serialization failure


def retrying(work: Callable[[], T], attempts: int = 3) -> T:
    """Run a transaction again when PostgreSQL broke a deadlock by aborting it."""
    for attempt in range(attempts):
        try:
            return work()
        except OperationalError as exc:
            if (
                getattr(exc.orig, "sqlstate", None) not in RETRY_SQLSTATES
                or attempt + 1 == attempts
            ):
                raise
            log.warning("transaction retried after %s", getattr(exc.orig, "sqlstate", None))
    raise AssertionError("unreachable")


def _subject(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= 80 else first[:77].rstrip() + "…"
