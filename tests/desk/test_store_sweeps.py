"""The store's side of the worker's sweeps (``gracedesk.store.sweeps``), of the demo seeding
(``gracedesk.store.demo``) and of the ORM outbox (``gracedesk.store.outbox.enqueue*``), called
directly, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from gracedesk.service import outbox as service_outbox
from gracedesk.service.desk import Desk
from gracedesk.store import demo as demo_store
from gracedesk.store import outbox
from gracedesk.store import sweeps as store_sweeps
from gracedesk.store.tables import Conversation, Customer, Delivery, Message, Notification

from .conftest import NOW, make_user, post


def test_assignee_is_the_user_or_none(desk: Desk) -> None:
    ann, _ = make_user(desk.store, "ann", "agent", email="ann@example.com")
    with desk.store.read() as s:
        found = store_sweeps.assignee(s.connection(), ann.id)
        assert found is not None and found.email == "ann@example.com"
        assert store_sweeps.assignee(s.connection(), ann.id + 1000) is None


def test_breaches_are_claimed_until_marked(desk: Desk) -> None:
    r = post(desk, "Hello? Nobody answers. I need help with my invoice.")
    with desk.store.read() as s:
        due = s.get_one(Conversation, r.conversation_id).first_response_due
    assert due is not None
    locked = desk.store.skip_locked()
    with desk.store.write() as s:
        early = store_sweeps.claim_breached(
            s.connection(), now=due - timedelta(minutes=1), limit=10, skip_locked=locked
        )
        assert early == []
        late = store_sweeps.claim_breached(
            s.connection(), now=due + timedelta(minutes=1), limit=10, skip_locked=locked
        )
        assert [c.id for c in late] == [r.conversation_id]
        store_sweeps.mark_breached(s.connection(), late[0].id, now=due + timedelta(minutes=1))
    with desk.store.write() as s:
        again = store_sweeps.claim_breached(
            s.connection(), now=due + timedelta(minutes=2), limit=10, skip_locked=locked
        )
        assert again == []
        conv = s.get_one(Conversation, r.conversation_id)
        assert conv.sla_breached_at == due + timedelta(minutes=1)


def test_latest_packet_is_the_newest_analysed_customer_messages(desk: Desk) -> None:
    first = post(desk, "Where is my refund? I have waited two weeks.")
    second = post(
        desk, "Still nothing. This is unacceptable.", conversation_id=first.conversation_id
    )
    with desk.store.read() as s:
        guidance = s.get_one(Message, second.message_id).guidance or {}
        packet = store_sweeps.latest_packet(s.connection(), first.conversation_id)
        assert packet == guidance.get("handover")
        assert packet is not None
        assert store_sweeps.latest_packet(s.connection(), first.conversation_id + 1000) is None


def test_notifications_are_claimed_leased_and_settled(desk: Desk) -> None:
    locked = desk.store.skip_locked()
    with desk.store.write() as s:
        for key in ("a", "b", "c"):
            outbox.notify(
                s.connection(),
                key=key,
                event="test",
                to=["lead@example.com"],
                subject=key,
                body="",
                payload={},
                now=NOW,
            )
    with desk.store.write() as s:
        assert (
            store_sweeps.claim_pending(
                s.connection(), now=NOW - timedelta(seconds=1), limit=10, skip_locked=locked
            )
            == []
        )
        rows = store_sweeps.claim_pending(s.connection(), now=NOW, limit=2, skip_locked=locked)
        assert [n.key for n in rows] == ["a", "b"]  # by id, limited
        assert [
            store_sweeps.lease(s.connection(), n.id, until=NOW + timedelta(minutes=5)) for n in rows
        ] == [1, 1]
        ids = [n.id for n in rows]
    with desk.store.write() as s:
        left = store_sweeps.claim_pending(s.connection(), now=NOW, limit=10, skip_locked=locked)
        assert [n.key for n in left] == ["c"]  # the leased ones wait
        a, b = (store_sweeps.notification(s.connection(), i) for i in ids)
        store_sweeps.mark_sent(s.connection(), a.id, now=NOW)
        store_sweeps.retry_at(s.connection(), b.id, "down", at=NOW + timedelta(minutes=1))
        store_sweeps.mark_failed(s.connection(), left[0].id, "bad")
    with desk.store.read() as s:
        sent, retried = (s.get_one(Notification, i) for i in ids)
        assert (sent.state, sent.sent_at, sent.last_error, sent.attempts) == ("sent", NOW, None, 1)
        assert (retried.state, retried.last_error, retried.next_attempt_at) == (
            "pending",
            "down",
            NOW + timedelta(minutes=1),
        )
    with desk.store.write() as s:
        later = store_sweeps.claim_pending(
            s.connection(), now=NOW + timedelta(minutes=10), limit=10, skip_locked=locked
        )
        assert [n.id for n in later] == [ids[1]]  # sent and failed ones are never claimed


def test_demo_reads(desk: Desk) -> None:
    make_user(desk.store, "sam", "agent")
    make_user(desk.store, "alex", "supervisor")
    with desk.store.read() as s:
        assert demo_store.user_names(s.connection()) == {"sam", "alex"}
        assert sorted(u.name for u in demo_store.users(s.connection())) == ["alex", "sam"]
        assert demo_store.demo_customer_id(s.connection(), "demo-0001") is None
    post(desk, "Hello, a question about my order.", customer="demo-0001")
    with desk.store.read() as s:
        cid = demo_store.demo_customer_id(s.connection(), "demo-0001")
        assert cid is not None
        assert s.get_one(Customer, cid).external_id == "demo-0001"


def test_enqueue_and_enqueue_note_store_deliveries(desk: Desk) -> None:
    assert service_outbox.enqueue is outbox.enqueue  # re-exported, same function
    assert service_outbox.enqueue_note is outbox.enqueue_note
    r = post(desk, "Please answer by mail.", email="dana@example.com")
    with desk.store.write() as s:
        conv = s.get_one(Conversation, r.conversation_id)
        customer = s.get_one(Customer, conv.customer_id)
        message = s.get_one(Message, r.message_id)
        d = outbox.enqueue(s, message, conv, customer, webhook_url=None, now=NOW)
        n = outbox.enqueue_note(s, conv, "internal", now=NOW, tags=["vip"], priority="high")
        s.flush()
        ids = (d.id, n.id)
    with desk.store.read() as s:
        d, n = (s.get_one(Delivery, i) for i in ids)
        assert (d.message_id, d.transport, d.state) == (r.message_id, "none", "stored")
        assert (n.transport, n.state, n.conversation_id) == (
            "connector",
            "queued",
            r.conversation_id,
        )
        note = s.get_one(Message, n.message_id)
        assert (note.author, note.text, note.analysis_state) == ("system", "internal", "none")
        assert note.meta == {"writeback": {"tags": ["vip"], "priority": "high"}}
