"""Every API route walked with every role (and no credentials): who may do what.

Each row: method, path, body, and the status expected for anonymous, agent, supervisor, admin.
The fixture state has a conversation with a pending escalation, a follow-up, a customer, a
sanction and a flag, so that an allowed call succeeds for real. A test checks that the table covers every
route the app serves under /api/v1.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from gracedesk.service import actions, customers, records
from gracedesk.service.desk import Desk
from gracedesk.settings import Settings
from gracedesk.store.tables import CsatResponse
from gracedesk.web.app import create_app

from .conftest import NOW, make_user, post

ROLES = ("anonymous", "agent", "supervisor", "admin")
A, S = "agent", "supervisor"
FUTURE = (NOW + timedelta(days=30)).isoformat()
ARTICLE = (
    "---\nid: refunds\ntitle: Refunds\naudience: customer\nupdated: 2026-11-01\n---\n"
    "We refund within 5 working days of getting the item back.\n"
)

# method, path, body, expected status for (anonymous, agent, supervisor, admin)
TABLE: list[tuple[str, str, dict[str, Any] | None, tuple[int, int, int, int]]] = [
    (
        "POST",
        "/api/v1/messages",
        {"customer": {"external_id": "r"}, "text": "Where is my parcel?"},
        (401, 201, 201, 201),
    ),
    ("GET", "/api/v1/messages/{msg}", None, (401, 200, 200, 200)),
    ("GET", "/api/v1/conversations", None, (401, 200, 200, 200)),
    ("GET", "/api/v1/conversations/{conv}", None, (401, 200, 200, 200)),
    (
        "POST",
        "/api/v1/conversations/{conv}/drafts",
        {"text": "I'm sorry, I'll check now."},
        (401, 200, 200, 200),
    ),
    (
        "POST",
        "/api/v1/conversations/{conv}/replies",
        {"text": "I'm sorry, I'll check now."},
        (401, 201, 201, 201),
    ),
    (
        "POST",
        "/api/v1/conversations/{conv}/escalations",
        {"reason": "needs a lead"},
        (401, 201, 201, 201),
    ),
    ("POST", "/api/v1/conversations/{conv}/assign", {}, (401, 200, 200, 200)),
    # assigning to somebody else is for supervisors
    ("POST", "/api/v1/conversations/{conv}/assign", {"user": "sup"}, (401, 403, 200, 200)),
    # a conversation a supervisor took over: an agent may neither take it back nor resolve it
    ("POST", "/api/v1/conversations/{taken}/assign", {}, (401, 403, 200, 200)),
    (
        "POST",
        "/api/v1/conversations/{taken}/resolve",
        {"resolution": "answered"},
        (401, 403, 200, 200),
    ),
    (
        "POST",
        "/api/v1/conversations/{other}/resolve",
        {"resolution": "answered"},
        (401, 200, 200, 200),
    ),
    # with an escalation pending an agent may not resolve; a supervisor closes what is pending
    (
        "POST",
        "/api/v1/conversations/{conv}/resolve",
        {"resolution": "answered"},
        (401, 409, 200, 200),
    ),
    ("GET", "/api/v1/escalations", None, (401, 200, 200, 200)),
    # approvals and rejections are supervisor-only
    ("POST", "/api/v1/escalations/{esc}/approve", {}, (401, 403, 200, 200)),
    ("POST", "/api/v1/escalations/{esc}/reject", {}, (401, 403, 200, 200)),
    ("GET", "/api/v1/follow-ups", None, (401, 200, 200, 200)),
    (
        "POST",
        "/api/v1/follow-ups",
        {"conversation_id": 0, "promise": "call back", "due": FUTURE},
        (401, 201, 201, 201),
    ),
    ("POST", "/api/v1/follow-ups/{fu}/done", None, (401, 200, 200, 200)),
    ("GET", "/api/v1/customers/{cust}", None, (401, 200, 200, 200)),
    # a full export of a customer's data is for supervisors
    ("GET", "/api/v1/customers/{cust}/export", None, (401, 403, 200, 200)),
    # erasure is for admins (supervisors only where GRACEDESK_ERASE_BY_SUPERVISORS allows it)
    ("POST", "/api/v1/customers/{cust}/erase", None, (401, 403, 403, 200)),
    ("POST", "/api/v1/customers/{cust}/notes", {"text": "called twice"}, (401, 201, 201, 201)),
    # a warning any agent may give; sanctions beyond a warning need a supervisor
    (
        "POST",
        "/api/v1/customers/{cust}/sanctions",
        {"level": "warn", "reason": "insults"},
        (401, 201, 201, 201),
    ),
    (
        "POST",
        "/api/v1/customers/{cust}/sanctions",
        {"level": "restrict", "reason": "insults", "minutes": 60},
        (401, 403, 201, 201),
    ),
    (
        "POST",
        "/api/v1/customers/{cust}/sanctions",
        {"level": "block", "reason": "threats"},
        (401, 403, 201, 201),
    ),
    ("POST", "/api/v1/sanctions/{sanction}/lift", {"reason": "apologised"}, (401, 403, 200, 200)),
    # flags (vulnerable, vip, ...) are set and cleared by supervisors; agents read them
    ("POST", "/api/v1/customers/{cust}/flags", {"flag": "vulnerable"}, (401, 403, 201, 201)),
    ("DELETE", "/api/v1/customers/{cust}/flags/{flag}", None, (401, 403, 200, 200)),
    # the well-being of others is for supervisors; one's own is always visible
    ("GET", "/api/v1/team", None, (401, 403, 200, 200)),
    ("GET", "/api/v1/held", None, (401, 403, 200, 200)),
    # the fixture's message is not held: a supervisor may release, and is told it is not held
    ("POST", "/api/v1/messages/{msg}/release", None, (401, 403, 409, 409)),
    ("GET", "/api/v1/me", None, (401, 200, 200, 200)),
    ("POST", "/api/v1/me/break", None, (401, 200, 200, 200)),
    ("GET", "/api/v1/audit?conversation_id={conv}", None, (401, 200, 200, 200)),
    ("GET", "/api/v1/audit", None, (401, 403, 200, 200)),
    ("GET", "/api/v1/sla-breaches", None, (401, 403, 200, 200)),
    # reports (docs/insights.md) are for supervisors and admins
    ("GET", "/api/v1/reports/summary", None, (401, 403, 200, 200)),
    # the survey token is the customer's credential; staff credentials with it are refused
    ("POST", "/api/v1/csat/{csat}", {"score": 5}, (200, 403, 403, 403)),
    # the knowledge base (docs/knowledge.md): every role reads and searches, supervisors write
    ("GET", "/api/v1/kb/articles", None, (401, 200, 200, 200)),
    ("GET", "/api/v1/kb/articles/{article}", None, (401, 200, 200, 200)),
    ("GET", "/api/v1/kb/search?q=refund", None, (401, 200, 200, 200)),
    ("PUT", "/api/v1/kb/articles/{article}", {"markdown": ARTICLE}, (401, 403, 200, 200)),
]


@pytest.fixture
def world(settings: Settings, desk: Desk) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    headers: dict[str, dict[str, str]] = {"anonymous": {}}
    users = {}
    for name, role in (("agt", "agent"), ("sup", "supervisor"), ("adm", "admin")):
        users[role], tok = make_user(desk.store, name, role)
        headers[role] = {"Authorization": f"Bearer {tok}"}
    from gracedesk.service import knowledge

    knowledge.save_article(desk, ARTICLE, actor=users["supervisor"], now=NOW)
    with TestClient(create_app(settings, desk=desk)) as client:
        yield client, {"headers": headers, "users": users}


def _fresh_ids(desk: Desk, users: dict[str, Any], n: int) -> dict[str, Any]:
    """New objects for one call, so that one role's success does not change the next one's."""
    first = post(desk, "You idiots lost my parcel", customer=f"cust-{n}", key=f"k-{n}")
    conv = first.conversation_id
    other = post(desk, "Where is my order?", customer=f"other-{n}", key=f"o-{n}").conversation_id
    esc = actions.escalate(desk, conv, user=users["agent"], reason="rude", now=NOW)["id"]
    fu = records.add_follow_up(
        desk, conv, user=users["agent"], promise="call", due=NOW + timedelta(days=1), now=NOW
    )["id"]
    with desk.store.read() as s:
        from gracedesk.store.tables import Conversation

        cust = s.get_one(Conversation, conv).customer_id
    sanction = records.add_sanction(desk, cust, "warn", "rude", user=users["supervisor"], now=NOW)[
        "id"
    ]
    customers.add_flag(desk, cust, "vip", user=users["supervisor"], now=NOW)
    actions.resolve(desk, other, user=users["agent"], resolution="done", now=NOW)
    with desk.store.read() as s:
        token = s.scalars(
            select(CsatResponse.token).where(CsatResponse.conversation_id == other)
        ).one()
    other2 = post(desk, "Where is my order?", customer=f"o2-{n}", key=f"o2-{n}").conversation_id
    taken = post(desk, "I want your manager now", customer=f"t-{n}", key=f"t-{n}").conversation_id
    actions.assign(desk, taken, user=users["agent"], assignee=None, now=NOW)
    took = actions.escalate(desk, taken, user=users["agent"], reason="manager", now=NOW)["id"]
    actions.decide_escalation(
        desk, took, user=users["supervisor"], approve=True, note=None, now=NOW
    )
    return {
        "msg": first.message_id,
        "conv": conv,
        "other": other2,
        "esc": esc,
        "fu": fu,
        "cust": cust,
        "sanction": sanction,
        "flag": "vip",
        "csat": token,
        "taken": taken,
        "article": "refunds",
    }


def test_every_route_with_every_role(world: Any, desk: Desk) -> None:
    client, w = world
    n = 0
    failures = []
    for method, path, body, expected in TABLE:
        for role, want in zip(ROLES, expected, strict=True):
            n += 1
            ids = _fresh_ids(desk, w["users"], n)
            url = path.format(**ids)
            payload = dict(body) if body is not None else None
            if payload is not None and payload.get("conversation_id") == 0:
                payload["conversation_id"] = ids["conv"]
            r = client.request(method, url, json=payload, headers=w["headers"][role])
            if r.status_code != want:
                failures.append(
                    f"{method} {path} as {role}: {r.status_code} (wanted {want}) {r.text[:200]}"
                )
    assert not failures, "\n".join(failures)


def test_the_table_covers_every_api_route(world: Any) -> None:
    client, _ = world
    served = {
        (m.upper(), path)
        for path, ops in client.app.openapi()["paths"].items()
        if path.startswith("/api/v1")
        for m in ops
    }
    assert ("POST", "/api/v1/messages") in served
    import re

    tabled = {(m, re.sub(r"\{\w+\}", "{x}", p.split("?")[0])) for m, p, _, _ in TABLE}
    missing = {(m, p) for m, p in served if (m, re.sub(r"\{\w+\}", "{x}", p)) not in tabled}
    assert not missing, sorted(missing)
