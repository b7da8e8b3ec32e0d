"""The knowledge base: articles imported and edited as versions, searched by passage, quoted.

    import_dir / save_article  ->  parse (pure)  ->  passages + vectors  ->  one transaction:
                                   kb_articles, kb_versions, kb_passages, full-text rows, audit
    search / suggest            ->  full-text scores (store) + cosines (process cache) -> fuse
    record_quotes               ->  which article passages an agent's reply quoted

Every change is a new version with who made it and why, and an audit event; importing the
same file twice changes nothing (the version's content hash is compared). Functions take the
``Desk`` (only its store is used, so the demo seeding may pass a ``Store``). The passage vectors
live in a per-process cache (:mod:`gracedesk.service.knowledge_index`) that notices changes made
by any process. Times come in as ``now``; ``None`` reads the clock, for entry points that have
no other time (see docs/knowledge.md).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy.exc import IntegrityError

from gracedesk.errors import Conflict, InvalidRequest, NotFound
from gracedesk.knowledge import (
    AUDIENCES,
    Article,
    ArticleInvalid,
    Embedder,
    RankConfig,
    Ranked,
    best_per_article,
    default_embedder,
    embed_text,
    fuse,
    parse,
    passages,
    search_text,
    with_memory,
)
from gracedesk.knowledge.quotes import quoted
from gracedesk.knowledge.triggers import query_terms, reasons, shared_words
from gracedesk.model.staff import Staff
from gracedesk.service import knowledge_index
from gracedesk.service.desk import audit
from gracedesk.service.knowledge_types import (
    ArticleSummary,
    ArticleView,
    KbHit,
    KbImportReport,
    QuestionsReport,
    SharedArticle,
    VersionInfo,
)
from gracedesk.store import Store, fulltext
from gracedesk.store import audit as store_audit
from gracedesk.store import knowledge as kb

if TYPE_CHECKING:
    from sqlalchemy import Row
    from sqlalchemy.orm import Session

    from gracedesk.model import Signals
    from gracedesk.service.desk import Desk

__all__ = [
    "ArticleSummary",
    "ArticleView",
    "KbHit",
    "KbImportReport",
    "SharedArticle",
    "VersionInfo",
    "get_article",
    "import_dir",
    "list_articles",
    "record_quotes",
    "save_article",
    "search",
    "search_many",
    "shared_articles",
    "starter_dir",
    "suggest",
]

QUERY_MAX = 2000  # characters of a query that are read
K_MAX = 50
# a suggestion shares a topic word with the message (title or passage), is this close in
# meaning, and not much further than the best suggestion (an agent reads one or two articles,
# not three where only one fits); checked by hand on the starter set (docs/knowledge.md)
SUGGEST_MIN_COSINE = 0.30
SUGGEST_MAX_BEHIND = 0.15


def starter_dir() -> Path:
    """The starter articles shipped for the demo company (``gracedesk serve --demo``)."""
    return Path(str(resources.files("gracedesk.knowledge").joinpath("starter")))


def _store(desk: Desk | Store) -> Store:
    return desk if isinstance(desk, Store) else desk.store


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def _author(actor: Staff | str) -> str:
    return store_audit.actor_of(actor)[0]


def _audience(audience: str | None) -> str | None:
    if audience is not None and audience not in AUDIENCES:
        raise InvalidRequest(f"audience must be one of {', '.join(AUDIENCES)}, not {audience!r}")
    return audience


# -- writing ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Prepared:
    article: Article
    vectors: np.ndarray[Any, np.dtype[np.float32]]
    source: str


def _prepare(articles: Sequence[tuple[Article, str]], embedder: Embedder) -> list[_Prepared]:
    """Passages embedded in one batch, before the write transaction (never inside the lock)."""
    texts = [embed_text(a, p) for a, _ in articles for p in passages(a)]
    vecs = embedder.embed(texts) if texts else np.zeros((0, 0), np.float32)
    out: list[_Prepared] = []
    i = 0
    for a, source in articles:
        n = len(passages(a))
        out.append(_Prepared(a, vecs[i : i + n], source))
        i += n
    return out


def _put_version(
    s: Session,
    prep: _Prepared,
    *,
    actor: Staff | str,
    reason: str,
    embedder: str,
    now: datetime,
) -> tuple[Row[Any], bool]:
    """A new version of the article in ``s``'s transaction; returns the row and whether it is
    new. Its passages replace the previous version's (older ones stay in ``kb_versions``)."""
    a = prep.article
    new = kb.NewVersion(
        id=a.id,
        title=a.title,
        audience=a.audience,
        updated=a.updated,
        hash=a.hash,
        tags=tuple(a.tags),
        policy_rules=tuple(a.policy_rules),
        markdown=a.markdown,
        passages=tuple(
            kb.NewPassage(
                ordinal=p.ordinal,
                heading=p.heading,
                text=p.text,
                search_text=search_text(a, p),
                start=p.start,
                end=p.end,
                vector=np.ascontiguousarray(v, np.float32).tobytes(),
            )
            for p, v in zip(passages(a), prep.vectors, strict=True)
        ),
    )
    row, created = kb.put_version(
        s.connection(), new, author=_author(actor), reason=reason, embedder=embedder, now=now
    )
    audit(
        s,
        "kb.article_added" if created else "kb.article_updated",
        now=now,
        actor=actor,
        reason=reason or None,
        article_id=a.id,
        version=row.version,
        hash=a.hash,
        source=prep.source,
    )
    return row, created


