"""Helpdesk webhooks end to end: the FastAPI app, a real store on SQLite and PostgreSQL, each
helpdesk's documented payload (tests/data/connectors/) signed as that helpdesk signs it.

The helpers here (``CASES``, ``sign``, ``hook``, ``connect``) are shared by the other
test_connectors_*.py files.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gracedesk.channels.connectors import manage
from gracedesk.service.desk import Desk
from gracedesk.settings import Settings
from gracedesk.store.tables import Conversation, Customer, Delivery, Message
from gracedesk.web.app import create_app

DATA = Path(__file__).resolve().parents[1] / "data" / "connectors"
SECRET = "whsec-7Hq2-test"
TOKEN = "api-token-test"


@dataclass(frozen=True)
class Case:
    """One helpdesk: its fixture, what identifies the message, and how to add it."""

    kind: str
    fixture: str
    ref: str  # the ticket / conversation id in the fixture
    message_id: str  # the message id the desk stores (channel_message_id)
    contact: str  # the customer's id in the helpdesk
    options: dict[str, str] = field(default_factory=dict)
    event: str | None = None  # Help Scout's X-HelpScout-Event

    def payload(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads((DATA / self.fixture).read_text(encoding="utf-8"))
        return doc


CASES = {
    c.kind: c
    for c in (
        Case("chatwoot", "chatwoot_message_created.json", "48", "24753115", "63181700",
             {"account_id": "78869"}),
        Case("zammad", "zammad_article_created.json", "512", "1044", "87"),
        Case("zendesk", "zendesk_comment_created.json", "35436", "54509363035291", "20978392",
             {"email": "bot@acme.example"}),
        Case("freshdesk", "freshdesk_reply.json", "8817", "", "80031234567"),
        Case("helpscout", "helpscout_customer_reply.json", "2391938111", "7212239", "12",
             event="convo.customer.reply.created"),
    )
}  # fmt: skip
KINDS = list(CASES)


def _mac(secret: str, data: bytes, algorithm: str) -> bytes:
    return hmac.new(secret.encode(), data, getattr(hashlib, algorithm)).digest()


def sign(kind: str, body: bytes, *, at: datetime, secret: str = SECRET) -> dict[str, str]:
    """The headers each helpdesk sends, computed as its documentation says."""
    if kind == "chatwoot":
        ts = str(int(at.timestamp()))
        mac = _mac(secret, ts.encode() + b"." + body, "sha256").hex()
        return {"X-Chatwoot-Timestamp": ts, "X-Chatwoot-Signature": f"sha256={mac}"}
    if kind == "zendesk":
        ts = at.strftime("%Y-%m-%dT%H:%M:%SZ")
        mac = base64.b64encode(_mac(secret, ts.encode() + body, "sha256")).decode()
        return {
            "X-Zendesk-Webhook-Signature-Timestamp": ts,
            "X-Zendesk-Webhook-Signature": mac,
        }
    if kind == "zammad":
        return {"X-Hub-Signature": "sha1=" + _mac(secret, body, "sha1").hex()}
    if kind == "helpscout":
        mac = base64.b64encode(_mac(secret, body, "sha1")).decode()
        return {"X-HelpScout-Signature": mac, "X-HelpScout-Event": CASES[kind].event or ""}
    return {"X-Gracedesk-Secret": secret}


def raw(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def connect(desk: Desk, kind: str, api_url: str = "http://127.0.0.1:9") -> int:
    """The connector named after its kind; returns its id."""
    info = manage.add(
        desk.store,
        kind,
        kind,
        secret=SECRET,
        api_url=api_url,
        api_token=TOKEN,
        options=CASES[kind].options,
        now=datetime.now(UTC),
    )
    return info.id


@pytest.fixture
def client(settings: Settings, desk: Desk) -> Iterator[TestClient]:
    with TestClient(create_app(settings, desk=desk)) as c:
        yield c


@dataclass
class Lite:
    """One app on one SQLite store, every connector added: for requests that store nothing."""

    client: TestClient
    desk: Desk


@pytest.fixture(scope="module")
def lite(tmp_path_factory: pytest.TempPathFactory, policy: Any, analyzer: Any) -> Iterator[Lite]:
    from gracedesk.store import Store

    home = tmp_path_factory.mktemp("lite")
    url = f"sqlite:///{home / 'gracedesk.db'}"
    store = Store.open(url)
    store.migrate()
    desk = Desk(store, policy=policy, analyzer=analyzer)
    for kind in KINDS:
        connect(desk, kind)
    settings = Settings(home=home, database_url=url, secret_key="test-secret")
    with TestClient(create_app(settings, desk=desk)) as c:
        yield Lite(c, desk)
    store.close()


def hook(
    client: TestClient,
    kind: str,
    doc: Any,
    *,
    at: datetime | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    """POST a signed delivery of ``doc`` to /hooks/<kind>."""
    body = raw(doc)
    signed = sign(kind, body, at=at or datetime.now(UTC)) if headers is None else headers
    return client.post(
        f"/hooks/{kind}",
        content=body,
        headers={"Content-Type": "application/json", **signed},
    )


def count(desk: Desk, model: Any, *where: Any) -> int:
    with desk.store.read() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def customer_messages(desk: Desk) -> int:
    return count(desk, Message, Message.author == "customer")


def notes(desk: Desk) -> int:
    return count(desk, Message, Message.author == "system")


# -- a customer message: stored, analysed, noted -------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_customer_message_is_stored_analysed_and_a_note_queued(
    client: TestClient, desk: Desk, kind: str
) -> None:
    case = CASES[kind]
    connector_id = connect(desk, kind)
    r = hook(client, kind, case.payload())
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["analysis"] == "done" and got["replayed"] is False and got["note_queued"] is True
    with desk.store.read() as s:
        m = s.get_one(Message, got["message_id"])
        conv = s.get_one(Conversation, got["conversation_id"])
        customer = s.get_one(Customer, conv.customer_id)
        delivery = s.scalars(select(Delivery).where(Delivery.conversation_id == conv.id)).one()
        note = s.get_one(Message, delivery.message_id)
    assert (m.channel, m.author) == (kind, "customer")
    if case.message_id:
        assert m.channel_message_id == f"{kind}:{case.message_id}"  # the connector's name
    assert "useless idiots" in m.text and "<div>" not in m.text  # HTML bodies become text
    assert (conv.connector_id, conv.external_ref, conv.channel) == (connector_id, case.ref, kind)
    assert customer.external_id == f"{kind}:{case.contact}"  # <connector name>:<contact id>
    assert customer.email == "dana.whitfield@example.com"
    assert m.analysis_state == "done" and "abusive" in (m.signals or {})["labels"]
    # the note: queued for the worker, never sent inside the webhook request
    assert (delivery.transport, delivery.state, delivery.target) == (
        "connector",
        "queued",
        case.ref,
    )
    assert note.author == "system" and note.text.startswith("[gracedesk] risk ")
    writeback = (note.meta or {})["writeback"]
    assert "gracedesk-abusive" in writeback["tags"] and writeback["priority"] == "high"
    for part in ("abusive-behaviour", "Next step:", "Suggested phrase:", "Hand-over:"):
        assert part in note.text


def test_two_installations_of_one_kind_never_share_a_customer_or_a_message(
    client: TestClient, desk: Desk
) -> None:
    """Two Chatwoot accounts send an event with the same contact and message ids."""
    connect(desk, "chatwoot")
    manage.add(
        desk.store,
        "chatwoot-eu",
        "chatwoot",
        secret=SECRET,
        api_url="http://127.0.0.1:9",
        api_token=TOKEN,
        options=CASES["chatwoot"].options,
        now=datetime.now(UTC),
    )
    body = raw(CASES["chatwoot"].payload())
    for name in ("chatwoot", "chatwoot-eu"):
        signed = sign("chatwoot", body, at=datetime.now(UTC))
        r = client.post(f"/hooks/{name}", content=body, headers=signed)
        assert r.status_code == 200 and r.json()["replayed"] is False, r.text
    assert customer_messages(desk) == 2
    with desk.store.read() as s:
        ids = set(s.scalars(select(Customer.external_id)))
    contact = CASES["chatwoot"].contact
    assert {f"chatwoot:{contact}", f"chatwoot-eu:{contact}"} <= ids


@pytest.mark.parametrize("kind", KINDS)
def test_a_replayed_webhook_stores_one_message(client: TestClient, desk: Desk, kind: str) -> None:
    connect(desk, kind)
    doc = CASES[kind].payload()
    first = hook(client, kind, doc).json()
    again = hook(client, kind, doc)
    assert again.status_code == 200, again.text
    assert again.json()["message_id"] == first["message_id"]
    assert again.json()["replayed"] is True and again.json()["note_queued"] is False
    assert customer_messages(desk) == 1 and notes(desk) == 1


def _next_message(kind: str, doc: dict[str, Any], text: str) -> dict[str, Any]:
    """The customer's next message in the same ticket, as that helpdesk would send it."""
    doc = copy.deepcopy(doc)
    if kind == "chatwoot":
        doc |= {"id": 24753999, "content": text}
    elif kind == "zammad":
        doc["article"] |= {"id": 1051, "body": f"<p>{text}</p>"}
    elif kind == "zendesk":
        doc["comment"] |= {"id": "54509451282203", "body": text}
    elif kind == "freshdesk":
        doc["text"] = text
    else:
        new = copy.deepcopy(doc["_embedded"]["threads"][0])
        new |= {"id": 7212999, "body": text, "createdAt": "2026-11-23T09:10:00Z"}
        doc["_embedded"]["threads"].insert(0, new)
    return doc


