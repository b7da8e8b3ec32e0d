"""Zendesk: webhooks from a trigger in; private comments, tags, priority and replies out.

Webhook (Admin Center > Apps and integrations > Webhooks, "Trigger or automation"; a trigger
"Ticket is Created or Updated" + "Comment is Public" whose action notifies it): the JSON body is
the one in docs/connectors.md, filled in by Zendesk's placeholders. Zendesk signs it with the
webhook's signing secret, ``X-Zendesk-Webhook-Signature`` = base64 HMAC-SHA256 of
``X-Zendesk-Webhook-Signature-Timestamp`` + raw body; a timestamp more than five minutes off is
refused. Only a public comment written by the requester is analysed: agents' comments (our
replies included) and private comments (our notes) are ignored.

API (Basic ``{email}/token:{API token}``): one ``PUT /api/v2/tickets/{id}.json`` per note or
reply (``comment.public`` false or true; ``additional_tags`` adds to the ticket's tags).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx

from gracedesk.channels.connectors import base, markup
from gracedesk.channels.connectors.api import Api, seg
from gracedesk.channels.connectors.base import ConnectorInfo, Ignored, Inbound
from gracedesk.channels.delivery import Outgoing
from gracedesk.errors import BadSignature, InvalidRequest

PRIORITY = {"urgent": "urgent", "high": "high", "normal": "normal", "low": "low"}


class Zendesk:
    kind = "zendesk"
    required = ("email",)

    def verify(
        self, headers: Mapping[str, str], body: bytes, secret: str, *, now: datetime
    ) -> None:
        given = base.header(headers, "X-Zendesk-Webhook-Signature", "Zendesk")
        stamp = base.header(headers, "X-Zendesk-Webhook-Signature-Timestamp", "Zendesk")
        base.fresh(stamp, now=now, name="X-Zendesk-Webhook-Signature-Timestamp")
        expected = base.b64_mac(secret, stamp.encode("utf-8") + body, "sha256")
        if not base.same(expected, given):
            raise BadSignature("X-Zendesk-Webhook-Signature does not match the body")

    def parse(self, headers: Mapping[str, str], doc: Any, info: ConnectorInfo) -> Inbound | Ignored:
        d = base.obj(doc, "the body")
        if "ticket" not in d or "comment" not in d:
            raise InvalidRequest(
                "not the gracedesk Zendesk body: 'ticket' and 'comment' are needed "
                "(see docs/connectors.md)"
            )
        ticket = base.obj(d["ticket"], "ticket")
        comment = base.obj(d["comment"], "comment")
        requester = base.obj(d.get("requester"), "requester")
        if base.flag(comment.get("public")) is not True:
            return Ignored("a private comment (an internal note)")
        contact = base.ident(requester.get("id"), "requester.id")
        if str(comment.get("author_id", "")).strip() != contact:
            return Ignored("a comment by an agent or another user, not the requester")
        raw = base.content(comment.get("body"))
        return Inbound(
            ref=base.ident(ticket.get("id"), "ticket.id"),
            message_id=base.ident(comment.get("id"), "comment.id"),
            contact_id=contact,
            text=markup.to_text(raw) if markup.looks_like_html(raw) else raw,
            name=base.plain(requester.get("name")),
            email=base.email(requester.get("email")),
            subject=base.plain(ticket.get("subject"), 300),
        )

    def auth(self, info: ConnectorInfo, http: httpx.Client) -> dict[str, str]:
        user = f"{info.options.get('email', '')}/token:{info.api_token}"
        return {"Authorization": "Basic " + base64.b64encode(user.encode()).decode("ascii")}

    def send(self, api: Api, info: ConnectorInfo, out: Outgoing) -> str | None:
        ticket: dict[str, Any] = {"comment": {"body": out.text, "public": out.kind != "note"}}
        if out.kind == "note":
            tags, priority = base.writeback(out)
            if tags:
                ticket["additional_tags"] = tags
            if priority in PRIORITY:
                ticket["priority"] = PRIORITY[priority]
        doc = api.json("PUT", f"/api/v2/tickets/{seg(base.ref_of(out))}.json", {"ticket": ticket})
        return comment_id(doc)


def comment_id(doc: Any) -> str | None:
    """The new comment's id, from the update's audit (``audit.events[type=Comment].id``)."""
    audit = doc.get("audit") if isinstance(doc, dict) else None
    events = audit.get("events") if isinstance(audit, dict) else None
    for e in events if isinstance(events, list) else []:
        if isinstance(e, dict) and e.get("type") == "Comment" and e.get("id") is not None:
            return str(e["id"])
    return None


ADAPTER = Zendesk()
