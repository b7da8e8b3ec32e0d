"""Paraphrase-aware detection of the good moves in an agent's draft: empathy, a solution and a
next step, read from the meaning of the whole draft, not only from the coach's phrase rules.

"I can see why you're upset after waiting this long" shows empathy without any of the stock
words the rules know. A logistic regression per move over the accurate tier's sentence vector
(``Encoder.embed``; ``train/train_coach_moves.py``, trained on the tuning half of the
hand-labelled agent replies) scores the draft; a move counts as present when the rules find it
**or** the model is at least :data:`THRESHOLD` sure (a high bar: a false "has empathy" hides a
``no_empathy`` finding). Apology and timeline stay with the rules and the time parser, which
already read them well; ownership is rules only (no labelled training data yet).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from gracedesk.analysis.pipeline import get_analyzer, models_dir

MOVES: tuple[str, ...] = ("empathy", "solution", "next_step")
THRESHOLD = 0.85

Embed = Callable[[Sequence[str]], NDArray[np.float32]]


class MoveModel:
    """One logistic regression per move over a sentence vector (scikit-learn contract)."""

    def __init__(self, C: float = 1.0) -> None:
        self.C = C

    def fit(self, X: NDArray[np.float32], Y: NDArray[np.bool_]) -> MoveModel:
        # lazy: scikit-learn is heavy and only needed when training the move model
        from sklearn.linear_model import LogisticRegression

        W = np.zeros((X.shape[1], len(MOVES)), np.float32)
        b = np.zeros(len(MOVES), np.float32)
        for j in range(len(MOVES)):
            lr = LogisticRegression(C=self.C, max_iter=2000, class_weight="balanced")
            lr.fit(X, Y[:, j])
            W[:, j], b[j] = lr.coef_[0], lr.intercept_[0]
        self.coef_, self.intercept_ = W, b
        return self

    def predict_proba(self, X: NDArray[np.float32]) -> NDArray[np.float32]:
        z = np.clip(X @ self.coef_ + self.intercept_, -30, 30)
        out: NDArray[np.float32] = (1 / (1 + np.exp(-z))).astype(np.float32)
        return out

    def save(self, path: Path) -> None:
        np.savez_compressed(path, coef=self.coef_, bias=self.intercept_, moves=np.array(MOVES))

    @classmethod
    def load(cls, path: Path) -> MoveModel:
        self = cls()
        with np.load(path) as z:
            if [str(m) for m in z["moves"]] != list(MOVES):
                raise ValueError(f"{path}: moves do not match this version")
            self.coef_ = z["coef"].astype(np.float32)
            self.intercept_ = z["bias"].astype(np.float32)
        return self


class MoveDetector:
    """A move model bound to the encoder that embeds drafts."""

    def __init__(self, model: MoveModel, embed: Embed) -> None:
        self.model = model
        self.embed = embed

    def scores(self, draft: str) -> dict[str, float]:
        p = self.model.predict_proba(self.embed([draft]))[0]
        return {m: round(float(p[j]), 4) for j, m in enumerate(MOVES)}

    def present(self, draft: str) -> dict[str, bool]:
        return {m: v >= THRESHOLD for m, v in self.scores(draft).items()}


@functools.cache
def load_detector() -> MoveDetector:
    """The shipped move model on the accurate tier's encoder (loads it on first use)."""
    enc = get_analyzer("accurate").encoder
    assert enc is not None
    return MoveDetector(MoveModel.load(models_dir() / "coach_moves.npz"), enc.embed)
