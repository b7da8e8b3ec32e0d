"""Jobs on both databases: follow-up reminders, SLA breaches, the outbox to a real SMTP server.

Each job is run twice (and, on PostgreSQL, by two workers at once) to show it never fires twice.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from gracedesk.channels.smtp import SmtpSettings
from gracedesk.jobs.notify import Notifier
from gracedesk.service import actions, sweeps
from gracedesk.service.desk import Desk
from gracedesk.store.tables import (
    AuditEvent,
    Conversation,
    Escalation,
    FollowUp,
    Message,
    Notification,
)

from .conftest import NOW, make_user, post

PROMISE = "I'm sorry about this. I'll email you by 5pm tomorrow with the refund confirmation."


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content.replace(b"\r\n", b"\n")
        self.messages.append(
            (list(envelope.rcpt_tos), message_from_bytes(raw, policy=policy.default))
        )
        return "250 Message accepted"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, SmtpSettings]]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, SmtpSettings(host="127.0.0.1", port=port, sender="desk@gracedesk.test")
    finally:
        controller.stop()


def kinds(desk: Desk, kind: str) -> int:
    with desk.store.read() as s:
        return len(s.scalars(select(AuditEvent.id).where(AuditEvent.kind == kind)).all())


def test_promise_reminded_once_then_overdue_once_and_emailed(desk: Desk, smtp: Any) -> None:
    inbox, settings = smtp
    agent, _ = make_user(desk.store, "ann", "agent", email="ann@example.com")
    cid = post(desk, "Where is my refund?!").conversation_id
    reply = actions.send_reply(desk, cid, PROMISE, user=agent, now=NOW)
    due = reply["follow_ups"][0]["due"]
    assert due.startswith("2026-11-24T17:00")  # 5pm tomorrow in the default zone (UTC)
    # far from the deadline: nothing to do
    assert sweeps.sweep_follow_ups(desk, now=NOW) == 0
    before = NOW + timedelta(days=1, hours=7, minutes=30)  # 16:30, within the 60-minute lead
    assert sweeps.sweep_follow_ups(desk, now=before) == 1
    assert sweeps.sweep_follow_ups(desk, now=before) == 0  # idempotent
    after = NOW + timedelta(days=1, hours=9)
    assert sweeps.sweep_follow_ups(desk, now=after) == 1
    assert sweeps.sweep_follow_ups(desk, now=after) == 0
    with desk.store.read() as s:
        assert s.scalars(select(FollowUp.state)).one() == "overdue"
    with Notifier(settings, [], None) as notifier:
        assert sweeps.deliver_notifications(desk.store, notifier, now=after) >= 2
        assert sweeps.deliver_notifications(desk.store, notifier, now=after) == 0
    subjects = {m["Subject"]: (to, m) for to, m in inbox.messages}
    due_mail = next(v for k, v in subjects.items() if "promise due" in k)
    assert (
        due_mail[0] == ["ann@example.com"] and due_mail[1]["X-Gracedesk-Event"] == "follow_up.due"
    )
    missed = next(v for k, v in subjects.items() if "promise missed" in k)
    assert set(missed[0]) == {"ann@example.com", "lead@example.com"}


def sla_escalation(desk: Desk) -> Escalation:
    with desk.store.read() as s:
        e = s.scalars(select(Escalation).where(Escalation.kind == "sla")).one()
        s.expunge(e)
        return e


def handover(desk: Desk, message_id: int) -> Any:
    with desk.store.read() as s:
        return (s.get_one(Message, message_id).guidance or {})["handover"]


def breach(desk: Desk, text: str, **kw: Any) -> int:
    """A customer message left unanswered past its reply deadline; returns the conversation."""
    cid: int = post(desk, text, **kw).conversation_id
    with desk.store.read() as s:
        due = s.get_one(Conversation, cid).first_response_due
    assert due is not None
    assert sweeps.sweep_sla(desk, now=due + timedelta(minutes=1)) == 1
    return cid


def test_sla_breach_escalates_once(desk: Desk) -> None:
    r = post(desk, "Hello? Nobody answers. I need help with my invoice.")
    with desk.store.read() as s:
        due = s.get_one(Conversation, r.conversation_id).first_response_due
    assert due is not None
    assert sweeps.sweep_sla(desk, now=due - timedelta(minutes=1)) == 0
    assert sweeps.sweep_sla(desk, now=due + timedelta(minutes=1)) == 1
    assert sweeps.sweep_sla(desk, now=due + timedelta(minutes=2)) == 0
    e = sla_escalation(desk)
    assert e.target == "supervisor" and "SLA breached" in e.reason
    # the supervisor gets the hand-over packet of the message left unanswered
    assert e.packet is not None and e.packet == handover(desk, r.message_id)
    assert kinds(desk, "sla.breached") == 1


def test_a_new_message_refreshes_the_packet_of_a_pending_sla_escalation(desk: Desk) -> None:
    breach(desk, "Hello? I need help with my invoice.")
    later = post(desk, "It is invoice 7, and you charged me twice!", at=NOW + timedelta(days=1))
    assert sla_escalation(desk).packet == handover(desk, later.message_id)


def test_approving_an_sla_breach_takes_the_conversation_over(desk: Desk) -> None:
    agent, _ = make_user(desk.store, "ann", "agent")
    sup, _ = make_user(desk.store, "sup", "supervisor")
    cid = breach(desk, "Hello? I need help with my invoice.")
    actions.assign(desk, cid, user=agent, assignee=None, now=NOW)  # ann has it, never answered
    out = actions.decide_escalation(
        desk, sla_escalation(desk).id, user=sup, approve=True, note=None, now=NOW
    )
    assert out["state"] == "approved" and out["taken_over"] is True
    with desk.store.read() as s:
        assert s.get_one(Conversation, cid).assignee_id == sup.id


def test_approving_an_sla_breach_of_ones_own_conversation_changes_no_hands(desk: Desk) -> None:
    sup, _ = make_user(desk.store, "sup", "supervisor")
    cid = breach(desk, "Hello? I need help with my invoice.")
    actions.assign(desk, cid, user=sup, assignee=None, now=NOW)
    out = actions.decide_escalation(
        desk, sla_escalation(desk).id, user=sup, approve=True, note=None, now=NOW
    )
    assert out["state"] == "approved" and out["taken_over"] is False
    with desk.store.read() as s:
        assert s.get_one(Conversation, cid).assignee_id == sup.id


def test_a_reply_stops_the_sla_clock(desk: Desk) -> None:
    agent, _ = make_user(desk.store, "ann", "agent")
    cid = post(desk, "Hello? I need help with my invoice.").conversation_id
    actions.send_reply(
        desk, cid, "Happy to help. Could you send me the invoice number?", user=agent, now=NOW
    )
    assert sweeps.sweep_sla(desk, now=NOW + timedelta(days=3)) == 0


def test_failed_delivery_is_retried_with_backoff(desk: Desk) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]
    agent, _ = make_user(desk.store, "ann", "agent")
    cid = post(desk, "Where is my parcel?", email="x@example.com").conversation_id
    actions.resolve(desk, cid, user=agent, resolution="delivered", now=NOW)
    with Notifier(SmtpSettings(host="127.0.0.1", port=dead, timeout=2), [], None) as notifier:
        assert sweeps.deliver_notifications(desk.store, notifier, now=NOW) == 0
        assert sweeps.deliver_notifications(desk.store, notifier, now=NOW) == 0  # not yet due again
    with desk.store.read() as s:
        n = s.scalars(select(Notification)).one()
        assert n.state == "pending" and n.attempts == 1 and n.last_error
        assert n.next_attempt_at == NOW + timedelta(seconds=sweeps.BACKOFF[0])


def test_two_workers_at_once_fire_each_reminder_once(desk: Desk) -> None:
    agent, _ = make_user(desk.store, "ann", "agent")
    for i in range(30):
        cid = post(desk, "Where is my refund?", customer=f"c{i}", key=f"k{i}").conversation_id
        actions.send_reply(desk, cid, PROMISE, user=agent, now=NOW)
    at = NOW + timedelta(days=1, hours=7, minutes=30)
    results: list[int] = []
    barrier = threading.Barrier(2)

    def work() -> None:
        barrier.wait()
        total = 0
        while (n := sweeps.sweep_follow_ups(desk, now=at)) > 0:
            total += n
        results.append(total)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sum(results) == 30
    assert kinds(desk, "follow_up.reminded") == 30
    with desk.store.read() as s:
        assert (
            len(
                s.scalars(
                    select(Notification.id).where(Notification.event == "follow_up.due")
                ).all()
            )
            == 30
        )


def test_sla_breaches_again_after_a_reply_and_a_new_wait(desk: Desk) -> None:
    agent, _ = make_user(desk.store, "ann", "agent")
    cid = post(desk, "Hello? I need help with my invoice.").conversation_id
    with desk.store.read() as s:
        due = s.get_one(Conversation, cid).first_response_due
    assert due is not None
    assert sweeps.sweep_sla(desk, now=due + timedelta(minutes=1)) == 1
    actions.send_reply(
        desk,
        cid,
        "Sorry for the wait. Which invoice is it?",
        user=agent,
        now=due + timedelta(minutes=2),
    )
    later = due + timedelta(days=1)
    post(desk, "It is invoice 7. Hello? Anyone?", at=later)
    with desk.store.read() as s:
        due2 = s.get_one(Conversation, cid).first_response_due
    assert due2 is not None and due2 > later
    assert sweeps.sweep_sla(desk, now=due2 + timedelta(minutes=1)) == 1


def test_a_malformed_notification_does_not_block_the_outbox(desk: Desk, smtp: Any) -> None:
    inbox, settings = smtp
    with desk.store.write() as s:
        for key, to in (("bad", ["a@b.example", "x"]), ("good", ["ok@example.com"])):
            s.add(
                Notification(
                    key=key,
                    event="test",
                    recipients=to,
                    subject="line one",
                    body="b",
                    payload={},
                    state="pending",
                    attempts=0,
                    next_attempt_at=NOW,
                    created_at=NOW,
                )
            )
        s.flush()
        # a recipient the Notifier refuses (it carries a comma) made it into the table anyway
        s.scalars(select(Notification).where(Notification.key == "bad")).one().recipients = [
            "a,b@x.example"
        ]
    with Notifier(settings, [], None) as notifier:
        assert sweeps.deliver_notifications(desk.store, notifier, now=NOW) == 1
    with desk.store.read() as s:
        states = dict(s.execute(select(Notification.key, Notification.state)).all())
    assert states == {"bad": "failed", "good": "sent"}
    assert [to for to, _ in inbox.messages] == [["ok@example.com"]]


def test_a_repeated_escalation_keeps_one_pending_with_the_newest_packet(desk: Desk) -> None:
    """The policy escalates twice in one conversation: one escalation per target stays pending,
    carrying the second message's hand-over packet (written once, by the refresh of pending
    packets, not again by the repeated escalation)."""
    first = post(desk, "You are a useless idiot and I will sue you.")
    later = post(
        desk, "Still nothing, you idiots. My lawyer will call.", at=NOW + timedelta(hours=1)
    )
    with desk.store.read() as s:
        pending = s.scalars(
            select(Escalation).where(
                Escalation.conversation_id == first.conversation_id,
                Escalation.kind == "escalation",
                Escalation.state == "pending",
            )
        ).all()
    assert pending and len({(e.target, e.rule_id) for e in pending}) == len(pending), pending
    for e in pending:
        assert e.packet == handover(desk, later.message_id)
        assert e.packet != handover(desk, first.message_id)
