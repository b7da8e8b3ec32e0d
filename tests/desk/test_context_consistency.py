"""The desk, ``gracedesk decide`` and ``gracedesk advise`` judge a conversation alike: the same
messages give the same decisions and the same next step, wherever they are run (issue 10)."""

from __future__ import annotations

from datetime import timedelta

from gracedesk.guidance.advice import advise
from gracedesk.model.situation_parse import parse_situation
from gracedesk.service import actions
from gracedesk.service.desk import Desk
from gracedesk.service.flow import run_scenario
from gracedesk.store.tables import Escalation

from .conftest import NOW, make_user, post

THREAT = "If my money isn't back by Friday I will find you and break your face"
NUDGE = "Hello? anyone?"


def _key(decisions: list[dict]) -> set[tuple]:
    return {(d["action"], d.get("rule_id"), d.get("target"), d.get("priority")) for d in decisions}


def test_desk_decide_and_advise_agree_on_a_remembered_threat(desk: Desk) -> None:
    first = post(desk, THREAT)
    later = NOW + timedelta(minutes=10)
    r = post(desk, NUDGE, at=later)
    scenario = {
        "id": "same",
        "messages": [
            {"role": "customer", "text": THREAT, "at": NOW.isoformat()},
            {"role": "customer", "text": NUDGE, "at": later.isoformat()},
        ],
    }
    out = run_scenario(scenario, desk.policy, desk.analyzer, later)
    assert _key(r.decisions) == _key(out.record()["decisions"])
    assert any(d["rule_id"] == "threat-remembered" for d in r.decisions)
    assert r.signals["risk"] == out.signals.risk >= 0.5
    g = advise(out.signals, parse_situation(scenario), now=later)
    assert r.guidance is not None
    assert r.guidance["next_step"]["step"] == g.next_step.step == "boundary"
    assert first.conversation_id == r.conversation_id


def test_a_supervisor_decision_clears_the_remembered_threat(desk: Desk) -> None:
    sup, _ = make_user(desk.store, "sup", "supervisor")
    cid = post(desk, THREAT).conversation_id
    with desk.store.read() as s:
        security = [
            e.id
            for e in s.query(Escalation).filter_by(conversation_id=cid, target="security").all()
        ]
    assert security
    for eid in security:
        actions.decide_escalation(
            desk, eid, user=sup, approve=True, note=None, now=NOW + timedelta(minutes=5)
        )
    r = post(desk, NUDGE, at=NOW + timedelta(minutes=10))
    assert not any(d["rule_id"] == "threat-remembered" for d in r.decisions)
    assert r.guidance is not None and r.guidance["next_step"]["step"] != "boundary"
