"""The in-process passage index behind knowledge-base search: vectors in memory, text in the DB.

Search needs every passage's vector for one matrix product per query; reading them from the
database per query would cost more than the search. So each process keeps one
:class:`PassageIndex` per store and embedder, and checks before each use that it is current:
every import or save adds a ``kb_versions`` row, so ``(count, max(id))`` of that table is a
version counter that changes whenever a passage can have changed (in this process or another);
the same pair of ``kb_questions`` versions the answered questions (deleting a customer's
questions on erasure lowers the count).
Passages stored with another embedder's vectors (or none) are embedded again, in memory only.
"""

from __future__ import annotations

import threading
import weakref
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from gracedesk.knowledge import Embedder
from gracedesk.knowledge.memory import QuestionMemory
from gracedesk.knowledge.passage import embed_text_of
from gracedesk.knowledge.triggers import query_terms
from gracedesk.store import Store
from gracedesk.store import knowledge as kb

if TYPE_CHECKING:
    from sqlalchemy import Connection


@dataclass(frozen=True, slots=True)
class IndexedArticle:
    id: str
    title: str
    version: int
    audience: str


@dataclass(frozen=True, slots=True)
class IndexedPassage:
    id: int
    article: int  # index into PassageIndex.articles
    heading: str | None
    text: str
    start: int
    end: int


@dataclass(slots=True)
class PassageIndex:
    """The current passages of every article that is not deleted, and their vectors."""

    counter: tuple[int, ...]
    embedder: str
    articles: list[IndexedArticle]
    passages: list[IndexedPassage]
    vectors: NDArray[np.float32]  # (n passages, d), L2-normalised
    article_of: NDArray[np.int64]
    row_of: dict[int, int]  # passage id -> row
    memory: QuestionMemory | None = None  # the answered questions, when there are any
    common: frozenset[str] = frozenset()  # words in more than COMMON_SHARE of the passages
    _masks: dict[str, NDArray[np.bool_]] = field(default_factory=dict)

    def allowed(self, audience: str | None) -> NDArray[np.bool_] | None:
        """Rows of passages whose article is for ``audience`` (``None``: every row)."""
        if audience is None:
            return None
        mask = self._masks.get(audience)
        if mask is None:
            ok = np.array([a.audience == audience for a in self.articles], np.bool_)
            mask = self._masks[audience] = (
                ok[self.article_of] if len(self.passages) else np.zeros(0, np.bool_)
            )
        return mask


COMMON_SHARE = 0.2  # a word in more passages than this says little about which one answers
COMMON_MIN_PASSAGES = 50  # ... judged only when there are this many passages


def common_words(texts: list[str]) -> frozenset[str]:
    """Words (as :func:`gracedesk.knowledge.triggers.query_terms` reads them) found in more than
    :data:`COMMON_SHARE` of ``texts``: left out of full-text queries, where they cost the most
    (every passage that has them is ranked) and weigh the least (BM25's IDF; PostgreSQL's
    ``ts_rank_cd`` has no IDF and would rank by them as by a rare word)."""
    if len(texts) < COMMON_MIN_PASSAGES:
        return frozenset()
    df: Counter[str] = Counter()
    for t in texts:
        df.update(set(query_terms(t)))
    limit = COMMON_SHARE * len(texts)
    return frozenset(w for w, n in df.items() if n > limit)


_CACHE: weakref.WeakKeyDictionary[Store, dict[str, PassageIndex]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


# within ``pinned()``: the indexes already checked, by (store, embedder name)
_PINNED: ContextVar[dict[tuple[int, str], PassageIndex] | None] = ContextVar(
    "gracedesk_kb_pinned", default=None
)


@contextmanager
def pinned() -> Iterator[None]:
    """Within: each store's index is checked for changes once, not on every search (the
    worker's micro-batch reads the knowledge base as it was when the batch began)."""
    token = _PINNED.set({})
    try:
        yield
    finally:
        _PINNED.reset(token)


def pinned_index(store: Store, embedder: Embedder) -> PassageIndex | None:
    """The index :func:`current` already gave within ``pinned()``, else None."""
    pins = _PINNED.get()
    return None if pins is None else pins.get((id(store), embedder.name))


def current(store: Store, conn: Connection, embedder: Embedder) -> PassageIndex:
    """This process's index for ``store`` and ``embedder``, reloaded when the KB changed."""
    pins = _PINNED.get()
    if pins is not None and (id(store), embedder.name) in pins:
        return pins[(id(store), embedder.name)]
    now = kb.index_counter(conn)
    with _LOCK:
        idx = _CACHE.get(store, {}).get(embedder.name)
    if idx is None or idx.counter != now:
        idx = _load(conn, now, embedder)
        with _LOCK:
            _CACHE.setdefault(store, {})[embedder.name] = idx
    if pins is not None:
        pins[(id(store), embedder.name)] = idx
    return idx


def forget(store: Store) -> None:
    """Drop the store's indexes (after a write in this process; others see the counter)."""
    with _LOCK:
        _CACHE.pop(store, None)


def _load(conn: Connection, count: tuple[int, ...], embedder: Embedder) -> PassageIndex:
    rows = kb.index_passages(conn)
    articles: list[IndexedArticle] = []
    where: dict[str, int] = {}
    passages: list[IndexedPassage] = []
    for r in rows:
        if r.article_id not in where:
            where[r.article_id] = len(articles)
            articles.append(IndexedArticle(r.article_id, r.title, r.version, r.audience))
        passages.append(
            IndexedPassage(r.id, where[r.article_id], r.heading, r.text, r.start, r.end)
        )
    matrix = _vectors(rows, lambda r: embed_text_of(r.title, r.heading, r.text), embedder)
    memory = _memory(conn, articles, where, embedder)
    return PassageIndex(
        counter=count,
        embedder=embedder.name,
        articles=articles,
        passages=passages,
        vectors=matrix,
        article_of=np.array([p.article for p in passages], np.int64),
        row_of={p.id: i for i, p in enumerate(passages)},
        common=common_words([r.search_text for r in rows]),
        memory=memory,
    )


def _memory(
    conn: Connection, articles: list[IndexedArticle], where: dict[str, int], embedder: Embedder
) -> QuestionMemory | None:
    """The answered questions of the articles in the index (none: ``None``)."""
    rows = [r for r in kb.index_questions(conn) if r.article_id in where]
    if not rows:
        return None
    return QuestionMemory(
        [a.id for a in articles],
        [where[r.article_id] for r in rows],
        [r.text for r in rows],
        _vectors(rows, lambda r: str(r.text), embedder),
    )


def _vectors(
    rows: Sequence[Any], text_of: Callable[[Any], str], embedder: Embedder
) -> NDArray[np.float32]:
    """The stored vectors of ``rows`` (``vector``, ``embedder`` columns) as one matrix; rows
    stored by another embedder, or none, are embedded again from ``text_of(row)`` (in memory
    only)."""
    vecs: list[NDArray[np.float32] | None] = [
        np.frombuffer(r.vector, np.float32)
        if r.embedder == embedder.name and r.vector is not None
        else None
        for r in rows
    ]
    redo = [i for i, v in enumerate(vecs) if v is None]
    if redo:
        for i, v in zip(redo, embedder.embed([text_of(rows[i]) for i in redo]), strict=True):
            vecs[i] = v
    if not vecs:
        return np.zeros((0, 0), np.float32)
    return np.stack([v for v in vecs if v is not None]).astype(np.float32)
