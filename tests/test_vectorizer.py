"""Vectorizer and heads: training and inference see the same numbers; persistence round-trips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gracedesk.analysis.heads import LinearHeads, as_csr, dot
from gracedesk.analysis.vectorizer import Vectorizer

DOCS = [
    ["i", "want", "a", "refund"],
    ["i", "want", "a", "manager"],
    ["thanks", "a", "lot"],
    ["refund", "refund", "now"],
    ["great", "thanks"],
] * 3


def test_bigrams_and_unknown_words(tmp_path: Path) -> None:
    vec = Vectorizer(min_df=2).fit(DOCS)
    assert "want a" in [vec.feature_name(j) for j in range(vec.n_features)]
    b = vec.transform([["i", "want", "zzz", "a", "refund"]])
    names = {vec.feature_name(int(j)) for j in b.ids}
    assert "i want" in names and "a refund" in names
    assert "want zzz" not in names and "zzz a" not in names  # an unknown word breaks pairs
    vec.save(tmp_path / "v.txt")
    again = Vectorizer.load(tmp_path / "v.txt")
    assert again.words_ == vec.words_
    np.testing.assert_array_equal(again.bigram_keys_, vec.bigram_keys_)


def test_dot_matches_sparse_matrix_product() -> None:
    vec = Vectorizer(min_df=1).fit(DOCS)
    b = vec.transform([*DOCS[:5], []])
    W = np.random.default_rng(0).normal(size=(vec.n_features, 3)).astype(np.float32)
    dense = as_csr(b, vec.n_features).toarray() @ W
    np.testing.assert_allclose(dot(b, W), dense, rtol=1e-5, atol=1e-6)
    assert np.all(dot(b, W)[5] == 0)  # an empty document scores zero


def test_heads_fit_save_load(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    vec = Vectorizer(min_df=1).fit(DOCS)
    b = vec.transform(DOCS)
    X = as_csr(b, vec.n_features)
    y = np.array([[1.0 if "refund" in d else 0.0] for d in DOCS], np.float32)
    heads = LinearHeads(calibrate=False).fit(X, y, ["refund"])
    p = heads.predict_proba(b)[:, 0]
    assert p[0] > 0.5 > p[2]
    heads.save(tmp_path / "h.npz")
    again = LinearHeads.load(tmp_path / "h.npz")
    np.testing.assert_allclose(again.predict_proba(b), heads.predict_proba(b), atol=0.02)
