"""Freshdesk: automation-rule webhooks in; private notes, tags, priority and replies out.

Freshdesk does not sign its webhooks. The automation rule's "Trigger webhook" action sends a
custom header, ``X-Gracedesk-Secret: <the connector's secret>``, compared in constant time, and
the JSON body of docs/connectors.md (``{{ticket.id}}``, ``{{ticket.latest_public_comment}}``, ...).
The rules fire only for the requester ("Ticket is created", and "Reply is sent" performed by the
requester), so agents' replies and notes, ours included, never come in; a body whose ``from``
is not ``requester`` is ignored all the same.

Freshdesk's placeholders have no comment id, so a message's id is the ticket id and a digest of
its text: a webhook delivered twice stores one message.

API (Basic ``{API key}:X``): ``POST /api/v2/tickets/{id}/notes`` (``private: true``),
``POST /api/v2/tickets/{id}/reply``, ``PUT /api/v2/tickets/{id}`` for the priority (1-4) and
the tags (the ticket's tags are read first: a PUT replaces them).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx

from gracedesk.channels.connectors import base, markup
from gracedesk.channels.connectors.api import Api, remote_id, seg
from gracedesk.channels.connectors.base import ConnectorInfo, Ignored, Inbound
from gracedesk.channels.delivery import Outgoing
from gracedesk.errors import BadSignature, InvalidRequest

SECRET_HEADER = "X-Gracedesk-Secret"
PRIORITY = {"low": 1, "normal": 2, "high": 3, "urgent": 4}


class Freshdesk:
    kind = "freshdesk"
    required: tuple[str, ...] = ()

    def verify(
        self, headers: Mapping[str, str], body: bytes, secret: str, *, now: datetime
    ) -> None:
        given = base.header(headers, SECRET_HEADER, "Freshdesk")
        if not base.same(secret, given):
            raise BadSignature(f"{SECRET_HEADER} is not the connector's secret")

    def parse(self, headers: Mapping[str, str], doc: Any, info: ConnectorInfo) -> Inbound | Ignored:
        d = base.obj(doc, "the body")
        if "ticket_id" not in d or "text" not in d:
            raise InvalidRequest(
                "not the gracedesk Freshdesk body: 'ticket_id' and 'text' are needed "
                "(see docs/connectors.md)"
            )
        if d.get("from", "requester") != "requester":
            return Ignored("not written by the requester")
        ticket = base.ident(d["ticket_id"], "ticket_id")
        requester = base.obj(d.get("requester", {}), "requester")
        mail = base.email(requester.get("email"))
        raw = base.content(d["text"])
        text = markup.to_text(raw) if markup.looks_like_html(raw) else raw
        return Inbound(
            ref=ticket,
            message_id=f"{ticket}-{digest(text)}",
            contact_id=contact(requester.get("id"), mail),
            text=text,
            name=base.plain(requester.get("name")),
            email=mail,
            subject=base.plain(d.get("subject"), 300),
        )

    def auth(self, info: ConnectorInfo, http: httpx.Client) -> dict[str, str]:
        key = base64.b64encode(f"{info.api_token}:X".encode()).decode("ascii")
        return {"Authorization": f"Basic {key}"}

    def send(self, api: Api, info: ConnectorInfo, out: Outgoing) -> str | None:
        ticket = f"/api/v2/tickets/{seg(base.ref_of(out))}"
        if out.kind != "note":
            return remote_id(
                api.json("POST", f"{ticket}/reply", {"body": markup.to_html(out.text)})
            )
        tags, priority = base.writeback(out)
        update: dict[str, Any] = {}
        if tags:
            have = api.json("GET", ticket)
            update["tags"] = base.merged(have.get("tags") if isinstance(have, dict) else None, tags)
        if priority in PRIORITY:
            update["priority"] = PRIORITY[priority]
        if update:
            api.call("PUT", ticket, update)
        note = {"body": markup.to_html(out.text), "private": True}
        return remote_id(api.json("POST", f"{ticket}/notes", note))


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def contact(value: Any, mail: str | None) -> str:
    """The requester's id, or their address when the template left the id out."""
    try:
        return base.ident(value, "requester.id")
    except InvalidRequest:
        if mail is None:
            raise InvalidRequest("requester.id or requester.email is needed") from None
        return mail


ADAPTER = Freshdesk()
