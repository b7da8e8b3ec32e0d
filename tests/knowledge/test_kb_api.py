"""``/api/v1/kb``: who may read and write articles, versions, problems, search; both stores.

Every test runs on SQLite and on PostgreSQL (the ``desk`` fixture). The knowledge base holds
the starter set the demo imports (``gracedesk/knowledge/starter``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gracedesk.service import knowledge
from gracedesk.service.desk import Desk
from gracedesk.settings import Settings
from gracedesk.web.app import create_app

from .conftest import NOW, make_user

STARTER = knowledge.starter_dir()  # what `gracedesk serve --demo` imports
ROLES = ("anonymous", "agent", "supervisor", "admin")


@pytest.fixture
def api(settings: Settings, desk: Desk) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    knowledge.import_dir(desk, STARTER, actor="system", now=NOW)
    headers: dict[str, dict[str, str]] = {"anonymous": {}}
    for name, role in (("agt", "agent"), ("sup", "supervisor"), ("adm", "admin")):
        _, token = make_user(desk.store, name, role)
        headers[role] = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(settings, desk=desk)) as client:
        yield client, headers


def refunds(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    r = client.get("/api/v1/kb/articles/refunds", headers=headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def edited(markdown: str, n: int = 1) -> str:
    """The refunds article with a sentence changed (``n`` makes each edit different)."""
    return markdown.replace("within 2 working days", f"within {n} working day(s)")


def assert_problem(r: Any, status: int, code: str, *words: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    doc = r.json()
    assert {"type", "title", "status", "detail"} <= set(doc)
    assert doc["status"] == status and doc["code"] == code
    for w in words:
        assert w in doc["detail"], doc["detail"]


# (method, path, expected status for anonymous, agent, supervisor, admin)
PERMISSIONS = [
    ("GET", "/api/v1/kb/articles", (401, 200, 200, 200)),  # everyone on the desk reads
    ("GET", "/api/v1/kb/articles?audience=customer", (401, 200, 200, 200)),
    ("GET", "/api/v1/kb/articles/refunds", (401, 200, 200, 200)),
    ("GET", "/api/v1/kb/articles/refunds?version=1", (401, 200, 200, 200)),
    ("GET", "/api/v1/kb/search?q=when+will+I+get+my+money+back", (401, 200, 200, 200)),
    ("PUT", "/api/v1/kb/articles/refunds", (401, 403, 200, 200)),  # supervisors and admins write
]


@pytest.mark.parametrize(("method", "path", "expected"), PERMISSIONS)
def test_who_may_read_and_write(api: Any, method: str, path: str, expected: Any) -> None:
    client, headers = api
    md = refunds(client, headers["admin"])["markdown"]
    for n, (role, want) in enumerate(zip(ROLES, expected, strict=True), 1):
        body = {"markdown": edited(md, n), "reason": f"by {role}"} if method == "PUT" else None
        r = client.request(method, path, json=body, headers=headers[role])
        assert r.status_code == want, (role, r.text)
        if want == 403:
            assert_problem(r, 403, "GD702", "needs supervisor or admin")
        if want == 401:
            assert r.headers["WWW-Authenticate"] == "Bearer"


def test_an_agent_cannot_change_an_article(api: Any) -> None:
    client, headers = api
    before = refunds(client, headers["agent"])
    r = client.put(
        "/api/v1/kb/articles/refunds",
        json={"markdown": edited(before["markdown"]), "reason": "quicker"},
        headers=headers["agent"],
    )
    assert_problem(r, 403, "GD702")
    after = refunds(client, headers["agent"])
    assert (after["version"], after["markdown"]) == (before["version"], before["markdown"])


def test_a_supervisor_saves_a_new_version_and_every_version_stays_readable(api: Any) -> None:
    client, headers = api
    first = refunds(client, headers["agent"])
    assert first["version"] == 1 and [v["version"] for v in first["versions"]] == [1]
    assert first["versions"][0]["reason"] == "import refunds.md"
    new = edited(first["markdown"])
    r = client.put(
        "/api/v1/kb/articles/refunds",
        json={"markdown": new, "reason": "refunds go out faster now"},
        headers=headers["supervisor"],
    )
    assert r.status_code == 200, r.text
    saved = r.json()
    assert saved["version"] == saved["shown_version"] == 2
    assert "within 1 working day(s)" in saved["markdown"]
    latest = saved["versions"][-1]
    assert (latest["version"], latest["author"], latest["reason"]) == (
        2,
        "user:sup",
        "refunds go out faster now",
    )
    # the agent sees the new version now, and the old one on request
    assert refunds(client, headers["agent"])["version"] == 2
    old = client.get("/api/v1/kb/articles/refunds?version=1", headers=headers["agent"]).json()
    assert old["shown_version"] == 1 and old["version"] == 2
    assert old["markdown"] == first["markdown"]
    listed = client.get("/api/v1/kb/articles", headers=headers["agent"]).json()
    assert next(a for a in listed if a["id"] == "refunds")["version"] == 2
    # saving the same text again is not a new version
    again = client.put(
        "/api/v1/kb/articles/refunds", json={"markdown": new}, headers=headers["admin"]
    )
    assert again.status_code == 200 and again.json()["version"] == 2
    assert len(again.json()["versions"]) == 2


def test_a_put_with_a_new_id_adds_an_article(api: Any) -> None:
    client, headers = api
    md = (
        "---\nid: gift-cards\ntitle: Can I get a refund on a gift card?\naudience: customer\n"
        "updated: 2026-11-20\ntags: [gift cards]\n---\n"
        "Gift cards cannot be refunded, but an unused card never expires.\n"
    )
    r = client.put(
        "/api/v1/kb/articles/gift-cards", json={"markdown": md}, headers=headers["supervisor"]
    )
    assert r.status_code == 200, r.text
    assert (r.json()["id"], r.json()["version"], r.json()["audience"]) == (
        "gift-cards",
        1,
        "customer",
    )
    ids = [a["id"] for a in client.get("/api/v1/kb/articles", headers=headers["agent"]).json()]
    assert "gift-cards" in ids


INVALID = [
    # (what is wrong, how the article is spoiled, words the problem's detail must hold)
    ("unknown key", lambda md: md.replace("audience:", "audiance:"), ("audiance", "unknown key")),
    ("bad audience", lambda md: md.replace("audience: customer", "audience: all"), ("audience",)),
    ("no front matter", lambda md: md.split("---\n", 2)[2], ("front matter",)),
    ("bad date", lambda md: md.replace("updated: 2026", "updated: someday 2026"), ("updated",)),
    ("another id", lambda md: md.replace("id: refunds", "id: refunds-2"), ("refunds-2", "id")),
    ("no body", lambda md: md.split("---\n", 2)[1].join(["---\n", "---\n"]), ("body",)),
]


@pytest.mark.parametrize(("why", "spoil", "words"), INVALID, ids=[i[0] for i in INVALID])
def test_an_article_that_does_not_validate_is_a_422_and_changes_nothing(
    api: Any, why: str, spoil: Any, words: tuple[str, ...]
) -> None:
    client, headers = api
    md = refunds(client, headers["admin"])["markdown"]
    r = client.put(
        "/api/v1/kb/articles/refunds", json={"markdown": spoil(md)}, headers=headers["admin"]
    )
    assert_problem(r, 422, "GD110", *words)
    assert refunds(client, headers["admin"])["version"] == 1


def test_bad_requests_are_problems(api: Any) -> None:
    client, headers = api
    h = headers["agent"]
    assert_problem(client.get("/api/v1/kb/articles/no-such-article", headers=h), 404, "GD701")
    assert_problem(
        client.get("/api/v1/kb/articles/refunds?version=7", headers=h), 404, "GD701", "version 7"
    )
    for path in (
        "/api/v1/kb/articles/Not_An_Id",  # ids are lower case
        "/api/v1/kb/articles?audience=everyone",
        "/api/v1/kb/search?q=",
        "/api/v1/kb/search?q=refund&k=0",
        "/api/v1/kb/search?q=refund&k=51",
    ):
        assert_problem(client.get(path, headers=h), 422, "GD111")
    assert_problem(client.get("/api/v1/kb/search?q=%20%20", headers=h), 422, "GD110", "empty")
    r = client.put(
        "/api/v1/kb/articles/refunds", json={"text": "not the field"}, headers=headers["admin"]
    )
    assert_problem(r, 422, "GD111")


def test_search_finds_the_article_in_other_words(api: Any) -> None:
    client, headers = api
    r = client.get(
        "/api/v1/kb/search",
        params={"q": "it's been a week and the money still isn't back on my card", "k": 3},
        headers=headers["agent"],
    )
    assert r.status_code == 200, r.text
    found = r.json()
    assert found["query"].startswith("it's been a week")
    hits = found["hits"]
    assert 1 <= len(hits) <= 3
    assert "refunds" in [h["id"] for h in hits]
    best = next(h for h in hits if h["id"] == "refunds")
    body = refunds(client, headers["agent"])["body"]
    assert body[best["start"] : best["end"]] == best["passage"]  # a span of the article
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
