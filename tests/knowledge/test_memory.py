"""Answered questions: past customer questions as a second retrieval key of their article.

The pure scoring (``gracedesk.knowledge.memory``) and the desk's use of it on SQLite and
PostgreSQL: imported with ``add_questions`` (idempotent), learned from a reply that quotes an
article, used by search, and deleted when the customer who asked is erased."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from gracedesk.knowledge import RankConfig
from gracedesk.knowledge.memory import MemoryConfig, QuestionMemory
from gracedesk.service import actions
from gracedesk.service import knowledge as kb
from gracedesk.service.desk import Desk
from gracedesk.service.erasure import erase
from gracedesk.store import Store
from gracedesk.store.tables import AuditEvent, Conversation, KbQuestion, Message

from .conftest import ARTICLES, NOW, make_user, post


def _unit(rows: list[list[float]]) -> np.ndarray:
    v = np.asarray(rows, np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_memory_scores_articles_by_their_best_answered_questions() -> None:
    mem = QuestionMemory(
        ["cards", "refunds", "empty"],
        [0, 0, 1],
        ["where is my new card", "card still not here", "money back for my order"],
        _unit([[1, 0], [0.9, 0.1], [0, 1]]),
        MemoryConfig(k=2, w_sem=0.5),
    )
    scores, has = mem.scores(["is my card here yet"], _unit([[1, 0.05]]))
    assert has.tolist() == [[True, True, False]]
    assert scores[0, 0] > scores[0, 1] and scores[0, 2] == 0.0
    # words alone (w_sem 0) still find the card questions; meaning alone finds them too
    for w in (0.0, 1.0):
        m = QuestionMemory(
            mem.articles,
            mem.owners.tolist(),
            ["where is my new card", "card still not here", "money back for my order"],
            mem.vectors,
            MemoryConfig(k=2, w_sem=w),
        )
        s, _ = m.scores(["is my card here yet"], _unit([[1, 0.05]]))
        assert int(np.argmax(s[0])) == 0
    with pytest.raises(ValueError):
        QuestionMemory(["a"], [0], ["x", "y"], _unit([[1, 0]]))


def _articles(tmp_path: Path) -> Path:
    d = tmp_path / "articles"
    shutil.copytree(ARTICLES, d)
    return d


def test_answered_questions_are_imported_once_and_change_the_ranking(
    store: Store, tmp_path: Path
) -> None:
    kb.import_dir(store, _articles(tmp_path), actor="cli", now=NOW)
    query = "my parcel tracking hasn't moved since monday"
    before = [h.article_id for h in kb.search(store, query, k=4)]
    assert before[0] == "delivery-delays"
    # a desk whose customers asked this about security (odd, but it is what the desk learned)
    items = [
        ("account-security", "parcel tracking has not moved for days, is my account hacked?"),
        ("account-security", "tracking stuck since monday, did someone change my address?"),
        ("no-such-article", "anything"),
    ]
    report = kb.add_questions(store, items, actor="cli", now=NOW)
    assert (report.added, report.unchanged, report.unknown) == (2, 0, [(2, "no-such-article")])
    again = kb.add_questions(store, items[:2], actor="cli", now=NOW)
    assert (again.added, again.unchanged) == (0, 2)
    after = [h.article_id for h in kb.search(store, query, k=4)]
    assert after.index("account-security") < before.index("account-security")
    # the memory can be switched off per query (the articles-only ranking is unchanged)
    off = [h.article_id for h in kb.search(store, query, k=4, config=RankConfig(w_memory=0.0))]
    assert off == before
    with store.read() as s:
        kinds = [e.kind for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert kinds.count("kb.questions_imported") == 1


def test_a_reply_quoting_an_article_teaches_it_the_question_and_erasure_forgets_it(
    desk: Desk, tmp_path: Path
) -> None:
    kb.import_dir(desk, _articles(tmp_path), actor="cli", now=NOW)
    question = "Where is my refund? I was never told how long it takes."
    posted = post(desk, question)
    sam, _ = make_user(desk.store, "sam", "agent")
    reply = (
        "Sorry for the wait, Dana. Once we approve a refund, the money reaches your bank in 5 to "
        "10 working days. Your bank may take a little longer to show it."
    )
    actions.send_reply(desk, posted.conversation_id, reply, user=sam, now=NOW)
    with desk.store.read() as s:
        mid = s.scalars(select(Message.id).where(Message.author == "agent")).one()
        rows = list(s.scalars(select(KbQuestion)))
    # send_reply records the quote; recording again adds no second question
    kb.record_quotes(desk, mid, reply)
    with desk.store.read() as s:
        again = list(s.scalars(select(KbQuestion)))
    assert [(q.article_id, q.text, q.source) for q in rows] == [("refunds", question, "reply")]
    assert len(again) == 1 and rows[0].message_id == posted.message_id
    with desk.store.read() as s:
        customer_id = s.scalar(
            select(Conversation.customer_id).where(Conversation.id == posted.conversation_id)
        )
    assert customer_id is not None
    out = erase(desk.store, customer_id, actor="admin", now=NOW)
    assert out["kb_questions"] == 1
    with desk.store.read() as s:
        assert list(s.scalars(select(KbQuestion))) == []
