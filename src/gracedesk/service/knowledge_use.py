"""The knowledge base where the desk uses it: guidance, the coach, hand-overs, quotes, edits.

``service.knowledge`` keeps, searches and versions the articles; this module is the wiring
between it and the rest of the desk:

- :func:`for_judgement` gives the pure ``guidance.advise`` the passages that explain what the
  customer did not know (``knowledge.suggest``: only when the message shows missing or
  misunderstood information, confusion or a policy question) and the articles agents already
  quoted in the conversation (for the hand-over packet);
- :func:`for_draft` gives the pure coach the plain wording for a draft's jargon or recited
  policy (``guidance.coach.cite_articles``), searched only when such a finding fired;
- :func:`record_reply` records the articles an agent's reply quoted (``kb_quotes``), after the
  reply is committed, so insights can tell which articles settle questions;
- :func:`save` is the editor's and the API's write: supervisors and admins only, and the id in
  the address must be the id in the front matter.

Guidance never imports the store: it receives :class:`~gracedesk.model.guidance.ArticleRef`
values built here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from gracedesk.errors import InvalidRequest
from gracedesk.guidance.coach import cite_articles, wants_plain_wording
from gracedesk.insights.rows import QuestionRow, QuoteRow
from gracedesk.knowledge import parse, plain
from gracedesk.knowledge.triggers import reasons
from gracedesk.model.guidance import ArticleRef
from gracedesk.model.situation import Situation
from gracedesk.model.staff import Staff
from gracedesk.service import knowledge
from gracedesk.service.records import SUPERVISING, require
from gracedesk.store import knowledge as kb

if TYPE_CHECKING:
    from sqlalchemy import Select
    from sqlalchemy.orm import Session

    from gracedesk.model import Critique, Signals
    from gracedesk.service.desk import Desk

log = logging.getLogger("gracedesk.knowledge")

SUGGESTED = 3  # articles guidance offers for one customer message


@dataclass(frozen=True, slots=True)
class Judgement:
    """What guidance gets from the knowledge base for one customer message."""

    articles: tuple[ArticleRef, ...]  # passages that explain what the customer did not know
    shared: tuple[ArticleRef, ...]  # articles already quoted in the conversation


def ref(hit: knowledge.KbHit) -> ArticleRef:
    """A search hit as guidance cites it: the passage in plain words, ready to insert."""
    return ArticleRef(
        id=hit.article_id,
        title=hit.title,
        version=hit.version,
        passage=plain(hit.passage),
        heading=hit.heading,
        score=round(hit.score, 4),
    )


def suggested(
    desk: Desk, text: str, signals: Signals | Mapping[str, Any], *, k: int = SUGGESTED
) -> list[ArticleRef]:
    """Articles for a customer message, best first; empty unless the message shows a need
    (``knowledge.triggers.reasons``) and an article is close enough in meaning."""
    return [ref(h) for h in knowledge.suggest(desk, text, signals, k=k)]


@dataclass(frozen=True, slots=True)
class Suggestions:
    """Articles for the console's conversation page, and the signals that called for them."""

    articles: tuple[ArticleRef, ...]
    reasons: tuple[str, ...]  # e.g. "causes.lack_of_information", "requests.refund"


def for_conversation(desk: Desk, detail: Mapping[str, Any]) -> Suggestions:
    """Suggested articles for the latest customer message of a conversation (``detail``:
    ``views.conversation_detail``), searched now, so that a message analysed before an
    article was written or changed gets today's wording; none for a resolved conversation."""
    last = next((m for m in reversed(detail["messages"]) if m["author"] == "customer"), None)
    signals = detail.get("signals")
    if detail.get("status") == "resolved" or last is None or not isinstance(signals, Mapping):
        return Suggestions((), ())
    why = tuple(reasons(signals))
    if not why:
        return Suggestions((), ())
    return Suggestions(tuple(suggested(desk, last["text"], signals)), why)


