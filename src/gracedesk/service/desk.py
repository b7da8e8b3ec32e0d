"""The desk: a customer message is stored first, then understood, decided on and guided.

    accept (commit)  ->  analyse + decide + advise (pure)  ->  record (commit)

``post_message`` commits the message before anything else, so an analysis failure (or a crash)
never loses it: the message stays ``pending``/``failed`` and ``reanalyse_pending`` picks it up.
Time comes in as ``now``; nothing here reads the clock or the environment.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from gracedesk.errors import Conflict, InvalidRequest, NotFound
from gracedesk.guidance.advice import advise
from gracedesk.guidance.phrases import Library
from gracedesk.model.guidance import Guidance
from gracedesk.model.situation import Request
from gracedesk.model.staff import Staff
from gracedesk.service import effects
from gracedesk.service.flow import Outcome, analysed_text, run_situation
from gracedesk.service.outcomes import PhraseStatsCache
from gracedesk.store import Store, situations
from gracedesk.store.protocol import Holds
from gracedesk.store.protocol import store as persistence
from gracedesk.store.situations import Snapshot

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from gracedesk.analysis.pipeline import Analyzer
    from gracedesk.model import Signals
    from gracedesk.policy import PolicySet

log = logging.getLogger("gracedesk.desk")

CHANNELS = (
    "api",
    "email",
    "chat",
    "web",
    "phone",
    "twitter",
    "webhook",
    "import",
    # helpdesk connectors (gracedesk.channels.connectors)
    "chatwoot",
    "zammad",
    "zendesk",
    "freshdesk",
    "helpscout",
)


@dataclass(frozen=True, slots=True)
class CustomerRef:
    external_id: str
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    tier: str | None = None


@dataclass(frozen=True, slots=True)
class Link:
    """Where a conversation lives outside the desk (set by ``gracedesk.channels``).

    A message with a link never joins another open conversation of the customer's: it joins the
    conversation of that connector and ``external_ref`` (the helpdesk's conversation or ticket
    id), the ``conversation_id`` an e-mail thread resolved to, or starts a new one.
    """

    mailbox_id: int | None = None
    connector_id: int | None = None
    external_ref: str | None = None
    contact: str | None = None  # where replies go: the customer's e-mail address


@dataclass(frozen=True, slots=True)
class Incoming:
    customer: CustomerRef
    text: str
    channel: str = "api"
    conversation_id: int | None = None
    channel_message_id: str | None = None
    subject: str | None = None
    request: Request | None = None  # what the customer asks for: Request("refund", 120.0)
    link: Link | None = None
    meta: dict[str, Any] | None = None  # channel metadata kept with the message (headers, ...)
    analyse: bool = True  # False: stored only (an auto-reply or a bounce is not customer anger)


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
    actor: Staff | str,
    conversation_id: int | None = None,
    customer_id: int | None = None,
    reason: str | None = None,
    **detail: Any,
) -> None:
    """An audit event in the session's transaction (who, what, when, why)."""
    name, uid = persistence.audit.actor_of(actor)
    event = persistence.audit.event(
        kind,
        now=now,
        actor=name,
        actor_id=uid,
        conversation_id=conversation_id,
        customer_id=customer_id,
        reason=reason,
        **detail,
    )
    persistence.audit.write(s, [event])


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
        reply_webhook_url: str | None = None,
        measured_phrases: bool = True,
    ) -> None:
        self.store = store
        self.policy = policy
        self.analyzer = analyzer
        self.library = library or Library.default()
        self.supervisor_email = supervisor_email
        self.base_url = base_url.rstrip("/")
        self.follow_up_lead_minutes = follow_up_lead_minutes
        self.reply_webhook_url = reply_webhook_url  # where replies on chat/api channels go
        self.holds = Holds.of(policy.sanctions, reply_webhook_url)
        # phrases ranked by how often they calmed customers here (docs/insights-outcomes.md)
        self.phrase_stats = PhraseStatsCache(store) if measured_phrases else None
        # set when this process queues a message for asynchronous analysis: wakes the worker
        self.queued = threading.Event()

    # -- customer messages ---------------------------------------------------------------------

    def post_message(
        self,
        msg: Incoming,
        *,
        actor: Staff | None,
        now: datetime,
        idempotency_key: str | None = None,
        respond_async: bool = False,
    ) -> Posted:
        """Store, then analyse, decide and advise. A replayed key returns the first result.

        ``respond_async``: answer as soon as the message is stored (``analysis="queued"``); the
        worker analyses queued messages in micro-batches (:mod:`gracedesk.service.ingest`)."""
        if not msg.text.strip():
            raise InvalidRequest("text is empty")
        if msg.channel not in CHANNELS:
            raise InvalidRequest(f"channel must be one of {list(CHANNELS)}")
        key = IdempotencyKey.of(msg, idempotency_key)
        try:
            accepted = retrying(
                lambda: self._accept(msg, actor=actor, now=now, key=key, queued=respond_async)
            )
        except IntegrityError:
            # a concurrent request with the same key won the race: answer with its message
            if key is None:
                raise
            accepted = None
        if accepted is None or isinstance(accepted, int):
            return self.replay(accepted if isinstance(accepted, int) else self._by_key(key))
        message_id, conv_id, snap = accepted
        if isinstance(snap, str):  # stored only: held by a sanction, or not to be analysed
            return Posted(message_id, conv_id, created=True, analysis=snap)
        if snap is None:
            self.queued.set()
            return Posted(message_id, conv_id, created=True, analysis="queued")
        return self.understand(message_id, conv_id, snap, now=now, request=msg.request)

    def _by_key(self, key: IdempotencyKey | None) -> int:
        """The message a concurrent request stored under ``key`` (checked like a replay)."""
        found = None
        if key is not None:
            with self.store.read_core() as conn:
                found = key.find(persistence.messages.by_keys(conn, key.params()))
        if key is None or found is None:
            raise InvalidRequest(
                "the message could not be stored: its Idempotency-Key or channel message id "
                "clashes with another message"
            )
        return key.check(found)

    def _accept(
        self,
        msg: Incoming,
        *,
        actor: Staff | None,
        now: datetime,
        key: IdempotencyKey | None,
        queued: bool = False,
    ) -> tuple[int, int, Snapshot | str | None] | int:
        with self.store.write_core() as conn:
            acc = persistence.messages.accept(
                conn,
                msg,
                key=key,
                now=now,
                actor=actor,
                priority=self.policy.default.priority,
                subject=msg.subject or _subject(msg.text),
                analysis_state="queued" if queued else "pending",
                holds=self.holds,
            )
        if isinstance(acc, int):
            return acc
        if acc.state in ("held", "none"):
            return acc.message_id, acc.conversation_id, acc.state
        if queued:
            return acc.message_id, acc.conversation_id, None
        # committed; the context is read outside the write lock (WAL readers do not block)
        with self.store.read_core() as conn:
            snap = situations.take(
                conn,
                acc.conversation_id,
                id=acc.message_id,
                now=now,
                customer_id=acc.customer_id,
                assignee_id=acc.assignee_id,
                new_customer=acc.new_customer,
                customer_row=acc.customer,
                restricted=acc.restricted,
            )
        return acc.message_id, acc.conversation_id, snap

    def understand(
        self,
        message_id: int,
        conv_id: int,
        snap: Snapshot,
        *,
        now: datetime,
        request: Request | None,
        signals: Signals | None = None,
    ) -> Posted:
        """Analyse (unless ``signals`` are given: a batch did it), decide, advise and record a
        stored message; a failure is recorded on the message, which is kept."""
        if request is not None:
            snap = replace(snap, situation=replace(snap.situation, request=request))
        try:
            outcome, guidance = self.judge(message_id, snap, now=now, signals=signals)

            def rec() -> None:
                with self.store.write_core() as conn:
                    effects.record(self, conn, message_id, conv_id, outcome, guidance, now=now)

            retrying(rec)
        except Exception as exc:  # the message is kept whatever went wrong; it is retried later
            log.exception("analysis of message %s failed", message_id)
            try:
                with self.store.write_core() as conn:
                    persistence.messages.mark_failed(
                        conn,
                        message_id,
                        error=f"{type(exc).__name__}: {exc}"[:2000],
                        erased=effects.ERASED,  # an erased message stays erased
                    )
            except SQLAlchemyError:
                # the store went away after the message was committed: it is stored, so the
                # answer stays a success; it is still pending and the reanalyse job takes it
                log.warning("message %s stays pending: the store is unavailable", message_id)
                return Posted(message_id, conv_id, created=True, analysis="pending")
            return Posted(message_id, conv_id, created=True, analysis="failed")
        return Posted(
            message_id,
            conv_id,
            created=True,
            analysis="done",
            signals=outcome.signals.to_dict(),
            decisions=[d.to_dict() for d in outcome.trace.decisions],
            guidance=guidance.to_dict(),
            sla=outcome.sla.to_dict(),
        )

    def judge(
        self,
        message_id: int,
        snap: Snapshot,
        *,
        now: datetime,
        signals: Signals | None = None,
    ) -> tuple[Outcome, Guidance]:
        """Decide and advise on a stored message (analysing it unless ``signals`` are given)."""
        factor = self.policy.sanctions.restrict.sla_factor if snap.restricted else 1.0
        situation = replace(snap.situation, id=message_id)
        outcome = run_situation(
            situation, self.policy, self.analyzer, now, signals=signals, sla_factor=factor
        )
        # cycle: service.knowledge imports this module's audit writer
        from gracedesk.service.knowledge_use import for_judgement

        # knowledge-base passages that explain, and the articles already shared (hand-over)
        kb = for_judgement(
            self, snap.conversation_id, analysed_text(situation), outcome.signals, situation
        )
        g = advise(
            outcome.signals,
            situation,
            now=now,
            library=self.library,
            phrase_stats=(
                self.phrase_stats.get(now=now, seed=message_id)
                if self.phrase_stats is not None
                else None
            ),
            articles=kb.articles,
            shared_articles=kb.shared,
        )
        return outcome, g

    def replay(self, message_id: int) -> Posted:
        """The stored answer for a message (an idempotent replay)."""
        with self.store.read_core() as conn:
            found = persistence.messages.answer(conn, message_id)
        if found is None:
            raise NotFound(f"message {message_id} does not exist")
        m, rows = found
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
        with self.store.write_core() as conn:
            found = persistence.messages.answer(conn, message_id)
            if found is None:
                raise NotFound(f"message {message_id} does not exist")
            m = found[0]
            if m.author != "customer":
                raise InvalidRequest(f"message {message_id} is not a customer message")
            if not persistence.messages.reclaim(conn, message_id, now=now, grace_s=grace_s):
                claimed = False
            else:
                claimed, conv_id = True, m.conversation_id
                snap = situations.take(conn, conv_id, now=now, upto=message_id, id=message_id)
        if not claimed:  # another worker runs it: its answer so far
            return self.replay(message_id)
        return self.understand(message_id, conv_id, snap, now=now, request=None)

    def pending_analysis(
        self, *, now: datetime, limit: int = 100, max_attempts: int = 5, grace_s: float = 60.0
    ) -> list[int]:
        """Customer messages whose analysis failed or never finished (older than ``grace_s``),
        and claims of crashed workers (running for longer than ``grace_s``)."""
        old = now - timedelta(seconds=grace_s)
        with self.store.read_core() as conn:
            return persistence.messages.pending_analysis(
                conn, old=old, limit=limit, max_attempts=max_attempts
            )


