"""Asynchronous ingest: acknowledged once stored, analysed by the worker in micro-batches, with
the same results as the synchronous path (issue 11)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from gracedesk.jobs.worker import drain_queue
from gracedesk.service import ingest
from gracedesk.service.desk import CustomerRef, Desk, Incoming
from gracedesk.settings import Settings
from gracedesk.store.tables import Escalation, Message
from gracedesk.web.app import create_app

from .conftest import NOW, make_user, post

TEXTS = [
    "You idiots lost my parcel AGAIN. I want a refund now.",
    "Where is my order? It was due on Monday.",
    "If my money isn't back by Friday I will find you and break your face",
    "Quiero hablar con el gerente ahora mismo",
]


def _queue(desk: Desk, text: str, customer: str, **kw: Any) -> Any:
    ref = CustomerRef(customer, name="Dana")
    return desk.post_message(Incoming(ref, text, **kw), actor=None, now=NOW, respond_async=True)


def _key(decisions: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    return {(d["action"], d.get("rule_id"), d.get("target"), d.get("priority")) for d in decisions}


def test_queued_messages_are_stored_then_analysed_like_the_synchronous_path(desk: Desk) -> None:
    queued = [_queue(desk, t, f"a-{i}") for i, t in enumerate(TEXTS)]
    assert all(p.analysis == "queued" and p.signals is None for p in queued)
    with desk.store.read() as s:
        assert {s.get_one(Message, p.message_id).analysis_state for p in queued} == {"queued"}
    assert ingest.analyse_queued(desk, now=NOW) == len(TEXTS)
    for p, text in zip(queued, TEXTS, strict=True):
        got = desk.replay(p.message_id)
        assert got.analysis == "done"
        sync = post(desk, text, customer=f"s-{text[:8]}")
        assert got.signals is not None and sync.signals is not None
        assert got.signals["labels"] == sync.signals["labels"]
        assert _key(got.decisions) == _key(sync.decisions)


def test_one_message_per_conversation_per_batch_in_order(desk: Desk) -> None:
    first = _queue(desk, "You are useless idiots.", "same")
    second = desk.post_message(
        Incoming(
            CustomerRef("same"), "Still idiots. Answer me!", conversation_id=first.conversation_id
        ),
        actor=None,
        now=NOW + timedelta(minutes=1),
        respond_async=True,
    )
    assert ingest.analyse_queued(desk, now=NOW) == 1  # the second waits for the first
    assert desk.replay(second.message_id).analysis == "queued"
    assert drain_queue(desk) == 1
    later = desk.replay(second.message_id)
    assert later.analysis == "done"
    # the first message's warning is on record when the second is decided: the ladder moves on
    assert any(d["action"] in ("restrict", "block") for d in later.decisions), later.decisions


def test_a_failed_batch_is_retried_one_by_one(desk: Desk, monkeypatch: Any) -> None:
    p = _queue(desk, "Where is my parcel?", "f-0")

    def boom(*a: Any, **k: Any) -> Any:
        raise RuntimeError("one bad message broke the batch")

    monkeypatch.setattr(desk.analyzer, "analyze_batch", boom)
    assert ingest.analyse_queued(desk, now=NOW) == 1
    assert desk.replay(p.message_id).analysis == "done"


def test_a_failed_batch_keeps_the_messages(desk: Desk, monkeypatch: Any) -> None:
    p = _queue(desk, "Where is my parcel?", "f-1")

    def boom(*a: Any, **k: Any) -> Any:
        raise RuntimeError("model exploded")

    monkeypatch.setattr(desk.analyzer, "analyze_batch", boom)
    monkeypatch.setattr(desk.analyzer, "analyze", boom)  # the one-by-one retry fails too
    assert ingest.analyse_queued(desk, now=NOW) == 0
    with desk.store.read() as s:
        m = s.get_one(Message, p.message_id)
        assert m.analysis_state == "failed" and "model exploded" in (m.analysis_error or "")
        assert m.text == "Where is my parcel?"


def test_api_prefer_respond_async(desk: Desk, settings: Settings) -> None:
    _, token = make_user(desk.store, "sam", "agent")
    app = create_app(settings, desk=desk)
    with TestClient(app) as client:
        h = {"Authorization": f"Bearer {token}", "Prefer": "respond-async"}
        body = {"customer": {"external_id": "api-1"}, "text": "Where is my refund?"}
        r = client.post("/api/v1/messages", json=body, headers=h)
        assert r.status_code == 202, r.text
        assert r.headers["Preference-Applied"] == "respond-async"
        loc = r.headers["Location"]
        assert loc == f"/api/v1/messages/{r.json()['message_id']}"
        assert client.get(loc, headers=h).json()["analysis"] == "queued"
        drain_queue(desk)
        done = client.get(loc, headers=h).json()
        assert done["analysis"] == "done" and done["signals"]["labels"]
        # a message with an amount to check is decided synchronously, preference or not
        body2 = {**body, "text": "Refund me", "request": {"kind": "refund", "amount": 120}}
        r2 = client.post("/api/v1/messages", json=body2, headers=h)
        assert r2.status_code == 201 and "Preference-Applied" not in r2.headers
        # a replayed key answers with the stored message, queued or analysed
        h2 = {**h, "Idempotency-Key": "async-1"}
        a = client.post("/api/v1/messages", json=body, headers=h2)
        b = client.post("/api/v1/messages", json=body, headers=h2)
        assert (a.status_code, b.status_code) == (202, 200)
        assert b.json()["message_id"] == a.json()["message_id"]


def test_workers_never_take_two_messages_of_one_conversation(desk: Desk) -> None:
    """Worker B must not take message 2 while worker A still runs message 1 of the same
    conversation; and one customer's flood never holds another customer's message up."""
    first = _queue(desk, "You are useless idiots.", "flood")
    for k in range(30):
        desk.post_message(
            Incoming(
                CustomerRef("flood"), f"Answer me {k}!", conversation_id=first.conversation_id
            ),
            actor=None,
            now=NOW + timedelta(seconds=k + 1),
            respond_async=True,
        )
    other = _queue(desk, "Where is my parcel?", "calm")
    a = ingest.claim(desk, now=NOW)  # worker A: the head of each conversation
    assert [m for m, _ in a] == [first.message_id, other.message_id]
    assert ingest.claim(desk, now=NOW) == []  # worker B: nothing it may take yet


def test_a_drained_backlog_leaves_the_newest_packet_on_pending_escalations(desk: Desk) -> None:
    """Three abusive messages of one conversation queued, then drained batch after batch: the
    newest message's packet is on every pending escalation at the end."""
    first = _queue(desk, "You are useless idiots and I will sue you.", "backlog")
    ids = [first.message_id]
    for i, text in enumerate(["Still idiots. My lawyer will call.", "Answer me, you morons!"]):
        later = desk.post_message(
            Incoming(CustomerRef("backlog"), text, conversation_id=first.conversation_id),
            actor=None,
            now=NOW + timedelta(minutes=i + 1),
            respond_async=True,
        )
        ids.append(later.message_id)
    assert drain_queue(desk) == 3
    with desk.store.read() as s:
        newest = s.get_one(Message, ids[-1]).guidance
        older = [s.get_one(Message, i).guidance for i in ids[:-1]]
        pending = s.scalars(
            select(Escalation).where(
                Escalation.conversation_id == first.conversation_id,
                Escalation.state == "pending",
            )
        ).all()
    assert newest is not None and pending
    for e in pending:
        assert e.packet == newest["handover"]
        assert all(o is not None and e.packet != o["handover"] for o in older)


def test_a_long_running_process_settles_its_garbage_collector(desk: Desk) -> None:
    """``settle`` (server, worker, drain): the models' long-lived objects are frozen out of the
    cyclic GC's walks and young collections run every ``GC_YOUNG`` allocations."""
    import gc

    from gracedesk.service.build import GC_YOUNG, settle

    before = gc.get_threshold()
    try:
        settle(desk)
        assert gc.get_threshold() == (GC_YOUNG, before[1], before[2])
        assert gc.get_freeze_count() > 10_000  # the models, the library, the policy
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
