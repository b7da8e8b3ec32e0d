"""Word unigram + bigram features over a fixed vocabulary, plus hashed character n-grams,
computed for a whole batch at once.

Unigrams are looked up in a dict; bigrams are found with one vectorised ``searchsorted`` over
``left_id * n_unigrams + right_id`` keys. Character 3-, 4- and 5-grams of each word (with
``<`` and ``>`` marking its ends) are hashed into ``char_buckets`` columns with integer
arithmetic on the whole batch, so "idiots", "idiotz" and "idiotic" share features.

Features are presence, not counts: a word or pair said twice counts once, so a sentence pasted
500 times reads like the sentence once. Word and pair features are weighted
``1 / sqrt(n_distinct_tokens)``, character n-grams ``CHAR_SCALE / sqrt(n_distinct_grams)``.
The same flat arrays feed training (as a CSR matrix) and inference (as an embedding-bag sum),
so both see exactly the same numbers.
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


CHAR_SCALE = 0.5
CHAR_NS = (3, 4, 5)
_HASH_MUL = np.uint64(0x9E3779B97F4A7C15)
_HASH_BASE = np.uint64(1_000_003)


def _unique(a: NDArray[np.int64]) -> NDArray[np.int64]:
    """Sorted distinct values (a sort and a mask: faster here than ``np.unique``'s hashing)."""
    if len(a) == 0:
        return a
    a = np.sort(a)
    keep = np.empty(len(a), bool)
    keep[0] = True
    np.not_equal(a[1:], a[:-1], out=keep[1:])
    return a[keep]


def char_grams(
    docs: Sequence[Sequence[str]], bits: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """``(doc, bucket)`` of the distinct hashed character n-grams of each document's words."""
    words: list[str] = []
    owner: list[int] = []
    for d, toks in enumerate(docs):
        mine = [t for t in set(toks) if len(t) > 1 and (t[0].isalnum() or not t.isascii())]
        words.extend(mine)
        owner.extend([d] * len(mine))
    if not words:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    joined = "\x01".join(f"<{w}>" for w in words)
    codes = np.frombuffer(joined.encode("utf-32-le"), np.uint32).astype(np.uint64)
    is_sep = codes == 1
    word_of = np.cumsum(is_sep)  # word index of every character (separators belong to the next)
    doc_of = np.asarray(owner, np.int64)[np.minimum(word_of, len(words) - 1)]
    out_doc: list[NDArray[np.int64]] = []
    out_bucket: list[NDArray[np.int64]] = []
    n_chars = len(codes)
    for n in CHAR_NS:
        if n_chars < n:
            continue
        m = n_chars - n + 1
        h = np.zeros(m, np.uint64)
        for k in range(n):
            h = h * _HASH_BASE + codes[k : k + m]
        valid = word_of[n - 1 : n - 1 + m] == word_of[:m]
        valid &= ~is_sep[:m]
        bucket = ((h[valid] + np.uint64(n)) * _HASH_MUL) >> np.uint64(64 - bits)
        out_doc.append(doc_of[:m][valid])
        out_bucket.append(bucket.astype(np.int64))
    dd = np.concatenate(out_doc)
    bb = np.concatenate(out_bucket)
    key = _unique(dd * (1 << bits) + bb)
    return key >> bits, key & ((1 << bits) - 1)


class Vectorizer:
    """Maps token lists to feature ids. Build with :meth:`fit` or :meth:`load`."""

    def __init__(
        self,
        min_df: int = 3,
        max_unigrams: int = 60_000,
        max_bigrams: int = 60_000,
        char_bits: int = 17,
    ):
        self.min_df = min_df
        self.max_unigrams = max_unigrams
        self.max_bigrams = max_bigrams
        self.char_bits = char_bits

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
    def n_word_features(self) -> int:
        return len(self.words_) + len(self.bigram_keys_)

    @property
    def n_features(self) -> int:
        return self.n_word_features + (1 << self.char_bits if self.char_bits else 0)

    def feature_name(self, j: int) -> str:
        n = len(self.words_)
        if j >= self.n_word_features:
            return f"<c:{j - self.n_word_features}>"
        if j < n:
            return self.words_[j]
        key = int(self.bigram_keys_[j - n])
        return f"{self.words_[key // n]} {self.words_[key % n]}"

    # -- transforming -----------------------------------------------------------------------
    def unigram_ids(self, toks: Sequence[str]) -> list[int]:
        get = self.vocab_.get
        return [get(t, -1) for t in toks]

    def transform_ids(
        self,
        docs_ids: Sequence[list[int]],
        flags: Sequence[list[int]] | None = None,
        chars: tuple[NDArray[np.int64], NDArray[np.int64]] | None = None,
        unknown: NDArray[np.int64] | None = None,
    ) -> Batch:
        """Features for documents given as unigram id lists (-1 = unknown word).

        ``flags`` are per-document feature ids of indicators (rule hits): value 1, outside the
        length normalisation, so a decisive phrase weighs the same in a long message.
        ``chars`` are the ``(doc, bucket)`` character n-grams of :func:`char_grams`;
        ``unknown`` the number of distinct unknown words per document (default: every unknown
        token counts).
        """
        n_docs = len(docs_ids)
        lens = np.fromiter((len(d) for d in docs_ids), dtype=np.int64, count=n_docs)
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
        # presence: each distinct feature once per document
        nf = np.int64(self.n_features + 1)
        word_key = _unique(np.concatenate([doc[known] * nf + flat[known], bi_doc * nf + bi_ids]))
        w_doc, w_ids = word_key // nf, word_key % nf
        # length normalisation: distinct known words plus the unknown ones
        distinct = np.bincount(w_doc[w_ids < n], minlength=n_docs)
        if unknown is None:
            unknown = np.bincount(doc[~known], minlength=n_docs)
        size = np.maximum(distinct + unknown, 1)
        norm = (1.0 / np.sqrt(size)).astype(np.float32)
        parts_ids = [w_ids]
        parts_doc = [w_doc]
        parts_val = [norm[w_doc]]
        if chars is not None and self.char_bits and len(chars[0]):
            c_doc, c_bucket = chars
            per = np.bincount(c_doc, minlength=n_docs)
            cnorm = (CHAR_SCALE / np.sqrt(np.maximum(per, 1))).astype(np.float32)
            parts_ids.append(c_bucket + self.n_word_features)
            parts_doc.append(c_doc)
            parts_val.append(cnorm[c_doc])
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
        chars = char_grams(docs, self.char_bits) if self.char_bits else None
        ids = [self.unigram_ids(d) for d in docs]
        unknown = np.fromiter(
            (
                len({t for t, i in zip(d, di, strict=True) if i < 0})
                for d, di in zip(docs, ids, strict=True)
            ),
            dtype=np.int64,
            count=len(docs),
        )
        return self.transform_ids(ids, flag_ids, chars, unknown)

    # -- persistence ------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        path.write_text("\n".join(self.words_) + "\n", encoding="utf-8")
        np.save(path.with_suffix(".bigrams.npy"), self.bigram_keys_)
        path.with_suffix(".chars.txt").write_text(f"{self.char_bits}\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Vectorizer:
        chars = path.with_suffix(".chars.txt")
        self = cls(char_bits=int(chars.read_text("utf-8")) if chars.exists() else 0)
        words = path.read_text(encoding="utf-8").split("\n")[:-1]
        self._set_unigrams(words)
        self.bigram_keys_ = np.load(path.with_suffix(".bigrams.npy"))
        return self
