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

from sqlalchemy import Connection, Row, Select, bindparam, delete, func, insert, select, update

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
Q, QT, M = table_of(KbQuestion), table_of(KbQuote), table_of(Message)


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


@cache
def _article_by_id(lock: bool) -> Select[Any]:
    q = select(A).where(A.c.id == bindparam("id"))
    return q.with_for_update() if lock else q


def article_states(conn: Connection) -> Sequence[Row[*tuple[Any, ...]]]:
    """``(id, hash, deleted)`` of every article."""
    return conn.execute(select(A.c.id, A.c.hash, A.c.deleted)).all()


def article(conn: Connection, article_id: str) -> Row[Any] | None:
    """The article's row, or ``None``."""
    return conn.execute(_article_by_id(False), {"id": article_id}).first()


def articles(
    conn: Connection, *, audience: str | None = None, include_deleted: bool = False
) -> Sequence[Row[Any]]:
    """Articles by id (not the deleted ones unless asked), optionally of one audience."""
    q = select(A).order_by(A.c.id)
    if audience is not None:
        q = q.where(A.c.audience == audience)
    if not include_deleted:
        q = q.where(A.c.deleted.is_(False))
    return conn.execute(q).all()


def live_article_ids(conn: Connection) -> set[str]:
    """The ids of the articles that are not deleted."""
    return set(conn.execute(select(A.c.id).where(A.c.deleted.is_(False))).scalars())


def versions(conn: Connection, article_id: str) -> Sequence[Row[Any]]:
    """The article's versions, oldest first."""
    return conn.execute(select(V).where(V.c.article_id == article_id).order_by(V.c.version)).all()


def _put_article(conn: Connection, new: NewVersion, now: datetime) -> tuple[int, bool]:
    """The article's row written (locked first when it exists): its new version number and
    whether it is new."""
    row = conn.execute(_article_by_id(True), {"id": new.id}).first()
    values = {
        "title": new.title,
        "audience": new.audience,
        "updated": new.updated,
        "hash": new.hash,
        "tags": list(new.tags),
        "policy_rules": list(new.policy_rules),
        "deleted": False,
        "updated_at": now,
    }
    if row is None:
        conn.execute(insert(A).values(id=new.id, version=1, created_at=now, **values))
        return 1, True
    version = int(row.version) + 1
    conn.execute(update(A).where(A.c.id == new.id).values(version=version, **values))
    return version, False


def put_version(
    conn: Connection,
    new: NewVersion,
    *,
    author: str,
    reason: str,
    embedder: str,
    now: datetime,
) -> tuple[Row[Any], bool]:
    """A new version of the article in the caller's transaction (the article's row locked);
    returns the article's row as now written and whether the article is new. Its passages
    replace the previous version's (older ones stay in ``kb_versions``), in the full-text index
    too."""
    version, created = _put_article(conn, new, now)
    conn.execute(
        insert(V).values(
            article_id=new.id,
            version=version,
            markdown=new.markdown,
            hash=new.hash,
            author=author,
            reason=reason,
            created_at=now,
        )
    )
    old = list(conn.execute(select(P.c.id).where(P.c.article_id == new.id)).scalars())
    fulltext.remove(conn, old)
    conn.execute(delete(P).where(P.c.article_id == new.id))
    if new.passages:
        ids = conn.execute(
            insert(P).returning(P.c.id, sort_by_parameter_order=True),
            [
                {
                    "article_id": new.id,
                    "version": version,
                    "ordinal": p.ordinal,
                    "heading": p.heading,
                    "text": p.text,
                    "search_text": p.search_text,
                    "start": p.start,
                    "end": p.end,
                    "vector": p.vector,
                    "embedder": embedder,
                }
                for p in new.passages
            ],
        ).scalars()
        fulltext.add(
            conn, [(int(i), p.search_text) for i, p in zip(ids, new.passages, strict=True)]
        )
    row = article(conn, new.id)
    assert row is not None
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


