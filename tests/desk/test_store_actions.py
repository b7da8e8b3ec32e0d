"""``store.actions`` and ``store.records`` on both databases: the workflow writes of the console
and the API (replies, escalations decided or closed, assignments, releases) and the records
around a conversation (notes, sanctions, breaks, CSAT surveys)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from gracedesk.service.desk import Desk
from gracedesk.store import Store, records
from gracedesk.store import actions as stored
from gracedesk.store.tables import Escalation, Message, Sanction

from .conftest import NOW, make_user, post


def _escalation(
    conv_id: int, kind: str, *, state: str = "pending", data: dict[str, Any] | None = None
) -> Escalation:
    return Escalation(
        conversation_id=conv_id,
        kind=kind,
        target="supervisor",
        state=state,
        reason="test",
        data=data or {},
        created_at=NOW,
    )


def test_a_reply_answers_the_conversation(desk: Desk, store: Store) -> None:
    agent, _ = make_user(store, "ann", "agent")
    posted = post(desk, "Where is my order?")
    later = NOW + timedelta(minutes=5)
    with store.write() as s:
        c = s.connection()
        conv = records.conversation(c, posted.conversation_id, lock=True)
        assert conv is not None
        last = stored.last_customer_message(c, conv.id)
        assert last is not None and last.id == posted.message_id
        mid = stored.add_reply(
            c, conv, user_id=agent.id, text="On its way.", critique={}, now=later
        )
        m = stored.message(c, mid)
        assert m is not None and m.author == "agent" and m.critique == {}
        assert not stored.answered_since(c, conv.id, user_id=agent.id, after=last.id, reply_id=mid)
    with store.read() as s:
        c = s.connection()
        conv = records.conversation(c, posted.conversation_id)
        assert conv is not None
        assert (conv.assignee_id, conv.first_response_at, conv.first_response_due) == (
            agent.id,
            later,
            None,
        )
        assert conv.status == "waiting"
        # the customer's message stays the last one from the customer
        assert stored.last_customer_message(c, conv.id).id == posted.message_id  # type: ignore[union-attr]
        assert stored.answered_since(c, conv.id, user_id=agent.id, after=last.id, reply_id=0)


def test_exposures_and_breaks_are_counted_on_the_user(store: Store) -> None:
    agent, _ = make_user(store, "bo", "agent")
    with store.write() as s:
        c = s.connection()
        assert stored.count_exposure(c, agent.id, now=NOW).abuse_exposures == 1
        assert stored.count_exposure(c, agent.id, now=NOW).abuse_exposures == 2
        assert records.take_break(c, agent.id, now=NOW).last_break_at == NOW
    with store.read() as s:
        c = s.connection()
        u = stored.user(c, agent.id)
        assert u is not None and (u.abuse_exposures, u.last_exposure_at) == (2, NOW)
        assert stored.active_user(c, "bo") is not None
        assert stored.active_user(c, "nobody") is None


def test_pending_items_are_decided_or_closed_with_their_sanction(desk: Desk, store: Store) -> None:
    boss, _ = make_user(store, "cy", "supervisor")
    posted = post(desk, "Where is my order?")
    conv_id = posted.conversation_id
    with store.write() as s:
        conv = records.conversation(s.connection(), conv_id)
        assert conv is not None
        pending = [
            Sanction(
                customer_id=conv.customer_id,
                level="block",
                state="pending",
                reason="test",
                created_at=NOW,
            )
            for _ in range(2)
        ]
        s.add_all(pending)
        s.flush()
        items = [
            _escalation(conv_id, "sanction", data={"sanction_id": pending[0].id}),
            _escalation(conv_id, "sanction", data={"sanction_id": pending[1].id}),
            _escalation(conv_id, "escalation"),
            _escalation(conv_id, "escalation", state="approved"),
        ]
        s.add_all(items)
        s.flush()
        ids = [e.id for e in items]
        sids = [x.id for x in pending]
    with store.write() as s:
        c = s.connection()
        assert stored.escalation_conversation_id(c, ids[0]) == conv_id
        assert stored.escalation_conversation_id(c, 10_000) is None
        assert [e.id for e in stored.pending_escalations(c, conv_id)] == ids[:3]
        assert stored.has_pending(c, conv_id, "escalation")
        e = stored.lock_escalation(c, ids[0])
        stored.decide_escalation(c, e, approve=True, approver_id=boss.id, note=None, now=NOW)
        e = stored.lock_escalation(c, ids[2])
        stored.decide_escalation(c, e, approve=False, approver_id=boss.id, note="no", now=NOW)
        assert not stored.has_pending(c, conv_id, "escalation")
        for e in stored.pending_escalations(c, conv_id):
            stored.close_escalation(c, e, approver_id=boss.id, now=NOW)
    with store.read() as s:
        c = s.connection()
        decided = [stored.escalation(c, i) for i in ids]
        assert [e.state for e in decided] == ["approved", "closed", "rejected", "approved"]
        assert decided[2].note == "no" and decided[1].approver_id == boss.id
        first = records.sanction(c, sids[0])
        second = records.sanction(c, sids[1])
        assert first is not None and (first.state, first.approved_by) == ("active", boss.id)
        assert second is not None and second.state == "closed"


def test_assign_resolve_and_release(desk: Desk, store: Store) -> None:
    agent, _ = make_user(store, "dee", "agent")
    posted = post(desk, "Where is my order?")
    with store.write() as s:
        c = s.connection()
        conv = records.conversation(c, posted.conversation_id, lock=True)
        assert conv is not None
        stored.assign(c, conv.id, agent.id, now=NOW)
        stored.set_status(c, conv.id, "held")
        m = stored.message(c, posted.message_id)
        assert m is not None
        s.add(
            Message(
                conversation_id=conv.id,
                author="customer",
                channel=conv.channel,
                text="still held",
                received_at=NOW,
                analysis_state="pending",
                analysis_attempts=0,
                hold="held",
            )
        )
        s.flush()
        stored.release_message(c, m.id)
        assert stored.other_held(c, conv.id, m.id) == 1
        later = NOW + timedelta(hours=1)
        stored.resolve(c, conv.id, resolution="Sent again.", assignee_id=0, now=later)
        stored.touch(c, conv.id, now=later)
    with store.read() as s:
        c = s.connection()
        conv = records.conversation(c, posted.conversation_id)
        assert conv is not None
        assert (conv.status, conv.resolution, conv.resolved_at) == (
            "resolved",
            "Sent again.",
            later,
        )
        assert conv.assignee_id == agent.id  # someone held it: resolving keeps them
        m = stored.message(c, posted.message_id)
        assert m is not None and (m.hold, m.analysis_state) == ("released", "pending")


def test_a_survey_is_sent_found_and_answered(desk: Desk, store: Store) -> None:
    posted = post(desk, "Where is my order?")
    with store.write() as s:
        records.add_survey(s.connection(), posted.conversation_id, token="tok-1", now=NOW)
    with store.write() as s:
        c = s.connection()
        assert records.survey(c, "nope") is None
        r = records.survey(c, "tok-1", lock=True)
        assert r is not None and r.responded_at is None
        conv = records.survey_conversation(c, r)
        assert conv is not None and conv.id == posted.conversation_id
        answered = records.answer_survey(c, r, score=4, comment=None, now=NOW)
        assert answered.id == posted.conversation_id
    with store.read() as s:
        r = records.survey(s.connection(), "tok-1")
        assert r is not None and (r.score, r.comment, r.responded_at) == (4, None, NOW)


def test_notes_and_sanctions_of_a_customer(desk: Desk, store: Store) -> None:
    agent, _ = make_user(store, "eve", "agent")
    posted = post(desk, "Where is my order?")
    with store.write() as s:
        c = s.connection()
        conv = records.conversation(c, posted.conversation_id)
        assert conv is not None
        cid = conv.customer_id
        assert records.customer_exists(c, cid) and not records.customer_exists(c, 10_000)
        assert records.customer(c, cid).id == cid
        nid = records.add_note(c, cid, author_id=agent.id, text="prefers e-mail", now=NOW)
        assert isinstance(nid, int)
        x = records.add_sanction(
            c,
            cid,
            level="warn",
            reason="rude",
            until=None,
            created_by=agent.id,
            approved_by=None,
            now=NOW,
        )
        assert x.id is not None and (x.state, x.level, x.created_at) == ("active", "warn", NOW)
        sid = x.id
    with store.write() as s:
        x2 = records.sanction(s.connection(), sid)
        assert x2 is not None
        records.lift_sanction(s.connection(), x2.id)
    with store.read() as s:
        lifted = records.sanction(s.connection(), sid)
        assert lifted is not None and lifted.state == "lifted"
        assert records.sanction(s.connection(), 10_000) is None
