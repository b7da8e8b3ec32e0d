"""Zammad: trigger webhooks in; internal notes, tags, priority and replies out.

Webhook (Manage > Webhook, with a "HMAC SHA1 Signature Token"; a trigger whose action is that
webhook): Zammad posts its default payload ``{"ticket": {...}, "article": {...}}`` and signs it,
``X-Hub-Signature: sha1=<hex HMAC-SHA1 of the raw body>``. Only an article with ``sender:
"Customer"`` that is not ``internal`` is analysed: agents' replies and internal notes (ours
included) are ignored, and so is a ticket change that carries no article.

API (``Authorization: Token token=<access token>``): ``POST /api/v1/ticket_articles`` (a note is
``type: note, internal: true``; a reply an e-mail to the customer), ``POST /api/v1/tags/add``
per tag, ``PUT /api/v1/tickets/{id}`` for the priority (Zammad's default names).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx

from gracedesk.channels.connectors import base, markup
from gracedesk.channels.connectors.api import Api, remote_id, seg
from gracedesk.channels.connectors.base import ConnectorInfo, Ignored, Inbound
from gracedesk.channels.delivery import Outgoing
from gracedesk.errors import BadSignature, InvalidRequest

# Zammad ships three priorities; an urgent decision is its highest
PRIORITY = {"urgent": "3 high", "high": "3 high", "normal": "2 normal", "low": "1 low"}


class Zammad:
    kind = "zammad"
    required: tuple[str, ...] = ()

    def verify(
        self, headers: Mapping[str, str], body: bytes, secret: str, *, now: datetime
    ) -> None:
        given = base.header(headers, "X-Hub-Signature", "Zammad")
        if not base.same("sha1=" + base.hex_mac(secret, body, "sha1"), given.lower()):
            raise BadSignature("X-Hub-Signature does not match the body")

    def parse(self, headers: Mapping[str, str], doc: Any, info: ConnectorInfo) -> Inbound | Ignored:
        d = base.obj(doc, "the body")
        if "ticket" not in d:
            raise InvalidRequest("not a Zammad webhook: the body has no 'ticket'")
        ticket = base.obj(d["ticket"], "ticket")
        article = d.get("article")
        if not article:
            return Ignored("a ticket change without a new article")
        art = base.obj(article, "article")
        if base.flag(art.get("internal")) is True:
            return Ignored("an internal note")
        sender = art.get("sender")
        if sender != "Customer":
            return Ignored(f"an article by {sender if isinstance(sender, str) else 'nobody'}")
        customer = ticket.get("customer")
        who = customer if isinstance(customer, Mapping) else {}
        raw = base.content(art.get("body"))
        html = art.get("content_type") == "text/html" or markup.looks_like_html(raw)
        return Inbound(
            ref=base.ident(ticket.get("id"), "ticket.id"),
            message_id=base.ident(art.get("id"), "article.id"),
            contact_id=base.ident(who.get("id", ticket.get("customer_id")), "ticket.customer_id"),
            text=markup.to_text(raw) if html else raw,
            name=base.full_name(who.get("firstname"), who.get("lastname")),
            email=base.email(who.get("email")),
            subject=base.plain(ticket.get("title"), 300),
        )

    def auth(self, info: ConnectorInfo, http: httpx.Client) -> dict[str, str]:
        return {"Authorization": f"Token token={info.api_token}"}

    def send(self, api: Api, info: ConnectorInfo, out: Outgoing) -> str | None:
        ref = base.ref_of(out)
        ticket_id: int | str = int(ref) if ref.isdigit() else ref
        article: dict[str, Any] = {
            "ticket_id": ticket_id,
            "body": out.text,
            "content_type": "text/plain",
            "sender": "Agent",
        }
        if out.kind == "note":
            tags, priority = base.writeback(out)
            for tag in tags:  # adds (never removes the agents' own tags)
                api.call(
                    "POST", "/api/v1/tags/add", {"object": "Ticket", "o_id": ticket_id, "item": tag}
                )
            if priority in PRIORITY:
                api.call("PUT", f"/api/v1/tickets/{seg(ref)}", {"priority": PRIORITY[priority]})
            article |= {"type": "note", "internal": True, "subject": "gracedesk"}
        elif out.customer_email:
            article |= {"type": "email", "internal": False, "to": out.customer_email}
            if out.subject:
                article["subject"] = out.subject
        else:  # no address: a public article the customer sees in the web portal
            article |= {"type": "web", "internal": False}
        return remote_id(api.json("POST", "/api/v1/ticket_articles", article))


ADAPTER = Zammad()
