"""Fit the accurate tier's blend and evidence threshold (``accurate_heads.npz``).

    python train/teacher.py --out /tmp/gd-teacher       # encoder logits (cached)
    python train/train_heads.py --teacher /tmp/gd-teacher
    python train/train_accurate.py --teacher /tmp/gd-teacher

Needs the encoder exported (``train/export_finetuned.py``) and the fast tier trained. For each
head, a three-parameter blend ``alpha * fast_logit + beta * encoder_logit + gamma`` (sentiment's
encoder logits as log-softmax) is fitted with Platt's method on the calibration slice: texts
neither model trained on. The fit both blends and calibrates. The abuse evidence threshold
(a bias on the token head's logits) is the one with the best SemEval-2021 Task 5 character F1
on the calibration slice of ``toxic_spans`` train; the request, threat and cause thresholds
stay at probability 0.5. Deterministic (lbfgs).
"""

from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gracedesk.analysis.encoder import AccurateHeads
from gracedesk.analysis.evidence import token_spans
from gracedesk.analysis.features import featurize
from gracedesk.analysis.heads import platt_fit
from gracedesk.analysis.pipeline import HEADS, load_analyzer, models_dir
from gracedesk.eval import datasets as D
from gracedesk.eval.metrics import span_f1
from train_heads import ALL, gold_matrix, load_all  # type: ignore[import-not-found]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--teacher", default="/tmp/gd-teacher")
    ap.add_argument("--sources", default=",".join(ALL), help="(for quick trial runs)")
    ap.add_argument("--models", default=str(models_dir()), help="models folder (read and write)")
    args = ap.parse_args()
    models = Path(args.models)
    root = D.data_dir(args.data)
    teacher = Path(args.teacher)
    fast = load_analyzer("fast", models)
    exs, _texts, Z = load_all(root, teacher, tuple(args.sources.split(",")))
    calib = np.array([D.is_dev(ex.text, "calibration") for ex in exs])
    ci = np.flatnonzero(calib)
    feat = featurize([exs[i].text for i in ci], fast.vec, fast.rules)
    F = fast.heads.decision_function(feat.batch)
    Y = gold_matrix(exs)[ci]
    w = np.array([exs[i].weight for i in ci], np.float32)
    heads = AccurateHeads()
    heads.sentiment_cols_ = tuple(  # type: ignore[assignment]
        HEADS.index(f"sentiment.{s}") for s in ("negative", "neutral", "positive")
    )
    E = heads.encoder_logits(Z[ci])
    heads.blend_ = np.zeros((len(HEADS), 3), np.float32)
    for j, name in enumerate(HEADS):
        y = Y[:, j]
        have = ~np.isnan(y)
        if len(np.unique(y[have])) == 2:
            (a, b), c = platt_fit(np.stack([F[have, j], E[have, j]], 1), y[have], w[have])
            heads.blend_[j] = (a, b, c)
        else:
            heads.blend_[j] = (0.0, 1.0, 0.0)
        print(f"{name:32s} fast {heads.blend_[j, 0]:+.2f} encoder {heads.blend_[j, 1]:+.2f} "
              f"({int(have.sum())} rows)", flush=True)  # fmt: skip
    # abuse evidence threshold on the calibration slice of toxic_spans train
    with (teacher / "toxic_spans-train.pkl").open("rb") as fh:
        t = pickle.load(fh)
    ts = D.load(root, "train", ("toxic_spans",))
    rows = [i for i, ex in enumerate(ts) if D.is_dev(ex.text, "calibration")]
    best = (-1.0, 0.0)
    for bias in np.arange(-4.0, 4.01, 0.25):
        scores = []
        for i in rows:
            spans = token_spans(
                t["texts"][i], t["offsets"][i], t["token_logits"][i][:, 0] + bias > 0
            )
            pred = {c for s, e in spans for c in range(s, e)}
            scores.append(span_f1(pred, set(D.spans_of(ts[i]))))
        f = float(np.mean(scores))
        print(f"  abuse token bias {bias:+.2f}: char F1 {f:.4f}")
        if f > best[0]:
            best = (f, float(bias))
    heads.token_bias_ = np.zeros(4, np.float32)
    heads.token_bias_[0] = best[1]
    print(f"abuse evidence bias {best[1]:+.2f} (char F1 {best[0]:.4f} on {len(rows)} posts)")
    heads.save(models / "accurate_heads.npz", HEADS)
    print("saved", models / "accurate_heads.npz")


if __name__ == "__main__":
    main()
