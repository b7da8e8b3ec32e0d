"""Sanctions that act: a blocked customer's messages are stored, held out of agent queues,
answered once by the policy's auto-reply, and released by a supervisor; a restriction serves
the customer in writing only, with longer SLA targets."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from gracedesk.errors import Conflict, PermissionDenied
from gracedesk.service import actions, records, views
from gracedesk.service.desk import CustomerRef, Desk, Incoming
from gracedesk.store.tables import AuditEvent, Conversation, Delivery, Message

from .conftest import NOW, make_user, post


def _sanction(desk: Desk, customer_id: int, level: str, minutes: int | None = None) -> Any:
    boss, _ = make_user(desk.store, f"boss-{level}-{minutes}", "supervisor")
    return records.add_sanction(
        desk, customer_id, level, "repeated insults", user=boss, now=NOW, minutes=minutes
    )


def _customer_id(desk: Desk, conv_id: int) -> int:
    with desk.store.read() as s:
        return s.get_one(Conversation, conv_id).customer_id


def _queue(desk: Desk, user: Any) -> list[int]:
    items = views.list_conversations(desk, user=user, now=NOW, status="active")["items"]
    return [c["id"] for c in items]


def test_a_blocked_customer_is_held_answered_once_and_released(desk: Desk) -> None:
    agent, _ = make_user(desk.store, "ann", "agent")
    boss, _ = make_user(desk.store, "sue", "supervisor")
    first = post(desk, "Where is my parcel?", channel="chat")
    _sanction(desk, _customer_id(desk, first.conversation_id), "block")

    later = NOW + timedelta(minutes=5)
    held = post(desk, "You are useless idiots, answer me", channel="chat", at=later)
    again = post(desk, "ANSWER ME", channel="chat", at=later + timedelta(minutes=1))
    assert (held.analysis, again.analysis) == ("held", "held")
    assert held.conversation_id == first.conversation_id

    with desk.store.read() as s:
        conv = s.get_one(Conversation, held.conversation_id)
        assert conv.status == "held"
        m = s.get_one(Message, held.message_id)
        assert (m.hold, m.analysis_state, m.signals) == ("held", "held", None)
        autos = s.scalars(
            select(Message).where(Message.conversation_id == conv.id, Message.author == "system")
        ).all()
        assert len(autos) == 1  # two held messages, one auto-reply
        assert autos[0].text == desk.policy.sanctions.block.auto_reply
        assert autos[0].meta == {"auto_reply": "block"}
        d = s.scalar(select(Delivery).where(Delivery.message_id == autos[0].id))
        assert d is not None and d.transport == "none"  # chat with no reply webhook
        kinds = list(s.scalars(select(AuditEvent.kind).order_by(AuditEvent.id)))
        assert kinds.count("message.held") == 2 and kinds.count("auto_reply.queued") == 1

    assert held.conversation_id not in _queue(desk, agent)  # out of the agents' queue
    listed = views.held_messages(desk, user=boss)
    assert [h["message_id"] for h in listed] == [held.message_id, again.message_id]
    with pytest.raises(PermissionDenied):
        views.held_messages(desk, user=agent)
    with pytest.raises(PermissionDenied):
        actions.release(desk, held.message_id, user=agent, now=later)

    out = actions.release(desk, held.message_id, user=boss, now=later + timedelta(minutes=9))
    assert out["analysis"] == "done" and out["signals"]["risk"] > 0.5
    with desk.store.read() as s:
        assert s.get_one(Message, again.message_id).hold == "held"  # the other one still is
    actions.release(desk, again.message_id, user=boss, now=later + timedelta(minutes=10))
    with desk.store.read() as s:
        assert s.get_one(Conversation, held.conversation_id).status != "held"
        assert s.get_one(Message, again.message_id).hold == "released"
    assert held.conversation_id in _queue(desk, agent)
    with pytest.raises(Conflict):
        actions.release(desk, held.message_id, user=boss, now=later)


def test_the_auto_reply_comes_again_only_after_its_interval(desk: Desk) -> None:
    first = post(desk, "Hello", channel="chat")
    _sanction(desk, _customer_id(desk, first.conversation_id), "block")
    hours = desk.policy.sanctions.block.auto_reply_hours
    for at in (NOW, NOW + timedelta(hours=hours - 1), NOW + timedelta(hours=hours + 1)):
        post(desk, "still waiting", channel="chat", at=at)
    with desk.store.read() as s:
        autos = s.scalars(select(Message.received_at).where(Message.author == "system")).all()
    assert len(autos) == 2


def test_an_auto_reply_from_a_blocked_customer_gets_no_auto_reply(desk: Desk) -> None:
    first = post(desk, "Hello", channel="chat")
    _sanction(desk, _customer_id(desk, first.conversation_id), "block")
    ref = CustomerRef("c-1")
    p = desk.post_message(
        Incoming(ref, "I am out of office", channel="chat", analyse=False, meta={"auto": "x"}),
        actor=None,
        now=NOW + timedelta(minutes=1),
    )
    assert p.analysis == "none"
    with desk.store.read() as s:
        assert not s.scalars(select(Message).where(Message.author == "system")).all()


def test_an_expired_block_holds_nothing(desk: Desk) -> None:
    first = post(desk, "Hello", channel="chat")
    _sanction(desk, _customer_id(desk, first.conversation_id), "block", minutes=60)
    assert post(desk, "hi again", channel="chat", at=NOW + timedelta(minutes=30)).analysis == "held"
    assert post(desk, "hi again", channel="chat", at=NOW + timedelta(hours=2)).analysis == "done"


def _due(sla: dict[str, Any] | None) -> datetime:
    assert sla is not None
    return datetime.fromisoformat(sla["first_response_due"])


def test_a_restriction_serves_in_writing_only_with_longer_targets(desk: Desk) -> None:
    restrict = desk.policy.sanctions.restrict
    assert "phone" not in restrict.channels and "email" in restrict.channels
    first = post(desk, "Hello", channel="email", email="r@example.org")
    _sanction(desk, _customer_id(desk, first.conversation_id), "restrict", minutes=7 * 24 * 60)

    by_phone = post(desk, "Call me back now", channel="phone", at=NOW + timedelta(minutes=1))
    assert by_phone.analysis == "held"
    with desk.store.read() as s:
        auto = s.scalar(select(Message).where(Message.author == "system"))
        assert auto is not None and auto.text == restrict.auto_reply
        assert auto.meta == {"auto_reply": "restrict"}

    written = post(desk, "My order is late", channel="email", at=NOW + timedelta(minutes=2))
    assert written.analysis == "done"
    plain = post(desk, "My order is late", customer="c-2", channel="email", at=NOW)
    # the SLA clock of each message's decision (the conversation keeps its first due time)
    restricted_wait = _due(written.sla) - (NOW + timedelta(minutes=2))
    plain_wait = _due(plain.sla) - NOW
    assert restrict.sla_factor == 2.0
    assert restricted_wait == plain_wait * 2  # Monday 09:00: both inside business hours


def test_the_held_routes_of_the_api(desk: Desk, settings: Any) -> None:
    from fastapi.testclient import TestClient

    from gracedesk.web.app import create_app

    first = post(desk, "Hello", channel="chat")
    _sanction(desk, _customer_id(desk, first.conversation_id), "block")
    held = post(desk, "idiots", channel="chat", at=NOW + timedelta(minutes=1))
    _, boss = make_user(desk.store, "sue", "supervisor")
    _, agent = make_user(desk.store, "ann", "agent")
    with TestClient(create_app(settings, desk=desk)) as client:
        h = {"Authorization": f"Bearer {boss}"}
        assert (
            client.get("/api/v1/held", headers={"Authorization": f"Bearer {agent}"}).status_code
            == 403
        )
        assert [x["message_id"] for x in client.get("/api/v1/held", headers=h).json()] == [
            held.message_id
        ]
        r = client.post(f"/api/v1/messages/{held.message_id}/release", headers=h)
        assert r.status_code == 200, r.text
        assert r.json()["analysis"] == "done"
        again = client.post(f"/api/v1/messages/{held.message_id}/release", headers=h)
        assert again.status_code == 409
        assert again.headers["content-type"].startswith("application/problem+json")


def test_only_supervisors_read_a_held_message(desk: Desk) -> None:
    from gracedesk.service import protect

    agent, _ = make_user(desk.store, "ann", "agent")
    boss, _ = make_user(desk.store, "sue", "supervisor")
    first = post(desk, "Hello", channel="chat")
    _sanction(desk, _customer_id(desk, first.conversation_id), "block")
    held = post(desk, "you worthless idiots", channel="chat", at=NOW + timedelta(minutes=1))
    later = NOW + timedelta(minutes=2)

    seen = protect.conversation_view(desk, held.conversation_id, user=agent, now=later)
    shown = next(m for m in seen["messages"] if m["id"] == held.message_id)
    assert shown["withheld"] and shown["text"] == ""
    assert "worthless" not in str(seen)
    with pytest.raises(PermissionDenied):
        protect.reveal(desk, held.conversation_id, held.message_id, user=agent, now=later)

    read = protect.conversation_view(desk, held.conversation_id, user=boss, now=later)
    theirs = next(m for m in read["messages"] if m["id"] == held.message_id)
    assert not theirs.get("withheld") and "withheld" not in theirs
