"""Who may close a loop: the CSAT survey is the customer's, a supervisor's workflow is theirs.

- ``resolve`` never hands the survey's token to staff; it goes out through the outbox only, and
  an answer that comes with a staff credential (bearer token, console session) is refused.
- An agent may not resolve while something waits for a supervisor (409 naming it); a supervisor
  may, and what was pending is closed and audited. An agent may not take back, nor resolve, a
  conversation a supervisor took over (403).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from gracedesk.errors import Conflict, PermissionDenied
from gracedesk.model.situation import Request
from gracedesk.service import actions, views
from gracedesk.service.desk import Desk
from gracedesk.settings import Settings
from gracedesk.store.tables import (
    AuditEvent,
    CsatResponse,
    Escalation,
    Notification,
    Sanction,
)
from gracedesk.web.app import create_app

from .conftest import NOW, make_user, post

REFUND = Request("refund", 500.0)


def _token(desk: Desk, conv_id: int) -> str:
    with desk.store.read() as s:
        return s.scalars(
            select(CsatResponse.token).where(CsatResponse.conversation_id == conv_id)
        ).one()


def _kinds(desk: Desk, conv_id: int) -> list[str]:
    with desk.store.read() as s:
        return list(
            s.scalars(
                select(AuditEvent.kind)
                .where(AuditEvent.conversation_id == conv_id)
                .order_by(AuditEvent.id)
            )
        )


@pytest.fixture
def api(settings: Settings, desk: Desk) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    people: dict[str, Any] = {}
    for name, role in (("ann", "agent"), ("sue", "supervisor"), ("adm", "admin")):
        user, tok = make_user(desk.store, name, role)
        people[role] = (user, {"Authorization": f"Bearer {tok}"})
    with TestClient(create_app(settings, desk=desk)) as client:
        yield client, people


# -- 5. the survey is the customer's ---------------------------------------------------------


def test_resolving_gives_staff_no_survey_token(desk: Desk) -> None:
    agent, _ = make_user(desk.store, "ann", "agent")
    sup, _ = make_user(desk.store, "sue", "supervisor")
    cid = post(desk, "Where is my parcel?", email="dana@example.com").conversation_id
    out = actions.resolve(desk, cid, user=agent, resolution="delivered today", now=NOW)
    token = _token(desk, cid)
    assert out["status"] == "resolved" and out["csat"]["sent_at"] == NOW.isoformat()
    assert token not in json.dumps(out) and "csat_url" not in out and "csat_token" not in out
    # the link goes to the customer, through the outbox
    with desk.store.read() as s:
        n = s.scalars(select(Notification).where(Notification.event == "csat.request")).one()
        assert n.recipients == ["dana@example.com"] and token in n.body
        audit = [(e.reason, e.detail) for e in s.scalars(select(AuditEvent))]
    assert token not in json.dumps(audit, default=str)
    # a supervisor sees that a survey was sent, never the token
    detail = views.conversation_detail(desk, cid, user=sup, now=NOW)
    assert detail["csat"]["sent_at"] == NOW.isoformat() and detail["csat"]["score"] is None
    assert token not in json.dumps(detail, default=str)
    log = views.audit_log(desk, user=sup)
    assert token not in json.dumps(log, default=str)


def test_the_api_resolve_answer_has_no_token_and_staff_cannot_answer(api: Any, desk: Desk) -> None:
    client, people = api
    agent_h, sup_h, adm_h = people["agent"][1], people["supervisor"][1], people["admin"][1]
    cid = post(desk, "Where is my parcel?", email="dana@example.com").conversation_id
    r = client.post(
        f"/api/v1/conversations/{cid}/resolve", json={"resolution": "found"}, headers=agent_h
    )
    assert r.status_code == 200, r.text
    token = _token(desk, cid)
    assert token not in r.text
    assert token not in client.get(f"/api/v1/conversations/{cid}", headers=sup_h).text
    # the assignee (and any other staff) answering with their credential: refused, audited
    for headers in (agent_h, sup_h, adm_h):
        refused = client.post(f"/api/v1/csat/{token}", json={"score": 5}, headers=headers)
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "GD702" and "customer" in refused.json()["detail"]
    bad = client.post(
        f"/api/v1/csat/{token}", json={"score": 5}, headers={"Authorization": "Bearer nope"}
    )
    assert bad.status_code == 401
    with desk.store.read() as s:
        refusals = s.scalars(select(AuditEvent).where(AuditEvent.kind == "csat.refused")).all()
        assert [e.actor for e in refusals] == ["user:ann", "user:sue", "user:adm"]
        assert [e.detail["assignee"] for e in refusals] == [True, False, False]
        assert s.scalars(select(CsatResponse)).one().responded_at is None  # still open
    # the customer, with no credential, answers once
    assert client.post(f"/api/v1/csat/{token}", json={"score": 4}).status_code == 200
    assert client.post(f"/api/v1/csat/{token}", json={"score": 4}).status_code == 409


def test_a_signed_in_console_session_cannot_answer_the_survey(
    settings: Settings, desk: Desk
) -> None:
    agent, _ = make_user(desk.store, "ann", "agent", password="a long enough password")
    cid = post(desk, "Where is my parcel?", email="dana@example.com").conversation_id
    actions.resolve(desk, cid, user=agent, resolution="delivered", now=NOW)
    token = _token(desk, cid)
    with TestClient(create_app(settings, desk=desk)) as client:
        assert client.get(f"/csat/{token}").status_code == 200  # the customer's page
        login = client.get("/console/login")
        assert login.status_code == 200
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
        assert csrf is not None
        signed = client.post(
            "/console/login",
            data={
                "username": "ann",
                "password": "a long enough password",
                "csrf_token": csrf.group(1),
            },
            follow_redirects=False,
        )
        assert signed.status_code == 303, signed.text
        assert client.get(f"/csat/{token}").status_code == 403
        refused = client.post(f"/csat/{token}", data={"score": "5"})
        assert refused.status_code == 403 and "only the customer" in refused.text
    with desk.store.read() as s:
        assert s.scalars(select(CsatResponse)).one().responded_at is None
    assert "csat.refused" in _kinds(desk, cid)


# -- 6. a supervisor's workflow is theirs ---------------------------------------------------


def test_an_agent_cannot_resolve_past_a_pending_approval(desk: Desk) -> None:
    agent, _ = make_user(desk.store, "ann", "agent")
    cid = post(desk, "I was charged twice, refund me.", request=REFUND).conversation_id
    with desk.store.read() as s:
        approval = s.scalars(
            select(Escalation).where(
                Escalation.conversation_id == cid, Escalation.kind == "approval"
            )
        ).one()
    with pytest.raises(Conflict) as err:
        actions.resolve(desk, cid, user=agent, resolution="refunded", now=NOW)
    assert f"approval #{approval.id} (refund 500" in err.value.message
    with desk.store.read() as s:
        assert s.get_one(Escalation, approval.id).state == "pending"
        assert s.scalars(select(CsatResponse)).all() == []
    assert "conversation.resolved" not in _kinds(desk, cid)


def test_a_supervisor_resolving_closes_what_was_pending(desk: Desk) -> None:
    sup, _ = make_user(desk.store, "sue", "supervisor")
    agent, _ = make_user(desk.store, "ann", "agent")
    cid = post(desk, "I was charged twice, refund me.", request=REFUND).conversation_id
    actions.escalate(desk, cid, user=agent, reason="needs a lead", now=NOW)
    with desk.store.read() as s:
        pending = {
            e.id: e.kind
            for e in s.scalars(
                select(Escalation).where(
                    Escalation.conversation_id == cid, Escalation.state == "pending"
                )
            )
        }
    assert {"approval", "escalation"} <= set(pending.values())
    out = actions.resolve(desk, cid, user=sup, resolution="refunded 500", now=NOW)
    assert {c["id"] for c in out["closed"]} == set(pending)
    assert all(c["state"] == "closed" for c in out["closed"])
    with desk.store.read() as s:
        for eid in pending:
            e = s.get_one(Escalation, eid)
            assert (e.state, e.approver_id, e.decided_at) == ("closed", sup.id, NOW)
        closed = s.scalars(select(AuditEvent).where(AuditEvent.kind.like("%.closed"))).all()
        assert {e.detail["escalation_id"] for e in closed} == set(pending)
        assert all(e.actor == "user:sue" for e in closed)
        resolved = s.scalars(
            select(AuditEvent).where(AuditEvent.kind == "conversation.resolved")
        ).one()
        assert set(resolved.detail["closed"]) == set(pending)


def test_a_pending_sanction_is_closed_not_applied_when_a_supervisor_resolves(desk: Desk) -> None:
    sup, _ = make_user(desk.store, "sue", "supervisor")
    agent, _ = make_user(desk.store, "ann", "agent")
    cid = post(desk, "I know where you live and I will hurt you.").conversation_id
    with desk.store.read() as s:
        sanctions = s.scalars(select(Sanction).where(Sanction.state == "pending")).all()
    if not sanctions:
        pytest.skip("the shipped policy opened no pending sanction for this threat")
    with pytest.raises(Conflict, match="sanction #"):
        actions.resolve(desk, cid, user=agent, resolution="done", now=NOW)
    actions.resolve(desk, cid, user=sup, resolution="handed to security", now=NOW)
    with desk.store.read() as s:
        assert {x.state for x in s.scalars(select(Sanction))} == {"closed"}


def test_the_api_409_names_what_is_pending(api: Any, desk: Desk) -> None:
    client, people = api
    cid = post(desk, "I was charged twice, refund me.", request=REFUND).conversation_id
    r = client.post(
        f"/api/v1/conversations/{cid}/resolve",
        json={"resolution": "refunded"},
        headers=people["agent"][1],
    )
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem")
    assert r.json()["code"] == "GD703" and "approval #" in r.json()["detail"]
    ok = client.post(
        f"/api/v1/conversations/{cid}/resolve",
        json={"resolution": "refunded"},
        headers=people["supervisor"][1],
    )
    assert ok.status_code == 200 and ok.json()["closed"]


def _taken_over(desk: Desk, agent: Any, sup: Any) -> int:
    cid = post(desk, "This is the third time. Get me someone senior.").conversation_id
    actions.assign(desk, cid, user=agent, assignee=None, now=NOW)
    eid = actions.escalate(desk, cid, user=agent, reason="wants a lead", now=NOW)["id"]
    took = actions.decide_escalation(desk, eid, user=sup, approve=True, note=None, now=NOW)
    assert took["taken_over"] is True
    return cid


def test_an_agent_cannot_take_back_a_conversation_a_supervisor_took_over(desk: Desk) -> None:
    agent, _ = make_user(desk.store, "ann", "agent")
    other, _ = make_user(desk.store, "bob", "agent")
    sup, _ = make_user(desk.store, "sue", "supervisor")
    cid = _taken_over(desk, agent, sup)
    for who in (agent, other):
        with pytest.raises(PermissionDenied, match="taken over by supervisor sue"):
            actions.assign(desk, cid, user=who, assignee=None, now=NOW)
        with pytest.raises(PermissionDenied):
            actions.assign(desk, cid, user=who, assignee="ann", now=NOW)
        with pytest.raises(PermissionDenied, match="taken over"):
            actions.resolve(desk, cid, user=who, resolution="done", now=NOW)
    assert views.conversation_detail(desk, cid, user=sup, now=NOW)["assignee"] == "sue"
    # the supervisor hands it back; then the agent works it as before
    assert actions.assign(desk, cid, user=sup, assignee="ann", now=NOW)["assignee"] == "ann"
    assert actions.assign(desk, cid, user=agent, assignee=None, now=NOW)["assignee"] == "ann"
    assert actions.resolve(desk, cid, user=agent, resolution="done", now=NOW)["status"] == (
        "resolved"
    )


def test_the_api_refuses_an_agent_taking_over_with_a_problem(api: Any, desk: Desk) -> None:
    client, people = api
    cid = _taken_over(desk, people["agent"][0], people["supervisor"][0])
    r = client.post(f"/api/v1/conversations/{cid}/assign", json={}, headers=people["agent"][1])
    assert r.status_code == 403 and r.json()["code"] == "GD702"
    assert "taken over by supervisor sue" in r.json()["detail"]
