"""Metrics: F1, macro-F1, expected calibration error and a reliability table."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray


def f1(y: NDArray[np.int_], pred: NDArray[np.bool_]) -> float:
    tp = float(np.sum(pred & (y == 1)))
    fp = float(np.sum(pred & (y == 0)))
    fn = float(np.sum(~pred & (y == 1)))
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)


def precision_recall(y: NDArray[np.int_], pred: NDArray[np.bool_]) -> tuple[float, float]:
    tp = float(np.sum(pred & (y == 1)))
    p = tp / max(float(np.sum(pred)), 1.0)
    r = tp / max(float(np.sum(y == 1)), 1.0)
    return p, r


def macro_f1_binary(y: NDArray[np.int_], pred: NDArray[np.bool_]) -> float:
    """Mean of the F1 of both classes (OffensEval's measure)."""
    return (f1(y, pred) + f1(1 - y, ~pred)) / 2


def macro_f1_multiclass(y: NDArray[np.int_], pred: NDArray[np.int_], k: int) -> float:
    return float(np.mean([f1((y == c).astype(int), pred == c) for c in range(k)]))


def reliability(
    y: NDArray[np.int_], p: NDArray[np.float32], bins: int = 10
) -> list[dict[str, Any]]:
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    out = []
    for b in range(bins):
        m = idx == b
        if m.any():
            out.append({"bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}", "n": int(m.sum()),
                        "mean_p": float(p[m].mean()), "frac_pos": float(y[m].mean())})  # fmt: skip
    return out


def ece(y: NDArray[np.int_], p: NDArray[np.float32], bins: int = 10) -> float:
    """Expected calibration error: bin-weighted |mean predicted - observed frequency|."""
    table = reliability(y, p, bins)
    n = sum(r["n"] for r in table)
    return float(sum(r["n"] * abs(r["mean_p"] - r["frac_pos"]) for r in table) / max(n, 1))


def span_f1(pred: set[int], gold: set[int]) -> float:
    """SemEval-2021 Task 5 per-post F1 over character offsets (both empty scores 1)."""
    if not gold:
        return 1.0 if not pred else 0.0
    if not pred:
        return 0.0
    tp = len(pred & gold)
    if tp == 0:
        return 0.0
    p, r = tp / len(pred), tp / len(gold)
    return 2 * p * r / (p + r)
