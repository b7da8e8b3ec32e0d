"""The knowledge base: articles and their versions, passages (text, vectors and full-text rows),
quotes of articles in agents' replies, and answered questions.

The service (:mod:`gracedesk.service.knowledge` and its neighbours) parses, embeds and ranks;
this module only reads and writes the rows, in the caller's transaction.

Articles and versions
    :func:`article_states` (id, hash, deleted of every article), :func:`article` (one),
    :func:`articles` (by id, of one audience, deleted ones on request),
    :func:`live_article_ids`, :func:`versions` (of one article, oldest first) and
    :func:`put_version` (a new version: the article row, its ``kb_versions`` row, and its
    passages with their full-text rows replacing the previous version's).
Passage index (the per-process index of :mod:`gracedesk.service.knowledge_index`)
    :func:`index_counter` (changes whenever a passage or an answered question can have
    changed), :func:`index_passages` (current passages of the articles not deleted, with their
    article) and :func:`index_questions` (every answered question); full-text search itself is
    :func:`gracedesk.store.fulltext.search`.
Quotes
    :func:`reply_and_question` (a reply and the customer message it answered),
    :func:`quoted_articles`, :func:`add_quote`, :func:`shared` (the quotes of a conversation,
    oldest first).
Answered questions
    :func:`add_question` (unless the article already has one with the same hash).
Reports
    :func:`report_quotes` and :func:`report_questions` (rows for the desk's report).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Row, Select, delete, func, select
from sqlalchemy.orm import Session

from gracedesk.store import fulltext
from gracedesk.store.tables import (
    KbArticle,
    KbPassage,
    KbQuestion,
    KbQuote,
    KbVersion,
    Message,
    table_of,
)

A, P, V = table_of(KbArticle), table_of(KbPassage), table_of(KbVersion)
Q = table_of(KbQuestion)


# -- articles and versions ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewPassage:
    """One passage of a new version (``vector``: float32 bytes)."""

    ordinal: int
    heading: str | None
    text: str
    search_text: str
    start: int
    end: int
    vector: bytes


@dataclass(frozen=True, slots=True)
class NewVersion:
    """A new version of an article, as parsed, with its passages."""

    id: str
    title: str
    audience: str
    updated: date
    hash: str
    tags: tuple[str, ...]
    policy_rules: tuple[str, ...]
    markdown: str
    passages: tuple[NewPassage, ...]


def article_states(s: Session) -> Sequence[Row[str, str, bool]]:
    """``(id, hash, deleted)`` of every article."""
    return s.execute(select(KbArticle.id, KbArticle.hash, KbArticle.deleted)).all()


def article(s: Session, article_id: str) -> KbArticle | None:
    """The article's row, or ``None``."""
    return s.get(KbArticle, article_id)


def articles(
    s: Session, *, audience: str | None = None, include_deleted: bool = False
) -> Sequence[KbArticle]:
    """Articles by id (not the deleted ones unless asked), optionally of one audience."""
    q = select(KbArticle).order_by(KbArticle.id)
    if audience is not None:
        q = q.where(KbArticle.audience == audience)
    if not include_deleted:
        q = q.where(KbArticle.deleted.is_(False))
    return s.scalars(q).all()


def live_article_ids(s: Session) -> set[str]:
    """The ids of the articles that are not deleted."""
    return set(s.scalars(select(KbArticle.id).where(KbArticle.deleted.is_(False))))


def versions(s: Session, article_id: str) -> Sequence[KbVersion]:
    """The article's versions, oldest first."""
    return s.scalars(
        select(KbVersion).where(KbVersion.article_id == article_id).order_by(KbVersion.version)
    ).all()


def put_version(
    s: Session,
    new: NewVersion,
    *,
    author: str,
    reason: str,
    embedder: str,
    now: datetime,
) -> tuple[KbArticle, bool]:
    """A new version of the article in ``s``'s transaction (the article's row locked); returns
    the row and whether the article is new. Its passages replace the previous version's (older
    ones stay in ``kb_versions``), in the full-text index too."""
    row = s.get(KbArticle, new.id, with_for_update=True)
    created = row is None
    if row is None:
        row = KbArticle(id=new.id, version=0, created_at=now)
        s.add(row)
    row.version += 1
    row.title, row.audience, row.updated, row.hash = new.title, new.audience, new.updated, new.hash
    row.tags, row.policy_rules = list(new.tags), list(new.policy_rules)
    row.deleted, row.updated_at = False, now
    s.flush()
    s.add(
        KbVersion(
            article_id=new.id,
            version=row.version,
            markdown=new.markdown,
            hash=new.hash,
            author=author,
            reason=reason,
            created_at=now,
        )
    )
    conn = s.connection()
    old = list(s.scalars(select(KbPassage.id).where(KbPassage.article_id == new.id)))
    fulltext.remove(conn, old)
    s.execute(delete(KbPassage).where(KbPassage.article_id == new.id))
    rows = [
        KbPassage(
            article_id=new.id,
            version=row.version,
            ordinal=p.ordinal,
            heading=p.heading,
            text=p.text,
            search_text=p.search_text,
            start=p.start,
            end=p.end,
            vector=p.vector,
            embedder=embedder,
        )
        for p in new.passages
    ]
    s.add_all(rows)
    s.flush()
    fulltext.add(conn, [(p.id, p.search_text) for p in rows])
    return row, created


# -- the passage index --------------------------------------------------------------------------


@cache
def _counters() -> tuple[Select[Any], Select[Any]]:
    return (
        select(func.count(V.c.id), func.coalesce(func.max(V.c.id), 0)),
        select(func.count(Q.c.id), func.coalesce(func.max(Q.c.id), 0)),
    )