# -- idempotency ----------------------------------------------------------------------------------
# A message is stored once per key: the client's ``Idempotency-Key``, or else the channel's own
# message id. The two kinds live in separate namespaces (``key:…`` and ``channel:…``), so no
# client key can ever equal a channel's key. The key is bound to a fingerprint of the whole
# request (route and every body field): the same key with any other field is a 409, never a
# silent replay of the first message.

MESSAGES_ROUTE = "POST /api/v1/messages"
KEY_CHARS = 200  # messages.idempotency_key
NAMESPACES = ("key:", "key#", "channel:", "channel#")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _bounded(namespace: str, value: str) -> str:
    """``namespace:value``, or ``namespace#sha256(value)`` when that is over the column."""
    stored = f"{namespace}:{value}"
    return stored if len(stored) <= KEY_CHARS else f"{namespace}#{_digest(value)}"


def _canonical(value: Any) -> Any:
    """JSON-ready, with equal numbers spelled alike (``120`` and ``120.0``)."""
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def fingerprint(msg: Incoming, route: str = MESSAGES_ROUTE) -> str:
    """SHA-256 of the route and the whole request body in canonical JSON (sorted keys)."""
    body = asdict(msg)
    # fields added in 0.3 count only when used, so earlier requests keep their fingerprint
    for name, unset in (("link", None), ("meta", None), ("analyse", True)):
        if body.get(name) == unset:
            body.pop(name, None)
    doc = {"route": route, "body": _canonical(body)}
    return _digest(json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False))


