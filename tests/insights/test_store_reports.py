"""``store.reports`` on its own (SQLite and PostgreSQL): the report's scope, loose sanctions and
the phrase outcomes' reads, chunked."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from desk.conftest import NOW, make_user
from gracedesk.store import Store
from gracedesk.store import reports as reports_store
from gracedesk.store.tables import (
    AuditEvent,
    Conversation,
    CsatResponse,
    Customer,
    Escalation,
    Message,
    Sanction,
)

OLD = NOW - timedelta(days=90)


def _conversation(
    s: Session, cid: int, *, team: str | None, opened: datetime = OLD
) -> Conversation:
    c = Conversation(
        customer_id=cid, channel="chat", status="open", team=team, opened_at=opened,
        updated_at=opened,
    )  # fmt: skip
    s.add(c)
    s.flush()
    return c


def _history(store: Store) -> dict[str, int]:
    """Three conversations: one touched in the period by a message (team a), one opened in it
    (team b), one untouched; a reply and analysed customer messages; a loose sanction."""
    with store.write() as s:
        cust = Customer(external_id="c-1", name="Dana", created_at=OLD)
        s.add(cust)
        s.flush()
        a = _conversation(s, cust.id, team="a")
        b = _conversation(s, cust.id, team="b", opened=NOW - timedelta(days=1))
        quiet = _conversation(s, cust.id, team="a")
        for i, author in enumerate(["customer", "agent", "customer"]):
            m = Message(
                conversation_id=a.id, author=author, channel="chat", text=f"m{i}",
                received_at=NOW - timedelta(hours=3 - i), analysis_state="done",
            )  # fmt: skip
            if i == 0:  # the others have no stored analysis (SQL NULL)
                m.signals = {"risk": 0.9}
            s.add(m)
        s.add(
            Escalation(
                conversation_id=a.id, kind="escalation", state="pending", reason="r",
                created_at=NOW - timedelta(minutes=30),
            )
        )  # fmt: skip
        s.add(
            AuditEvent(
                at=NOW - timedelta(minutes=20), actor="system", kind="conversation.resolved",
                conversation_id=a.id, detail={},
            )
        )  # fmt: skip
        s.add(
            CsatResponse(
                conversation_id=a.id, token="t1", sent_at=NOW - timedelta(minutes=10), score=4,
                responded_at=NOW - timedelta(minutes=5),
            )
        )  # fmt: skip
        loose = Sanction(
            customer_id=cust.id, level="warn", state="active", reason="r",
            created_at=NOW - timedelta(days=2),
        )  # fmt: skip
        s.add(loose)
        s.flush()
        return {"a": a.id, "b": b.id, "quiet": quiet.id, "loose": loose.id}


def test_the_scope_is_what_the_period_touched_narrowed_to_a_team(store: Store) -> None:
    ids = _history(store)
    since, until = NOW - timedelta(days=30), NOW
    with store.read_core() as conn:
        everything = reports_store.Scope(since, until)
        assert sorted(conn.scalars(reports_store.touched(everything))) == [ids["a"], ids["b"]]
        team = reports_store.Scope(since, until, team="a")
        assert list(conn.scalars(reports_store.touched(team))) == [ids["a"]]
        rows = reports_store.messages(conn, reports_store.touched(team))
        assert sorted(m.author for m in rows) == ["agent", "customer", "customer"]
        assert [c.id for c in reports_store.conversations(conn, reports_store.touched(team))] == [
            ids["a"]
        ]
        (survey,) = reports_store.surveys(conn, reports_store.answered(until, limit=10))
        assert survey.score == 4
        # a sanction outside any conversation counts without a filter, never with one
        assert [x.id for x in reports_store.loose_sanctions(conn, everything, [])] == [ids["loose"]]
        assert reports_store.loose_sanctions(conn, team, []) == []
        assert reports_store.teams(conn) and set(reports_store.teams(conn)) == {"a", "b"}


def test_phrase_outcome_reads_are_the_same_in_chunks(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_user(store, "ana", "agent")
    ids = _history(store)
    convs = sorted(ids[k] for k in ("a", "b", "quiet"))
    with store.read_core() as conn:
        (reply,) = reports_store.agent_replies(conn, NOW - timedelta(days=1), NOW)
        assert reply.text == "m1"
        assert reports_store.agent_replies(conn, None, NOW - timedelta(days=1)) == []
        whole = reports_store.analysed_customer_messages(conn, convs)
        after = reports_store.afterwards(conn, convs)
        monkeypatch.setattr(reports_store, "CHUNK", 1)
        assert reports_store.analysed_customer_messages(conn, convs) == whole
        assert reports_store.afterwards(conn, convs) == after
    assert [r.conversation_id for r in whole] == [ids["a"]]
    assert [tuple(r) for r in after.escalations] == [(ids["a"], NOW - timedelta(minutes=30))]
    assert [r.kind for r in after.events] == ["conversation.resolved"]
    assert [r.score for r in after.surveys] == [4]
    with store.read_core() as conn:
        assert reports_store.active_user_names(conn) == ["ana"]
        assert reports_store.user_id(conn, "ana") is not None
        assert reports_store.user_id(conn, "nobody") is None
