"""Write-back through each helpdesk's API: the note (with tags and priority) after an analysed
message, and the agent's public reply, sent by the outbox worker to a real local HTTP server
standing in for the helpdesk. Every request is checked: method, path, auth header, JSON body.
"""

from __future__ import annotations

import base64
import html
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from gracedesk.channels.connectors import manage, transport
from gracedesk.channels.connectors.api import Api
from gracedesk.channels.delivery import Transports, deliver_replies
from gracedesk.errors import DeliveryError
from gracedesk.service import actions
from gracedesk.service.desk import Desk
from gracedesk.store.tables import Delivery, Message

from .conftest import make_user
from .test_connectors import CASES, KINDS, TOKEN, client, connect, hook

__all__ = ["client"]  # the fixture, shared with test_connectors.py


@dataclass
class Call:
    method: str
    path: str
    auth: str | None
    body: Any


@dataclass
class Helpdesk:
    """A helpdesk API on a free loopback port: records each request, answers from ``routes``
    (``(method, path) -> (status, JSON, headers)``; anything else: 200 ``{}``)."""

    url: str = ""
    calls: list[Call] = field(default_factory=list)
    routes: dict[tuple[str, str], tuple[int, Any, dict[str, str]]] = field(default_factory=dict)


AUTH_HEADERS = ("authorization", "api_access_token")


@contextmanager
def helpdesk() -> Iterator[Helpdesk]:
    hd = Helpdesk()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            kind = self.headers.get("Content-Type", "")
            body = json.loads(raw) if raw and kind.startswith("application/json") else raw or None
            auth = next((self.headers[h] for h in AUTH_HEADERS if h in self.headers), None)
            with lock:
                hd.calls.append(Call(self.command, self.path, auth, body))
                status, doc, headers = hd.routes.get((self.command, self.path), (200, {}, {}))
            out = json.dumps(doc).encode()
            self.send_response(status)
            for k, v in {"Content-Type": "application/json", **headers}.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        do_GET = do_POST = do_PUT = _handle

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hd.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield hd
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _basic(user: str) -> str:
    return "Basic " + base64.b64encode(user.encode()).decode()


def _html(text: str) -> str:
    return html.escape(text).replace("\n", "<br>\n")


# -- what each helpdesk must receive ------------------------------------------------------------
# ``note(text, tags)`` and ``reply(text)``: the exact calls, as (method, path, auth, body)


@dataclass(frozen=True)
class Expect:
    routes: dict[tuple[str, str], tuple[int, Any, dict[str, str]]]
    note: Callable[[str, list[str]], list[tuple[str, str, str, Any]]]
    reply: Callable[[str], list[tuple[str, str, str, Any]]]
    note_id: str
    reply_id: str


CW = "/api/v1/accounts/78869/conversations/48"
ZD = "/api/v2/tickets/35436.json"
FD = "/api/v2/tickets/8817"
HS = "/v2/conversations/2391938111"
ZD_AUTH = _basic(f"bot@acme.example/token:{TOKEN}")
FD_AUTH = _basic(f"{TOKEN}:X")
HS_AUTH = f"Bearer {TOKEN}"
ZM_AUTH = f"Token token={TOKEN}"


def _zendesk_audit(comment_id: int) -> dict[str, Any]:
    return {"ticket": {"id": 35436}, "audit": {"events": [{"type": "Comment", "id": comment_id}]}}


