"""Answered questions: what customers asked that an article settled, as a second retrieval key.

An article is written once, in the company's words; customers ask the same thing in hundreds of
ways. Each time an agent's reply quotes an article, the customer message it answered is kept as
an *answered question* of that article (and a team can import its past tickets the same way).
A new question is then compared with the article's passages *and* with the questions the article
already answered: "has my card been sent yet" finds "When will my new card arrive?" through the
earlier "still waiting for my card, is it in the post?" even though it shares no word with the
article.

Per article, the score is the mean of its ``k`` most similar answered questions, read two ways:
word overlap (TF-IDF over word unigrams, sublinear term frequency, L2-normalised, the inverse
document frequency taken from the memory itself) and meaning (cosine of sentence vectors, the same
encoder as the passages). Taking the mean of the best few, not the single best, keeps one odd or
mislabelled question from pulling an article up. An article with fewer than ``k`` answered
questions averages the ones it has. An article with none gets no memory score and is ranked by
its passages alone.

Pure: the caller passes the questions and their vectors in; nothing here reads the store.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from gracedesk.knowledge.quotes import words


@dataclass(frozen=True, slots=True)
class MemoryConfig:
    """How answered questions are scored: ``k`` best per article, and the weight of meaning
    against word overlap (``w_sem``; the rest goes to words)."""

    k: int = 5
    w_sem: float = 0.7


class QuestionMemory:
    """The answered questions of a knowledge base, indexed for scoring many queries at once.

    ``articles`` lists the article ids (the columns of :meth:`scores`); ``owners[i]`` is the
    column of question ``i``; ``vectors`` are the questions' unit sentence vectors (see
    :mod:`gracedesk.analysis.sentence`)."""

    def __init__(
        self,
        articles: Sequence[str],
        owners: Sequence[int],
        texts: Sequence[str],
        vectors: NDArray[np.float32],
        config: MemoryConfig = MemoryConfig(),
    ) -> None:
        if len(owners) != len(texts) or len(texts) != len(vectors):
            raise ValueError("owners, texts and vectors must have the same length")
        self.articles = list(articles)
        self.owners = np.asarray(owners, np.int64)
        self.config = config
        self.vectors = np.asarray(vectors, np.float32).reshape(len(texts), -1)
        docs = [Counter(words(t)) for t in texts]
        df: Counter[str] = Counter()
        for d in docs:
            df.update(d.keys())
        self.vocab = {w: i for i, w in enumerate(sorted(df))}
        n = max(len(docs), 1)
        self.idf = np.array([math.log((1 + n) / (1 + df[w])) + 1.0 for w in sorted(df)], np.float32)
        self.tfidf = self._tfidf(docs)

    def __len__(self) -> int:
        return len(self.owners)

    def _tfidf(self, docs: Sequence[Counter[str]]) -> sp.csr_matrix:
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        for r, d in enumerate(docs):
            for w, c in d.items():
                j = self.vocab.get(w)
                if j is not None:
                    rows.append(r)
                    cols.append(j)
                    vals.append((1.0 + math.log(c)) * float(self.idf[j]))
        m = sp.csr_matrix(
            (np.asarray(vals, np.float32), (rows, cols)),
            shape=(len(docs), len(self.vocab)),
            dtype=np.float32,
        )
        norms = np.sqrt(np.asarray(m.multiply(m).sum(1)).ravel())
        norms[norms == 0] = 1.0
        out: sp.csr_matrix = sp.csr_matrix(sp.diags(1.0 / norms) @ m)
        return out

    def scores(
        self, texts: Sequence[str], vectors: NDArray[np.float32]
    ) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
        """For each query, a score per article in [0, 1] (``(n, n_articles)``) and whether the
        article had any answered question to score it by."""
        n, m = len(texts), len(self.articles)
        out = np.zeros((n, m), np.float32)
        has = np.bincount(self.owners, minlength=m) > 0
        if n == 0 or len(self) == 0:
            return out, np.zeros((n, m), np.bool_) | has
        lex = (self._tfidf([Counter(words(t)) for t in texts]) @ self.tfidf.T).toarray()
        sem = np.clip(np.asarray(vectors, np.float32) @ self.vectors.T, 0.0, 1.0)
        mixed = self.config.w_sem * sem + (1.0 - self.config.w_sem) * lex
        k = self.config.k
        sizes = np.bincount(self.owners, minlength=m)
        counts = np.minimum(sizes, k).astype(np.float32)
        counts[counts == 0] = 1.0
        starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        for i in range(n):
            # each article's questions together, best first: the first k of each group count
            order = np.lexsort((-mixed[i], self.owners))
            owner = self.owners[order]
            rank = np.arange(len(order)) - starts[owner]
            keep = rank < k
            sums = np.bincount(owner[keep], weights=mixed[i][order][keep], minlength=m)
            out[i] = sums / counts
        return out, np.broadcast_to(has, (n, m)).copy()
