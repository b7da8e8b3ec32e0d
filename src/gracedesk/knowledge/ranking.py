"""Hybrid ranking of passages: full-text (BM25-like) and meaning (sentence vectors), fused.

Full-text finds the passage that shares the customer's words ("chargeback", "PIN"); the sentence
encoder finds the one that means the same in other words ("I was charged twice" for "duplicate
payment"). Neither list's raw scores are comparable (bm25 is unbounded, cosines cluster), so by
default each is min-max normalised over the query's candidates and mixed::

    score = w_sem * semantic + (1 - w_sem) * lexical          (method="weighted")

or the two rankings are combined by reciprocal-rank fusion (``method="rrf"``:
``sum 1 / (rrf_k + rank)``, which ignores score gaps). Passages are then grouped by article and
each article is represented by its best passage. Everything here is pure: the store supplies the
lexical scores, the caller the vectors. ``RankConfig`` is the one place the weights live, so the
Banking77 evaluation (``train/eval_kb_banking77.py``) can tune them.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

METHODS = ("weighted", "rrf")
MEMO = 4096  # texts whose vectors an embedder remembers (1.5 KB each)


class Embedder(Protocol):
    """Texts to L2-normalised sentence vectors ``(n, d)``; ``name`` versions the stored vectors
    (passages embedded by another name are embedded again before they are compared)."""

    name: str

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]: ...


class SentenceEmbedder:
    """all-MiniLM-L6-v2 as trained for sentence similarity (:mod:`gracedesk.analysis.sentence`),
    loaded on first use, once per process.

    Not the accurate tier's fine-tuned encoder: fine-tuning for emotions and abuse left its
    pooled vectors with little of what a text is about (Banking77, meaning only: 0.07 of
    questions find their article at rank 1, against 0.69 with this model; docs/knowledge.md).

    The vectors of the last ``CACHE`` texts are remembered: the conversation page asks for the
    same message's suggestions at every view."""

    name = "all-minilm-l6-v2-int8/1"
    CACHE = 4096

    def __init__(self) -> None:
        self._seen: OrderedDict[str, NDArray[np.float32]] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        # imported here: loading the model costs ~0.3 s and most processes never search
        # lazy: the sentence encoder costs ~0.3 s to load; most processes never rank
        from gracedesk.analysis.sentence import DIM, get_sentence_encoder

        out = np.zeros((len(texts), DIM), np.float32)
        with self._lock:
            todo = []
            for i, t in enumerate(texts):
                v = self._seen.get(t)
                if v is None:
                    todo.append(i)
                else:
                    self._seen.move_to_end(t)
                    out[i] = v
        if todo:
            fresh = get_sentence_encoder().embed([texts[i] for i in todo])
            out[todo] = fresh
            with self._lock:
                for i, v in zip(todo, fresh, strict=True):
                    self._seen[texts[i]] = v
                while len(self._seen) > self.CACHE:
                    self._seen.popitem(last=False)
        return out


@functools.cache
def default_embedder() -> SentenceEmbedder:
    return SentenceEmbedder()


def normalise_rows(vecs: NDArray[np.float32]) -> NDArray[np.float32]:
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    out: NDArray[np.float32] = (vecs / np.maximum(norms, 1e-12)).astype(np.float32)
    return out


@dataclass(frozen=True, slots=True)
class RankConfig:
    """How the two lists are fused. ``w_sem=0`` is full-text only (the BM25 baseline; the query
    is then not embedded), ``w_sem=1`` meaning only."""

    method: str = "weighted"  # weighted | rrf
    w_sem: float = 0.8  # tuned on Banking77 questions outside the dev split (docs/knowledge.md)
    rrf_k: float = 60.0
    lexical_depth: int = 100  # full-text hits fetched per query
    semantic_depth: int = 100  # best passages by cosine taken as candidates
    # where an article has answered questions (gracedesk.knowledge.memory), their share of its
    # score; tuned on Banking77 questions outside the dev split (docs/knowledge.md)
    w_memory: float = 0.8

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, not {self.method!r}")
        if not 0.0 <= self.w_sem <= 1.0:
            raise ValueError("w_sem must be in [0, 1]")
        if not 0.0 <= self.w_memory <= 1.0:
            raise ValueError("w_memory must be in [0, 1]")

    @property
    def lexical_only(self) -> bool:
        return self.w_sem == 0.0

    @property
    def semantic_only(self) -> bool:
        return self.w_sem == 1.0


@dataclass(frozen=True, slots=True)
class Ranked:
    """One article's best passage for a query: ``passage`` indexes the caller's passage list.
    ``cosine`` is the raw similarity (comparable across queries, unlike the fused score)."""

    passage: int
    article: int
    score: float
    cosine: float
    lexical: float


def _minmax(values: NDArray[np.float64]) -> NDArray[np.float64]:
    if values.size == 0:
        return values
    lo, hi = float(values.min()), float(values.max())
    if hi - lo < 1e-12:
        return np.ones_like(values)
    out: NDArray[np.float64] = (values - lo) / (hi - lo)
    return out


