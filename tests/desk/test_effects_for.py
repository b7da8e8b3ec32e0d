"""A message's decisions as effects: a pure function of the decisions and the conversation."""

from __future__ import annotations

import json
from datetime import timedelta
from types import SimpleNamespace
from typing import Any, cast

from gracedesk.model import Decision
from gracedesk.model.effect import (
    AddFollowUp,
    Audited,
    ImposeSanction,
    Notice,
    OpenEscalation,
    Place,
    RefreshPackets,
    StoreAnalysis,
)
from gracedesk.service.effects import Judged, Landing, effects_for
from gracedesk.store.conversations import State

from .conftest import NOW

ORDER = ("urgent", "high", "normal", "low")
STATE = State(7, 3, ["angry"], "normal", None, 0.2, "listen", "1", NOW, NOW, None)
SLA = SimpleNamespace(first_response_due=NOW + timedelta(hours=1), resolution_due=NOW)
PACKET = {"issue": "refund"}


def effects(decisions: list[Decision], *, latest: bool, held: bool = False) -> list[Any]:
    outcome = SimpleNamespace(
        signals=SimpleNamespace(
            risk=0.9, labels=("abusive", "high_risk"), to_dict=lambda: {"risk": 0.9}
        ),
        sla=SLA,
        trace=SimpleNamespace(decisions=decisions),
    )
    guidance = SimpleNamespace(
        stage="de-escalate",
        handover=SimpleNamespace(to_dict=lambda: dict(PACKET)),
        to_dict=lambda: {"stage": "de-escalate"},
    )
    judged = Judged(11, 5, cast(Any, outcome), cast(Any, guidance))
    notice = Notice("sup@example.com", "http://desk")
    return effects_for(judged, Landing(STATE, latest, held, ORDER, notice), now=NOW)


def test_every_decision_becomes_an_effect_in_order() -> None:
    decisions = [
        Decision("set_priority", None, "abuse", "abusive", "1", priority="high"),
        Decision("escalate", "supervisor", "abuse", "abusive", "1", mode="transfer"),
        Decision("block", None, "ladder", "third strike", "1", approval_required=True,
                 approver_role="supervisor"),
        Decision("protect_agent", None, "abuse", "shield", "1", mode="mask"),
        Decision("schedule_follow_up", None, "promise", "call back", "1", due=NOW),
        Decision("route", "care", "abuse", "to care", "1"),
    ]  # fmt: skip
    out = effects(decisions, latest=True)
    assert [type(e) for e in out] == [
        StoreAnalysis, Place, RefreshPackets, OpenEscalation, ImposeSanction, Audited, AddFollowUp
    ]  # fmt: skip
    stored, place, refresh, esc, sanction, audited, follow = out
    assert [d["action"] for d in stored.decisions] == [d.action for d in decisions]
    # the JSON is encoded with the judged message, before the write transaction
    assert (json.loads(stored.signals_json), json.loads(stored.guidance_json)) == (
        {"risk": 0.9},
        {"stage": "de-escalate"},
    )
    assert (place.priority, place.team, place.risk, place.stage) == (
        "high",
        "care",
        0.9,
        "de-escalate",
    )
    assert place.labels == ["abusive", "angry", "high_risk"]
    assert (place.first_response_due, place.resolution_due) == (NOW, NOW)
    assert refresh == RefreshPackets(5, PACKET)
    assert not esc.refresh_pending  # the RefreshPackets before it wrote this packet already
    assert (esc.kind, esc.target, esc.data, esc.packet) == (
        "escalation",
        "supervisor",
        {"mode": "transfer"},
        PACKET,
    )
    assert (sanction.level, sanction.state, sanction.approval.kind) == (
        "block",
        "pending",
        "sanction",
    )
    assert sanction.approval.data == {"level": "block"}
    assert audited.event["kind"] == "agent.protect" and audited.event["detail"]["assignee_id"] == 3
    assert (follow.assignee_id, follow.due_at) == (3, NOW)  # fmt: skip


def test_an_older_message_changes_only_itself_and_placement() -> None:
    out = effects([Decision("set_priority", None, "x", "r", "1", priority="low")], latest=False)
    assert [type(e) for e in out] == [StoreAnalysis, Place]
    place = out[1]
    escalate = [Decision("escalate", "supervisor", "abuse", "abusive", "1", mode="transfer")]
    (opened,) = effects(escalate, latest=False)[2:]
    # an older message's escalation refreshes a pending one's packet itself: the newest
    # message may never be analysed (held, failing, an auto-reply)
    assert isinstance(opened, OpenEscalation) and opened.refresh_pending
    assert (place.risk, place.stage, place.labels) == (0.2, "listen", ["angry"])
    assert place.priority == "low"


def test_a_held_conversation_keeps_its_priority() -> None:
    out = effects(
        [Decision("set_priority", None, "x", "r", "1", priority="low")], latest=True, held=True
    )
    assert out[1].priority == "normal"
