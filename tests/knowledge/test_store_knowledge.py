"""The knowledge base's rows in the store (``gracedesk.store.knowledge``), on SQLite and
PostgreSQL: versions replace passages (and their full-text rows), the index counter moves with
every change, answered questions are added once, quotes are read back per conversation."""

from __future__ import annotations

from datetime import date, timedelta

from gracedesk.service.desk import Desk
from gracedesk.store import Store, fulltext
from gracedesk.store import knowledge as kb

from .conftest import NOW, post


def _version(article_id: str, words: str, *, audience: str = "customer") -> kb.NewVersion:
    texts = [f"{words} first passage", f"{words} second passage"]
    return kb.NewVersion(
        id=article_id,
        title=f"About {words}",
        audience=audience,
        updated=date(2026, 11, 1),
        hash=f"hash-{article_id}-{words}",
        tags=("t",),
        policy_rules=(),
        markdown=f"# {words}",
        passages=tuple(
            kb.NewPassage(
                ordinal=i,
                heading=None,
                text=t,
                search_text=t,
                start=0,
                end=len(t),
                vector=b"\x00" * 8,
            )
            for i, t in enumerate(texts)
        ),
    )


def test_a_new_version_replaces_the_passages_and_their_full_text_rows(store: Store) -> None:
    with store.read_core() as conn:
        empty = kb.index_counter(conn)
    assert empty == (0, 0, 0, 0)
    with store.write() as s:
        row, created = kb.put_version(
            s.connection(),
            _version("refunds", "zebra"),
            author="cli",
            reason="r1",
            embedder="e",
            now=NOW,
        )
        assert created and row.version == 1
    with store.write() as s:
        row, created = kb.put_version(
            s.connection(),
            _version("refunds", "giraffe"),
            author="sam",
            reason="r2",
            embedder="e",
            now=NOW + timedelta(hours=1),
        )
        assert not created and row.version == 2
    with store.write() as s:
        kb.put_version(
            s.connection(),
            _version("internal", "okapi", audience="internal"),
            author="cli",
            reason="",
            embedder="e",
            now=NOW,
        )
    with store.read_core() as conn:
        counter = kb.index_counter(conn)
        assert counter[0] == 3 and counter[2:] == (0, 0)
        rows = kb.index_passages(conn)
        assert [(r.article_id, r.text) for r in rows] == [
            ("internal", "okapi first passage"),
            ("internal", "okapi second passage"),
            ("refunds", "giraffe first passage"),
            ("refunds", "giraffe second passage"),
        ]
        assert {r.version for r in rows if r.article_id == "refunds"} == {2}
        assert fulltext.search(conn, "zebra", 10) == []  # the old passages left the index
        found = {p for p, _ in fulltext.search(conn, "giraffe", 10)}
        assert found == {r.id for r in rows if r.article_id == "refunds"}
    with store.read_core() as conn:
        assert [v.version for v in kb.versions(conn, "refunds")] == [1, 2]
        assert [v.author for v in kb.versions(conn, "refunds")] == ["cli", "sam"]
        assert [a.id for a in kb.articles(conn)] == ["internal", "refunds"]
        assert [a.id for a in kb.articles(conn, audience="internal")] == ["internal"]
        assert kb.live_article_ids(conn) == {"internal", "refunds"}
        states = {r.id: (r.hash, r.deleted) for r in kb.article_states(conn)}
        assert states["refunds"] == ("hash-refunds-giraffe", False)
        got = kb.article(conn, "refunds")
        assert got is not None and got.title == "About giraffe" and got.tags == ["t"]
        assert kb.article(conn, "nothing") is None


def test_answered_questions_are_added_once_and_move_the_counter(store: Store) -> None:
    with store.write() as s:
        kb.put_version(
            s.connection(),
            _version("refunds", "zebra"),
            author="cli",
            reason="",
            embedder="e",
            now=NOW,
        )
    with store.write() as s:
        args = ("refunds", "Where is my refund?", "d1", b"\x00" * 8, "e")
        conn = s.connection()
        assert kb.add_question(conn, *args, source="import", message_id=None, now=NOW)
        assert not kb.add_question(conn, *args, source="import", message_id=None, now=NOW)
        assert kb.add_question(
            conn,
            "refunds",
            "Other",
            "d2",
            b"\x00" * 8,
            "e",
            source="import",
            message_id=None,
            now=NOW,
        )
    with store.read_core() as conn:
        assert kb.index_counter(conn)[2] == 2
        assert [r.text for r in kb.index_questions(conn)] == ["Where is my refund?", "Other"]


def test_quotes_are_read_back_per_conversation(desk: Desk) -> None:
    store = desk.store
    with store.write() as s:
        kb.put_version(
            s.connection(),
            _version("refunds", "zebra"),
            author="cli",
            reason="",
            embedder="e",
            now=NOW,
        )
    first = post(desk, "Where is my refund?")
    second = post(desk, "And the fee?", at=NOW + timedelta(minutes=1))
    with store.read_core() as conn:
        msg, asked = kb.reply_and_question(conn, second.message_id)
        assert msg is not None and asked is not None and asked.id == first.message_id
        msg, asked = kb.reply_and_question(conn, first.message_id)
        assert msg is not None and asked is None
        assert kb.reply_and_question(conn, 10_000) == (None, None)
    with store.write() as s:
        kb.add_quote(s.connection(), second.message_id, "refunds", 1, NOW)
    with store.read_core() as conn:
        assert kb.quoted_articles(conn, second.message_id) == {"refunds"}
        assert kb.quoted_articles(conn, first.message_id) == set()
        rows = kb.shared(conn, first.conversation_id)
        assert [(r.article_id, r.title) for r in rows] == [("refunds", "About zebra")]
