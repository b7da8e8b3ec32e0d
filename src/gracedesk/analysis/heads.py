"""Calibrated linear heads over sparse features: one logistic regression per signal.

Follows scikit-learn's estimator contract (parameters in ``__init__``, ``fit`` returns self,
learned attributes end in ``_``). Each head is fitted on the rows that label it, then
Platt-scaled on a seeded calibration slice of those rows that the fit did not see; the scaling
is folded into the weights, so inference is one sparse-dense product and a sigmoid. Weights are
stored as int8 with one scale per head (a few MB for ~100k features x ~60 heads).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from gracedesk.analysis.vectorizer import Batch


def sigmoid(z: NDArray[np.float32]) -> NDArray[np.float32]:
    out: NDArray[np.float32] = (1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0)))).astype(
        np.float32, copy=False
    )
    return out


def as_csr(batch: Batch, n_features: int) -> sp.csr_matrix:
    """The batch as a CSR matrix (repeated words in a document add up)."""
    return sp.csr_matrix((batch.values, batch.ids, batch.ptr), shape=(batch.n_docs, n_features))


def dot(batch: Batch, weights: NDArray[np.float32]) -> NDArray[np.float32]:
    """``X @ W`` for the batch's sparse rows."""
    out: NDArray[np.float32] = np.asarray(as_csr(batch, weights.shape[0]) @ weights, np.float32)
    return out


def quantize(coef: NDArray[np.float32]) -> tuple[NDArray[np.int8], NDArray[np.float32]]:
    """Weights as int8 with one float32 scale per column (``q * scale`` restores them)."""
    scale = np.abs(coef).max(axis=0) / 127.0
    scale[scale == 0] = 1.0
    return np.round(coef / scale).astype(np.int8), scale.astype(np.float32)


def platt_fit(
    Z: NDArray[np.float32], y: NDArray[np.float32], w: NDArray[np.float32]
) -> tuple[NDArray[np.float32], np.float32]:
    """Platt scaling ``sigmoid(Z @ a + b)`` fitted with Platt's smoothed targets.

    Targets are ``(N+ + 1) / (N+ + 2)`` and ``1 / (N- + 2)`` instead of 1 and 0 (Platt 1999), so
    a small calibration slice that the scores separate perfectly does not give an infinite
    slope. Each row enters twice, once per class, weighted by its target.
    """
    # lazy: scikit-learn is needed to fit heads, never to predict
    from sklearn.linear_model import LogisticRegression

    pos = float(w[y == 1].sum())
    neg = float(w[y == 0].sum())
    t = np.where(y == 1, (pos + 1) / (pos + 2), 1 / (neg + 2))
    Z2 = np.concatenate([Z, Z])
    y2 = np.concatenate([np.ones(len(y)), np.zeros(len(y))])
    w2 = np.concatenate([w * t, w * (1 - t)])
    lr = LogisticRegression(C=1e4, max_iter=1000).fit(Z2, y2, sample_weight=w2)
    return lr.coef_[0].astype(np.float32), np.float32(lr.intercept_[0])


class LinearHeads:
    """Logistic-regression heads sharing one feature space."""

    def __init__(self, C: float = 4.0, calibrate: bool = True, max_iter: int = 200):
        self.C = C
        self.calibrate = calibrate
        self.max_iter = max_iter

    def fit(
        self,
        X: Any,
        Y: NDArray[np.float32],
        names: list[str],
        *,
        weights: NDArray[np.float32] | None = None,
        calib: NDArray[np.bool_] | None = None,
        C: dict[str, float] | None = None,
    ) -> LinearHeads:
        """Fit one head per column of ``Y`` (NaN = unlabelled row for that head).

        ``X`` is a scipy CSR matrix (training needs scikit-learn and scipy);
        ``calib`` marks rows held back for Platt scaling.
        """
        # lazy: scikit-learn is needed to fit heads, never to predict
        from sklearn.linear_model import LogisticRegression

        n, k = Y.shape
        weights = np.ones(n, np.float32) if weights is None else weights
        calib = np.zeros(n, bool) if calib is None else calib
        W = np.zeros((X.shape[1], k), np.float32)
        b = np.zeros(k, np.float32)
        self.platt_ = np.zeros((k, 2), np.float32)
        for j, name in enumerate(names):
            y = Y[:, j]
            have = ~np.isnan(y)
            fit_rows = have & ~calib if self.calibrate else have
            if len(np.unique(y[fit_rows])) < 2:
                raise ValueError(f"head {name!r} has one class only in its training rows")
            lr = LogisticRegression(
                C=(C or {}).get(name, self.C), solver="liblinear", max_iter=self.max_iter
            )
            lr.fit(X[fit_rows], y[fit_rows], sample_weight=weights[fit_rows])
            w, c = lr.coef_[0].astype(np.float32), np.float32(lr.intercept_[0])
            a, d = np.float32(1.0), np.float32(0.0)
            cal_rows = have & calib
            if self.calibrate and len(np.unique(y[cal_rows])) == 2:
                z = X[cal_rows] @ w + c
                (a,), d = platt_fit(z.reshape(-1, 1), y[cal_rows], weights[cal_rows])
            W[:, j] = a * w
            b[j] = a * c + d
            self.platt_[j] = (a, d)
        self.names_ = list(names)
        self.coef_ = W
        self.intercept_ = b
        return self

    def decision_function(self, batch: Batch) -> NDArray[np.float32]:
        return dot(batch, self.coef_) + self.intercept_

    def predict_proba(self, batch: Batch) -> NDArray[np.float32]:
        return sigmoid(self.decision_function(batch))

    # -- persistence (int8 weights, one scale per head) -------------------------------------
    def save(self, path: Path) -> None:
        q, scale = quantize(self.coef_)
        np.savez_compressed(
            path, q=q, scale=scale, bias=self.intercept_, names=np.array(self.names_),
            platt=self.platt_,
        )  # fmt: skip

    @classmethod
    def load(cls, path: Path) -> LinearHeads:
        self = cls()
        with np.load(path) as z:
            self.coef_ = z["q"].astype(np.float32) * z["scale"]
            self.intercept_ = z["bias"].astype(np.float32)
            self.names_ = [str(s) for s in z["names"]]
            self.platt_ = z["platt"]
        return self
