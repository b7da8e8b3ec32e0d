"""Every API route declares its success body in ``/openapi.json`` (issue 9), and real bodies
match their models key for key.

The document: each operation under ``/api/v1`` (and ``/hooks``, should one be published) has a
2xx answer whose ``application/json`` schema is a component (or an array of one) that lists its
properties and forbids others; its 4xx/5xx answers are problem documents. The bodies: a posted
message, a conversation, a customer and a knowledge-base search, read through the app on a fresh
SQLite store, validate against the route's pydantic model (unknown keys are refused) and come
back unchanged when the model writes them again.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from gracedesk.service import knowledge
from gracedesk.service.desk import Desk
from gracedesk.service.users import create_user
from gracedesk.settings import Settings
from gracedesk.store import Store
from gracedesk.web.api_kb import SearchOut
from gracedesk.web.app import create_app
from gracedesk.web.schemas_conversations import ConversationDetail
from gracedesk.web.schemas_customers import CustomerSummary
from gracedesk.web.schemas_signals import Posted

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
PUBLISHED = ("/api/v1/", "/hooks/")
JSON, PROBLEM_JSON = "application/json", "application/problem+json"
HOSTILE = {
    "customer": {"external_id": "c-1", "name": "Dana", "email": "dana@example.com"},
    "text": "You useless idiots charged me twice. Refund me now or I'll post this everywhere!",
    "request": {"kind": "refund", "amount": 50},
}


@pytest.fixture(scope="module")
def openapi(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    home = tmp_path_factory.mktemp("openapi")
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'g.db'}", secret_key="x")
    doc: dict[str, Any] = create_app(settings).openapi()
    return doc


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, ops in doc["paths"].items():
        if path.startswith(PUBLISHED):
            for method, op in ops.items():
                yield f"{method.upper()} {path}", op


def component(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The component a body's schema names: ``$ref``, or an array's ``items.$ref``."""
    if schema.get("type") == "array":
        schema = schema["items"]
    ref = schema.get("$ref", "")
    assert ref.startswith("#/components/schemas/"), schema
    found: dict[str, Any] = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return found


def test_every_operation_declares_a_typed_success_body(openapi: dict[str, Any]) -> None:
    ops = dict(operations(openapi))
    assert len(ops) >= 35, sorted(ops)
    for name, op in ops.items():
        ok = {s: a for s, a in op["responses"].items() if 200 <= int(s) < 300}
        assert ok, name
        for status, answer in ok.items():
            assert list(answer.get("content", {})) == [JSON], (name, status)
            body = component(openapi, answer["content"][JSON]["schema"])
            assert body.get("type") == "object" and body.get("properties"), (name, status)
            # extra="forbid": a key the service adds without a model cannot slip through
            assert body.get("additionalProperties") is False, (name, status)


def test_every_error_answer_is_a_problem_document(openapi: dict[str, Any]) -> None:
    for name, op in operations(openapi):
        errors = {s: a for s, a in op["responses"].items() if int(s) >= 400}
        assert {"422", "429", "503"} <= set(errors), name
        for status, answer in errors.items():
            assert list(answer["content"]) == [PROBLEM_JSON], (name, status)


def test_message_routes_declare_each_answer(openapi: dict[str, Any]) -> None:
    posted = openapi["paths"]["/api/v1/messages"]["post"]["responses"]
    for status in ("200", "201", "202"):
        schema = posted[status]["content"][JSON]["schema"]
        assert schema == {"$ref": "#/components/schemas/Posted"}, status
    for status in ("401", "404", "409", "413", "422"):
        assert list(posted[status]["content"]) == [PROBLEM_JSON], status


@pytest.fixture
def client(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    from gracedesk.analysis.pipeline import get_analyzer
    from gracedesk.policy import load_policy

    url = f"sqlite:///{tmp_path / 'gracedesk.db'}"
    store = Store.open(url)
    store.migrate()
    desk = Desk(store, policy=load_policy(), analyzer=get_analyzer("fast"))
    knowledge.import_dir(desk, knowledge.starter_dir(), actor="system", now=NOW)
    _, token = create_user(store, "adm", role="admin", now=NOW)
    settings = Settings(home=tmp_path / "home", database_url=url, secret_key="x")
    try:
        with TestClient(create_app(settings, desk=desk)) as c:
            yield c, {"Authorization": f"Bearer {token}"}
    finally:
        store.close()


def same_body(model: type[BaseModel], body: Any) -> None:
    """``body`` is valid for ``model`` (unknown keys refused) and written back unchanged."""
    value = model.model_validate(body)
    assert value.model_dump(mode="json", by_alias=True, exclude_unset=True) == body


def test_real_bodies_match_their_models(client: tuple[TestClient, dict[str, str]]) -> None:
    c, admin = client
    r = c.post("/api/v1/messages", json=HOSTILE, headers=admin)
    assert r.status_code == 201, r.text
    posted = r.json()
    assert posted["signals"] and posted["decisions"] and posted["guidance"]
    same_body(Posted, posted)
    conv, customer = posted["conversation_id"], 1
    r = c.post(
        f"/api/v1/conversations/{conv}/replies",
        json={"text": "I'm sorry, Dana. I will refund you today."},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    r = c.get(f"/api/v1/conversations/{conv}", headers=admin)
    assert r.status_code == 200, r.text
    detail = r.json()
    assert [m["author"] for m in detail["messages"]] == ["customer", "agent"]
    assert detail["messages"][1]["critique"] is not None
    same_body(ConversationDetail, detail)
    c.post(f"/api/v1/customers/{customer}/notes", json={"text": "prefers e-mail"}, headers=admin)
    r = c.get(f"/api/v1/customers/{customer}", headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["notes"] and r.json()["sanctions"]
    same_body(CustomerSummary, r.json())
    r = c.get("/api/v1/kb/search", params={"q": "where is my refund", "k": 3}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["hits"]
    same_body(SearchOut, r.json())


def test_a_key_the_models_do_not_know_is_refused() -> None:
    """The drift check: a service that adds a key must add it to the model too."""
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        CustomerSummary.model_validate({"id": 1, "surprise": True})
