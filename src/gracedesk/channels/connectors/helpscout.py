"""Help Scout: ``convo.created`` / ``convo.customer.reply.created`` webhooks in; notes, tags and
replies out.

Webhook (Manage > Apps > Webhooks, with a secret key; events "Conversation > Created" and
"Conversation > Customer reply"): the body is the conversation (Mailbox API 2.0 shape, threads
under ``_embedded.threads``), the event is in ``X-HelpScout-Event`` and the signature is
``X-HelpScout-Signature`` = base64 HMAC-SHA1 of the raw body. Only the newest thread is read,
and only when it is a ``customer`` thread: agents' replies and notes (ours included) are ignored.

API (``Authorization: Bearer``): ``POST /v2/conversations/{id}/notes`` and ``.../reply`` (the
new thread's id is in the ``Resource-ID`` header), ``PUT /v2/conversations/{id}/tags`` (replaces
the tags, so the conversation's are read first). Help Scout has no priority: it becomes a
``gracedesk-priority-<level>`` tag. With ``--option app_id=...`` the API token is the app's
secret and an access token is fetched per delivery (OAuth2 client credentials).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx

from gracedesk.channels.connectors import base, markup
from gracedesk.channels.connectors.api import Api, seg
from gracedesk.channels.connectors.base import ConnectorInfo, Ignored, Inbound
from gracedesk.channels.delivery import Outgoing
from gracedesk.errors import BadSignature, DeliveryError, InvalidRequest

EVENTS = ("convo.created", "convo.customer.reply.created")
TOKEN_PATH = "/v2/oauth2/token"


class HelpScout:
    kind = "helpscout"
    required: tuple[str, ...] = ()

    def verify(
        self, headers: Mapping[str, str], body: bytes, secret: str, *, now: datetime
    ) -> None:
        given = base.header(headers, "X-HelpScout-Signature", "Help Scout")
        if not base.same(base.b64_mac(secret, body, "sha1"), given):
            raise BadSignature("X-HelpScout-Signature does not match the body")

    def parse(self, headers: Mapping[str, str], doc: Any, info: ConnectorInfo) -> Inbound | Ignored:
        d = base.obj(doc, "the body")
        event = headers.get("x-helpscout-event", "")
        if event not in EVENTS:
            return Ignored(f"the {event or 'unnamed'!r} event is not acted on")
        embedded = base.obj(d.get("_embedded"), "_embedded")
        threads = [t for t in embedded.get("threads") or [] if isinstance(t, Mapping)]
        if not threads:
            raise InvalidRequest("_embedded.threads must list the conversation's threads")
        newest = max(threads, key=lambda t: (str(t.get("createdAt", "")), str(t.get("id", ""))))
        if newest.get("type") != "customer":
            return Ignored("the newest thread is not the customer's (a reply or a note)")
        customer = base.obj(d.get("primaryCustomer"), "primaryCustomer")
        raw = base.content(newest.get("body"))
        return Inbound(
            ref=base.ident(d.get("id"), "id"),
            message_id=base.ident(newest.get("id"), "thread id"),
            contact_id=base.ident(customer.get("id"), "primaryCustomer.id"),
            text=markup.to_text(raw),
            name=base.full_name(customer.get("first"), customer.get("last")),
            email=base.email(customer.get("email")),
            subject=base.plain(d.get("subject"), 300),
        )

    def auth(self, info: ConnectorInfo, http: httpx.Client) -> dict[str, str]:
        app = info.options.get("app_id")
        if not app:
            return {"Authorization": f"Bearer {info.api_token}"}
        grant = {"grant_type": "client_credentials", "client_id": app}
        form = {**grant, "client_secret": info.api_token}
        r = Api(http, info.api_url, {}).call("POST", TOKEN_PATH, form=form)
        try:
            access = r.json().get("access_token")
        except (ValueError, AttributeError):
            access = None
        if not isinstance(access, str) or not access:
            raise DeliveryError(f"POST {TOKEN_PATH}: no access_token in the answer")
        return {"Authorization": f"Bearer {access}"}

    def send(self, api: Api, info: ConnectorInfo, out: Outgoing) -> str | None:
        conv = f"/v2/conversations/{seg(base.ref_of(out))}"
        text = markup.to_html(out.text)
        if out.kind != "note":
            customer = out.customer_external_id.removeprefix(f"{self.kind}:")
            who = {"id": int(customer)} if customer.isdigit() else {"email": out.customer_email}
            return thread_id(api.call("POST", f"{conv}/reply", {"customer": who, "text": text}))
        tags, priority = base.writeback(out)
        if priority:
            tags = [*tags, f"gracedesk-priority-{priority}"]
        if tags:
            have = api.json("GET", conv)
            found = have.get("tags") if isinstance(have, dict) else None
            names = [t.get("tag") or t.get("name") for t in found or [] if isinstance(t, dict)]
            names = [n for n in names if isinstance(n, str)]
            api.call("PUT", f"{conv}/tags", {"tags": base.merged(names, tags)})
        return thread_id(api.call("POST", f"{conv}/notes", {"text": text}))


def thread_id(r: httpx.Response) -> str | None:
    return r.headers.get("Resource-ID") or None


ADAPTER = HelpScout()
