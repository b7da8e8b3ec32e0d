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

from gracedesk.channels.signature import sign
from gracedesk.errors import DeliveryError
from gracedesk.service.outbox import delivery_dict, enqueue, enqueue_note, route
from gracedesk.store import audit, outbox
from gracedesk.store import threads as stored_threads

if TYPE_CHECKING:
    from sqlalchemy import Connection

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


def _outgoing(conn: Connection, d: Any) -> Outgoing:
    """What the transport needs of delivery ``d`` (a ``deliveries`` row)."""
    o = outbox.outgoing(conn, d.id)
    meta = o.meta or {}
    return Outgoing(
        delivery_id=d.id,
        message_id=o.message_id,
        conversation_id=o.conversation_id,
        transport=d.transport,
        target=d.target,
        text=o.text,
        subject=o.subject,
        agent_name=o.agent_name,
        customer_external_id=o.customer_external_id,
        customer_name=o.customer_name,
        customer_email=o.contact or o.customer_email,
        mailbox_id=o.mailbox_id,
        connector_id=o.connector_id,
        external_ref=o.external_ref,
        thread=(
            stored_threads.email_ids(conn, o.conversation_id) if d.transport == "email" else ()
        ),
        sent_at=o.received_at,
        kind="note" if "writeback" in meta else "reply",
        extra=dict(meta.get("writeback") or {}),
    )


def _still_ours(store: Store, did: int, attempts: int, at: datetime) -> bool:
    """Renew the lease of a claimed delivery right before it is sent, if it is still ours: not
    sent, cancelled (an erasure) or claimed again by another worker since (a round that took
    longer than the lease). Then no reply is handed to its channel twice by two workers."""
    with store.write_core() as conn:
        return outbox.renew_lease(conn, did, attempts, until=at + LEASE)


def _send(
    transports: Transports, did: int, out: Outgoing
) -> tuple[str | None, DeliveryError | None]:
    """The transport's remote id, or the error it ended with."""
    try:
        return transports.for_(out).send(out), None
    except DeliveryError as exc:
        return None, exc
    except Exception as exc:  # a transport's bug must not stop the other replies
        log.exception("delivery %s: the %s transport failed", did, out.transport)
        return None, DeliveryError(f"{type(exc).__name__}: {exc}")


def _settle(
    conn: Connection,
    did: int,
    attempts: int,
    out: Outgoing,
    remote: str | None,
    error: DeliveryError | None,
    *,
    now: datetime,
) -> bool:
    """Record how the send went; whether the reply was sent."""
    d = outbox.delivery(conn, did)
    if d is None or d.state != "queued" or d.attempts != attempts:
        # cancelled by an erasure, or taken over, while it was being sent
        log.warning("delivery %s changed while it was sent; left as it is", did)
        return False
    last_error: str | None = None
    if error is None:
        outbox.mark_sent(conn, did, now=now, remote_id=remote)
        kind = "reply.delivered"
    elif not error.retryable or attempts > len(BACKOFF):
        last_error = error.message[:2000]
        outbox.mark_failed(conn, did, error=last_error)
        kind = "reply.delivery_failed"
        log.error("delivery %s (%s) failed: %s", did, out.transport, error.code)
    else:
        at = now + timedelta(seconds=BACKOFF[attempts - 1])
        outbox.retry_later(conn, did, error=error.message[:2000], at=at)
        return False
    event = audit.event(
        kind,
        now=now,
        actor="system",
        conversation_id=out.conversation_id,
        message_id=out.message_id,
        transport=out.transport,
        attempts=attempts,
        error=last_error,
    )
    audit.write(conn, [event])
    return error is None


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
    with store.write_core() as conn:
        rows = outbox.claim_due(
            conn, now=now, limit=BATCH, lease_until=now + LEASE, skip_locked=store.skip_locked()
        )
        claimed = [(d.id, d.attempts, _outgoing(conn, d)) for d in rows]
    sent = 0
    for did, attempts, out in claimed:
        if not _still_ours(store, did, attempts, tick()):
            continue
        remote, error = _send(transports, did, out)
        with store.write_core() as conn:
            sent += _settle(conn, did, attempts, out, remote, error, now=now)
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