def import_dir(
    desk: Desk | Store,
    path: Path,
    *,
    actor: Staff | str,
    now: datetime | None = None,
    embedder: Embedder | None = None,
) -> KbImportReport:
    """Import every ``*.md`` of ``path``: new articles, new versions of changed ones; files that
    do not parse are reported (with the reason) and the rest imported. Running it again with
    the same files changes nothing."""
    store, emb, at = _store(desk), embedder or default_embedder(), _now(now)
    if not path.is_dir():
        raise InvalidRequest(f"{path} is not a folder of Markdown articles")
    report = KbImportReport()
    parsed: list[tuple[Article, str]] = []
    seen: dict[str, str] = {}
    for f in sorted(path.glob("*.md")):
        try:
            a = parse(f.read_text(encoding="utf-8"), source=f.name)
        except (ArticleInvalid, UnicodeDecodeError) as exc:
            report.invalid.append((f.name, getattr(exc, "message", str(exc))))
            continue
        if a.id in seen:
            report.invalid.append((f.name, f"id {a.id!r} is also the id of {seen[a.id]}"))
            continue
        seen[a.id] = f.name
        parsed.append((a, f.name))
    with store.read_core() as conn:
        have = {r.id: (r.hash, r.deleted) for r in kb.article_states(conn)}
    changed = [(a, src) for a, src in parsed if have.get(a.id) != (a.hash, False)]
    report.unchanged = sorted(a.id for a, _ in parsed if have.get(a.id) == (a.hash, False))
    if changed:
        prepared = _prepare(changed, emb)
        with store.write() as s:
            for prep in prepared:
                why = f"import {prep.source}"
                _, created = _put_version(
                    s, prep, actor=actor, reason=why, embedder=emb.name, now=at
                )
                (report.added if created else report.updated).append(prep.article.id)
        knowledge_index.forget(store)
    report.added.sort()
    report.updated.sort()
    return report


