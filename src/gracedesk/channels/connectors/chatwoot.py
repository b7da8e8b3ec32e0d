"""Chatwoot: ``message_created`` webhooks in; private notes, labels, priority and replies out.

Webhook (Settings > Integrations > Webhooks, event "Message created"): Chatwoot signs each
delivery with the webhook's secret, ``X-Chatwoot-Signature: sha256=<hex HMAC-SHA256 of
"{X-Chatwoot-Timestamp}.{raw body}">``. Only ``message_type: incoming`` messages that are not
``private`` are analysed: an agent's reply, a private note (ours included) or an activity
message is ignored, which is what keeps the note we write back from coming round again.

API (``api_access_token`` header, an agent's or bot's access token), under
``/api/v1/accounts/{account_id}/conversations/{conversation id}``: ``messages`` (a note is
``private: true``), ``labels`` (replaces the list, so it is read first and merged) and
``toggle_priority``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx

from gracedesk.channels.connectors import base
from gracedesk.channels.connectors.api import Api, remote_id, seg
from gracedesk.channels.connectors.base import ConnectorInfo, Ignored, Inbound
from gracedesk.channels.delivery import Outgoing
from gracedesk.errors import BadSignature, InvalidRequest

PRIORITY = {"urgent": "urgent", "high": "high", "normal": "medium", "low": "low"}
INCOMING = ("incoming", 0)  # webhooks spell it out; the API's integer enum is 0


class Chatwoot:
    kind = "chatwoot"
    required = ("account_id",)

    def verify(
        self, headers: Mapping[str, str], body: bytes, secret: str, *, now: datetime
    ) -> None:
        given = base.header(headers, "X-Chatwoot-Signature", "Chatwoot")
        stamp = base.header(headers, "X-Chatwoot-Timestamp", "Chatwoot")
        base.fresh(stamp, now=now, name="X-Chatwoot-Timestamp")
        expected = "sha256=" + base.hex_mac(
            secret, stamp.encode("ascii", "replace") + b"." + body, "sha256"
        )
        if not base.same(expected, given.lower()):
            raise BadSignature("X-Chatwoot-Signature does not match the body")

    def parse(self, headers: Mapping[str, str], doc: Any, info: ConnectorInfo) -> Inbound | Ignored:
        d = base.obj(doc, "the body")
        event = d.get("event")
        if not isinstance(event, str):
            raise InvalidRequest("not a Chatwoot webhook: the body has no 'event'")
        if event != "message_created":
            return Ignored(f"the {event!r} event is not acted on")
        account = base.obj(d.get("account") or {}, "account").get("id")
        if account is not None and str(account) != info.options.get("account_id"):
            return Ignored("a message of another Chatwoot account")
        if d.get("private") is True:
            return Ignored("a private note")
        if d.get("message_type") not in INCOMING:
            return Ignored("not an incoming customer message (an agent's, a bot's or activity)")
        conv = base.obj(d.get("conversation"), "conversation")
        sender = d.get("sender") or base.obj(conv.get("meta") or {}, "conversation.meta").get(
            "sender"
        )
        contact = base.obj(sender, "sender")
        if contact.get("type") not in (None, "contact"):
            return Ignored("not sent by a contact")
        return Inbound(
            ref=base.ident(conv.get("id"), "conversation.id"),
            message_id=base.ident(d.get("id"), "id"),
            contact_id=base.ident(contact.get("id"), "sender.id"),
            text=base.content(d.get("content")),
            name=base.plain(contact.get("name")),
            email=base.email(contact.get("email")),
        )

    def auth(self, info: ConnectorInfo, http: httpx.Client) -> dict[str, str]:
        return {"api_access_token": info.api_token}

    def send(self, api: Api, info: ConnectorInfo, out: Outgoing) -> str | None:
        account = info.options.get("account_id", "")
        conv = f"/api/v1/accounts/{seg(account)}/conversations/{seg(base.ref_of(out))}"
        if out.kind == "note":
            tags, priority = base.writeback(out)
            if tags:
                have = api.json("GET", f"{conv}/labels")
                labels = base.merged(have.get("payload") if isinstance(have, dict) else None, tags)
                api.call("POST", f"{conv}/labels", {"labels": labels})
            if priority in PRIORITY:
                api.call("POST", f"{conv}/toggle_priority", {"priority": PRIORITY[priority]})
        private = out.kind == "note"
        doc = {"content": out.text, "message_type": "outgoing", "private": private}
        return remote_id(api.json("POST", f"{conv}/messages", doc))


ADAPTER = Chatwoot()