def fuse(
    cosines: NDArray[np.float32] | None,
    lexical: Mapping[int, float],
    config: RankConfig,
) -> dict[int, tuple[float, float, float]]:
    """Candidate passage -> (fused score, cosine, raw lexical score) for one query.

    ``cosines``: the query's cosine with every passage (``None`` for full-text only);
    ``lexical``: passage -> full-text score (higher is better) for the passages that matched.
    """
    if cosines is None or config.lexical_only:
        cands = np.fromiter(lexical.keys(), np.int64, len(lexical))
    else:
        depth = min(config.semantic_depth, cosines.shape[0])
        top = np.argpartition(-cosines, depth - 1)[:depth] if depth else np.zeros(0, np.int64)
        cands = np.union1d(top, np.fromiter(lexical.keys(), np.int64, len(lexical)))
    if cands.size == 0:
        return {}
    lex = np.array([lexical.get(int(i), 0.0) for i in cands], np.float64)
    cos = cosines[cands].astype(np.float64) if cosines is not None else np.zeros(cands.size)
    if config.method == "rrf":
        fused = _rrf(cos, lex, config, semantic=cosines is not None)
    else:
        lex_n = np.zeros_like(lex)
        hit = np.array([int(i) in lexical for i in cands])
        lex_n[hit] = _minmax(lex[hit])
        w = 0.0 if cosines is None else config.w_sem
        fused = w * (_minmax(cos) if w else 0.0) + (1.0 - w) * lex_n
    return {
        int(i): (float(f), float(c), float(x))
        for i, f, c, x in zip(cands, fused, cos, lex, strict=True)
    }


def _rrf(
    cos: NDArray[np.float64], lex: NDArray[np.float64], config: RankConfig, *, semantic: bool
) -> NDArray[np.float64]:
    n = cos.size
    out = np.zeros(n)
    if semantic and not config.lexical_only:
        rank = np.empty(n)
        rank[np.argsort(-cos, kind="stable")] = np.arange(1, n + 1)
        out += config.w_sem * 2 / (config.rrf_k + rank)
    if not config.semantic_only:
        order = np.argsort(-lex, kind="stable")
        rank = np.empty(n)
        rank[order] = np.arange(1, n + 1)
        hit = lex > 0
        out += np.where(hit, (1 - config.w_sem) * 2 / (config.rrf_k + rank), 0.0)
    return out


def best_per_article(
    scored: Mapping[int, tuple[float, float, float]],
    article_of: NDArray[np.int64],
    k: int,
    allowed: NDArray[np.bool_] | None = None,
) -> list[Ranked]:
    """The ``k`` best articles, each with its best passage (ties: the earlier passage)."""
    best: dict[int, Ranked] = {}
    for p in sorted(scored):
        if allowed is not None and not allowed[p]:
            continue
        f, c, x = scored[p]
        a = int(article_of[p])
        if a not in best or f > best[a].score:
            best[a] = Ranked(p, a, f, c, x)
    return sorted(best.values(), key=lambda r: (-r.score, r.passage))[:k]


def with_memory(
    ranked: Sequence[Ranked],
    memory: NDArray[np.float32],
    has: NDArray[np.bool_],
    cosines: NDArray[np.float32] | None,
    article_of: NDArray[np.int64],
    config: RankConfig,
    k: int,
    allowed: NDArray[np.bool_] | None = None,
) -> list[Ranked]:
    """Articles ranked by their passages *and* the questions they answered before.

    ``ranked`` holds every candidate article with its best passage (:func:`best_per_article`
    with a large ``k``); ``memory``/``has`` are one query's row of
    :meth:`gracedesk.knowledge.memory.QuestionMemory.scores`. Where an article has answered
    questions its score is ``w_memory * memory + (1 - w_memory) * passages`` (the memory
    min-max normalised over the articles that have one); where it has none, its passage score
    alone. An article found only through its questions is shown with its passage closest in
    meaning to the query (its first passage for full-text only)."""
    by_article = {r.article: r for r in ranked}
    n = len(memory)
    passages = np.zeros(n)
    for r in ranked:
        passages[r.article] = r.score
    mem = memory.astype(np.float64)
    if has.any():
        lo, hi = float(mem[has].min()), float(mem[has].max())
        mem = (mem - lo) / (hi - lo) if hi - lo > 1e-12 else np.where(has, 1.0, 0.0)
    w = config.w_memory
    score = np.where(has, w * mem + (1.0 - w) * passages, passages)
    eligible = has.copy()
    eligible[list(by_article)] = True
    if allowed is not None:
        ok = np.zeros(n, np.bool_)
        ok[article_of[allowed]] = True
        eligible &= ok
    cands = np.flatnonzero(eligible)
    out: list[Ranked] = []
    for a in cands[np.argsort(-score[cands], kind="stable")][:k]:
        found = by_article.get(int(a))
        if found is None:  # found through its questions only: its passage closest to the query
            rows = np.flatnonzero(article_of == a)
            if allowed is not None:
                rows = rows[allowed[rows]]
            p = int(rows[np.argmax(cosines[rows])]) if cosines is not None else int(rows[0])
            c = float(cosines[p]) if cosines is not None else 0.0
            found = Ranked(p, int(a), 0.0, c, 0.0)
        out.append(
            Ranked(found.passage, found.article, float(score[a]), found.cosine, found.lexical)
        )
    return out
