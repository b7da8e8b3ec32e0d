"""Replies that reach the customer: the deliveries outbox, its states, retries and the reply
webhook, against a real local HTTP receiver (tests/channels/recorder.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from gracedesk.channels.delivery import (
    BACKOFF,
    Outgoing,
    Transports,
    WebhookTransport,
    deliver_replies,
)
from gracedesk.channels.signature import verify_signature
from gracedesk.service import actions, views
from gracedesk.service.desk import CustomerRef, Desk, Incoming
from gracedesk.store import Store
from gracedesk.store.tables import AuditEvent, Delivery

from .conftest import NOW, make_user, post
from .recorder import recording_server


def _desk(store: Store, policy: Any, analyzer: Any, url: str | None) -> Desk:
    return Desk(store, policy=policy, analyzer=analyzer, reply_webhook_url=url)


def _delivery(store: Store, message_id: int) -> Delivery:
    with store.read() as s:
        d = s.scalar(select(Delivery).where(Delivery.message_id == message_id))
        assert d is not None
        s.expunge(d)
        return d


def test_a_reply_with_nowhere_to_go_is_stored_and_says_so(desk: Desk) -> None:
    agent, _ = make_user(desk.store, "ann", "agent")
    p = post(desk, "Where is my parcel?", channel="chat")
    out = actions.send_reply(desk, p.conversation_id, "Sorry, checking now.", user=agent, now=NOW)
    assert out["delivery"]["state"] == "stored"
    assert out["delivery"]["transport"] == "none"
    assert deliver_replies(desk.store, Transports(), now=NOW) == 0


def test_reply_webhook_sends_each_reply_once_signed(
    store: Store, policy: Any, analyzer: Any
) -> None:
    with recording_server() as rec:
        desk = _desk(store, policy, analyzer, rec.url + "/replies")
        agent, _ = make_user(store, "ann", "agent", display_name="Ann Lee")
        p = post(desk, "Where is my parcel?", channel="chat")
        out = actions.send_reply(desk, p.conversation_id, "It ships today.", user=agent, now=NOW)
        assert out["delivery"]["state"] == "queued"
        transports = Transports(webhook=WebhookTransport(rec.url + "/replies", "s3cret"))

        assert deliver_replies(store, transports, now=NOW) == 1
        assert deliver_replies(store, transports, now=NOW + timedelta(hours=1)) == 0  # once

        assert len(rec.requests) == 1
        call = rec.requests[0]
        assert (call.method, call.path) == ("POST", "/replies")
        assert verify_signature("s3cret", call.body, call.headers["X-Gracedesk-Signature"])
        doc = call.json()
        assert doc["event"] == "reply.sent" and doc["key"] == f"reply:{out['message_id']}"
        assert doc["payload"]["text"] == "It ships today."
        assert doc["payload"]["agent"] == "Ann Lee"
        assert doc["payload"]["customer"] == "c-1"
        d = _delivery(store, out["message_id"])
        assert (d.state, d.attempts, d.remote_id) == ("sent", 1, f"reply:{out['message_id']}")
        detail = views.conversation_detail(desk, p.conversation_id, user=agent, now=NOW)
        shown = [m["delivery"] for m in detail["messages"] if m["author"] == "agent"]
        assert shown[0]["state"] == "sent" and shown[0]["transport"] == "webhook"
        with store.read() as s:
            kinds = s.scalars(select(AuditEvent.kind).where(AuditEvent.kind.like("reply.%")))
            assert set(kinds) == {"reply.sent", "reply.delivered"}


def test_a_server_error_is_retried_with_back_off_then_given_up(
    store: Store, policy: Any, analyzer: Any
) -> None:
    with recording_server() as rec:
        rec.default = (503, {"error": "busy"})
        desk = _desk(store, policy, analyzer, rec.url)
        agent, _ = make_user(store, "ann", "agent")
        p = post(desk, "Where is my parcel?", channel="chat")
        mid = actions.send_reply(desk, p.conversation_id, "On it.", user=agent, now=NOW)[
            "message_id"
        ]
        transports = Transports(webhook=WebhookTransport(rec.url, None))
        at = NOW
        for attempt, wait in enumerate(BACKOFF, start=1):
            assert deliver_replies(store, transports, now=at) == 0
            d = _delivery(store, mid)
            assert (d.state, d.attempts) == ("queued", attempt)
            assert d.last_error == "HTTP 503 Service Unavailable"
            assert d.next_attempt_at == at + timedelta(seconds=wait)
            assert deliver_replies(store, transports, now=at) == 0  # not due yet: no call
            at = d.next_attempt_at
        assert len(rec.requests) == len(BACKOFF)
        deliver_replies(store, transports, now=at)
        d = _delivery(store, mid)
        assert (d.state, d.attempts) == ("failed", len(BACKOFF) + 1)
        with store.read() as s:
            failed = s.scalars(
                select(AuditEvent).where(AuditEvent.kind == "reply.delivery_failed")
            ).all()
            assert [e.detail["error"] for e in failed] == ["HTTP 503 Service Unavailable"]


def test_a_refusal_fails_at_once_with_the_reason(store: Store, policy: Any, analyzer: Any) -> None:
    with recording_server() as rec:
        rec.default = (400, {"error": "unknown conversation"})
        desk = _desk(store, policy, analyzer, rec.url)
        agent, _ = make_user(store, "ann", "agent")
        p = post(desk, "Hello?", channel="chat")
        mid = actions.send_reply(desk, p.conversation_id, "Hi!", user=agent, now=NOW)["message_id"]
        deliver_replies(store, Transports(webhook=WebhookTransport(rec.url, None)), now=NOW)
        d = _delivery(store, mid)
        assert (d.state, d.attempts, d.last_error) == ("failed", 1, "HTTP 400 Bad Request")


def test_an_email_conversation_without_an_address_fails_visibly(desk: Desk) -> None:
    agent, _ = make_user(desk.store, "ann", "agent")
    p = post(desk, "Where is my parcel?", channel="email")  # no e-mail address on record
    out = actions.send_reply(desk, p.conversation_id, "Checking.", user=agent, now=NOW)
    assert out["delivery"]["state"] == "failed"
    assert out["delivery"]["last_error"] == "the customer has no e-mail address"


def test_a_transport_that_is_not_configured_leaves_the_reply_queued(desk: Desk) -> None:
    agent, _ = make_user(desk.store, "ann", "agent")
    ref = CustomerRef("c-9", name="Mo", email="mo@example.org")
    p = desk.post_message(Incoming(ref, "Refund?", channel="email"), actor=None, now=NOW)
    mid = actions.send_reply(desk, p.conversation_id, "Yes.", user=agent, now=NOW)["message_id"]
    assert deliver_replies(desk.store, Transports(), now=NOW) == 0
    d = _delivery(desk.store, mid)
    assert d.state == "queued" and d.target == "mo@example.org"
    assert d.last_error is not None and "no email transport" in d.last_error


def test_the_api_shows_the_delivery_of_each_reply(
    store: Store, policy: Any, analyzer: Any, settings: Any
) -> None:
    from fastapi.testclient import TestClient

    from gracedesk.web.app import create_app

    desk = _desk(store, policy, analyzer, None)
    _, token = make_user(store, "ann", "agent")
    h = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(settings, desk=desk)) as client:
        r = client.post(
            "/api/v1/messages", json={"customer": {"external_id": "x"}, "text": "Hi"}, headers=h
        )
        conv = r.json()["conversation_id"]
        r = client.post(f"/api/v1/conversations/{conv}/replies", json={"text": "Hello!"}, headers=h)
        assert r.status_code in (200, 201), r.text
        assert r.json()["delivery"]["state"] == "stored"
        doc = client.get(f"/api/v1/conversations/{conv}", headers=h).json()
        assert [m["delivery"] for m in doc["messages"]][-1]["transport"] == "none"


class _Slow:
    """A transport whose first send outlasts the lease: meanwhile another worker's round runs."""

    def __init__(self, store: Store, later: datetime) -> None:
        self.store, self.later = store, later
        self.sent: list[int] = []
        self.nested = False

    def send(self, out: Outgoing) -> str:
        self.sent.append(out.message_id)
        if not self.nested:
            self.nested = True  # the other worker claims what this round has not sent yet
            deliver_replies(self.store, Transports(webhook=self), now=self.later)
        return f"reply:{out.message_id}"