@cache
def _message_by_id() -> Select[Any]:
    return select(M.c.id, M.c.conversation_id, M.c.text, M.c.received_at).where(
        M.c.id == bindparam("id")
    )


@cache
def _asked_before() -> Select[Any]:
    return (
        select(M.c.id, M.c.conversation_id, M.c.text, M.c.received_at)
        .where(
            M.c.conversation_id == bindparam("conv"),
            M.c.author == "customer",
            M.c.id < bindparam("id"),
        )
        .order_by(M.c.id.desc())
        .limit(1)
    )


def reply_and_question(
    conn: Connection, message_id: int
) -> tuple[Row[Any] | None, Row[Any] | None]:
    """The reply ``message_id`` (``None``: no such message) and the customer message it
    answered: the conversation's last customer message before it (``None``: there is none).
    Both as ``id, conversation_id, text, received_at``."""
    msg = conn.execute(_message_by_id(), {"id": message_id}).first()
    if msg is None:
        return None, None
    asked = conn.execute(_asked_before(), {"conv": msg.conversation_id, "id": message_id}).first()
    return msg, asked


def quoted_articles(conn: Connection, message_id: int) -> set[str]:
    """The articles already recorded as quoted by the message."""
    return set(conn.execute(select(QT.c.article_id).where(QT.c.message_id == message_id)).scalars())


def add_quote(
    conn: Connection, message_id: int, article_id: str, version: int, at: datetime
) -> None:
    """Record that the message quoted the article's ``version``."""
    conn.execute(
        insert(QT).values(message_id=message_id, article_id=article_id, version=version, at=at)
    )


def shared(conn: Connection, conversation_id: int) -> Sequence[Row[*tuple[Any, ...]]]:
    """The quotes of a conversation's replies, oldest first: ``message_id, article_id,
    version, at`` and the article's ``title``."""
    return conn.execute(
        select(QT.c.message_id, QT.c.article_id, QT.c.version, QT.c.at, A.c.title)
        .join(M, M.c.id == QT.c.message_id)
        .join(A, A.c.id == QT.c.article_id)
        .where(M.c.conversation_id == conversation_id)
        .order_by(QT.c.at, QT.c.id)
    ).all()


# -- answered questions -------------------------------------------------------------------------


def add_question(
    conn: Connection,
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
    exists = conn.execute(
        select(Q.c.id).where(Q.c.article_id == article_id, Q.c.hash == digest)
    ).scalar()
    if exists is not None:
        return False
    conn.execute(
        insert(Q).values(
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
    return True


# -- reports ------------------------------------------------------------------------------------


def report_quotes(
    conn: Connection, conversations: Select[Any], since: datetime, until: datetime
) -> Sequence[Row[*tuple[Any, ...]]]:
    """Quotes of replies in the conversations ``conversations`` selects, made in
    ``[since, until)``: ``message_id, conversation_id, article_id, title, version, at``."""
    return conn.execute(
        select(
            QT.c.message_id,
            M.c.conversation_id,
            QT.c.article_id,
            A.c.title,
            QT.c.version,
            QT.c.at,
        )
        .join(M, M.c.id == QT.c.message_id)
        .join(A, A.c.id == QT.c.article_id)
        .where(M.c.conversation_id.in_(conversations), QT.c.at >= since, QT.c.at < until)
    ).all()


def report_questions(
    conn: Connection, conversations: Select[Any], since: datetime, until: datetime
) -> Sequence[Row[*tuple[Any, ...]]]:
    """The analysed customer messages received in ``[since, until)`` in the conversations
    ``conversations`` selects: ``id, conversation_id, received_at, signals`` and, fifth, the
    guidance's ``articles`` (JSON; ``None`` where guidance has none)."""
    return conn.execute(
        select(
            M.c.id, M.c.conversation_id, M.c.received_at, M.c.signals, M.c.guidance["articles"]
        ).where(
            M.c.conversation_id.in_(conversations),
            M.c.author == "customer",
            M.c.analysis_state == "done",
            M.c.received_at >= since,
            M.c.received_at < until,
        )
    ).all()