def save_article(
    desk: Desk | Store,
    markdown: str,
    *,
    actor: Staff | str,
    reason: str = "",
    now: datetime | None = None,
    embedder: Embedder | None = None,
) -> ArticleSummary:
    """Save an article from the editor: a new version when its text changed (validated as an
    imported file is; ``ArticleInvalid`` names the field), the current one when it did not."""
    store, emb, at = _store(desk), embedder or default_embedder(), _now(now)
    if "\x00" in reason:
        raise InvalidRequest("the reason contains a NUL character")
    a = parse(markdown, source="article")
    with store.read_core() as conn:
        row = kb.article(conn, a.id)
        if row is not None and row.hash == a.hash and not row.deleted:
            return _summary(row)
    prep = _prepare([(a, "editor")], emb)[0]
    try:
        with store.write() as s:
            row, _ = _put_version(s, prep, actor=actor, reason=reason, embedder=emb.name, now=at)
            out = _summary(row)
    except IntegrityError as exc:  # the same new article saved twice at once (PostgreSQL)
        raise Conflict(f"article {a.id} was saved by someone else just now; reload it") from exc
    knowledge_index.forget(store)
    return out


# -- reading ---------------------------------------------------------------------------------


def _summary(r: Row[Any]) -> ArticleSummary:
    return ArticleSummary(
        id=r.id,
        title=r.title,
        audience=r.audience,
        tags=tuple(r.tags),
        policy_rules=tuple(r.policy_rules),
        updated=r.updated,
        version=r.version,
        hash=r.hash,
        updated_at=r.updated_at,
        deleted=r.deleted,
    )


def list_articles(
    desk: Desk | Store, *, audience: str | None = None, include_deleted: bool = False
) -> list[ArticleSummary]:
    """Articles by id (not the deleted ones unless asked), optionally of one audience."""
    aud = _audience(audience)
    with _store(desk).read_core() as conn:
        return [
            _summary(r) for r in kb.articles(conn, audience=aud, include_deleted=include_deleted)
        ]


def get_article(desk: Desk | Store, article_id: str, version: int | None = None) -> ArticleView:
    """An article as it is now, or as it was at ``version``, with its list of versions."""
    with _store(desk).read_core() as conn:
        row = kb.article(conn, article_id)
        if row is None:
            raise NotFound(f"no article {article_id!r}")
        rows = list(kb.versions(conn, article_id))
    want = row.version if version is None else version
    shown = next((v for v in rows if v.version == want), None)
    if shown is None:
        raise NotFound(f"article {article_id!r} has no version {version}")
    return ArticleView(
        summary=_summary(row),
        version=want,
        article=parse(shown.markdown, source=f"{article_id} v{want}"),
        versions=tuple(
            VersionInfo(v.version, v.author, v.reason, v.hash, v.created_at) for v in rows
        ),
    )


# -- search ----------------------------------------------------------------------------------


def _query(text: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise InvalidRequest("the query is empty")
    return text[:QUERY_MAX]


@functools.cache
def _pool() -> ThreadPoolExecutor:
    """Where queries are embedded during the full-text lookup (one per process, made on use)."""
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="kb-embed")