def test_a_round_longer_than_the_lease_sends_no_reply_twice(desk: Desk) -> None:
    agent, _ = make_user(desk.store, "ann", "agent")
    ids = []
    for i in range(3):
        p = post(desk, "Where is my parcel?", customer=f"c-{i}", channel="chat")
        ids.append(actions.send_reply(desk, p.conversation_id, "On it.", user=agent, now=NOW))
    with desk.store.write() as s:  # a reply webhook was configured when they were sent
        for d in s.scalars(select(Delivery)):
            d.transport, d.state, d.target = "webhook", "queued", "http://chat.example/replies"
    # the round claims all three at 09:00 (leased to 09:05) but starts sending at 09:02 (a slow
    # mailbox before it); the first send is still running when another worker looks at 09:06
    slow = _Slow(desk.store, NOW + timedelta(minutes=6))
    started = NOW + timedelta(minutes=2)
    deliver_replies(desk.store, Transports(webhook=slow), now=NOW, clock=lambda: started)
    assert sorted(slow.sent) == sorted(r["message_id"] for r in ids)  # each once
    with desk.store.read() as s:
        assert set(s.scalars(select(Delivery.state))) == {"sent"}


def test_a_reply_cancelled_while_it_is_sent_stays_cancelled(desk: Desk) -> None:
    agent, _ = make_user(desk.store, "ann", "agent")
    p = post(desk, "Where is my parcel?", channel="chat")
    mid = actions.send_reply(desk, p.conversation_id, "On it.", user=agent, now=NOW)["message_id"]
    with desk.store.write() as s:
        d = s.scalars(select(Delivery)).one()
        d.transport, d.state = "webhook", "queued"

    class Erasing:
        def send(self, out: Outgoing) -> str:
            with desk.store.write() as s:  # the customer is erased meanwhile
                s.scalars(select(Delivery)).one().state = "cancelled"
            return "x"

    assert deliver_replies(desk.store, Transports(webhook=Erasing()), now=NOW) == 0
    assert _delivery(desk.store, mid).state == "cancelled"