def _legacy_fingerprint(msg: Incoming) -> str:
    """What messages stored before 0.2 were fingerprinted with (four fields only)."""
    ident = [msg.customer.external_id, msg.text, msg.channel, msg.conversation_id]
    return _digest(json.dumps(ident))


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    """A message's idempotency key: as stored, as stored before namespacing, and the request."""

    stored: str  # messages.idempotency_key: key:<client key> or channel:<channel>:<message id>
    legacy: str  # the same key as earlier versions stored it (no namespace)
    label: str  # for the 409: which key
    channel: tuple[str, str] | None  # (channel, channel message id) for a channel's key
    request: str  # fingerprint of this request
    legacy_request: str

    @classmethod
    def of(cls, msg: Incoming, client_key: str | None) -> IdempotencyKey | None:
        digests = {"request": fingerprint(msg), "legacy_request": _legacy_fingerprint(msg)}
        if client_key is not None:
            return cls(
                _bounded("key", client_key),
                client_key,
                f"Idempotency-Key {client_key!r}",
                None,
                **digests,
            )
        if msg.channel_message_id:
            raw = f"{msg.channel}:{msg.channel_message_id}"
            label = f"channel message id {msg.channel_message_id!r} on {msg.channel!r}"
            pair = (msg.channel, msg.channel_message_id)
            return cls(_bounded("channel", raw), raw, label, pair, **digests)
        return None

    def params(self) -> dict[str, Any]:
        return {"keys": [self.stored, self.legacy]}

    def find(self, rows: Any) -> Any:
        """The row stored under this key among ``store.messages.message_by_keys`` rows, or None.

        A row stored before namespacing counts only if it is of the same kind: a channel's
        key only for that channel's message id, a client key only if it was not a channel's.
        """
        legacy = None
        for r in rows:
            if r.idempotency_key == self.stored:
                return r
            if r.idempotency_key != self.legacy or r.idempotency_key.startswith(NAMESPACES):
                continue
            derived = r.channel_message_id is not None and (
                r.idempotency_key == f"{r.channel}:{r.channel_message_id}"
            )
            same_kind = (
                not derived
                if self.channel is None
                else (r.channel, r.channel_message_id) == self.channel
            )
            if same_kind:
                legacy = r
        return legacy

    def check(self, row: Any) -> int:
        """The stored message's id when it was stored for this very request; else 409."""
        same = self.request if row.idempotency_key == self.stored else self.legacy_request
        if row.request_hash not in (None, same):
            raise Conflict(
                f"{self.label} was already used for a different request (another text, "
                "customer, subject, amount or other field): use a new key for a new message"
            )
        return int(row.id)


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
