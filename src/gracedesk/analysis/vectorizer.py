"""Word unigram + bigram features over a fixed vocabulary, computed for a whole batch at once.

Unigrams are looked up in a dict; bigrams are found with one vectorised ``searchsorted`` over
``left_id * n_unigrams + right_id`` keys. Each document's features are weighted
``1 / sqrt(n_tokens)``; repeated words add up. The same flat arrays feed training (as a CSR
matrix) and inference (as an embedding-bag sum), so both see exactly the same numbers.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class Batch:
    """Flat features of a batch: document ``i`` owns ``ids[ptr[i]:ptr[i+1]]``."""

    ids: NDArray[np.int64]
    values: NDArray[np.float32]
    ptr: NDArray[np.int64]

    @property
    def n_docs(self) -> int:
        return len(self.ptr) - 1


class Vectorizer:
    """Maps token lists to feature ids. Build with :meth:`fit` or :meth:`load`."""

    def __init__(self, min_df: int = 3, max_unigrams: int = 60_000, max_bigrams: int = 60_000):
        self.min_df = min_df
        self.max_unigrams = max_unigrams
        self.max_bigrams = max_bigrams

    # -- learning ---------------------------------------------------------------------------
    def fit(self, docs: Iterable[Sequence[str]], extra: Sequence[str] = ()) -> Vectorizer:
        """Keep the most frequent words and word pairs (document frequency ≥ ``min_df``).

        ``extra`` names features that are always present in the vocabulary (rule hits).
        """
        docs = list(docs)
        uni: Counter[str] = Counter()
        for d in docs:
            uni.update(set(d))
        words = [w for w, c in uni.most_common(self.max_unigrams) if c >= self.min_df]
        words = sorted(set(words) | set(extra))
        self._set_unigrams(words)
        bi: Counter[tuple[int, int]] = Counter()
        for d in docs:
            ids = [self.vocab_.get(t, -1) for t in d]
            bi.update({(a, b) for a, b in itertools.pairwise(ids) if a >= 0 and b >= 0})
        pairs = [p for p, c in bi.most_common(self.max_bigrams) if c >= self.min_df]
        n = len(words)
        keys = np.array(sorted(a * n + b for a, b in pairs), dtype=np.int64)
        self.bigram_keys_ = keys
        return self

    def _set_unigrams(self, words: list[str]) -> None:
        self.words_ = words
        self.vocab_ = {w: i for i, w in enumerate(words)}

    @property
    def n_features(self) -> int:
        return len(self.words_) + len(self.bigram_keys_)

    def feature_name(self, j: int) -> str:
        n = len(self.words_)
        if j < n:
            return self.words_[j]
        key = int(self.bigram_keys_[j - n])
        return f"{self.words_[key // n]} {self.words_[key % n]}"

    # -- transforming -----------------------------------------------------------------------
    def unigram_ids(self, toks: Sequence[str]) -> list[int]:
        get = self.vocab_.get
        return [get(t, -1) for t in toks]

    def transform_ids(
        self, docs_ids: Sequence[list[int]], flags: Sequence[list[int]] | None = None
    ) -> Batch:
        """Features for documents given as unigram id lists (-1 = unknown word).

        ``flags`` are per-document feature ids of indicators (rule hits): value 1, outside the
        length normalisation, so a decisive phrase weighs the same in a long message.
        """
        lens = np.fromiter((len(d) for d in docs_ids), dtype=np.int64, count=len(docs_ids))
        flat = np.fromiter((i for d in docs_ids for i in d), dtype=np.int64, count=int(lens.sum()))
        doc = np.repeat(np.arange(len(docs_ids)), lens)
        n = len(self.words_)
        # bigrams: consecutive known words inside one document
        same = doc[1:] == doc[:-1]
        left, right = flat[:-1], flat[1:]
        ok = same & (left >= 0) & (right >= 0)
        keys = left[ok] * n + right[ok]
        pos = np.searchsorted(self.bigram_keys_, keys)
        pos[pos >= len(self.bigram_keys_)] = 0
        hit = self.bigram_keys_[pos] == keys if len(self.bigram_keys_) else np.zeros(0, bool)
        bi_ids = pos[hit] + n
        bi_doc = doc[1:][ok][hit]
        known = flat >= 0
        norm = (1.0 / np.sqrt(np.maximum(lens, 1))).astype(np.float32)
        parts_ids = [flat[known], bi_ids]
        parts_doc = [doc[known], bi_doc]
        parts_val = [norm[doc[known]], norm[bi_doc]]
        if flags is not None:
            flens = np.fromiter((len(f) for f in flags), dtype=np.int64, count=len(flags))
            parts_ids.append(
                np.fromiter((i for f in flags for i in f), dtype=np.int64, count=int(flens.sum()))
            )
            parts_doc.append(np.repeat(np.arange(len(flags)), flens))
            parts_val.append(np.ones(int(flens.sum()), np.float32))
        all_doc = np.concatenate(parts_doc)
        order = np.argsort(all_doc, kind="stable")
        ids = np.concatenate(parts_ids)[order]
        values = np.concatenate(parts_val)[order].astype(np.float32)
        counts = np.bincount(all_doc, minlength=len(docs_ids))
        ptr = np.zeros(len(docs_ids) + 1, dtype=np.int64)
        np.cumsum(counts, out=ptr[1:])
        return Batch(ids=ids.astype(np.int64), values=values, ptr=ptr)

    def transform(
        self, docs: Sequence[Sequence[str]], flags: Sequence[Sequence[str]] | None = None
    ) -> Batch:
        """Features of token lists; ``flags`` name indicator features per document."""
        flag_ids = None
        if flags is not None:
            get = self.vocab_.get
            flag_ids = [[i for i in (get(f, -1) for f in fl) if i >= 0] for fl in flags]
        return self.transform_ids([self.unigram_ids(d) for d in docs], flag_ids)

    # -- persistence ------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        path.write_text("\n".join(self.words_) + "\n", encoding="utf-8")
        np.save(path.with_suffix(".bigrams.npy"), self.bigram_keys_)

    @classmethod
    def load(cls, path: Path) -> Vectorizer:
        self = cls()
        words = path.read_text(encoding="utf-8").split("\n")[:-1]
        self._set_unigrams(words)
        self.bigram_keys_ = np.load(path.with_suffix(".bigrams.npy"))
        return self
