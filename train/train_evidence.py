"""Learn the fast tier's abuse words (``abuse_words.txt``) from toxic spans and the token head.

    python train/train_evidence.py --teacher /tmp/gd-teacher     # after train_accurate.py

The fast tier has no token model; its abuse evidence is a learned word list. For every word of
every training text (normalised as the fast tier reads it), a target: on SemEval-2021 toxic
spans, whether the annotators marked it; elsewhere, the fine-tuned encoder's token-head
probability (the maximum over the word's pieces, after the evidence bias of
``accurate_heads.npz``). A word's score is the smoothed mean of its targets,
``(sum + PRIOR * A) / (count + A)``. Stop words and words seen fewer than ``MIN_COUNT`` times
are never kept. The threshold is the one with the best SemEval character F1 on the calibration
slice of toxic spans train (texts left out of everything else); the words at or above it are
written, with their scores, to ``abuse_words.txt``.
"""

from __future__ import annotations

import argparse
import pickle
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gracedesk.analysis.encoder import AccurateHeads
from gracedesk.analysis.evidence import STOPWORDS, WordList, word_spans
from gracedesk.analysis.pipeline import HEADS, models_dir
from gracedesk.analysis.text import spans
from gracedesk.eval import datasets as D
from gracedesk.eval.metrics import span_f1
from train_heads import ALL, dev_texts  # type: ignore[import-not-found]

PRIOR, A, MIN_COUNT = 0.02, 2.0, 2


def word_targets(
    text: str, offsets: np.ndarray, probs: np.ndarray, gold: set[int] | None
) -> list[tuple[str, float]]:
    out = []
    starts = offsets[:, 0] if len(offsets) else np.zeros(0, np.int64)
    ends = offsets[:, 1] if len(offsets) else np.zeros(0, np.int64)
    for s, e, tok in spans(text):
        if not tok[0].isalnum() or tok in STOPWORDS:
            continue
        if gold is not None:
            out.append((tok, float(any(c in gold for c in range(s, e)))))
            continue
        inside = (starts < e) & (ends > s)
        if inside.any():
            out.append((tok, float(probs[inside].max())))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--teacher", default="/tmp/gd-teacher")
    ap.add_argument("--sources", default=",".join(ALL), help="(for quick trial runs)")
    ap.add_argument("--models", default=str(models_dir()))
    args = ap.parse_args()
    root = D.data_dir(args.data)
    models = Path(args.models)
    bias = float(AccurateHeads.load(models / "accurate_heads.npz", HEADS).token_bias_[0])
    dev = dev_texts(root)
    total: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    calib_rows: list[tuple[str, set[int]]] = []
    for src in args.sources.split(","):
        with (Path(args.teacher) / f"{src}-train.pkl").open("rb") as fh:
            t = pickle.load(fh)
        rows = D.load(root, "train", (src,))
        if len(rows) != len(t["texts"]):
            raise SystemExit(f"teacher cache for {src} does not match the data: rerun teacher.py")
        for i, ex in enumerate(rows):
            text = t["texts"][i]
            gold = set(D.spans_of(ex)) if src == "toxic_spans" else None
            if D.is_dev(ex.text, "calibration"):
                if gold is not None:
                    calib_rows.append((text, gold))
                continue
            if text in dev:
                continue
            probs = 1 / (1 + np.exp(-(t["token_logits"][i][:, 0] + bias)))
            for tok, y in word_targets(text, t["offsets"][i], probs, gold):
                total[tok] += y
                count[tok] += 1
    score = {w: (total[w] + PRIOR * A) / (count[w] + A) for w in total if count[w] >= MIN_COUNT}
    print(f"{len(score)} words scored; tuning on {len(calib_rows)} toxic-spans posts")
    best = (-1.0, 0.5)
    for thr in np.arange(0.2, 0.81, 0.05):
        words = WordList({w for w, p in score.items() if p >= thr})
        f = float(np.mean([
            span_f1({c for s, e in word_spans(text, words) for c in range(s, e)}, gold)
            for text, gold in calib_rows
        ]))  # fmt: skip
        print(f"  threshold {thr:.2f}: {len(words.words)} words, char F1 {f:.4f}")
        if f > best[0]:
            best = (f, float(thr))
    keep = sorted((w for w, p in score.items() if p >= best[1]), key=lambda w: (-score[w], w))
    lines = [
        "# gracedesk fast tier: abuse words (train/train_evidence.py). word<TAB>score",
        f"# threshold {best[1]:.2f}, char F1 {best[0]:.4f} on the toxic-spans calibration slice",
        *(f"{w}\t{score[w]:.3f}" for w in keep),
    ]
    (models / "abuse_words.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"kept {len(keep)} words at threshold {best[1]:.2f} -> {models / 'abuse_words.txt'}")


if __name__ == "__main__":
    main()