EXPECT: dict[str, Expect] = {
    "chatwoot": Expect(
        routes={
            ("GET", f"{CW}/labels"): (200, {"payload": ["vip"]}, {}),
            ("POST", f"{CW}/messages"): (200, {"id": 991, "content": "..."}, {}),
        },
        note=lambda text, tags: [
            ("GET", f"{CW}/labels", TOKEN, None),
            ("POST", f"{CW}/labels", TOKEN, {"labels": ["vip", *tags]}),
            ("POST", f"{CW}/toggle_priority", TOKEN, {"priority": "high"}),
            ("POST", f"{CW}/messages", TOKEN,
             {"content": text, "message_type": "outgoing", "private": True}),
        ],
        reply=lambda text: [
            ("POST", f"{CW}/messages", TOKEN,
             {"content": text, "message_type": "outgoing", "private": False}),
        ],
        note_id="991",
        reply_id="991",
    ),
    "zammad": Expect(
        routes={("POST", "/api/v1/ticket_articles"): (201, {"id": 1100}, {})},
        note=lambda text, tags: [
            *[("POST", "/api/v1/tags/add", ZM_AUTH, {"object": "Ticket", "o_id": 512, "item": t})
              for t in tags],
            ("PUT", "/api/v1/tickets/512", ZM_AUTH, {"priority": "3 high"}),
            ("POST", "/api/v1/ticket_articles", ZM_AUTH,
             {"ticket_id": 512, "body": text, "content_type": "text/plain", "sender": "Agent",
              "type": "note", "internal": True, "subject": "gracedesk"}),
        ],
        reply=lambda text: [
            ("POST", "/api/v1/ticket_articles", ZM_AUTH,
             {"ticket_id": 512, "body": text, "content_type": "text/plain", "sender": "Agent",
              "type": "email", "internal": False, "to": "dana.whitfield@example.com",
              "subject": "Double charge on order 4471"}),
        ],
        note_id="1100",
        reply_id="1100",
    ),
    "zendesk": Expect(
        routes={("PUT", ZD): (200, _zendesk_audit(777), {})},
        note=lambda text, tags: [
            ("PUT", ZD, ZD_AUTH, {"ticket": {"comment": {"body": text, "public": False},
                                             "additional_tags": tags, "priority": "high"}}),
        ],
        reply=lambda text: [
            ("PUT", ZD, ZD_AUTH, {"ticket": {"comment": {"body": text, "public": True}}}),
        ],
        note_id="777",
        reply_id="777",
    ),
    "freshdesk": Expect(
        routes={
            ("GET", FD): (200, {"id": 8817, "tags": ["vip"]}, {}),
            ("POST", f"{FD}/notes"): (201, {"id": 42, "private": True}, {}),
            ("POST", f"{FD}/reply"): (201, {"id": 43}, {}),
        },
        note=lambda text, tags: [
            ("GET", FD, FD_AUTH, None),
            ("PUT", FD, FD_AUTH, {"tags": ["vip", *tags], "priority": 3}),
            ("POST", f"{FD}/notes", FD_AUTH, {"body": _html(text), "private": True}),
        ],
        reply=lambda text: [("POST", f"{FD}/reply", FD_AUTH, {"body": _html(text)})],
        note_id="42",
        reply_id="43",
    ),
    "helpscout": Expect(
        routes={
            ("GET", HS): (200, {"id": 2391938111, "tags": [{"id": 1, "tag": "billing"}]}, {}),
            ("POST", f"{HS}/notes"): (201, {}, {"Resource-ID": "9001"}),
            ("POST", f"{HS}/reply"): (201, {}, {"Resource-ID": "9002"}),
            ("PUT", f"{HS}/tags"): (204, {}, {}),
        },
        note=lambda text, tags: [
            ("GET", HS, HS_AUTH, None),
            ("PUT", f"{HS}/tags", HS_AUTH,
             {"tags": ["billing", *tags, "gracedesk-priority-high"]}),
            ("POST", f"{HS}/notes", HS_AUTH, {"text": _html(text)}),
        ],
        reply=lambda text: [
            ("POST", f"{HS}/reply", HS_AUTH, {"customer": {"id": 12}, "text": _html(text)}),
        ],
        note_id="9001",
        reply_id="9002",
    ),
}  # fmt: skip


def _later() -> datetime:
    return datetime.now(UTC) + timedelta(seconds=1)


def _calls(hd: Helpdesk) -> list[tuple[str, str, str | None, Any]]:
    return [(c.method, c.path, c.auth, c.body) for c in hd.calls]


def _delivery(desk: Desk, message_id: int) -> Delivery:
    with desk.store.read() as s:
        d = s.scalars(select(Delivery).where(Delivery.message_id == message_id)).one()
        s.expunge(d)
        return d


def _note(desk: Desk, conversation_id: int) -> Message:
    with desk.store.read() as s:
        m = s.scalars(
            select(Message).where(
                Message.conversation_id == conversation_id, Message.author == "system"
            )
        ).one()
        s.expunge(m)
        return m