@pytest.mark.parametrize("kind", KINDS)
def test_a_second_message_in_the_ticket_joins_its_conversation(
    client: TestClient, desk: Desk, kind: str
) -> None:
    connect(desk, kind)
    doc = CASES[kind].payload()
    first = hook(client, kind, doc).json()
    second = hook(client, kind, _next_message(kind, doc, "Still waiting for my refund."))
    assert second.status_code == 200, second.text
    assert second.json()["conversation_id"] == first["conversation_id"]
    assert second.json()["message_id"] != first["message_id"]
    assert customer_messages(desk) == 2 and count(desk, Conversation) == 1


# -- refused: nothing stored ---------------------------------------------------------------------


def _bad_headers(kind: str, how: str, body: bytes) -> dict[str, str]:
    now = datetime.now(UTC)
    if how == "missing":
        return {}
    if how == "wrong secret":
        return sign(kind, body, at=now, secret="not-the-secret")
    if how == "stale":
        return sign(kind, body, at=now - timedelta(minutes=6))
    if how == "future":
        return sign(kind, body, at=now + timedelta(minutes=6))
    assert how == "other body"
    return sign(kind, body + b" ", at=now)


BAD = [
    *[(kind, "missing") for kind in KINDS],  # no signature header at all
    *[(kind, "wrong secret") for kind in KINDS],  # signed with another secret
    *[(kind, "other body") for kind in KINDS if kind != "freshdesk"],  # body changed after
    ("chatwoot", "stale"),  # timestamp six minutes old: a replay
    ("chatwoot", "future"),  # six minutes ahead
    ("zendesk", "stale"),
    ("zendesk", "future"),
]


