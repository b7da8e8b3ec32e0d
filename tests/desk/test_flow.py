"""A customer message through the desk: stored first, analysed, decided, guided; on both databases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from gracedesk.errors import Conflict, InvalidRequest, ModelError, NotFound
from gracedesk.model import Decision, Signals
from gracedesk.model.situation import Request
from gracedesk.service import actions
from gracedesk.service.desk import CustomerRef, Desk, Incoming
from gracedesk.service.effects import placement
from gracedesk.store.tables import (
    AuditEvent,
    Conversation,
    DecisionRow,
    Escalation,
    Message,
    Sanction,
)
from gracedesk.web.console_evidence import risk_level

from .conftest import NOW, make_user, post

HOSTILE = "You people are useless idiots. I want to speak to your manager right now."
POLITE = "Hi, could you tell me when my order will ship? Thanks!"
THREAT = "I know where your office is. I will find you and break your face."


def count(desk: Desk, table: Any) -> int:
    with desk.store.read() as s:
        return s.scalar(select(func.count()).select_from(table)) or 0


def test_message_is_stored_analysed_decided_and_guided(desk: Desk) -> None:
    r = post(desk, HOSTILE)
    assert r.created and r.analysis == "done"
    assert r.signals["abuse"]["insult"] > 0.5
    assert {"escalate", "set_priority"} <= {d["action"] for d in r.decisions}
    assert all(d["rule_id"] and d["reason"] for d in r.decisions)
    assert r.guidance["next_step"]["step"] in ("boundary", "listen", "acknowledge")
    with desk.store.read() as s:
        m = s.get_one(Message, r.message_id)
        assert m.analysis_state == "done" and m.model_version == "gracedesk-signals/1.0 fast"
        assert m.signals == r.signals
        conv = s.get_one(Conversation, r.conversation_id)
        assert conv.status == "escalated" and conv.priority == "high"
        assert conv.first_response_due is not None and conv.first_response_due > NOW
        kinds = [e.kind for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert kinds[:3] == ["customer.created", "conversation.opened", "message.received"]
    assert "message.analysed" in kinds
    assert count(desk, DecisionRow) == len(r.decisions)


def test_same_idempotency_key_never_stores_twice(desk: Desk) -> None:
    a = post(desk, HOSTILE, key="k-1")
    b = post(desk, HOSTILE, key="k-1")
    assert not b.created and b.message_id == a.message_id
    assert b.signals == a.signals and b.decisions == a.decisions
    # the same key for another message is refused, never silently dropped
    with pytest.raises(Conflict, match="already used for a different request"):
        post(desk, "a different body", key="k-1")
    assert count(desk, Message) == 1


def test_channel_message_id_is_an_idempotency_key(desk: Desk) -> None:
    a = post(desk, POLITE, channel="email", channel_message_id="<m1@example.com>")
    b = post(desk, POLITE, channel="email", channel_message_id="<m1@example.com>")
    assert b.message_id == a.message_id and count(desk, Message) == 1


def test_follow_up_messages_join_the_open_conversation(desk: Desk) -> None:
    a = post(desk, POLITE)
    b = post(desk, "Still waiting, this is the third time I write!", at=NOW + timedelta(hours=2))
    c = post(desk, POLITE, customer="someone-else")
    assert a.conversation_id == b.conversation_id != c.conversation_id
    # the earlier message was the second one's context
    assert b.signals["context"]["repeat_contacts"] >= 1
    assert a.signals.get("context", {}).get("repeat_contacts", 0) == 0


class FailingAnalyzer:
    """An analyzer whose models are missing: the message must survive it."""

    def analyze(self, *a: Any, **k: Any) -> Any:
        raise ModelError("model files are missing")


class Scripted:
    """An analyzer that answers the given signals (the rest 0), whatever the text and context."""

    def __init__(self, **signals: Any) -> None:
        self.signals = signals

    def analyze(self, text: str, *, context: Any = None, id: Any = None) -> Signals:
        from gracedesk.policy.scenario import signals_from

        return signals_from({**self.signals, "id": id, "model": "scripted"})


def test_a_failed_analysis_keeps_the_message_and_is_retried(desk: Desk) -> None:
    working = desk.analyzer
    desk.analyzer = FailingAnalyzer()  # type: ignore[assignment]
    r = post(desk, HOSTILE)
    assert r.created and r.analysis == "failed" and r.signals is None
    with desk.store.read() as s:
        m = s.get_one(Message, r.message_id)
        assert m.analysis_state == "failed" and "model files are missing" in (
            m.analysis_error or ""
        )
    desk.analyzer = working
    assert desk.pending_analysis(now=NOW + timedelta(minutes=5)) == [r.message_id]
    from gracedesk.service.sweeps import reanalyse_pending

    assert reanalyse_pending(desk, now=NOW + timedelta(minutes=5)) == 1
    with desk.store.read() as s:
        assert s.get_one(Message, r.message_id).analysis_state == "done"
    assert desk.pending_analysis(now=NOW + timedelta(minutes=10)) == []


@pytest.mark.parametrize(
    "bad",
    [
        Incoming(CustomerRef("c"), "   "),  # empty text
        Incoming(CustomerRef("c"), "hello", channel="pigeon"),  # unknown channel
    ],
)
def test_bad_messages_are_refused_before_storing(desk: Desk, bad: Incoming) -> None:
    with pytest.raises(InvalidRequest):
        desk.post_message(bad, actor=None, now=NOW)
    assert count(desk, Message) == 0


def test_unknown_or_foreign_conversation(desk: Desk) -> None:
    a = post(desk, POLITE, customer="c-a")
    with pytest.raises(NotFound):
        post(desk, POLITE, customer="c-a", conversation_id=9999)
    with pytest.raises(InvalidRequest, match="another customer"):
        post(desk, POLITE, customer="c-b", conversation_id=a.conversation_id)


def test_refund_beyond_authority_waits_for_approval(desk: Desk) -> None:
    sup, _ = make_user(desk.store, "sup", "supervisor")
    r = post(
        desk,
        "My parcel never came. I want a refund of 300 dollars.",
        request=Request("refund", 300.0),
    )
    assert any(d["action"] == "require_approval" for d in r.decisions)
    with desk.store.read() as s:
        e = s.scalars(select(Escalation).where(Escalation.kind == "approval")).one()
    out = actions.decide_escalation(
        desk, e.id, user=sup, approve=True, note="ok, loyal customer", now=NOW
    )
    assert out["state"] == "approved"
    assert out["taken_over"] is False  # approving a refund does not hand the conversation over


def test_abuse_climbs_the_sanctions_ladder_and_block_needs_approval(desk: Desk) -> None:
    sup, _ = make_user(desk.store, "sup", "supervisor")
    agent, _ = make_user(desk.store, "ag", "agent")
    levels = []
    for i in range(3):
        post(
            desk,
            "You are a useless idiot and a moron.",
            at=NOW + timedelta(minutes=10 * i),
            key=f"a{i}",
        )
        with desk.store.read() as s:
            levels = [(x.level, x.state) for x in s.scalars(select(Sanction).order_by(Sanction.id))]
    assert [lv for lv, _ in levels] == ["warn", "restrict", "block"]
    assert levels[-1][1] == "pending"  # refusing service is a last resort, with approval
    with desk.store.read() as s:
        e = s.scalars(select(Escalation).where(Escalation.kind == "sanction")).one()
    from gracedesk.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        actions.decide_escalation(desk, e.id, user=agent, approve=True, note=None, now=NOW)
    actions.decide_escalation(desk, e.id, user=sup, approve=False, note="one more chance", now=NOW)
    with desk.store.read() as s:
        assert s.scalars(select(Sanction.state).order_by(Sanction.id.desc())).first() == "rejected"


def test_approving_beyond_the_approvers_authority_needs_an_admin(desk: Desk) -> None:
    sup, _ = make_user(desk.store, "sup", "supervisor")
    admin, _ = make_user(desk.store, "adm", "admin")
    post(desk, "I demand a refund of 2000 dollars.", request=Request("refund", 2000.0))
    with desk.store.read() as s:
        e = s.scalars(select(Escalation).where(Escalation.kind == "approval")).one()
    from gracedesk.errors import PermissionDenied

    with pytest.raises(PermissionDenied, match="beyond the authority of supervisor"):
        actions.decide_escalation(desk, e.id, user=sup, approve=True, note=None, now=NOW)
    assert (
        actions.decide_escalation(desk, e.id, user=admin, approve=True, note=None, now=NOW)["state"]
        == "approved"
    )


def test_deciding_the_last_escalation_reopens_the_conversation(desk: Desk) -> None:
    sup, _ = make_user(desk.store, "sup", "supervisor")
    r = post(desk, HOSTILE)
    with desk.store.read() as s:
        assert s.get_one(Conversation, r.conversation_id).status == "escalated"
        pending = s.scalars(select(Escalation).where(Escalation.kind == "escalation")).all()
    taken = [
        actions.decide_escalation(desk, e.id, user=sup, approve=True, note=None, now=NOW)[
            "taken_over"
        ]
        for e in pending
    ]
    assert taken == [True] + [False] * (len(pending) - 1)  # the first approval hands it over
    with desk.store.read() as s:
        conv = s.get_one(Conversation, r.conversation_id)
        assert conv.status == "open" and conv.assignee_id == sup.id


def test_a_pending_block_is_not_requested_twice(desk: Desk) -> None:
    for i in range(5):
        post(
            desk, "You are a useless idiot and a moron.", at=NOW + timedelta(minutes=i), key=f"b{i}"
        )
    with desk.store.read() as s:
        pending = s.scalars(select(Sanction).where(Sanction.state == "pending")).all()
        asks = s.scalars(select(Escalation).where(Escalation.kind == "sanction")).all()
    assert len(pending) == 1 and len(asks) == 1
    assert asks[0].data["sanction_id"] == pending[0].id


def test_reanalysing_an_older_message_uses_only_what_came_before(desk: Desk) -> None:
    first = post(desk, "Where is my parcel? It was due Monday.")
    later = post(desk, "You idiots, refund me now!", at=NOW + timedelta(hours=1))
    again = desk.reanalyse(first.message_id, now=NOW + timedelta(hours=2))
    assert again.analysis == "done"
    with desk.store.read() as s:
        m = s.get_one(Message, first.message_id)
        assert m.text.startswith("Where is my parcel") and "insult" not in m.signals["labels"]
        conv = s.get_one(Conversation, later.conversation_id)
    assert conv.risk == later.signals["risk"]  # the newest message still sets the risk


def conversation_of(desk: Desk, conv_id: int) -> Conversation:
    with desk.store.read() as s:
        conv = s.get_one(Conversation, conv_id)
        s.expunge(conv)
        return conv


def test_a_quiet_follow_up_keeps_the_priority_and_team_of_a_threat(desk: Desk) -> None:
    first = post(desk, THREAT)
    threat = conversation_of(desk, first.conversation_id)
    assert threat.priority == "urgent" and threat.status == "escalated"
    # "Hello? anyone?" matches no rule: only the policy's defaults (normal, frontline) decide
    desk.analyzer = Scripted(risk=0.57, labels=["high_risk"])  # type: ignore[assignment]
    r = post(desk, "Hello? anyone?", at=NOW + timedelta(minutes=10))
    placed = [d for d in r.decisions if d["action"] in ("set_priority", "route")]
    assert placed and {d["rule_id"] for d in placed} == {"default"}
    conv = conversation_of(desk, r.conversation_id)
    assert (conv.priority, conv.team) == ("urgent", threat.team)
    # badge and labels agree: 0.57 is high risk, and the label says so
    assert conv.risk == 0.57 and risk_level(conv.risk) == "high" and "high_risk" in conv.labels
    # a calm message: the label goes with the risk, the other labels stay, the priority too
    desk.analyzer = Scripted(risk=0.2, labels=[])  # type: ignore[assignment]
    r = post(desk, "Hello?? anyone?", at=NOW + timedelta(minutes=20))
    conv = conversation_of(desk, r.conversation_id)
    assert risk_level(conv.risk) == "low" and "high_risk" not in conv.labels
    assert set(threat.labels) - {"high_risk"} <= set(conv.labels)
    assert (conv.priority, conv.team) == ("urgent", threat.team)


def test_a_rule_lowers_the_priority_only_once_nothing_is_pending(desk: Desk) -> None:
    sup, _ = make_user(desk.store, "sup", "supervisor")
    cid = post(desk, THREAT).conversation_id
    assert conversation_of(desk, cid).priority == "urgent"
    # a threat to go public sets "high" and routes to communications
    desk.analyzer = Scripted(public_threat=0.9, risk=0.6)  # type: ignore[assignment]
    r = post(desk, "I'll post this on every review site.", at=NOW + timedelta(minutes=5))
    assert any(d["priority"] == "high" for d in r.decisions if d["action"] == "set_priority")
    conv = conversation_of(desk, cid)
    assert (conv.priority, conv.team) == ("urgent", "communications")  # escalations pending
    with desk.store.read() as s:
        pending = s.scalars(select(Escalation).where(Escalation.state == "pending")).all()
    for e in pending:  # security and the supervisor take it; the block is refused
        approve = e.kind != "sanction"
        actions.decide_escalation(desk, e.id, user=sup, approve=approve, note=None, now=NOW)
    post(desk, "I'll post this on every review site!", at=NOW + timedelta(minutes=15))
    assert conversation_of(desk, cid).priority == "high"


def pri(rule_id: str, priority: str) -> Decision:
    return Decision("set_priority", None, rule_id, "test", "1", priority=priority)


def to(rule_id: str, team: str) -> Decision:
    return Decision("route", team, rule_id, "test", "1")


ORDER = ("urgent", "high", "normal", "low")


@pytest.mark.parametrize(
    ("before", "decisions", "held", "after"),
    [
        # the policy's defaults never lower a priority nor replace a team
        (("urgent", "communications"), [pri("default", "normal")], False, ("urgent", "communications")),
        (("urgent", "communications"), [to("default", "frontline")], False, ("urgent", "communications")),
        (("low", None), [pri("default", "normal"), to("default", "frontline")], False, ("normal", "frontline")),
        # a rule lowers the priority only while nothing is pending; it may always raise it
        (("urgent", "frontline"), [pri("public-threat", "high")], False, ("high", "frontline")),
        (("urgent", "frontline"), [pri("public-threat", "high")], True, ("urgent", "frontline")),
        (("high", "frontline"), [pri("violence-threat", "urgent")], True, ("urgent", "frontline")),
        (("urgent", "frontline"), [to("public-threat", "communications")], True, ("urgent", "communications")),
    ],
)  # fmt: skip
def test_placement(
    before: tuple[str, str | None],
    decisions: list[Decision],
    held: bool,
    after: tuple[str, str | None],
) -> None:
    assert placement(*before, decisions, order=ORDER, held=held) == after
