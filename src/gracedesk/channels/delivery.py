"""Replies that reach the customer: the ``deliveries`` outbox and its transports.

``send_reply`` (service) stores the agent's reply and, in the same transaction, a ``deliveries``
row naming its transport, chosen from the conversation (:func:`route`):

=============  =====================================================================
``connector``  the conversation came from a helpdesk connector: its API posts it
``email``      an e-mail conversation (a mailbox's or the ``email`` channel): SMTP
``webhook``    any other channel when ``GRACEDESK_REPLY_WEBHOOK_URL`` is set: a signed POST
``none``       nowhere outside the desk (state ``stored``: API clients read it there)
=============  =====================================================================

The worker's ``deliveries`` job (:func:`deliver_replies`) claims queued rows with a lease (as the
notification outbox does), hands each to its transport outside any transaction, then marks it
``sent`` (with the remote id: the e-mail's ``Message-ID`` or the helpdesk's message id) or, on a
retryable error, tries again after 1, 5, 15, 60 minutes and 6 hours before it is ``failed`` with
the reason. An error that can never succeed (no address, a 4xx) fails at once. There is one row
per reply (a unique ``message_id``) and a sent row is never claimed again, so a reply is sent
once; only a crash between the transport's success and the commit can repeat it, and an e-mail
then carries the same ``Message-ID`` (mail clients show it once).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gracedesk.channels.signature import sign
from gracedesk.errors import DeliveryError
from gracedesk.service.desk import audit
from gracedesk.service.outbox import delivery_dict, enqueue, enqueue_note, route
from gracedesk.store.tables import Conversation, Customer, Delivery, Message, User

if TYPE_CHECKING:
    from gracedesk.store import Store

log = logging.getLogger("gracedesk.delivery")

BATCH = 50
LEASE = timedelta(minutes=5)
BACKOFF = (60, 300, 900, 3600, 6 * 3600)  # seconds before attempts 2, 3, ...
TRANSPORTS = ("email", "connector", "webhook", "none")
# the service side (stored with the reply, in its transaction) lives in service.outbox
__all__ = ["deliver_replies", "delivery_dict", "enqueue", "enqueue_note", "route"]


@dataclass(frozen=True)
class Outgoing:
    """One reply to hand to a transport, with what any transport needs to address it."""

    delivery_id: int
    message_id: int
    conversation_id: int
    transport: str
    target: str | None  # the e-mail address, connector name or webhook URL
    text: str
    subject: str | None
    agent_name: str | None
    customer_external_id: str
    customer_name: str | None
    customer_email: str | None
    mailbox_id: int | None
    connector_id: int | None
    external_ref: str | None  # the helpdesk's conversation or ticket id
    # Message-IDs of the conversation's e-mails, oldest first (for References / In-Reply-To)
    thread: tuple[str, ...] = ()
    sent_at: datetime | None = None
    # "reply": the agent's answer to the customer; "note": an internal note for the helpdesk's
    # agents (signals, next step, hand-over), never shown to the customer
    kind: str = "reply"
    # what a note asks of the helpdesk besides its text: {"tags": [...], "priority": "high"}
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)


class Transport(Protocol):
    """Hands one reply to its channel; returns the remote id (``Message-ID``, the helpdesk's
    message id) or None. Raises ``DeliveryError`` (``retryable`` or not) when it cannot."""

    def send(self, out: Outgoing) -> str | None: ...


@dataclass
class Transports:
    """The transports the worker can use; one missing leaves its replies queued (then failed)."""

    email: Transport | None = None
    webhook: Transport | None = None
    connector: Callable[[int], Transport] | None = None  # connector id -> its transport

    def for_(self, out: Outgoing) -> Transport:
        if out.transport == "email" and self.email is not None:
            return self.email
        if out.transport == "webhook" and self.webhook is not None:
            return self.webhook
        if out.transport == "connector" and self.connector is not None:
            if out.connector_id is None:
                raise DeliveryError("the conversation has no connector", retryable=False)
            return self.connector(out.connector_id)
        raise DeliveryError(f"no {out.transport} transport is configured (see docs/channels.md)")


def _thread(s: Session, conv_id: int) -> tuple[str, ...]:
    """The conversation's e-mail Message-IDs, oldest first: the customer's (kept in ``meta``)
    and our own replies' (the deliveries' remote ids)."""
    ids: list[tuple[int, str]] = []
    for mid, meta in s.execute(
        select(Message.id, Message.meta).where(
            Message.conversation_id == conv_id, Message.meta.is_not(None)
        )
    ):
        got = (meta or {}).get("message_id")
        if isinstance(got, str) and got:
            ids.append((mid, got))
    for mid, remote in s.execute(
        select(Delivery.message_id, Delivery.remote_id).where(
            Delivery.conversation_id == conv_id,
            Delivery.transport == "email",
            Delivery.remote_id.is_not(None),
        )
    ):
        ids.append((mid, str(remote)))
    return tuple(i for _, i in sorted(ids))


def _outgoing(s: Session, d: Delivery) -> Outgoing:
    m = s.get_one(Message, d.message_id)
    conv = s.get_one(Conversation, d.conversation_id)
    customer = s.get_one(Customer, conv.customer_id)
    agent = s.get(User, m.author_user_id) if m.author_user_id is not None else None
    return Outgoing(
        delivery_id=d.id,
        message_id=m.id,
        conversation_id=conv.id,
        transport=d.transport,
        target=d.target,
        text=m.text,
        subject=conv.subject,
        agent_name=agent.display_name if agent is not None else None,
        customer_external_id=customer.external_id,
        customer_name=customer.name,
        customer_email=conv.contact or customer.email,
        mailbox_id=conv.mailbox_id,
        connector_id=conv.connector_id,
        external_ref=conv.external_ref,
        thread=_thread(s, conv.id) if d.transport == "email" else (),
        sent_at=m.received_at,
        kind="note" if "writeback" in (m.meta or {}) else "reply",
        extra=dict((m.meta or {}).get("writeback") or {}),
    )


def _still_ours(store: Store, did: int, attempts: int, at: datetime) -> bool:
    """Renew the lease of a claimed delivery right before it is sent, if it is still ours: not
    sent, cancelled (an erasure) or claimed again by another worker since (a round that took
    longer than the lease). Then no reply is handed to its channel twice by two workers."""
    with store.write_core() as conn:
        got = conn.execute(
            update(Delivery)
            .where(Delivery.id == did, Delivery.state == "queued", Delivery.attempts == attempts)
            .values(next_attempt_at=at + LEASE)
        )
        return bool(got.rowcount)


def deliver_replies(
    store: Store,
    transports: Transports,
    *,
    now: datetime,
    clock: Callable[[], datetime] | None = None,
) -> int:
    """Send the queued replies that are due; returns how many were sent.

    ``clock`` (the worker passes the wall clock) times each reply's lease from the moment it is
    sent, not from the start of the round."""
    tick = clock or (lambda: now)
    with store.write() as s:
        q = (
            select(Delivery)
            .where(Delivery.state == "queued", Delivery.next_attempt_at <= now)
            .order_by(Delivery.id)
            .limit(BATCH)
        )
        if store.skip_locked():
            q = q.with_for_update(skip_locked=True)
        claimed = []
        for d in s.scalars(q).all():
            d.attempts += 1
            d.next_attempt_at = now + LEASE
            claimed.append((d.id, d.attempts, _outgoing(s, d)))
    sent = 0
    for did, attempts, out in claimed:
        if not _still_ours(store, did, attempts, tick()):
            continue
        remote: str | None = None
        error: DeliveryError | None = None
        try:
            remote = transports.for_(out).send(out)
        except DeliveryError as exc:
            error = exc
        except Exception as exc:  # a transport's bug must not stop the other replies
            log.exception("delivery %s: the %s transport failed", did, out.transport)
            error = DeliveryError(f"{type(exc).__name__}: {exc}")
        with store.write() as s:
            d = s.get_one(Delivery, did)
            if d.state != "queued" or d.attempts != attempts:
                # cancelled by an erasure, or taken over, while it was being sent
                log.warning("delivery %s changed while it was sent; left as it is", did)
                continue
            if error is None:
                d.state, d.sent_at, d.last_error, d.remote_id = "sent", now, None, remote
                sent += 1
                kind = "reply.delivered"
            elif not error.retryable or attempts > len(BACKOFF):
                d.state, d.last_error = "failed", error.message[:2000]
                kind = "reply.delivery_failed"
                log.error("delivery %s (%s) failed: %s", did, out.transport, error.code)
            else:
                d.last_error = error.message[:2000]
                d.next_attempt_at = now + timedelta(seconds=BACKOFF[attempts - 1])
                continue
            audit(
                s,
                kind,
                now=now,
                actor="system",
                conversation_id=out.conversation_id,
                message_id=out.message_id,
                transport=out.transport,
                attempts=attempts,
                error=d.last_error,
            )
    return sent


class WebhookTransport:
    """A signed JSON POST per reply, for chat widgets and other channels (``reply.sent``).

    The body is ``{"event": "reply.sent", "key": "reply:<message id>", "payload": {...}}``,
    signed like every gracedesk webhook (``X-Gracedesk-Signature: sha256=<hex HMAC>``); a
    receiver de-duplicates on ``X-Gracedesk-Key``."""

    def __init__(self, url: str, secret: str | None, http: httpx.Client | None = None) -> None:
        self.url = url
        self.secret = secret
        self.http = http if http is not None else httpx.Client(timeout=5.0)

    def send(self, out: Outgoing) -> str | None:
        key = f"reply:{out.message_id}"
        doc = {
            "event": "reply.sent",
            "key": key,
            "payload": {
                "message_id": out.message_id,
                "conversation_id": out.conversation_id,
                "customer": out.customer_external_id,
                "text": out.text,
                "agent": out.agent_name,
                "sent_at": out.sent_at.isoformat() if out.sent_at else None,
            },
        }
        body = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "X-Gracedesk-Event": "reply.sent",
            "X-Gracedesk-Key": key,
        }
        if self.secret is not None:
            headers["X-Gracedesk-Signature"] = sign(self.secret, body)
        try:
            r = self.http.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
        if r.status_code >= 500 or r.status_code in (408, 429):
            raise DeliveryError(f"HTTP {r.status_code} {r.reason_phrase}")
        if not r.is_success:
            raise DeliveryError(f"HTTP {r.status_code} {r.reason_phrase}", retryable=False)
        return key
