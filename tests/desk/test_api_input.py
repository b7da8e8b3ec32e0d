"""Odd input at the API's edge, on both databases: a 4xx problem document, never a 500.

Integers beyond what an id or an offset can be, times with no UTC equivalent, NUL bytes and lone
surrogates in any string, bodies that are too large (also when chunked), not UTF-8 or nested too
deep. And the OpenAPI document declares every answer a route can give.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gracedesk.service.desk import Desk
from gracedesk.settings import Settings
from gracedesk.store.tables import Message
from gracedesk.web.api import ID_MAX, OFFSET_MAX
from gracedesk.web.app import create_app

from .conftest import make_user
from .test_roles import ROLES, TABLE

CUSTOMER = {"external_id": "c-1", "name": "Dana"}
DUE = "2030-01-01T09:00:00Z"

# every route that takes an id in its path: method, path, body
ID_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/v1/messages/{id}", None),
    ("GET", "/api/v1/conversations/{id}", None),
    ("POST", "/api/v1/conversations/{id}/drafts", {"text": "I'm sorry."}),
    ("POST", "/api/v1/conversations/{id}/replies", {"text": "I'm sorry."}),
    ("POST", "/api/v1/conversations/{id}/escalations", {"reason": "needs a lead"}),
    ("POST", "/api/v1/conversations/{id}/resolve", {"resolution": "answered"}),
    ("POST", "/api/v1/conversations/{id}/assign", {}),
    ("POST", "/api/v1/escalations/{id}/approve", {}),
    ("POST", "/api/v1/escalations/{id}/reject", {}),
    ("POST", "/api/v1/follow-ups/{id}/done", None),
    ("GET", "/api/v1/customers/{id}", None),
    ("GET", "/api/v1/customers/{id}/export", None),
    ("POST", "/api/v1/customers/{id}/erase", None),
    ("POST", "/api/v1/customers/{id}/notes", {"text": "called"}),
    ("POST", "/api/v1/customers/{id}/sanctions", {"level": "warn", "reason": "rude"}),
    ("POST", "/api/v1/sanctions/{id}/lift", {}),
]
TOO_BIG = (ID_MAX + 1, 2**64)


@pytest.fixture
def api(settings: Settings, desk: Desk) -> Iterator[tuple[TestClient, dict[str, str]]]:
    _, token = make_user(desk.store, "adm", "admin", email="adm@example.com")
    with TestClient(create_app(settings, desk=desk)) as client:
        yield client, {"Authorization": f"Bearer {token}"}


def messages(desk: Desk) -> int:
    with desk.store.read() as s:
        return s.scalar(select(func.count()).select_from(Message)) or 0


def send(client: TestClient, method: str, url: str, body: Any, headers: dict[str, str]) -> Any:
    """JSON with non-ASCII escaped, so that a lone surrogate travels as ``\\ud800``."""
    if body is None:
        return client.request(method, url, headers=headers)
    content = json.dumps(body).encode("ascii")
    headers = {**headers, "content-type": "application/json"}
    return client.request(method, url, content=content, headers=headers)


def assert_invalid(r: Any, loc: list[str], code: str = "GD111") -> None:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    p = r.json()
    assert p["status"] == 422 and p["code"] == code
    assert loc in [e["loc"] for e in p.get("errors", [])], p


# -- integers ------------------------------------------------------------------------------------


@pytest.mark.parametrize("big", TOO_BIG)
@pytest.mark.parametrize(("method", "path", "body"), ID_ROUTES)
def test_an_id_beyond_the_range_is_a_422(
    api: Any, method: str, path: str, body: Any, big: int
) -> None:
    client, admin = api
    r = send(client, method, path.format(id=big), body, admin)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "GD111" and r.json()["errors"][0]["loc"][0] == "path"


@pytest.mark.parametrize(("method", "path", "body"), ID_ROUTES)
def test_the_largest_id_is_a_404(api: Any, method: str, path: str, body: Any) -> None:
    client, admin = api
    r = send(client, method, path.format(id=ID_MAX), body, admin)
    assert r.status_code == 404, r.text
    assert r.json()["code"] == "GD701"


@pytest.mark.parametrize(
    ("url", "loc"),
    [
        (f"/api/v1/conversations?offset={OFFSET_MAX + 1}", ["query", "offset"]),
        (f"/api/v1/conversations?offset={2**64}", ["query", "offset"]),
        ("/api/v1/conversations?offset=-1", ["query", "offset"]),
        (f"/api/v1/conversations?limit={2**64}", ["query", "limit"]),
        (f"/api/v1/audit?conversation_id={ID_MAX + 1}", ["query", "conversation_id"]),
        (f"/api/v1/audit?conversation_id={2**64}", ["query", "conversation_id"]),
        (f"/api/v1/audit?customer_id={2**64}", ["query", "customer_id"]),
        ("/api/v1/audit?customer_id=0", ["query", "customer_id"]),
        (f"/api/v1/audit?limit={2**64}", ["query", "limit"]),
    ],
)
def test_a_query_number_beyond_the_range_is_a_422(api: Any, url: str, loc: list[str]) -> None:
    client, admin = api
    assert_invalid(client.get(url, headers=admin), loc)


@pytest.mark.parametrize(
    "url",
    [
        f"/api/v1/conversations?offset={OFFSET_MAX}",
        f"/api/v1/audit?conversation_id={ID_MAX}",
        f"/api/v1/audit?customer_id={ID_MAX}",
    ],
)
def test_the_largest_query_numbers_answer_empty(api: Any, url: str) -> None:
    client, admin = api
    r = client.get(url, headers=admin)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["items"] if isinstance(body, dict) else body) == []


@pytest.mark.parametrize("big", [ID_MAX + 1, 2**63, 2**64])
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/messages", {"customer": CUSTOMER, "text": "hi", "conversation_id": 0}),
        ("/api/v1/follow-ups", {"conversation_id": 0, "promise": "call back", "due": DUE}),
    ],
)
def test_a_conversation_id_in_a_body_beyond_the_range_is_a_422(
    api: Any, desk: Desk, path: str, body: dict[str, Any], big: int
) -> None:
    client, admin = api
    r = send(client, "POST", path, {**body, "conversation_id": big}, admin)
    assert_invalid(r, ["body", "conversation_id"])
    assert messages(desk) == 0


@pytest.mark.parametrize(
    "due",
    [
        "9999-12-31T23:59:59-23:59",  # after 9999-12-31 in UTC
        "0001-01-01T00:00:00+23:59",  # before 0001-01-01 in UTC
        "10000-01-01T00:00:00Z",
    ],
)
def test_a_due_time_with_no_utc_equivalent_is_a_422(api: Any, due: str) -> None:
    client, admin = api
    cid = send(client, "POST", "/api/v1/messages", {"customer": CUSTOMER, "text": "hi"}, admin)
    body = {"conversation_id": cid.json()["conversation_id"], "promise": "call", "due": due}
    assert_invalid(send(client, "POST", "/api/v1/follow-ups", body, admin), ["body", "due"])


# -- characters no store keeps ---------------------------------------------------------------


def _message(**change: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"customer": dict(CUSTOMER), "text": "Where is my parcel?"}
    for key, value in change.items():
        if key.startswith("customer_"):
            body["customer"][key.removeprefix("customer_")] = value
        else:
            body[key] = value
    return body


# method, path ({id}: a real conversation / customer), body with "{bad}" where the bad string goes
STRING_FIELDS: list[tuple[str, str, dict[str, Any], list[str]]] = [
    ("POST", "/api/v1/messages", _message(text="{bad}"), ["body", "text"]),
    ("POST", "/api/v1/messages", _message(customer_external_id="{bad}"), ["body", "customer", "external_id"]),
    ("POST", "/api/v1/messages", _message(customer_name="{bad}"), ["body", "customer", "name"]),
    ("POST", "/api/v1/messages", _message(customer_email="a{bad}@x.org"), ["body", "customer", "email"]),
    ("POST", "/api/v1/messages", _message(customer_phone="{bad}"), ["body", "customer", "phone"]),
    ("POST", "/api/v1/messages", _message(customer_tier="{bad}"), ["body", "customer", "tier"]),
    ("POST", "/api/v1/messages", _message(channel="{bad}"), ["body", "channel"]),
    ("POST", "/api/v1/messages", _message(channel_message_id="{bad}"), ["body", "channel_message_id"]),
    ("POST", "/api/v1/messages", _message(subject="{bad}"), ["body", "subject"]),
    ("POST", "/api/v1/conversations/{id}/drafts", {"text": "{bad}"}, ["body", "text"]),
    ("POST", "/api/v1/conversations/{id}/replies", {"text": "{bad}"}, ["body", "text"]),
    ("POST", "/api/v1/conversations/{id}/escalations", {"reason": "{bad}"}, ["body", "reason"]),
    ("POST", "/api/v1/conversations/{id}/resolve", {"resolution": "{bad}"}, ["body", "resolution"]),
    ("POST", "/api/v1/conversations/{id}/assign", {"user": "{bad}"}, ["body", "user"]),
    ("POST", "/api/v1/escalations/{id}/approve", {"note": "{bad}"}, ["body", "note"]),
    ("POST", "/api/v1/escalations/{id}/reject", {"note": "{bad}"}, ["body", "note"]),
    ("POST", "/api/v1/follow-ups", {"conversation_id": "{id}", "promise": "{bad}", "due": DUE}, ["body", "promise"]),
    ("POST", "/api/v1/customers/{id}/notes", {"text": "{bad}"}, ["body", "text"]),
    ("POST", "/api/v1/customers/{id}/sanctions", {"level": "warn", "reason": "{bad}"}, ["body", "reason"]),
    ("POST", "/api/v1/sanctions/{id}/lift", {"reason": "{bad}"}, ["body", "reason"]),
    ("POST", "/api/v1/csat/some-token", {"score": 4, "comment": "{bad}"}, ["body", "comment"]),
]  # fmt: skip


def _fill(value: Any, bad: str, ident: int) -> Any:
    if isinstance(value, dict):
        return {k: _fill(v, bad, ident) for k, v in value.items()}
    if value == "{id}":
        return ident
    return value.replace("{bad}", bad) if isinstance(value, str) else value


@pytest.mark.parametrize(
    ("method", "path", "body", "loc", "bad"),
    [(*row, "a\x00b") for row in STRING_FIELDS]
    + [(*row, "a\ud800b") for row in STRING_FIELDS[:3]]  # what no UTF-8 encoder takes
    + [(*row, "\udfff") for row in STRING_FIELDS[9:10]],
)
def test_nul_and_lone_surrogates_are_a_422_naming_the_field(
    api: Any,
    desk: Desk,
    method: str,
    path: str,
    body: dict[str, Any],
    loc: list[str],
    bad: str,
) -> None:
    client, admin = api
    first = send(client, "POST", "/api/v1/messages", _message(), admin).json()
    ident = first["conversation_id"]  # conversation 1 of customer 1
    before = messages(desk)
    r = send(client, method, path.format(id=ident), _fill(body, bad, ident), admin)
    assert_invalid(r, loc)
    assert messages(desk) == before


def test_nul_in_a_survey_token_or_an_idempotency_key_is_a_422(api: Any) -> None:
    client, admin = api
    token = client.post("/api/v1/csat/a%00b", json={"score": 4})
    assert_invalid(token, ["path", "token"])
    key = client.post(
        "/api/v1/messages", json=_message(), headers={**admin, "Idempotency-Key": "a\x00b"}
    )
    assert_invalid(key, ["header", "idempotency-key"])


def test_an_empty_channel_message_id_is_no_id(api: Any, desk: Desk) -> None:
    """Two messages with ``channel_message_id: ""`` are two messages (it was a 500)."""
    client, admin = api
    for n in range(2):
        body = _message(customer_external_id=f"c-{n}", channel_message_id=" ")
        assert send(client, "POST", "/api/v1/messages", body, admin).status_code == 201
    assert messages(desk) == 2


# -- bodies --------------------------------------------------------------------------------------


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    yield b'{"customer": {"external_id": "c-1"}, "text": "'
    for _ in range(total // size):
        yield b"x" * size
    yield b'"}'


@pytest.mark.parametrize(
    ("total", "status"), [(2 * 1024 * 1024, 413), (300 * 1024, 413), (10 * 1024, 422)]
)
def test_a_chunked_body_is_counted_as_it_streams(
    api: Any, desk: Desk, total: int, status: int
) -> None:
    """No Content-Length: the body is cut off at the limit and answered 413 (it was a 400)."""
    client, admin = api
    headers = {**admin, "content-type": "application/json"}
    r = client.post("/api/v1/messages", content=_chunks(total), headers=headers)
    assert "content-length" not in r.request.headers
    assert r.status_code == status, r.text
    if status == 413:
        assert r.json()["code"] == "GD112" and r.headers["content-type"].startswith(
            "application/problem+json"
        )
    assert messages(desk) == 0


def test_a_small_chunked_body_is_read_as_usual(api: Any, desk: Desk) -> None:
    client, admin = api
    body = (b'{"customer": {"external_id": "c-1"}, ', b'"text": "Where is my parcel?"}')
    headers = {**admin, "content-type": "application/json"}
    r = client.post("/api/v1/messages", content=iter(body), headers=headers)
    assert r.status_code == 201, r.text
    assert messages(desk) == 1


@pytest.mark.parametrize(
    "content",
    [
        b'{"customer": {"external_id": "\xff\xfe"}, "text": "hi"}',  # not UTF-8
        b"[" * 100_000,  # nested too deep for the JSON parser
        b'{"a":' * 40_000,
    ],
    ids=["not utf-8", "deep array", "deep object"],
)
def test_an_unreadable_json_body_is_a_422(api: Any, desk: Desk, content: bytes) -> None:
    client, admin = api
    headers = {**admin, "content-type": "application/json"}
    r = client.post("/api/v1/messages", content=content, headers=headers)
    assert_invalid(r, ["body"])
    assert messages(desk) == 0


# -- the OpenAPI document ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def openapi(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    home = tmp_path_factory.mktemp("openapi")
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'g.db'}", secret_key="x")
    doc: dict[str, Any] = create_app(settings).openapi()
    return doc


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, ops in doc["paths"].items():
        if path.startswith("/api/v1"):
            for method, op in ops.items():
                yield method.upper(), path, op


def test_every_error_answer_is_a_problem_document(openapi: dict[str, Any]) -> None:
    problem = openapi["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    assert "HTTPValidationError" not in openapi["components"]["schemas"]
    for method, path, op in operations(openapi):
        for status, answer in op["responses"].items():
            if int(status) >= 400:
                content = answer["content"]
                assert list(content) == ["application/problem+json"], (method, path, status)
                ref = content["application/problem+json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/Problem", (method, path, status)


def test_every_route_declares_the_answers_it_can_give(openapi: dict[str, Any]) -> None:
    for method, path, op in operations(openapi):
        declared = {int(s) for s in op["responses"]}
        expected = {401, 429, 503}
        if op.get("parameters", []) and any(p["in"] != "header" for p in op["parameters"]):
            expected.add(422)
        if "requestBody" in op:
            expected |= {413, 422}
        if "{" in path:
            expected.add(404)
        assert expected <= declared, (method, path, sorted(expected - declared))
        assert any(200 <= s < 300 for s in declared), (method, path)
    posted = {int(s) for s in openapi["paths"]["/api/v1/messages"]["post"]["responses"]}
    assert {200, 201, 202, 409} <= posted


def test_every_answer_of_the_role_matrix_is_declared(openapi: dict[str, Any]) -> None:
    """tests/desk/test_roles.py walks every route with every role: each status it expects is in
    the document."""
    missing = []
    for method, path, _, expected in TABLE:
        route = path.split("?")[0]
        ops = {p: o for p, o in openapi["paths"].items() if _same(p, route)}
        assert len(ops) == 1, (method, path)
        declared = {int(s) for s in next(iter(ops.values()))[method.lower()]["responses"]}
        missing += [
            f"{method} {path} as {role}: {status}"
            for role, status in zip(ROLES, expected, strict=True)
            if status not in declared
        ]
    assert not missing, missing


def test_ids_are_bounded_in_the_document(openapi: dict[str, Any]) -> None:
    for method, path, op in operations(openapi):
        for p in op.get("parameters", []):
            schema = p["schema"]
            if p["in"] == "path" and schema.get("type") == "integer":
                assert (schema["minimum"], schema["maximum"]) == (1, ID_MAX), (method, path)


def _same(template: str, path: str) -> bool:
    a, b = template.strip("/").split("/"), path.strip("/").split("/")
    return len(a) == len(b) and all(x == y or x.startswith("{") for x, y in zip(a, b, strict=True))
