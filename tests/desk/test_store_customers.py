"""The store's functions behind the customer pages, erasure and rotation, on SQLite and PostgreSQL.

``store.customers`` (search, activity, sanctions in force, flags under a lock), ``store.erasure``
(one customer masked in one unit of work, the counts it reports) and ``store.rotation`` with
``store.agents.active_users`` (the exposure window, open load, reassigning, decision rows).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from gracedesk.store import Store
from gracedesk.store import agents as agents_x
from gracedesk.store import customers as customers_x
from gracedesk.store import erasure as erasure_x
from gracedesk.store import rotation as rotation_x
from gracedesk.store.tables import (
    AuditEvent,
    Conversation,
    Customer,
    CustomerNote,
    DecisionRow,
    Message,
    Sanction,
    User,
)

from .conftest import NOW


def _customer(s: Any, ext: str, **kw: Any) -> Customer:
    c = Customer(external_id=ext, preferences={}, flags=[], created_at=NOW, **kw)
    s.add(c)
    s.flush()
    return c


def _conversation(s: Any, customer_id: int, **kw: Any) -> Conversation:
    conv = Conversation(
        customer_id=customer_id,
        channel="email",
        status=kw.pop("status", "open"),
        opened_at=kw.pop("opened_at", NOW),
        updated_at=NOW,
        **kw,
    )
    s.add(conv)
    s.flush()
    return conv


def _user(s: Any, name: str, role: str = "agent", **kw: Any) -> User:
    u = User(name=name, display_name=name.title(), role=role, created_at=NOW, **kw)
    s.add(u)
    s.flush()
    return u


def test_search_matches_literally_and_phone_numbers_without_separators(store: Store) -> None:
    with store.write() as s:
        _customer(s, "a-1", name="Zed 100% Sure", phone="555-0100")
        _customer(s, "a-2", name="amy under_score", email="AMY@example.com")
        _customer(s, "a-3", name="bob", phone="(555) 0199")
    with store.read_core() as conn:
        total, rows = customers_x.search(conn, "100%", limit=10, offset=0)
        assert total == 1 and [c.external_id for c in rows] == ["a-1"]
        total, rows = customers_x.search(conn, "u_d", limit=10, offset=0)
        assert total == 0 and not rows  # "_" is a character, not a wildcard
        total, rows = customers_x.search(conn, "amy@EXAMPLE", limit=10, offset=0)
        assert [c.external_id for c in rows] == ["a-2"]
        total, rows = customers_x.search(conn, "5550100", limit=10, offset=0)
        assert [c.external_id for c in rows] == ["a-1"]
        total, rows = customers_x.search(conn, "555", limit=10, offset=0)
        assert total == 2 and [c.name for c in rows] == ["bob", "Zed 100% Sure"]  # by name
        total, rows = customers_x.search(conn, "", limit=2, offset=0)
        assert total == 3 and [c.external_id for c in rows] == ["a-3", "a-2"]  # newest first
        total, rows = customers_x.search(conn, "", limit=2, offset=2)
        assert total == 3 and [c.external_id for c in rows] == ["a-1"]


def test_activity_and_sanctions_in_force_per_customer(store: Store) -> None:
    with store.write() as s:
        a, b = _customer(s, "a"), _customer(s, "b")
        _conversation(s, a.id, last_customer_at=NOW - timedelta(hours=1))
        _conversation(s, a.id, status="resolved", opened_at=NOW - timedelta(days=2))
        for level, state, until in (
            ("warn", "active", None),
            ("block", "active", NOW - timedelta(minutes=1)),  # expired
            ("restrict", "active", NOW + timedelta(days=1)),
            ("block", "pending", None),
        ):
            s.add(
                Sanction(
                    customer_id=a.id,
                    level=level,
                    state=state,
                    reason="r",
                    until=until,
                    created_at=NOW,
                )
            )
        ids = (a.id, b.id)
    with store.read_core() as conn:
        assert (
            customers_x.activity(conn, []) == []
            and customers_x.sanction_levels(conn, [], now=NOW) == []
        )
        rows = {r[0]: (r[1], r[2], r[3]) for r in customers_x.activity(conn, ids)}
        assert list(rows) == [ids[0]]
        n, open_, last = rows[ids[0]]
        assert (n, int(open_ or 0), last) == (2, 1, NOW - timedelta(hours=1))
        levels = sorted(level for _, level in customers_x.sanction_levels(conn, ids, now=NOW))
        assert levels == ["restrict", "warn"]


def test_flags_are_set_on_the_locked_row(store: Store) -> None:
    with store.write() as s:
        cid = _customer(s, "f").id
    with store.write_core() as conn:
        assert customers_x.locked(conn, cid + 99) is None
        c = customers_x.locked(conn, cid)
        assert c is not None
        customers_x.set_flags(conn, c.id, ["vip", "slow_payer"])
    with store.read_core() as conn:
        assert customers_x.erasure_preview(conn, cid) == ("f", 0)
        assert customers_x.erasure_preview(conn, cid + 99) is None
        got = customers_x.get(conn, cid)
        assert got is not None and got.flags == ["vip", "slow_payer"]


def test_erase_masks_one_customer_and_counts_what_it_touched(store: Store) -> None:
    with store.write() as s:
        c = _customer(s, "e-1", name="Quill", email="q@zexample.org", phone="1")
        other = _customer(s, "e-2", name="Keep Me")
        conv = _conversation(s, c.id, subject="about my fridge", contact="q@zexample.org")
        kept = _conversation(s, other.id, subject="untouched")
        for cid, text in ((conv.id, "my fridge"), (kept.id, "still here")):
            s.add(
                Message(
                    conversation_id=cid,
                    author="customer",
                    channel="email",
                    analysis_state="done",
                    text=text,
                    signals={"labels": ["abusive"], "evidence": [{"text": "fridge"}]},
                    received_at=NOW,
                )
            )
        s.add(CustomerNote(customer_id=c.id, text="calls often", created_at=NOW))
        s.add(
            AuditEvent(at=NOW, actor="system", kind="x", customer_id=c.id, reason="why", detail={})
        )
        ids = (c.id, other.id, conv.id, kept.id)
    mask = erasure_x.Masking(
        text="[m]",
        scrub=lambda v: {"scrubbed": True},
        external_id="erased-token",
        flag="erased",
        analysis_state="erased",
    )
    with store.write_core() as conn:
        assert erasure_x.lock_customer(conn, 10_000) is None
        customer = erasure_x.lock_customer(conn, ids[0])
        assert customer is not None
        got = erasure_x.erase(conn, customer, mask=mask)
    assert got == erasure_x.Erased(
        conversations=1,
        messages=1,
        notes=1,
        kb_questions=0,
        notifications_dropped=0,
        notifications_masked=0,
        audit_events=1,
    )
    with store.read() as s:
        gone = s.get(Customer, ids[0])
        assert gone is not None
        assert (gone.external_id, gone.name, gone.email, gone.flags) == (
            "erased-token",
            None,
            None,
            ["erased"],
        )
        assert s.get(Customer, ids[1]).name == "Keep Me"  # type: ignore[union-attr]
        convs = {x.id: x for x in s.scalars(select(Conversation))}
        assert (convs[ids[2]].subject, convs[ids[2]].contact) == ("[m]", None)
        assert convs[ids[3]].subject == "untouched"
        texts = {
            m.conversation_id: (m.text, m.signals, m.analysis_state)
            for m in s.scalars(select(Message))
        }
        assert texts[ids[2]] == ("[m]", {"scrubbed": True}, "erased")
        assert texts[ids[3]][0] == "still here"
        assert [n.text for n in s.scalars(select(CustomerNote))] == ["[m]"]
        assert [e.reason for e in s.scalars(select(AuditEvent))] == ["[m]"]


def test_rotation_reads_the_window_the_load_and_writes_its_decision(store: Store) -> None:
    with store.write() as s:
        ann, bob = _user(s, "ann"), _user(s, "bob")
        _user(s, "gone", active=False)
        cust = _customer(s, "r-1")
        c1 = _conversation(s, cust.id, assignee_id=ann.id)
        _conversation(s, cust.id, assignee_id=ann.id, status="resolved")
        _conversation(s, cust.id, assignee_id=bob.id)
        msg = Message(
            conversation_id=c1.id,
            author="customer",
            channel="email",
            analysis_state="done",
            text="x",
            received_at=NOW,
        )
        s.add(msg)
        for minutes, kind in ((-61, "agent.exposed"), (-60, "agent.exposed"), (0, "agent.exposed")):
            s.add(
                AuditEvent(
                    at=NOW + timedelta(minutes=minutes),
                    actor="system",
                    kind=kind,
                    conversation_id=c1.id,
                    detail={"user_id": ann.id},
                )
            )
        s.add(AuditEvent(at=NOW, actor="system", kind="conversation.rotated", detail={"a": 1}))
        s.flush()
        ids = {"ann": ann.id, "bob": bob.id, "conv": c1.id, "msg": msg.id}
    with store.read_core() as conn:
        people = agents_x.active_users(conn)
        assert sorted(p.name for p in people) == ["ann", "bob"]
        events = rotation_x.events_between(
            conn, "agent.exposed", since=NOW - timedelta(minutes=60), until=NOW
        )
        assert [e.at for e in events] == [NOW - timedelta(minutes=60), NOW]  # both ends included
        assert rotation_x.open_load(conn) == {ids["ann"]: 1, ids["bob"]: 1}
        assert rotation_x.details_since(conn, "conversation.rotated", since=NOW) == [{"a": 1}]
        assert (
            rotation_x.details_since(conn, "conversation.rotated", since=NOW + timedelta(1)) == []
        )
    with store.write_core() as conn:
        rotation_x.record_decision(
            conn,
            message_id=ids["msg"],
            conversation_id=ids["conv"],
            action="reassign",
            target="bob",
            rule_id="wellbeing.rotation",
            reason="over the limit",
            policy_version="v1",
            data={"from": "ann"},
            now=NOW,
        )
        rotation_x.reassign(conn, ids["conv"], ids["bob"], now=NOW + timedelta(minutes=1))
    with store.read() as s:
        d = s.scalars(select(DecisionRow)).one()
        assert (d.action, d.target, d.rule_id, d.data) == (
            "reassign",
            "bob",
            "wellbeing.rotation",
            {"from": "ann"},
        )
        conv = s.get(Conversation, ids["conv"])
        assert conv is not None
        assert (conv.assignee_id, conv.updated_at) == (ids["bob"], NOW + timedelta(minutes=1))