def _ranked(
    desk: Desk | Store,
    queries: Sequence[str],
    *,
    k: int,
    audience: str | None,
    config: RankConfig,
    embedder: Embedder | None,
) -> tuple[knowledge_index.PassageIndex, list[list[Ranked]]]:
    if not 1 <= k <= K_MAX:
        raise InvalidRequest(f"k must be between 1 and {K_MAX}")
    store, emb = _store(desk), embedder or default_embedder()
    texts = [_query(q) for q in queries]
    aud = _audience(audience)
    known = knowledge_index.pinned_index(store, emb)
    if known is not None and not known.passages:  # nothing to find, and no need to ask again
        return known, [[] for _ in texts]
    with store.read_core() as conn:
        idx = knowledge_index.current(store, conn, emb)
        if not idx.passages:  # nothing to find: the encoder is not even loaded
            return idx, [[] for _ in texts]
        # the queries are embedded while the database answers (both release the GIL), so a
        # search costs the longer of the two, not their sum
        vectors = None if config.lexical_only else _pool().submit(emb.embed, texts)
        lexical: list[dict[int, float]] = [{} for _ in texts]
        if not config.semantic_only:
            for i, q in enumerate(texts):
                hits = fulltext.search(
                    conn, query_terms(q), config.lexical_depth, common=idx.common
                )
                lexical[i] = {idx.row_of[p]: sc for p, sc in hits if p in idx.row_of}
    qvecs = None if vectors is None else vectors.result()
    cos = None if qvecs is None else qvecs @ idx.vectors.T
    allowed = idx.allowed(aud)
    fused = [fuse(None if cos is None else cos[i], lexical[i], config) for i in range(len(texts))]
    if idx.memory is None or qvecs is None or config.w_memory == 0.0:
        out = [best_per_article(f, idx.article_of, k, allowed) for f in fused]
        return idx, out
    mem, has = idx.memory.scores(texts, qvecs)
    n = len(idx.articles)
    out = [
        with_memory(
            best_per_article(f, idx.article_of, n, allowed),
            mem[i],
            has[i],
            None if cos is None else cos[i],
            idx.article_of,
            config,
            k,
            allowed,
        )
        for i, f in enumerate(fused)
    ]
    return idx, out


def _hit(idx: knowledge_index.PassageIndex, r: Ranked) -> KbHit:
    p, a = idx.passages[r.passage], idx.articles[r.article]
    return KbHit(a.id, a.title, a.version, r.score, p.text, p.heading, p.start, p.end)


def search_many(
    desk: Desk | Store,
    queries: Sequence[str],
    *,
    k: int = 5,
    audience: str | None = None,
    config: RankConfig | None = None,
    embedder: Embedder | None = None,
) -> list[list[KbHit]]:
    """:func:`search` for many queries at once (the queries are embedded in one batch)."""
    idx, ranked = _ranked(
        desk, queries, k=k, audience=audience, config=config or RankConfig(), embedder=embedder
    )
    return [[_hit(idx, r) for r in rs] for rs in ranked]


def search(
    desk: Desk | Store,
    query: str,
    *,
    k: int = 5,
    audience: str | None = None,
    config: RankConfig | None = None,
    embedder: Embedder | None = None,
) -> list[KbHit]:
    """The ``k`` articles that best answer ``query``, each with its best passage, best first."""
    return search_many(desk, [query], k=k, audience=audience, config=config, embedder=embedder)[0]


def suggest(
    desk: Desk | Store,
    text: str,
    signals: Signals | Mapping[str, Any],
    *,
    k: int = 3,
    audience: str | None = "customer",
    embedder: Embedder | None = None,
) -> list[KbHit]:
    """Articles to offer the agent for a customer message, only when the message shows missing
    or misunderstood information, confusion, or asks about a policy (refund, cancellation, an
    exception); and only articles close enough in meaning (or in meaning and words) to the
    message, so that an unrelated article is never shown. See :mod:`gracedesk.knowledge.triggers`.
    """
    if not text.strip() or not reasons(signals):
        return []
    idx, ranked = _ranked(
        desk, [text], k=k, audience=audience, config=RankConfig(), embedder=embedder
    )
    hits = [
        (r, h)
        for r, h in ((r, _hit(idx, r)) for r in ranked[0])
        if r.cosine >= SUGGEST_MIN_COSINE and shared_words(text, f"{h.title}\n{h.passage}")
    ]
    best = max((r.cosine for r, _ in hits), default=0.0)
    return [h for r, h in hits if r.cosine >= best - SUGGEST_MAX_BEHIND]


# -- quotes ----------------------------------------------------------------------------------


