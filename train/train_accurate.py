"""Rebuild the accurate tier's heads (``accurate_heads.npz``) from ../shared/data.

    python train/train_accurate.py [--data ../shared/data] [--cache /tmp/gracedesk-emb]

Needs the fast tier trained first (``train/train_heads.py``) and the encoder exported
(``train/export_encoder.py``). For each head: a logistic regression on the MiniLM sentence
embedding, fitted on the rows the fast heads were fitted on; then a three-parameter blend
``alpha * fast_logit + beta * embedding_logit + gamma`` fitted on the calibration slice that
neither saw, which also calibrates the result. Deterministic (fixed splits, lbfgs).
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from gracedesk.analysis.encoder import AccurateHeads, Encoder
from gracedesk.analysis.features import featurize
from gracedesk.analysis.heads import platt_fit
from gracedesk.analysis.pipeline import HEADS, load_analyzer, models_dir
from gracedesk.eval import datasets as D
from train_heads import SOURCE_WEIGHT, label_matrix  # type: ignore[import-not-found]


def embed_cached(enc: Encoder, texts: list[str], cache: Path) -> np.ndarray:
    key = hashlib.blake2b("\x00".join(texts).encode(), digest_size=8).hexdigest()
    path = cache / f"emb-{key}.npy"
    if path.exists():
        return np.load(path)
    cache.mkdir(parents=True, exist_ok=True)
    out = np.zeros((len(texts), 384), np.float32)
    step = 4096
    t0 = time.perf_counter()
    for s in range(0, len(texts), step):
        out[s : s + step] = enc.embed(texts[s : s + step])
        done = min(s + step, len(texts))
        print(
            f"  embedded {done}/{len(texts)} ({done / (time.perf_counter() - t0):.0f}/s)",
            flush=True,
        )
    np.save(path, out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--cache", default="/tmp/gracedesk-emb")
    ap.add_argument("--C", type=float, default=2.0)
    args = ap.parse_args()
    root = D.data_dir(args.data)
    fast = load_analyzer("fast")
    enc = Encoder.load(models_dir() / "minilm")
    train = D.load(root, "train")
    feat = featurize([ex.text for ex in train], fast.vec, fast.rules)
    fast_logits = fast.heads.decision_function(feat.batch)
    emb = embed_cached(enc, feat.texts, Path(args.cache))
    Y = label_matrix(train, HEADS, feat.hits)
    w = np.array([ex.weight * SOURCE_WEIGHT.get(ex.source, 1.0) for ex in train], np.float32)
    calib = np.array([D.is_dev(ex.text, "calibration") for ex in train])
    k = len(HEADS)
    heads = AccurateHeads()
    heads.coef_ = np.zeros((emb.shape[1], k), np.float32)
    heads.intercept_ = np.zeros(k, np.float32)
    heads.blend_ = np.zeros((k, 3), np.float32)
    for j, name in enumerate(HEADS):
        y = Y[:, j]
        have = ~np.isnan(y)
        fit = have & ~calib
        lr = LogisticRegression(C=args.C, max_iter=1000)
        lr.fit(emb[fit], y[fit], sample_weight=w[fit])
        heads.coef_[:, j] = lr.coef_[0]
        heads.intercept_[j] = lr.intercept_[0]
        cal = have & calib
        z = emb[cal] @ heads.coef_[:, j] + heads.intercept_[j]
        Xb = np.stack([fast_logits[cal, j], z], 1)
        if len(np.unique(y[cal])) == 2:
            (a, b), c = platt_fit(Xb, y[cal], w[cal])
            heads.blend_[j] = (a, b, c)
        else:  # no calibration rows with both classes: average the two logits
            heads.blend_[j] = (0.5, 0.5, 0.0)
        print(
            f"{name:32s} blend fast {heads.blend_[j, 0]:+.2f} emb {heads.blend_[j, 1]:+.2f}",
            flush=True,
        )
    heads.save(models_dir() / "accurate_heads.npz", HEADS)
    print("saved", models_dir() / "accurate_heads.npz")


if __name__ == "__main__":
    main()