@pytest.mark.parametrize(("kind", "how"), BAD)
def test_a_bad_signature_is_401_and_nothing_is_stored(lite: Lite, kind: str, how: str) -> None:
    body = raw(CASES[kind].payload())
    headers = _bad_headers(kind, how, body)
    if kind == "helpscout":
        headers.setdefault("X-HelpScout-Event", "convo.customer.reply.created")
    r = lite.client.post(f"/hooks/{kind}", content=body, headers=headers)
    assert r.status_code == 401, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "GD802" and "www-authenticate" not in r.headers
    assert customer_messages(lite.desk) == 0 and count(lite.desk, Customer) == 0


def _mutate(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    *parents, last = path.split(".")
    node = doc
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node[p]
    if value is DROP:
        del node[last]
    else:
        node[last] = value
    return doc


DROP = object()
OWN_NOTE = "[gracedesk] risk 0.99 · labels: angry\nDecisions: none"

IGNORED: list[tuple[str, str, Any, str]] = [
    ("chatwoot", "message_type", "outgoing", "not an incoming"),  # an agent's reply
    ("chatwoot", "private", True, "private note"),  # a private note (ours)
    ("chatwoot", "event", "conversation_status_changed", "not acted on"),  # not a message
    ("chatwoot", "content", OWN_NOTE, "own note"),  # our own note, however it came back
    ("zammad", "article.sender", "Agent", "article by Agent"),  # an agent's article
    ("zammad", "article.internal", True, "internal note"),  # an internal note (ours)
    ("zammad", "article", DROP, "without a new article"),  # a ticket change
    ("zendesk", "comment.author_id", "555", "not the requester"),  # an agent's comment
    ("zendesk", "comment.public", "false", "private comment"),  # a private comment (ours)
    ("freshdesk", "from", "agent", "not written by the requester"),  # a rule set up wrong
    ("freshdesk", "text", OWN_NOTE, "own note"),
    ("helpscout", "_embedded.threads.0.type", "note", "not the customer's"),  # a note (ours)
    ("helpscout", "_embedded.threads.0.type", "reply", "not the customer's"),  # agent reply
]


@pytest.mark.parametrize(("kind", "path", "value", "why"), IGNORED)
def test_events_we_do_not_act_on_are_ignored_and_nothing_is_stored(
    lite: Lite, kind: str, path: str, value: Any, why: str
) -> None:
    r = hook(lite.client, kind, _mutate(CASES[kind].payload(), path, value))
    assert r.status_code == 200, r.text
    assert why in r.json()["ignored"]
    assert count(lite.desk, Message) == 0 and count(lite.desk, Customer) == 0


def test_a_help_scout_event_we_do_not_act_on_is_ignored(lite: Lite) -> None:
    body = raw(CASES["helpscout"].payload())
    headers = sign("helpscout", body, at=datetime.now(UTC))
    headers["X-HelpScout-Event"] = "convo.agent.reply.created"
    r = lite.client.post("/hooks/helpscout", content=body, headers=headers)
    assert r.status_code == 200 and "not acted on" in r.json()["ignored"]
    assert count(lite.desk, Message) == 0


# -- 404 and 422 --------------------------------------------------------------------------------


def test_an_unknown_connector_is_404(lite: Lite) -> None:
    body = raw(CASES["zammad"].payload())
    r = lite.client.post(
        "/hooks/nobody", content=body, headers=sign("zammad", body, at=datetime.now(UTC))
    )
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


WRONG_SHAPE: list[tuple[str, Any]] = [
    ("chatwoot", {"hello": "world"}),  # no event
    ("chatwoot", [1, 2, 3]),  # not an object
    ("zammad", {"article": {"id": 1}}),  # no ticket
    ("zendesk", {"ticket": {"id": "1"}}),  # not our trigger body
    ("freshdesk", {"ticket": 1}),  # not our rule body
    ("helpscout", {"id": 1}),  # no threads
]


@pytest.mark.parametrize(("kind", "doc"), WRONG_SHAPE)
def test_a_body_of_another_shape_is_422(lite: Lite, kind: str, doc: Any) -> None:
    r = hook(lite.client, kind, doc)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert count(lite.desk, Message) == 0


def test_a_body_that_is_not_json_is_422_once_signed(lite: Lite) -> None:
    body = b"ticket=1&article=2"
    r = lite.client.post(
        "/hooks/zammad", content=body, headers=sign("zammad", body, at=datetime.now(UTC))
    )
    assert r.status_code == 422 and "not JSON" in r.json()["detail"]


def test_the_hook_needs_no_session_or_token_and_is_outside_the_api(
    settings: Settings, desk: Desk
) -> None:
    app = create_app(settings, desk=desk)
    assert not any("/hooks" in p for p in app.openapi()["paths"])
    connect(desk, "chatwoot")
    with TestClient(app, cookies=None) as c:  # no session cookie, no CSRF token, no bearer
        assert hook(c, "chatwoot", CASES["chatwoot"].payload()).status_code == 200