@pytest.mark.parametrize("kind", KINDS)
def test_the_note_and_the_reply_reach_the_helpdesk_as_its_api_wants(
    client: TestClient, desk: Desk, kind: str
) -> None:
    expect = EXPECT[kind]
    with helpdesk() as hd:
        hd.routes = expect.routes
        connect(desk, kind, hd.url)
        posted = hook(client, kind, CASES[kind].payload()).json()
        assert hd.calls == []  # nothing is written back inside the webhook request
        note = _note(desk, posted["conversation_id"])
        tags = note.meta["writeback"]["tags"] if note.meta else []
        assert tags and all(t.startswith("gracedesk-") for t in tags)
        transports = Transports(connector=transport(desk.store))

        assert deliver_replies(desk.store, transports, now=_later()) == 1
        assert _calls(hd) == expect.note(note.text, tags)
        sent = _delivery(desk, note.id)
        assert (sent.state, sent.remote_id) == ("sent", expect.note_id)

        hd.calls.clear()
        agent, _ = make_user(desk.store, "ann", "agent")
        text = "I'm sorry about the double charge, Dana. I've refunded it today."
        reply = actions.send_reply(desk, posted["conversation_id"], text, user=agent, now=_later())
        assert reply["delivery"]["transport"] == "connector"
        assert deliver_replies(desk.store, transports, now=_later() + timedelta(seconds=1)) == 1
        assert _calls(hd) == expect.reply(text)
        assert _delivery(desk, reply["message_id"]).remote_id == expect.reply_id


@pytest.mark.parametrize(
    ("status", "state"),
    [
        (503, "queued"),  # the helpdesk is down: tried again after a back-off
        (429, "queued"),  # rate limited: tried again
        (404, "failed"),  # the ticket is gone: can never succeed
        (401, "failed"),  # a wrong token: fails at once, with the reason
    ],
)
def test_http_errors_retry_or_fail_as_the_outbox_expects(
    client: TestClient, desk: Desk, status: int, state: str
) -> None:
    with helpdesk() as hd:
        hd.routes = {("PUT", ZD): (status, {"error": "nope"}, {})}
        connect(desk, "zendesk", hd.url)
        posted = hook(client, "zendesk", CASES["zendesk"].payload()).json()
        note = _note(desk, posted["conversation_id"])
        sent = deliver_replies(
            desk.store, Transports(connector=transport(desk.store)), now=_later()
        )
        d = _delivery(desk, note.id)
    assert sent == 0 and d.state == state and d.attempts == 1
    assert d.last_error is not None and f"HTTP {status}" in d.last_error
    assert TOKEN not in d.last_error and "useless" not in d.last_error


def test_a_removed_connector_fails_its_queued_notes_for_good(
    client: TestClient, desk: Desk
) -> None:
    connect(desk, "chatwoot")
    posted = hook(client, "chatwoot", CASES["chatwoot"].payload()).json()
    assert manage.remove(desk.store, "chatwoot") == 1
    deliver_replies(desk.store, Transports(connector=transport(desk.store)), now=_later())
    d = _delivery(desk, _note(desk, posted["conversation_id"]).id)
    assert d.state == "failed" and d.last_error is not None


def test_a_timeout_is_retryable_and_a_bad_request_is_not() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/slow":
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(400, json={"errors": ["bad"]})

    api = Api(httpx.Client(transport=httpx.MockTransport(answer)), "https://hd.example", {})
    with pytest.raises(DeliveryError) as slow:
        api.call("POST", "/slow", {})
    with pytest.raises(DeliveryError) as bad:
        api.call("POST", "/bad", {})
    assert slow.value.retryable and "timed out" in slow.value.message
    assert not bad.value.retryable and "HTTP 400" in bad.value.message


def test_help_scout_app_credentials_fetch_an_access_token_first(desk: Desk) -> None:
    from gracedesk.channels.connectors.base import adapter

    with helpdesk() as hd:
        hd.routes = {("POST", "/v2/oauth2/token"): (200, {"access_token": "at-1"}, {})}
        manage.add(
            desk.store,
            "hs",
            "helpscout",
            secret="s",
            api_url=hd.url,
            api_token="app-secret",
            options={"app_id": "app-1"},
            now=datetime.now(UTC),
        )
        info = manage.find(desk.store, name="hs")
        with httpx.Client() as http:
            headers = adapter("helpscout").auth(info, http)
    assert headers == {"Authorization": "Bearer at-1"}
    (call,) = hd.calls
    form = dict(p.split("=") for p in call.body.decode().split("&"))
    assert form == {
        "grant_type": "client_credentials",
        "client_id": "app-1",
        "client_secret": "app-secret",
    }
