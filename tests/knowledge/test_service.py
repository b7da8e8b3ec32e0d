"""The knowledge base in the store, on SQLite and PostgreSQL: import, versions, audit, search,
suggestions and quotes."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from gracedesk.errors import InvalidRequest, NotFound
from gracedesk.knowledge import ArticleInvalid, RankConfig
from gracedesk.service import actions
from gracedesk.service import knowledge as kb
from gracedesk.service.desk import Desk
from gracedesk.store import Store
from gracedesk.store.tables import AuditEvent, KbPassage, KbQuote, KbVersion, Message

from .conftest import ARTICLES, NOW, make_user, post


def _copy(tmp_path: Path) -> Path:
    d = tmp_path / "articles"
    shutil.copytree(ARTICLES, d)
    return d


def _audit(store: Store) -> list[tuple[str, str, dict]]:
    with store.read() as s:
        return [
            (e.kind, e.actor, e.detail)
            for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))
        ]


def test_import_is_idempotent_and_a_changed_file_is_a_new_version(
    store: Store, tmp_path: Path
) -> None:
    d = _copy(tmp_path)
    first = kb.import_dir(store, d, actor="cli", now=NOW)
    assert first.added == ["account-security", "delivery-delays", "internal-approvals", "refunds"]
    assert first.ok and not first.updated and not first.unchanged
    again = kb.import_dir(store, d, actor="cli", now=NOW)
    assert (again.added, again.updated) == ([], [])
    assert len(again.unchanged) == 4
    f = d / "refunds.md"
    f.write_text(f.read_text().replace("30 days", "45 days"))
    third = kb.import_dir(store, d, actor="cli", now=NOW)
    assert third.updated == ["refunds"] and len(third.unchanged) == 3
    view = kb.get_article(store, "refunds")
    assert view.summary.version == 2 and "45 days" in view.markdown
    assert [v.version for v in view.versions] == [1, 2]
    assert view.versions[1].reason == "import refunds.md" and view.versions[1].author == "cli"
    old = kb.get_article(store, "refunds", version=1)
    assert "30 days" in old.markdown and old.summary.version == 2
    with store.read() as s:
        assert s.scalar(select(KbVersion.id).where(KbVersion.article_id == "refunds").limit(1))
        versions = set(
            s.scalars(select(KbPassage.version).where(KbPassage.article_id == "refunds"))
        )
    assert versions == {2}  # only the current version's passages are searched
    kinds = [(k, a, d["article_id"], d["version"]) for k, a, d in _audit(store)]
    assert kinds.count(("kb.article_added", "cli", "refunds", 1)) == 1
    assert kinds.count(("kb.article_updated", "cli", "refunds", 2)) == 1
    assert len(kinds) == 5  # four added, one updated; the unchanged imports wrote nothing


def test_invalid_files_are_reported_and_the_rest_imported(store: Store, tmp_path: Path) -> None:
    d = _copy(tmp_path)
    (d / "broken.md").write_text(
        "---\nid: x\ntitle: X\naudience: all\nupdated: 2026-01-01\n---\nHi\n"
    )
    (d / "twin.md").write_text((d / "refunds.md").read_text())
    report = kb.import_dir(store, d, actor="cli", now=NOW)
    assert len(report.added) == 4
    assert [f for f, _ in report.invalid] == ["broken.md", "twin.md"]
    assert "audience" in report.invalid[0][1]
    assert "also the id of refunds.md" in report.invalid[1][1]
    with pytest.raises(InvalidRequest, match="not a folder"):
        kb.import_dir(store, d / "refunds.md", actor="cli", now=NOW)


def test_save_article_makes_a_version_with_author_and_reason(desk: Desk, tmp_path: Path) -> None:
    kb.import_dir(desk, _copy(tmp_path), actor="cli", now=NOW)
    md = kb.get_article(desk, "delivery-delays").markdown
    same = kb.save_article(desk, md, actor="user:alex", reason="no change", now=NOW)
    assert same.version == 1  # the same text is not a new version
    saved = kb.save_article(
        desk,
        md.replace("7 working days", "5 working days"),
        actor="user:alex",
        reason="new SLA",
        now=NOW,
    )
    assert saved.version == 2
    view = kb.get_article(desk, "delivery-delays")
    assert (view.versions[-1].author, view.versions[-1].reason) == ("user:alex", "new SLA")
    assert ("kb.article_updated", "user:alex") in [(k, a) for k, a, _ in _audit(desk.store)]
    hits = kb.search(desk, "replacement after 5 working days", k=1, config=RankConfig(w_sem=0.0))
    assert hits[0].article_id == "delivery-delays" and "5 working days" in hits[0].passage
    created = kb.save_article(
        desk,
        "---\nid: new-one\ntitle: New\naudience: internal\nupdated: 2026-12-01\n---\nText here.\n",
        actor="user:alex",
        now=NOW,
    )
    assert created.version == 1 and created.audience == "internal"
    with pytest.raises(ArticleInvalid, match="article: updated"):
        kb.save_article(desk, md.replace("updated: 2026-11-01", "updated: soon"), actor="x")
    with pytest.raises(NotFound):
        kb.get_article(desk, "nope")
    with pytest.raises(NotFound):
        kb.get_article(desk, "new-one", version=7)


def test_list_filters_by_audience(store: Store, tmp_path: Path) -> None:
    kb.import_dir(store, _copy(tmp_path), actor="cli", now=NOW)
    assert [a.id for a in kb.list_articles(store, audience="internal")] == ["internal-approvals"]
    assert len(kb.list_articles(store)) == 4
    with pytest.raises(InvalidRequest, match="audience"):
        kb.list_articles(store, audience="public")


@pytest.mark.parametrize(
    ("query", "article", "heading"),
    [
        ("how many working days until the money reaches my bank", "refunds", "How long it takes"),
        ("reset link for my password", "account-security", None),
        ("tracking number of the parcel", "delivery-delays", None),
    ],
)
@pytest.mark.parametrize("w_sem", [0.0, None])  # full-text only (each database's own); default
def test_search_finds_the_passage_on_both_databases(
    store: Store, tmp_path: Path, query: str, article: str, heading: str | None, w_sem: float | None
) -> None:
    kb.import_dir(store, _copy(tmp_path), actor="cli", now=NOW)
    hits = kb.search(store, query, k=3, config=None if w_sem is None else RankConfig(w_sem=w_sem))
    assert hits[0].article_id == article
    assert hits[0].heading == heading
    view = kb.get_article(store, article)
    assert view.article.body[hits[0].start : hits[0].end] == hits[0].passage
    assert len({h.article_id for h in hits}) == len(hits)  # one hit per article
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))


def test_full_text_reads_words_not_query_syntax(store: Store, tmp_path: Path) -> None:
    kb.import_dir(store, _copy(tmp_path), actor="cli", now=NOW)
    lexical = RankConfig(w_sem=0.0)
    for q in ['"parcel', "parcel OR NOT*", "parcel & | ! :(", "parcel)"]:
        assert kb.search(store, q, k=1, config=lexical)[0].article_id == "delivery-delays"
    assert kb.search(store, "zzzqqq", k=3, config=lexical) == []
    with pytest.raises(InvalidRequest, match="empty"):
        kb.search(store, "   ")


def test_audience_filter_and_the_cache_follow_changes(store: Store, tmp_path: Path) -> None:
    d = _copy(tmp_path)
    kb.import_dir(store, d, actor="cli", now=NOW)
    q = "who approves refunds above 50 euros"
    assert kb.search(store, q, k=1)[0].article_id == "internal-approvals"
    assert all(
        h.article_id != "internal-approvals" for h in kb.search(store, q, audience="customer")
    )
    # a change written by another process (another Store on the same database) is seen
    other = Store.open(store.url)
    try:
        kb.save_article(
            other,
            kb.get_article(other, "internal-approvals").markdown.replace("50 euros", "80 euros"),
            actor="user:alex",
            now=NOW,
        )
    finally:
        other.close()
    hit = kb.search(store, q, k=1)[0]
    assert hit.version == 2 and "80 euros" in hit.passage


def test_suggestions_only_for_information_or_policy_questions(desk: Desk, tmp_path: Path) -> None:
    kb.import_dir(desk, _copy(tmp_path), actor="cli", now=NOW)
    text = "Nobody told me how long a refund takes, when does the money reach my bank?"
    asks = {"causes": {"lack_of_information": 0.8}, "requests": {"refund": 0.7}}
    hits = kb.suggest(desk, text, asks)
    assert hits and hits[0].article_id == "refunds"
    assert all(h.article_id != "internal-approvals" for h in hits)  # customer articles only
    assert kb.suggest(desk, text, {"emotions": {"anger": 0.9}}) == []  # no information need
    unrelated = "My cat knocked the plant over and the sofa is full of soil."
    assert kb.suggest(desk, unrelated, asks) == []  # no article is close enough


def test_replies_quoting_an_article_are_recorded(desk: Desk, tmp_path: Path) -> None:
    kb.import_dir(desk, _copy(tmp_path), actor="cli", now=NOW)
    posted = post(desk, "Where is my refund? I was never told how long it takes.")
    sam, _ = make_user(desk.store, "sam", "agent")
    reply = (
        "Sorry for the wait, Dana. Once we approve a refund, the money reaches your bank in 5 to "
        "10 working days. Your bank may take a little longer to show it."
    )
    actions.send_reply(desk, posted.conversation_id, reply, user=sam, now=NOW)
    with desk.store.read() as s:
        mid = s.scalars(select(Message.id).where(Message.author == "agent")).one()
    assert kb.record_quotes(desk, mid, reply) == [("refunds", 1)]
    assert kb.record_quotes(desk, mid, reply) == [("refunds", 1)]  # recorded once
    with desk.store.read() as s:
        assert len(list(s.scalars(select(KbQuote)))) == 1
    shared = kb.shared_articles(desk, posted.conversation_id)
    assert [(a.article_id, a.version, a.message_id) for a in shared] == [("refunds", 1, mid)]
    assert kb.record_quotes(desk, mid, "Thanks, we are on it.") == []
    with pytest.raises(NotFound):
        kb.record_quotes(desk, 10_000, reply)


def test_the_starter_set_imports_cleanly(store: Store) -> None:
    report = kb.import_dir(store, kb.starter_dir(), actor="demo", now=NOW)
    assert report.ok, report.invalid
    assert len(report.added) >= 7  # refunds, cancellations, delivery, billing, security, ...
    assert {a.audience for a in kb.list_articles(store)} <= {"customer", "internal"}


def test_words_in_most_passages_are_common() -> None:
    from gracedesk.service.knowledge_index import common_words

    texts = [f"Your card number {i} and the card fee" for i in range(59)] + ["Change your PIN"]
    assert common_words(texts) == frozenset({"card", "number", "fee"})  # not "pin", no stop words
    assert common_words(texts[:10]) == frozenset()  # too few passages to judge
