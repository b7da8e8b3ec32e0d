"""The REST API end to end (FastAPI app, real store on both databases): flows and problem details."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gracedesk.service.desk import Desk
from gracedesk.settings import Settings
from gracedesk.store.tables import Message, Notification
from gracedesk.web.app import create_app

from .conftest import make_user

HOSTILE = {
    "customer": {"external_id": "c-1", "name": "Dana", "email": "dana@example.com"},
    "text": "You useless idiots charged me twice. Refund me now or I'll post this everywhere!",
}


@pytest.fixture
def api(settings: Settings, desk: Desk) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    tokens = {}
    for name, role in (("ann", "agent"), ("sue", "supervisor"), ("adm", "admin")):
        _, tok = make_user(desk.store, name, role, email=f"{name}@example.com")
        tokens[role] = {"Authorization": f"Bearer {tok}"}
    with TestClient(create_app(settings, desk=desk)) as client:
        yield client, tokens


def messages(desk: Desk) -> int:
    with desk.store.read() as s:
        return s.scalar(select(func.count()).select_from(Message)) or 0


def test_post_message_then_replay(api: Any, desk: Desk) -> None:
    client, tok = api
    r = client.post(
        "/api/v1/messages", json=HOSTILE, headers={**tok["agent"], "Idempotency-Key": "abc"}
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) >= {"message_id", "conversation_id", "signals", "decisions", "guidance"}
    assert "public_threat" in body["signals"]["labels"]
    again = client.post(
        "/api/v1/messages", json=HOSTILE, headers={**tok["agent"], "Idempotency-Key": "abc"}
    )
    assert again.status_code == 200 and again.json()["message_id"] == body["message_id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    other = client.post(
        "/api/v1/messages",
        json={**HOSTILE, "text": "another message"},
        headers={**tok["agent"], "Idempotency-Key": "abc"},
    )
    assert other.status_code == 409 and "already used" in other.json()["detail"]
    assert "'abc'" in other.json()["detail"]
    assert messages(desk) == 1


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        ({"text": "hi"}, {}, 422, "GD111"),  # customer missing
        ({"customer": {"external_id": "x"}, "text": ""}, {}, 422, "GD111"),  # empty text
        (
            {"customer": {"external_id": "x"}, "text": "hi", "color": 1},
            {},
            422,
            "GD111",
        ),  # unknown key
        ({"customer": {"external_id": "x"}, "text": "x" * 20_001}, {}, 422, "GD111"),  # too long
        ({"customer": {"external_id": "x"}, "text": "hi", "channel": "fax"}, {}, 422, "GD110"),
        (
            {"customer": {"external_id": "x"}, "text": "hi", "conversation_id": 999},
            {},
            404,
            "GD701",
        ),
        (
            {"customer": {"external_id": "x", "email": "not-an-email"}, "text": "hi"},
            {},
            422,
            "GD111",
        ),
    ],
)
def test_bad_input_is_a_problem_document_and_stores_nothing(
    api: Any, desk: Desk, body: dict[str, Any], headers: dict[str, str], status: int, code: str
) -> None:
    client, tok = api
    r = client.post("/api/v1/messages", json=body, headers={**tok["agent"], **headers})
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    p = r.json()
    assert p["status"] == status and p["code"] == code and p["detail"] and p["type"].endswith(code)
    assert messages(desk) == 0


def test_oversized_and_malformed_bodies(api: Any, desk: Desk) -> None:
    client, tok = api
    big = client.post(
        "/api/v1/messages",
        content=b"{" + b" " * 300_000 + b"}",
        headers={**tok["agent"], "content-type": "application/json"},
    )
    assert big.status_code == 413 and big.json()["code"] == "GD112"
    bad = client.post(
        "/api/v1/messages",
        content=b"{not json",
        headers={**tok["agent"], "content-type": "application/json"},
    )
    assert bad.status_code == 422
    anon = client.post("/api/v1/messages", json=HOSTILE)
    assert anon.status_code == 401 and anon.headers["www-authenticate"] == "Bearer"
    wrong = client.post("/api/v1/messages", json=HOSTILE, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert messages(desk) == 0


def test_conversation_lifecycle(api: Any, desk: Desk) -> None:
    client, tok = api
    agent, sup = tok["agent"], tok["supervisor"]
    cid = client.post("/api/v1/messages", json=HOSTILE, headers=agent).json()["conversation_id"]
    calm = client.post(
        "/api/v1/messages",
        json={"customer": {"external_id": "c-2"}, "text": "Hi, when will my order ship? Thanks"},
        headers=agent,
    )
    inbox = client.get("/api/v1/conversations?status=active&sort=risk", headers=agent).json()
    assert [c["id"] for c in inbox["items"]][:2] == [cid, calm.json()["conversation_id"]]

    d = client.get(f"/api/v1/conversations/{cid}", headers=agent).json()
    assert d["messages"][0]["signals"]["evidence"] and d["guidance"]["next_step"]["step"]
    assert d["customer"]["external_id"] == "c-1" and d["decisions"]

    draft = client.post(
        f"/api/v1/conversations/{cid}/drafts",
        json={"text": "Calm down. That's our policy."},
        headers=agent,
    ).json()
    assert {"dismissive", "excuse"} <= {f["kind"] for f in draft["findings"]}

    reply = client.post(
        f"/api/v1/conversations/{cid}/replies",
        json={
            "text": "I'm so sorry you were charged twice, Dana. I've asked our billing team to refund the duplicate charge and I'll email you by 5pm tomorrow with the confirmation."
        },
        headers=agent,
    )
    assert reply.status_code == 201, reply.text
    fus = reply.json()["follow_ups"]
    assert len(fus) == 1 and fus[0]["due"] and fus[0]["state"] == "open"
    assert client.get("/api/v1/follow-ups", headers=agent).json()[0]["id"] == fus[0]["id"]

    esc = client.post(
        f"/api/v1/conversations/{cid}/escalations",
        json={"reason": "asked for a manager", "target": "supervisor"},
        headers=agent,
    )
    assert esc.status_code == 201 and esc.json()["packet"]["issue"]
    queue = client.get("/api/v1/escalations", headers=sup).json()
    assert any(e["conversation_id"] == cid for e in queue)
    eid = next(e["id"] for e in queue if e["kind"] == "escalation")
    assert (
        client.post(f"/api/v1/escalations/{eid}/approve", json={}, headers=agent).status_code == 403
    )
    ok = client.post(f"/api/v1/escalations/{eid}/approve", json={"note": "I take it"}, headers=sup)
    assert ok.status_code == 200 and ok.json()["state"] == "approved"
    assert (
        client.post(f"/api/v1/escalations/{eid}/approve", json={}, headers=sup).status_code == 409
    )

    res = client.post(
        f"/api/v1/conversations/{cid}/resolve",
        json={"resolution": "duplicate charge refunded"},
        headers=sup,
    )
    assert res.status_code == 200
    assert "csat_token" not in res.json() and res.json()["csat"]["sent_at"]
    assert (
        client.post(
            f"/api/v1/conversations/{cid}/resolve", json={"resolution": "again"}, headers=sup
        ).status_code
        == 409
    )
    with desk.store.read() as s:
        n = s.scalars(select(Notification).where(Notification.event == "csat.request")).one()
        token = n.payload["csat_url"].rsplit("/", 1)[1]  # the token goes to the customer only
        assert n.recipients == ["dana@example.com"] and token in n.body
    assert client.post(f"/api/v1/csat/{token}", json={"score": 6}).status_code == 422
    assert (
        client.post(f"/api/v1/csat/{token}", json={"score": 4, "comment": "fair"}).status_code
        == 200
    )
    assert client.post(f"/api/v1/csat/{token}", json={"score": 5}).status_code == 409
    assert client.post("/api/v1/csat/unknown", json={"score": 5}).status_code == 404

    cust = d["customer"]["id"]
    assert (
        client.post(
            f"/api/v1/customers/{cust}/notes", json={"text": "prefers e-mail"}, headers=agent
        ).status_code
        == 201
    )
    view = client.get(f"/api/v1/customers/{cust}", headers=agent).json()
    assert view["notes"][0]["text"] == "prefers e-mail" and view["csat_mean"] == 4
    export = client.get(f"/api/v1/customers/{cust}/export", headers=sup).json()
    assert export["conversations"][0]["messages"]
    audit = client.get(f"/api/v1/audit?conversation_id={cid}", headers=agent).json()
    kinds = {e["kind"] for e in audit}
    assert {
        "message.received",
        "reply.sent",
        "escalation.opened",
        "escalation.approved",
        "conversation.resolved",
        "csat.answered",
    } <= kinds
