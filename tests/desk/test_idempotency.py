"""Idempotency keys: bound to the whole request, and in their own namespace (issue 11, item 11).

The same ``Idempotency-Key`` with any other body field (a refund amount, a subject, the e-mail)
is a 409 naming the key, never a silent replay; the identical request replays the first answer;
a client's key never equals a channel's message id key. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from gracedesk.errors import Conflict
from gracedesk.model.situation import Request
from gracedesk.service.desk import (
    CustomerRef,
    Desk,
    IdempotencyKey,
    Incoming,
    _legacy_fingerprint,
    fingerprint,
)
from gracedesk.settings import Settings
from gracedesk.store.tables import Message
from gracedesk.web.app import create_app

from .conftest import NOW, make_user, post

BODY: dict[str, Any] = {
    "customer": {"external_id": "c-9", "name": "Robin", "email": "robin@example.com"},
    "text": "You charged me twice for the same order. I want my money back.",
    "subject": "Double charge",
    "request": {"kind": "refund", "amount": 120},
}


@pytest.fixture
def api(settings: Settings, desk: Desk) -> Iterator[tuple[TestClient, dict[str, str]]]:
    _, tok = make_user(desk.store, "ann", "agent")
    with TestClient(create_app(settings, desk=desk)) as client:
        yield client, {"Authorization": f"Bearer {tok}"}


def count(desk: Desk) -> int:
    with desk.store.read() as s:
        return s.scalar(select(func.count()).select_from(Message)) or 0


def send(api: Any, body: dict[str, Any], key: str | None = "order-77-refund") -> Any:
    client, auth = api
    headers = {**auth, **({"Idempotency-Key": key} if key is not None else {})}
    return client.post("/api/v1/messages", json=body, headers=headers)


def changed(path: str, value: Any) -> dict[str, Any]:
    import copy

    body = copy.deepcopy(BODY)
    *parents, leaf = path.split(".")
    node = body
    for p in parents:
        node = node[p]
    node[leaf] = value
    return body


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("request.amount", 5000),  # the same refund request with another amount
        ("request.kind", "credit"),
        ("subject", "Something else"),
        ("customer.email", "someone@example.com"),
        ("customer.name", "Robyn"),
        ("customer.tier", "gold"),
        ("channel", "chat"),
        ("text", "Another message altogether."),
    ],
)
def test_same_key_with_any_other_field_is_a_409_naming_the_key(
    api: Any, desk: Desk, path: str, value: Any
) -> None:
    first = send(api, BODY)
    assert first.status_code == 201, first.text
    other = send(api, changed(path, value))
    assert other.status_code == 409, other.text
    assert other.headers["content-type"].startswith("application/problem+json")
    problem = other.json()
    assert problem["code"] == "GD703" and "'order-77-refund'" in problem["detail"]
    assert count(desk) == 1


def test_the_identical_request_replays_the_first_answer(api: Any, desk: Desk) -> None:
    first = send(api, BODY)
    assert first.status_code == 201, first.text
    # the same body with keys in another order and the amount spelled 120.0: the same request
    same = {
        "request": {"amount": 120.0, "kind": "refund"},
        "subject": BODY["subject"],
        "text": BODY["text"],
        "customer": dict(reversed(list(BODY["customer"].items()))),
    }
    again = send(api, same)
    assert again.status_code == 200, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["message_id"] == first.json()["message_id"]
    assert again.json()["signals"] == first.json()["signals"]
    assert count(desk) == 1


def test_a_client_key_never_equals_a_channel_message_key(api: Any, desk: Desk) -> None:
    by_channel = {**BODY, "channel": "email", "channel_message_id": "m-1"}
    a = send(api, by_channel, key=None)
    assert a.status_code == 201, a.text
    # a client key spelled like the channel's own key is another message, not a replay
    b = send(api, {**BODY, "text": "A different message from the API."}, key="email:m-1")
    assert b.status_code == 201, b.text
    assert b.json()["message_id"] != a.json()["message_id"]
    # and the other way round: the channel's message id after a client key of that spelling
    c = send(api, {**BODY, "text": "Third."}, key="chat:m-2")
    d = send(api, {**BODY, "channel": "chat", "channel_message_id": "m-2"}, key=None)
    assert c.status_code == 201 and d.status_code == 201, (c.text, d.text)
    assert c.json()["message_id"] != d.json()["message_id"]
    # each kind still replays itself
    assert send(api, by_channel, key=None).json()["message_id"] == a.json()["message_id"]
    assert count(desk) == 4
    with desk.store.read() as s:
        keys = set(s.scalars(select(Message.idempotency_key)))
    assert keys == {"channel:email:m-1", "key:email:m-1", "key:chat:m-2", "channel:chat:m-2"}


def test_a_channel_message_id_reused_for_other_content_is_a_409(desk: Desk) -> None:
    post(desk, "First e-mail.", channel="email", channel_message_id="<x1@example.com>")
    with pytest.raises(Conflict, match=r"channel message id '<x1@example\.com>' on 'email'"):
        post(desk, "Other text.", channel="email", channel_message_id="<x1@example.com>")


def test_keys_up_to_the_header_limit_work_on_both_databases(api: Any, desk: Desk) -> None:
    key = "k" * 200  # with its namespace it is over the column: stored as a hash
    first = send(api, BODY, key=key)
    assert first.status_code == 201, first.text
    assert send(api, BODY, key=key).status_code == 200
    assert send(api, changed("subject", "x"), key=key).status_code == 409
    long_id = "<" + "m" * 195 + "@x>"  # a channel's own id of 200 characters
    body = {**BODY, "channel": "email", "channel_message_id": long_id}
    assert send(api, body, key=None).status_code == 201
    assert send(api, body, key=None).status_code == 200
    with desk.store.read() as s:
        stored = list(s.scalars(select(Message.idempotency_key).order_by(Message.id)))
    assert stored[0] == "key#" + fingerprint_of(key) and stored[1].startswith("channel#")
    assert all(len(k) <= 200 for k in stored)


def fingerprint_of(value: str) -> str:
    import hashlib

    return hashlib.sha256(value.encode()).hexdigest()


def test_the_fingerprint_covers_the_route_and_every_field() -> None:
    msg = Incoming(
        CustomerRef("c-1", email="a@example.com"), "hello", request=Request("refund", 1.0)
    )
    same = Incoming(
        CustomerRef("c-1", email="a@example.com"), "hello", request=Request("refund", 1)
    )
    assert fingerprint(msg) == fingerprint(same)
    assert fingerprint(msg) != fingerprint(msg, route="POST /api/v1/other")
    from dataclasses import replace

    for other in (
        replace(msg, subject="s"),
        replace(msg, conversation_id=3),
        replace(msg, channel_message_id="m"),
        replace(msg, customer=CustomerRef("c-1", phone="+1 555 0100", email="a@example.com")),
        replace(msg, request=Request("refund", 2.0)),
    ):
        assert fingerprint(other) != fingerprint(msg)


def test_messages_stored_before_namespacing_still_replay(desk: Desk) -> None:
    """A row written by an earlier version (raw key, four-field hash) is found and checked."""
    a = post(desk, "Where is my parcel?", key="legacy-1")
    msg = Incoming(CustomerRef("c-1", name="Dana"), "Where is my parcel?")
    b = post(desk, "An e-mail.", channel="email", channel_message_id="m-9")
    mail = Incoming(CustomerRef("c-1", name="Dana"), "An e-mail.", "email", None, "m-9")
    with desk.store.write() as s:
        for mid, key, digest in (
            (a.message_id, "legacy-1", _legacy_fingerprint(msg)),
            (b.message_id, "email:m-9", _legacy_fingerprint(mail)),
        ):
            s.execute(
                update(Message)
                .where(Message.id == mid)
                .values(idempotency_key=key, request_hash=digest)
            )
    assert post(desk, "Where is my parcel?", key="legacy-1").message_id == a.message_id
    with pytest.raises(Conflict):
        post(desk, "Something else", key="legacy-1")
    again = post(desk, "An e-mail.", channel="email", channel_message_id="m-9")
    assert again.message_id == b.message_id and not again.created
    # the old channel row is not a client key's: the client key "email:m-9" is a new message
    fresh = post(desk, "From the API.", key="email:m-9")
    assert fresh.created and fresh.message_id not in (a.message_id, b.message_id)


def test_a_lost_race_is_checked_like_a_replay(desk: Desk) -> None:
    """The request that lost the insert race is answered from the winner's row, checked."""
    first = post(desk, "Refund please.", key="race-1")
    same = Incoming(CustomerRef("c-1", name="Dana"), "Refund please.")
    key = IdempotencyKey.of(same, "race-1")
    assert desk._by_key(key) == first.message_id
    other = IdempotencyKey.of(Incoming(CustomerRef("c-1", name="Dana"), "Other"), "race-1")
    with pytest.raises(Conflict, match="'race-1'"):
        desk._by_key(other)


def test_replay_keeps_the_first_result_at_any_later_time(desk: Desk) -> None:
    from datetime import timedelta

    a = post(desk, "Refund me now!", key="k-late")
    b = post(desk, "Refund me now!", key="k-late", at=NOW + timedelta(days=3))
    assert (b.message_id, b.created, b.signals) == (a.message_id, False, a.signals)