def index_counter(conn: Connection) -> tuple[int, ...]:
    """``(count, max id)`` of ``kb_versions`` and of ``kb_questions``: every import or save
    adds a version, every answered question a row (an erasure deletes some: the count drops)."""
    versions_q, questions_q = _counters()
    v = conn.execute(versions_q).one()
    q = conn.execute(questions_q).one()
    return int(v[0]), int(v[1]), int(q[0]), int(q[1])


def index_passages(conn: Connection) -> Sequence[Row[*tuple[Any, ...]]]:
    """The passages of the articles that are not deleted, by article and position: passage
    ``id, article_id, heading, text, start, end, vector, embedder, search_text`` and the
    article's ``title, version, audience``."""
    return conn.execute(
        select(
            P.c.id,
            P.c.article_id,
            P.c.heading,
            P.c.text,
            P.c.start,
            P.c.end,
            P.c.vector,
            P.c.embedder,
            P.c.search_text,
            A.c.title,
            A.c.version,
            A.c.audience,
        )
        .join(A, A.c.id == P.c.article_id)
        .where(A.c.deleted.is_(False))
        .order_by(P.c.article_id, P.c.ordinal)
    ).all()


def index_questions(conn: Connection) -> Sequence[Row[Any, Any, Any, Any]]:
    """Every answered question (``article_id, text, vector, embedder``), oldest first."""
    return conn.execute(
        select(Q.c.article_id, Q.c.text, Q.c.vector, Q.c.embedder).order_by(Q.c.id)
    ).all()


# -- quotes -------------------------------------------------------------------------------------


def reply_and_question(s: Session, message_id: int) -> tuple[Message | None, Message | None]:
    """The reply ``message_id`` (``None``: no such message) and the customer message it
    answered: the conversation's last customer message before it (``None``: there is none)."""
    msg = s.get(Message, message_id)
    if msg is None:
        return None, None
    asked = s.scalars(
        select(Message)
        .where(
            Message.conversation_id == msg.conversation_id,
            Message.author == "customer",
            Message.id < message_id,
        )
        .order_by(Message.id.desc())
        .limit(1)
    ).first()
    return msg, asked


def quoted_articles(s: Session, message_id: int) -> set[str]:
    """The articles already recorded as quoted by the message."""
    return set(s.scalars(select(KbQuote.article_id).where(KbQuote.message_id == message_id)))


def add_quote(s: Session, message_id: int, article_id: str, version: int, at: datetime) -> None:
    """Record that the message quoted the article's ``version``."""
    s.add(KbQuote(message_id=message_id, article_id=article_id, version=version, at=at))


def shared(s: Session, conversation_id: int) -> Sequence[Row[KbQuote, str]]:
    """The quotes of a conversation's replies with their article's title, oldest first."""
    return s.execute(
        select(KbQuote, KbArticle.title)
        .join(Message, Message.id == KbQuote.message_id)
        .join(KbArticle, KbArticle.id == KbQuote.article_id)
        .where(Message.conversation_id == conversation_id)
        .order_by(KbQuote.at, KbQuote.id)
    ).all()


# -- answered questions -------------------------------------------------------------------------


def add_question(
    s: Session,
    article_id: str,
    text: str,
    digest: str,
    vector: bytes,
    embedder: str,
    *,
    source: str,
    message_id: int | None,
    now: datetime,
) -> bool:
    """Add one answered question unless the article already has one with the hash ``digest``;
    returns whether it was added."""
    exists = s.scalar(
        select(KbQuestion.id).where(KbQuestion.article_id == article_id, KbQuestion.hash == digest)
    )
    if exists is not None:
        return False
    s.add(
        KbQuestion(
            article_id=article_id,
            text=text,
            hash=digest,
            source=source,
            message_id=message_id,
            vector=vector,
            embedder=embedder,
            created_at=now,
        )
    )
    s.flush()  # the unique (article, hash) is checked by the next lookup in this session
    return True


# -- reports ------------------------------------------------------------------------------------


def report_quotes(
    s: Session, conversations: Select[Any], since: datetime, until: datetime
) -> Sequence[Row[int, int, str, str, int, datetime]]:
    """Quotes of replies in the conversations ``conversations`` selects, made in
    ``[since, until)``: ``message_id, conversation_id, article_id, title, version, at``."""
    M = Message
    return s.execute(
        select(
            KbQuote.message_id,
            M.conversation_id,
            KbQuote.article_id,
            KbArticle.title,
            KbQuote.version,
            KbQuote.at,
        )
        .join(M, M.id == KbQuote.message_id)
        .join(KbArticle, KbArticle.id == KbQuote.article_id)
        .where(M.conversation_id.in_(conversations), KbQuote.at >= since, KbQuote.at < until)
    ).all()


def report_questions(
    s: Session, conversations: Select[Any], since: datetime, until: datetime
) -> Sequence[Row[int, int, datetime, dict[str, Any] | None, Any]]:
    """The analysed customer messages received in ``[since, until)`` in the conversations
    ``conversations`` selects: ``id, conversation_id, received_at, signals`` and, fifth, the
    guidance's ``articles`` (JSON; ``None`` where guidance has none)."""
    M = Message
    return s.execute(
        select(M.id, M.conversation_id, M.received_at, M.signals, M.guidance["articles"]).where(
            M.conversation_id.in_(conversations),
            M.author == "customer",
            M.analysis_state == "done",
            M.received_at >= since,
            M.received_at < until,
        )
    ).all()
