"""Train the abuse-target heads (``analysis/target.py``) for both tiers and report their F1.

    .venv/bin/python train/train_target.py [--data ../shared/data] [--json docs/eval-target.json]

Training rows: abusive messages with their target from ConvAbuse train, OLID level C (the
seeded 85 %) and the ``train`` split of our hand-labelled support messages
(``eval/data/abuse_target.jsonl``, weighted x5: they are the domain). Held out: ConvAbuse
valid, OLID's seeded 15 % and the hand-labelled ``test`` split (written in a second pass, new
scenarios). Writes ``models/target_fast.npz`` and ``models/target_accurate.npz``.

Reported: the target's macro-F1 on abusive held-out messages (agent / company / person /
group), the "aimed at people" binary F1 (agent, person or group vs company) that the policy
uses, and on the hand-labelled test split the five-class F1 of the full analyzer, ``none``
(not abusive) included.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from gracedesk.analysis.features import featurize
from gracedesk.analysis.heads import as_csr
from gracedesk.analysis.pipeline import get_analyzer, models_dir
from gracedesk.analysis.target import AT_PEOPLE, TARGETS, TargetHead, cue_features
from gracedesk.eval.datasets import abuse_targets

HAND_WEIGHT = 5.0
C = {"fast": 0.5, "accurate": 1.0}


def features(tier: str, texts: list[str]) -> Any:
    an = get_analyzer(tier)
    cues = cue_features([t[:4000] for t in texts], an.abuse_words.words)
    if tier == "fast":
        feat = featurize(texts, an.vec, an.rules)
        X = as_csr(feat.batch, an.heads.coef_.shape[0])
        return sp.hstack([X, sp.csr_matrix(cues)], format="csr")
    assert an.encoder is not None
    pooled = np.concatenate(
        [an.encoder.embed(texts[i : i + 256]) for i in range(0, len(texts), 256)]
    )
    return np.hstack([pooled, cues])


def f1s(gold: list[str], pred: list[str], classes: tuple[str, ...]) -> dict[str, Any]:
    per = {}
    for c in classes:
        tp = sum(g == c and p == c for g, p in zip(gold, pred, strict=True))
        fp = sum(g != c and p == c for g, p in zip(gold, pred, strict=True))
        fn = sum(g == c and p != c for g, p in zip(gold, pred, strict=True))
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        per[c] = round(2 * prec * rec / (prec + rec), 3) if prec + rec else 0.0
    present = [c for c in classes if c in gold]
    return {
        "macro_f1": round(sum(per[c] for c in present) / max(len(present), 1), 3),
        "per_class_f1": per,
        "n": len(gold),
    }


def people_f1(gold: list[str], pred: list[str]) -> float:
    g = [x in AT_PEOPLE for x in gold]
    p = [x in AT_PEOPLE for x in pred]
    tp = sum(a and b for a, b in zip(g, p, strict=True))
    fp = sum(b and not a for a, b in zip(g, p, strict=True))
    fn = sum(a and not b for a, b in zip(g, p, strict=True))
    return round(2 * tp / (2 * tp + fp + fn), 3) if tp else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--json", type=Path)
    ap.add_argument("--out", type=Path, default=models_dir())
    args = ap.parse_args()
    train = [r for r in abuse_targets(args.data, "train") if r.target != "none"]
    test = abuse_targets(args.data, "test")
    print("train", Counter((r.source, r.target) for r in train))
    y = np.array([TARGETS.index(r.target) for r in train])
    w = np.array([HAND_WEIGHT if r.source == "hand" else 1.0 for r in train], np.float32)
    report: dict[str, Any] = {}
    for tier in ("fast", "accurate"):
        X = features(tier, [r.text for r in train])
        head = TargetHead(C=C[tier]).fit(X, y, sample_weight=w)
        head.save(args.out / f"target_{tier}.npz")
        abusive = [r for r in test if r.target != "none"]
        P = head.predict_proba(features(tier, [r.text for r in abusive]))
        pred = [TARGETS[k] for k in P.argmax(1)]
        res: dict[str, Any] = {}
        for src in ("hand", "convabuse", "olid"):
            idx = [i for i, r in enumerate(abusive) if r.source == src]
            g = [abusive[i].target for i in idx]
            p = [pred[i] for i in idx]
            res[src] = {**f1s(g, p, TARGETS), "at_people_f1": people_f1(g, p)}
        # the full analyzer on the hand-labelled test split: none (not abusive) included
        an = get_analyzer(tier)
        an.target_head = head
        hand = [r for r in test if r.source == "hand"]
        sigs = an.analyze_many([r.text for r in hand]) if hand else []
        got = [max(s.abuse_target, key=lambda t: s.abuse_target[t]) for s in sigs]
        res["hand_full"] = {
            **f1s([r.target for r in hand], got, (*TARGETS, "none")),
            "at_people_f1": people_f1([r.target for r in hand], got),
        }
        report[tier] = res
        print(tier, json.dumps(res, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
