"""The knowledge base where the desk uses it: guidance, the coach, quotes, hand-overs, insights.

The pure parts (``coach.cite_articles``, the hand-over packet, the report section) are tested on
values built here; the wiring (``service.knowledge_use`` through ``Desk.post_message``,
``actions.coach_draft``, ``send_reply``, ``escalate`` and ``reports.summary``) on SQLite and
PostgreSQL, with the starter set the demo imports.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from gracedesk.guidance.coach import cite_articles, coach, wants_plain_wording
from gracedesk.insights import report
from gracedesk.insights.rows import (
    ConversationRow,
    EventRow,
    History,
    Period,
    QuestionRow,
    QuoteRow,
)
from gracedesk.model import ArticleRef
from gracedesk.model.situation import Situation, Turn
from gracedesk.service import actions, knowledge, reports
from gracedesk.service.desk import Desk
from gracedesk.store.tables import KbQuote

from .conftest import NOW, make_user, post

STARTER = knowledge.starter_dir()  # what `gracedesk serve --demo` imports
# a policy the customer was never told: returns close 30 days after delivery
LATE_RETURN = (
    "Why can't I return my jacket? I bought it 35 days ago and nobody told me there was a "
    "30 day limit."
)
JARGON = "Per our T&Cs your RMA can't be actioned, that's our policy."
REFUNDS = ArticleRef("refunds", "How do I get a refund?", 3, "We send refunds within 2 days.")


# -- pure: the coach, the hand-over, the report --------------------------------------------------


def test_the_coach_offers_the_article_wording_for_jargon_and_a_recited_policy() -> None:
    plain = coach(JARGON)
    cited = cite_articles(plain, [REFUNDS])
    kinds = {f.kind for f in cited.findings}
    assert {"jargon", "excuse"} <= kinds
    for f in cited.findings:
        wanted = f.kind == "jargon" or (f.kind == "excuse" and "policy" in f.text.lower())
        assert (f.article == REFUNDS) == wanted, f
    # the plain wording is offered beside the finding: the score and the rewrite stay
    assert (cited.score, cited.rewrite) == (plain.score, plain.rewrite)
    jargon = next(f.to_dict() for f in cited.findings if f.kind == "jargon")
    assert jargon["article"] == {
        "id": "refunds",
        "title": "How do I get a refund?",
        "version": 3,
        "passage": "We send refunds within 2 days.",
        "heading": None,
        "score": None,
    }
    assert cite_articles(plain, []) is plain  # nothing found: nothing changes


@pytest.mark.parametrize(
    ("draft", "wanted"),
    [
        ("That's our policy, sorry.", True),  # a policy recited instead of explained
        ("I'm afraid it is out of my hands.", False),  # an excuse, but no policy to explain
        ("Your case went to L2 yesterday.", True),  # jargon
        ("You should have read the email.", False),  # blame: an article does not help
    ],
)
def test_which_findings_want_plain_wording(draft: str, wanted: bool) -> None:
    found = [wants_plain_wording(f) for f in coach(draft).findings]
    assert any(found) is wanted, coach(draft).findings


def test_the_hand_over_packet_lists_the_articles_already_shared(analyzer: Any) -> None:
    from gracedesk.guidance.advice import advise

    sig = analyzer.analyze(LATE_RETURN)
    shared = ArticleRef("returns-and-replacements", "How do I return an item?", 2)
    said = Situation((Turn("customer", LATE_RETURN),))
    g = advise(
        sig,
        said,
        now=NOW,
        articles=[REFUNDS],
        shared_articles=[shared],
    )
    assert g.to_dict()["articles"][0]["id"] == "refunds"
    packet = g.handover
    assert packet.to_dict()["articles"] == [shared.to_dict()]
    assert "How do I return an item? (returns-and-replacements, version 2)" in (
        packet.to_markdown()
    )
    assert "Articles already shared" not in advise(sig, said, now=NOW).handover.to_markdown()


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def test_the_report_section_on_a_hand_built_history() -> None:
    period = Period(at(2, 0), at(30, 0))
    conv = [ConversationRow(i, i, "email", None, None, "normal", "open", at(3)) for i in range(5)]
    quotes = (
        QuoteRow(10, 1, "refunds", "Refunds", 1, at(4)),
        QuoteRow(11, 1, "refunds", "Refunds v2", 2, at(5)),  # the latest title is shown
        QuoteRow(20, 2, "refunds", "Refunds", 1, at(4)),
        QuoteRow(30, 3, "returns", "Returns", 1, at(4)),
        QuoteRow(40, 4, "returns", "Returns", 1, at(1)),  # before the period
    )
    events = (
        EventRow("conversation.resolved", at(6), 1),  # settled
        EventRow("conversation.resolved", at(6), 2),
        EventRow("conversation.reopened", at(7), 2),  # reopened: not settled
        EventRow("conversation.resolved", at(3), 3),  # resolved before its quote: not settled
    )
    questions = (
        QuestionRow(50, 1, at(4), ("causes.lack_of_information",), 2),
        QuestionRow(51, 2, at(8), ("requests.refund", "emotions.confusion"), 0),
        QuestionRow(52, 3, at(9), ("requests.refund",), 0),
        QuestionRow(53, 3, at(1), ("requests.refund",), 0),  # before the period
    )
    h = History(conversations=tuple(conv), events=events, kb_quotes=quotes, kb_questions=questions)
    kb = report.knowledge_base(h, period)
    assert {k: kb[k] for k in ("quotes", "conversations", "settled", "settled_rate")} == {
        "quotes": 4,
        "conversations": 3,
        "settled": 1,
        "settled_rate": 0.3333,
    }
    assert kb["articles_quoted"] == 2
    assert kb["articles"] == [
        {
            "article_id": "refunds",
            "title": "Refunds v2",
            "quotes": 3,
            "conversations": 2,
            "settled": 1,
            "settled_rate": 0.5,
        },
        {
            "article_id": "returns",
            "title": "Returns",
            "quotes": 1,
            "conversations": 1,
            "settled": 0,
            "settled_rate": 0.0,
        },
    ]
    qs = kb["questions"]
    assert (qs["messages"], qs["without_article"], qs["rate"]) == (3, 2, 0.6667)
    assert qs["by_reason"] == {"requests.refund": 2, "emotions.confusion": 1}
    assert [m["message_id"] for m in qs["recent"]] == [52, 51]  # the most recent first
    empty = report.knowledge_base(History(), period)
    assert (empty["quotes"], empty["settled_rate"], empty["questions"]["rate"]) == (0, None, None)


# -- wired into the desk (SQLite and PostgreSQL) -------------------------------------------------


@pytest.fixture
def kb_desk(desk: Desk) -> Desk:
    knowledge.import_dir(desk, STARTER, actor="system", now=NOW)
    return desk


def test_guidance_cites_articles_only_when_the_customer_lacks_information(
    kb_desk: Desk,
) -> None:
    posted = post(kb_desk, LATE_RETURN).to_dict()
    articles = posted["guidance"]["articles"]
    assert 1 <= len(articles) <= 3
    current = {a.id: a.version for a in knowledge.list_articles(kb_desk)}
    for a in articles:
        assert a["title"] and a["passage"].strip()
        assert a["version"] == current[a["id"]]  # cited with the version it came from
        assert "**" not in a["passage"]  # plain words, ready to insert
    assert "returns-and-replacements" in [a["id"] for a in articles], articles
    abuse = post(kb_desk, "You useless idiots, I hate you all.", customer="c-2").to_dict()
    assert abuse["guidance"]["articles"] == []


def test_a_reply_that_quotes_an_article_is_recorded_and_handed_over(kb_desk: Desk) -> None:
    agent, _ = make_user(kb_desk.store, "ana", "agent")
    first = post(kb_desk, LATE_RETURN)
    conv = first.conversation_id
    passage = next(
        a["passage"]
        for a in first.to_dict()["guidance"]["articles"]
        if a["id"] == "returns-and-replacements"
    )
    plain = actions.send_reply(
        kb_desk, conv, "Thank you, I'm looking into it now.", user=agent, now=NOW
    )
    assert plain["articles"] == []
    later = NOW + timedelta(minutes=5)
    sent = actions.send_reply(
        kb_desk, conv, f"I'm sorry nobody told you. {passage}", user=agent, now=later
    )
    assert sent["articles"] == [{"id": "returns-and-replacements", "version": 1}]
    with kb_desk.store.read() as s:
        rows = [(q.message_id, q.article_id, q.version) for q in s.scalars(select(KbQuote))]
    assert rows == [(sent["message_id"], "returns-and-replacements", 1)]
    # the next customer message's hand-over packet lists it, and so does an escalation
    nxt = post(kb_desk, "I still don't get it.", conversation_id=conv, at=later).to_dict()
    shared = nxt["guidance"]["handover"]["articles"]
    assert [(a["id"], a["version"]) for a in shared] == [("returns-and-replacements", 1)]
    esc = actions.escalate(kb_desk, conv, user=agent, reason="wants an exception", now=later)
    assert [a["id"] for a in esc["packet"]["articles"]] == ["returns-and-replacements"]


def test_the_coach_cites_the_article_for_the_customers_question(kb_desk: Desk) -> None:
    agent, _ = make_user(kb_desk.store, "ana", "agent")
    conv = post(kb_desk, LATE_RETURN).conversation_id
    critique = actions.coach_draft(kb_desk, conv, JARGON, user=agent, now=NOW)
    cited = [f for f in critique["findings"] if "article" in f]
    assert cited and {f["kind"] for f in cited} <= {"jargon", "excuse"}
    suggested = post(kb_desk, LATE_RETURN, customer="c-x").to_dict()["guidance"]["articles"]
    assert cited[0]["article"]["id"] == suggested[0]["id"]  # the best article for the question
    clean = actions.coach_draft(
        kb_desk, conv, "I'll check that for you today.", user=agent, now=NOW
    )
    assert not any("article" in f for f in clean["findings"])


def test_the_report_counts_quotes_settled_and_questions_without_an_article(desk: Desk) -> None:
    supervisor, _ = make_user(desk.store, "sam", "supervisor")
    # no article yet: the customer's question is a gap to write
    gap = post(desk, LATE_RETURN, customer="c-gap")
    assert gap.to_dict()["guidance"]["articles"] == []
    knowledge.import_dir(desk, STARTER, actor="system", now=NOW)
    first = post(desk, LATE_RETURN, customer="c-1")
    passage = first.to_dict()["guidance"]["articles"][0]
    later = NOW + timedelta(minutes=10)
    actions.send_reply(desk, first.conversation_id, passage["passage"], user=supervisor, now=later)
    actions.resolve(desk, first.conversation_id, user=supervisor, resolution="explained", now=later)
    r = reports.summary_for(
        desk, user=supervisor, since="2026-11-01", until="2026-11-30", team=None, agent=None,
        now=NOW + timedelta(days=1),
    )  # fmt: skip
    kb = r["knowledge_base"]
    assert (kb["quotes"], kb["conversations"], kb["settled"]) == (1, 1, 1)
    assert kb["articles"][0]["article_id"] == passage["id"]
    qs = kb["questions"]
    assert (qs["messages"], qs["without_article"]) == (2, 1)
    assert [m["conversation_id"] for m in qs["recent"]] == [gap.conversation_id]


def test_articles_of_old_guidance_are_not_counted_as_gaps(desk: Desk, policy: Any) -> None:
    """A message guided before guidance looked for articles has no ``articles``: unknown."""
    from gracedesk.store.tables import Message

    posted = post(desk, LATE_RETURN)
    with desk.store.write() as s:
        m = s.get_one(Message, posted.message_id)
        m.guidance = {k: v for k, v in (m.guidance or {}).items() if k != "articles"}
    period = reports.period_of("2026-11-01", "2026-11-30", now=NOW)
    assert reports.summary(desk.store, policy, period)["knowledge_base"]["questions"] == {
        "messages": 0,
        "without_article": 0,
        "rate": None,
        "by_reason": {},
        "recent": [],
    }