def shared(desk: Desk, conversation_id: int) -> list[ArticleRef]:
    """The articles agents quoted in the conversation, once each (the latest version quoted),
    in the order they were first shared."""
    out: dict[str, ArticleRef] = {}
    for a in knowledge.shared_articles(desk, conversation_id):
        first = out.get(a.article_id)
        if first is None or a.version > first.version:
            out[a.article_id] = ArticleRef(a.article_id, a.title, a.version)
    return list(out.values())


def for_judgement(
    desk: Desk,
    conversation_id: int,
    text: str,
    signals: Signals,
    situation: Situation,
) -> Judgement:
    """The articles for guidance on one customer message (without an agent turn in the
    conversation nothing can have been shared, and nothing is read)."""
    replied = any(t.role == "agent" for t in situation.turns)
    return Judgement(
        articles=tuple(suggested(desk, text, signals)),
        shared=tuple(shared(desk, conversation_id)) if replied else (),
    )


def for_draft(
    desk: Desk,
    critique: Critique,
    *,
    customer_text: str | None,
    signals: Signals | Mapping[str, Any] | None,
) -> Critique:
    """The coach's critique with the article that answers the customer's question on each
    jargon or policy-recital finding. The knowledge base is searched only when such a finding
    fired, and only for a customer message that calls for an article (as guidance does)."""
    if not any(wants_plain_wording(f) for f in critique.findings):
        return critique
    if not customer_text or signals is None:
        return critique
    return cite_articles(critique, suggested(desk, customer_text, signals, k=1))


def record_reply(desk: Desk, message_id: int, text: str) -> list[tuple[str, int]]:
    """Record the articles a committed agent reply quotes; returns ``(article id, version)``.

    Called after the reply's own transaction: the reply is stored and on its way, so a store
    that fails here must not turn its answer into an error (a client would send it again). The
    failure (the store, the sentence encoder, anything) is logged with the ids only, and the
    reply counts as quoting nothing."""
    try:
        return knowledge.record_quotes(desk, message_id, text)
    except Exception as exc:  # the reply is already committed (see above)
        log.warning(
            "the articles quoted by reply %s could not be recorded (%s)",
            message_id,
            type(exc).__name__,
        )
        return []


def save(
    desk: Desk, markdown: str, *, user: Staff, reason: str = "", article_id: str | None = None
) -> knowledge.ArticleSummary:
    """Save an edited article as a new version (supervisors and admins). ``article_id``: the
    article the editor or the API address names; the front matter must name the same one."""
    require(user, *SUPERVISING)
    if article_id is not None:
        found = parse(markdown, source="article").id
        if found != article_id:
            raise InvalidRequest(
                f"the front matter's id is {found!r} but the address names {article_id!r}: "
                "an article's id cannot be changed by editing it"
            )
    return knowledge.save_article(desk, markdown, actor=user, reason=reason.strip())


def report_rows(
    s: Session, conversations: Select[Any], since: datetime, until: datetime
) -> tuple[list[QuoteRow], list[QuestionRow]]:
    """The report's knowledge-base rows for the conversations ``conversations`` selects:
    the quotes of replies sent in ``[since, until)``, and the analysed customer messages of the
    period that called for an article with how many guidance found. A message guided before
    guidance looked for articles (no ``articles`` in its guidance) is not a question here."""
    conn = s.connection()
    quotes = [
        QuoteRow(r.message_id, r.conversation_id, r.article_id, r.title, r.version, r.at)
        for r in kb.report_quotes(conn, conversations, since, until)
    ]
    questions = []
    for r in kb.report_questions(conn, conversations, since, until):
        found, signals = r[4], r.signals
        why = reasons(signals) if isinstance(signals, Mapping) else []
        if why and isinstance(found, list):
            questions.append(
                QuestionRow(r.id, r.conversation_id, r.received_at, tuple(why), len(found))
            )
    return quotes, questions
