"""The read models of the console and API (``gracedesk.store.views``) and the history policy
replay reads (``gracedesk.store.replay``), called directly, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gracedesk.service.desk import Desk
from gracedesk.store import audit
from gracedesk.store import replay as history
from gracedesk.store import views as read

from .conftest import NOW, make_user, post


def _three(desk: Desk) -> tuple[int, int, int]:
    """Two customers, three conversations (c-1 twice), one message each."""
    a = post(desk, "Hi, where is my order? Thanks", customer="c-1", at=NOW)
    b = post(desk, "You are useless idiots, I want a refund now", customer="c-2", at=NOW)
    c = post(
        desk,
        "Another question about an invoice please",
        customer="c-1",
        at=NOW + timedelta(minutes=1),
        channel="email",  # another channel: another conversation
    )
    return a.conversation_id, b.conversation_id, c.conversation_id


def test_conversation_pages_count_filter_sort_and_page(desk: Desk) -> None:
    a, b, c = _three(desk)
    with desk.store.read_core() as conn:
        page = read.conversation_page(
            conn, status=None, assignee_id=None, sort="opened", limit=50, offset=0
        )
        assert page.total == len({a, b, c})
        ids = [conv.id for conv in page.rows]
        assert sorted(ids) == sorted({a, b, c})
        opened = [conv.opened_at for conv in page.rows]
        assert opened == sorted(opened, reverse=True)
        externals = {conv.id: conv.customer_external_id for conv in page.rows}
        assert externals == {a: "c-1", b: "c-2", c: "c-1"}
        second = read.conversation_page(
            conn, status=None, assignee_id=None, sort="opened", limit=1, offset=1
        )
        assert second.total == page.total and [x.id for x in second.rows] == ids[1:2]
        for sort in read.SORTS:
            got = read.conversation_page(
                conn, status="active", assignee_id=None, sort=sort, limit=50, offset=0
            )
            assert got.total == len(got.rows)
            assert {x.status for x in got.rows} <= {"open", "waiting", "escalated"}
        nobody = read.conversation_page(
            conn, status=None, assignee_id=10_000, sort="risk", limit=50, offset=0
        )
        assert nobody.total == 0 and list(nobody.rows) == []
        none_resolved = read.conversation_page(
            conn, status="resolved", assignee_id=None, sort="sla", limit=50, offset=0
        )
        assert none_resolved.total == 0
        late = read.sla_breaches(conn, now=NOW + timedelta(days=30))
        assert {x.id for x in late} == {a, b, c}
        assert read.sla_breaches(conn, now=NOW - timedelta(days=1)) == []


def test_a_conversation_and_its_parts(desk: Desk) -> None:
    a, _, _ = _three(desk)
    sam, _ = make_user(desk.store, "sam", "agent")
    with desk.store.read_core() as conn:
        conv = read.conversation(conn, a)
        assert conv is not None and conv.customer_external_id == "c-1"
        assert read.conversation(conn, 10_000) is None
        assert read.customer(conn, conv.customer_id).external_id == "c-1"
        assert read.find_customer(conn, 10_000) is None
        msgs = read.messages_of(conn, a)
        assert [m.author for m in msgs] == ["customer"]
        decisions = read.decisions_of(conn, a)
        assert [d.id for d in decisions] == sorted(d.id for d in decisions)
        assert all(d.conversation_id == a for d in decisions)
        assert read.deliveries_of(conn, a) == []
        assert read.follow_ups_of(conn, a) == []
        assert read.latest_csat(conn, a) is None
        assert all(e.conversation_id == a for e in read.escalations_of(conn, a))
        assert read.user_names(conn, {sam.id, None}) == {sam.id: "sam"}
        assert read.user_names(conn, {None}) == {}
        assert read.held_messages(conn, limit=10) == []


def test_a_customers_record(desk: Desk) -> None:
    a, _, c = _three(desk)
    with desk.store.read_core() as conn:
        conv = read.conversation(conn, a)
        assert conv is not None
        rec = read.customer_record(conn, conv.customer_id)
        assert [x.id for x in rec.conversations] == [c, a]  # the newest opened first
        assert list(rec.notes) == [] and rec.scores == []
        assert sorted(read.conversation_ids_of(conn, conv.customer_id)) == sorted({a, c})


def test_escalations_team_and_exposure(desk: Desk) -> None:
    _, b, _ = _three(desk)
    sam, _ = make_user(desk.store, "sam", "agent")
    make_user(desk.store, "al", "admin")
    with desk.store.write() as s:
        audit.write(
            s,
            [
                audit.event("agent.exposed", now=NOW, user_id=sam.id),
                audit.event("agent.exposed", now=NOW + timedelta(hours=1), user_id=sam.id),
                audit.event("agent.exposed", now=NOW, user_id="not an id"),
            ],
        )
    with desk.store.read_core() as conn:
        pending = read.escalations(conn, state="pending", limit=100)
        every = read.escalations(conn, state=None, limit=100)
        assert {e.id for e in pending} <= {e.id for e in every}
        created = [e.created_at for e in every]
        assert created == sorted(created, reverse=True)
        convs = read.conversations_by_ids(conn, {b, 10_000})
        assert [x.id for x in convs] == [b]
        assert [u.name for u in read.active_users(conn)] == ["al", "sam"]
        assert read.exposures_since(conn, NOW) == {sam.id: 2}
        assert read.exposures_since(conn, NOW + timedelta(minutes=1)) == {sam.id: 1}
        assert read.open_load(conn) == {}  # nobody holds a conversation
        assert read.follow_up_listing(conn, state="open", assignee_id=None, limit=10) == []


def test_replay_reads(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b, c = _three(desk)
    sam, _ = make_user(desk.store, "sam", "agent")
    with desk.store.write() as s:
        audit.write(
            s,
            [
                audit.event("conversation.assigned", now=NOW, conversation_id=a, to="sam"),
                audit.event("reply.sent", now=NOW, conversation_id=a, actor_id=sam.id),
                audit.event("conversation.noted", now=NOW, conversation_id=a),
            ],
        )
    with desk.store.read_core() as conn:
        msgs = history.customer_messages(conn, None, None)
        assert [m.id for m in msgs] == sorted(m.id for m in msgs) and len(msgs) == 3
        assert len(history.customer_messages(conn, NOW + timedelta(minutes=1), None)) == 1
        assert len(history.customer_messages(conn, None, NOW + timedelta(minutes=1))) == 2
        ids = [m.id for m in msgs]
        whole = history.decisions_by_message(conn, ids)
        monkeypatch.setattr(history, "CHUNK", 1)
        assert history.decisions_by_message(conn, ids) == whole
        assert history.user_ids(conn) == {"sam": sam.id}
        kinds = ("conversation.assigned", "reply.sent")
        assert [e.kind for e in history.handover_events(conn, a, kinds)] == list(kinds)
        cid = msgs[0].customer_id
        past = history.past_conversations(
            conn, cid, exclude=a, upto=NOW + timedelta(minutes=1), limit=20
        )
        assert [r.id for r in past] == [c]
        assert history.past_conversations(conn, cid, exclude=a, upto=NOW, limit=20) == []
        assert history.lifted_sanctions(conn, cid) == []
        assert all(x.customer_id == cid for x in history.sanctions_of(conn, cid))
        assert all(e.decided_at is not None for e in history.decided_escalations(conn, cid))
        assert b not in {r.id for r in past}