def record_quotes(
    desk: Desk | Store, message_id: int, reply_text: str, *, embedder: Embedder | None = None
) -> list[tuple[str, int]]:
    """Record which articles (and versions) an agent's reply quotes; returns them. Recording
    the same message again adds nothing.

    The customer message the reply answered (the conversation's last customer message before
    it) becomes an answered question of each quoted article (:mod:`gracedesk.knowledge.memory`):
    the next customer who asks the same thing in the same words finds the article."""
    store, emb = _store(desk), embedder or default_embedder()
    with store.read_core() as conn:
        idx = knowledge_index.current(store, conn, emb)
    found: list[tuple[str, int]] = []
    for i in quoted(reply_text, [p.text for p in idx.passages]):
        a = idx.articles[idx.passages[i].article]
        if (a.id, a.version) not in found:
            found.append((a.id, a.version))
    if not found:
        return []
    with store.read_core() as conn:
        msg, asked = kb.reply_and_question(conn, message_id)
        if msg is None:
            raise NotFound(f"no message {message_id}")
        question = (asked.id, asked.text[:QUESTION_MAX]) if asked and asked.text.strip() else None
    vector = emb.embed([question[1]])[0] if question else None
    with store.write() as s:
        have = kb.quoted_articles(s.connection(), message_id)
        for article_id, version in found:
            if article_id not in have:
                kb.add_quote(s.connection(), message_id, article_id, version, msg.received_at)
            if question is not None and vector is not None:
                _add_question(
                    s,
                    article_id,
                    question[1],
                    vector,
                    emb.name,
                    source="reply",
                    message_id=question[0],
                    now=msg.received_at,
                )
    return found


QUESTION_MAX = 2000  # characters of a customer message kept as an answered question


def _add_question(
    s: Session,
    article_id: str,
    text: str,
    vector: NDArray[np.float32],
    embedder: str,
    *,
    source: str,
    message_id: int | None,
    now: datetime,
) -> bool:
    """Add one answered question unless the article already has the same text."""
    digest = hashlib.sha256(" ".join(text.split()).lower().encode("utf-8")).hexdigest()
    return kb.add_question(
        s.connection(),
        article_id,
        text,
        digest,
        np.ascontiguousarray(vector, np.float32).tobytes(),
        embedder,
        source=source,
        message_id=message_id,
        now=now,
    )


def add_questions(
    desk: Desk | Store,
    items: Sequence[tuple[str, str]],
    *,
    actor: Staff | str,
    now: datetime | None = None,
    embedder: Embedder | None = None,
) -> QuestionsReport:
    """Add ``(article id, question)`` pairs as answered questions (``gracedesk kb questions``:
    past tickets and the article that settled them). Idempotent: a question an article already
    has is counted as unchanged; a pair naming no article is reported, not stored."""
    store, emb, at = _store(desk), embedder or default_embedder(), _now(now)
    report = QuestionsReport()
    clean = [(a, " ".join(t.split())[:QUESTION_MAX]) for a, t in items]
    with store.read_core() as conn:
        known = kb.live_article_ids(conn)
    todo = [(i, a, t) for i, (a, t) in enumerate(clean) if a in known and t]
    report.unknown = [(i, a) for i, (a, t) in enumerate(clean) if a not in known or not t]
    vectors = emb.embed([t for _, _, t in todo]) if todo else None
    with store.write() as s:
        for (_, a, t), v in zip(todo, vectors if vectors is not None else [], strict=True):
            if _add_question(s, a, t, v, emb.name, source="import", message_id=None, now=at):
                report.added += 1
            else:
                report.unchanged += 1
        if report.added:
            audit(
                s,
                "kb.questions_imported",
                now=at,
                actor=actor,
                reason=f"{report.added} answered question(s) added",
                added=report.added,
                unchanged=report.unchanged,
            )
    return report


def shared_articles(desk: Desk | Store, conversation_id: int) -> list[SharedArticle]:
    """Articles quoted by the replies of a conversation, oldest first (for a hand-over)."""
    with _store(desk).read_core() as conn:
        return [
            SharedArticle(r.article_id, r.title, r.version, r.message_id, r.at)
            for r in kb.shared(conn, conversation_id)
        ]
