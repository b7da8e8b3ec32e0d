"""A helpdesk's webhook, from raw bytes to a stored, analysed customer message.

    find the connector (404) -> verify the signature over the raw body (401)
      -> parse the helpdesk's payload (422, or ignored with a reason)
      -> Desk.post_message (idempotent by the helpdesk's message id)
      -> queue the note for the helpdesk (written back later by the worker)

The body is not parsed before its signature is verified. Nothing is stored for a bad signature,
a malformed body or an ignored event. A helpdesk that retries a webhook gets the first answer
again and nothing is stored twice; an event that names a message already stored with other
details (a Zendesk trigger firing again on a later ticket update) is ignored, not refused.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gracedesk.channels.connectors import manage
from gracedesk.channels.connectors.base import OWN_MARK, ConnectorInfo, Ignored, Inbound, adapter
from gracedesk.channels.connectors.notes import queue_note
from gracedesk.errors import Conflict, InvalidRequest
from gracedesk.service.desk import CustomerRef, Desk, Incoming, Link

log = logging.getLogger("gracedesk.connectors")


@dataclass(frozen=True)
class Received:
    """What the webhook answers: the stored message, or why nothing was stored."""

    ignored: str | None = None
    message_id: int | None = None
    conversation_id: int | None = None
    analysis: str | None = None
    replayed: bool = False
    note_queued: bool = False

    def to_dict(self) -> dict[str, Any]:
        if self.ignored is not None:
            return {"ignored": self.ignored}
        return {
            "message_id": self.message_id,
            "conversation_id": self.conversation_id,
            "analysis": self.analysis,
            "replayed": self.replayed,
            "note_queued": self.note_queued,
        }


def receive(
    desk: Desk,
    name: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime,
    max_chars: int,
) -> Received:
    """Handle one webhook delivery (``headers`` with lower-case names)."""
    info = manage.find(desk.store, name=name)
    kind = adapter(info.kind)
    kind.verify(headers, body, info.secret, now=now)
    event = kind.parse(headers, _json(body), info)
    if isinstance(event, Inbound):
        event = _worth_reading(event)
    if isinstance(event, Ignored):
        reason = event.reason[:200]  # it may quote an event name from the payload
        log.info("connector %s: ignored an event: %s", info.name, reason)
        return Received(ignored=reason)
    return _post(desk, info, event, now=now, max_chars=max_chars)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise InvalidRequest("the body is not JSON") from None


def _worth_reading(event: Inbound) -> Inbound | Ignored:
    if not event.text.strip():
        return Ignored("the message has no text (attachments only)")
    if event.text.lstrip().startswith(OWN_MARK):
        return Ignored("gracedesk's own note")
    return event


def _post(
    desk: Desk, info: ConnectorInfo, event: Inbound, *, now: datetime, max_chars: int
) -> Received:
    # ids are the helpdesk's own: scoped by the connector, so two installations of one kind
    # (two Zendesk accounts) never share a customer or a message
    incoming = Incoming(
        customer=CustomerRef(f"{info.name}:{event.contact_id}", event.name, event.email),
        text=event.text[:max_chars],
        channel=info.kind,
        channel_message_id=f"{info.name}:{event.message_id}" if event.message_id else None,
        subject=event.subject,
        link=Link(connector_id=info.id, external_ref=event.ref),
        meta={"connector": info.name, "truncated": len(event.text) > max_chars},
    )
    try:
        posted = desk.post_message(incoming, actor=None, now=now)
    except Conflict:
        return Received(ignored="this message is already stored (a repeated event)")
    queued = posted.created and queue_note(desk, posted, now=now) is not None
    return Received(
        message_id=posted.message_id,
        conversation_id=posted.conversation_id,
        analysis=posted.analysis,
        replayed=not posted.created,
        note_queued=queued,
    )
