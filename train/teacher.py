"""Run the shipped fine-tuned encoder over every text in ``../shared/data`` and cache its logits.

    python train/teacher.py [--data ../shared/data] [--out /tmp/gd-teacher] [--sources a,b]

For each source and split (train and dev, labelled or not) it writes ``OUT/SOURCE-SPLIT.pkl``
holding the prepared texts, the head logits ``(n, n_heads)``, and the word-piece offsets and
token logits (used to set the evidence threshold and to learn the fast tier's abuse words). The
run uses the package's own runtime (onnxruntime int8, windows for long texts), so what the
fast tier is distilled from and what the blend is fitted on is exactly what users get.
Resumable: a file already written is skipped.
"""

from __future__ import annotations

import argparse
import pickle
import time
from pathlib import Path

import numpy as np

from gracedesk.analysis.encoder import Encoder
from gracedesk.analysis.features import prepare
from gracedesk.analysis.pipeline import HEADS, models_dir, presence_mask
from gracedesk.eval import datasets as D

ALL = (*D.SOURCES, *D.EXTRA_SOURCES)


def run(enc: Encoder, texts: list[str], tokens: bool) -> dict[str, object]:
    logits = np.zeros((len(texts), len(HEADS)), np.float32)
    parts, offs, toks = [], [], []
    t0 = time.perf_counter()
    step = 1024
    for s in range(0, len(texts), step):
        e = enc.encode(texts[s : s + step])
        parts.append(e.logits)
        if tokens:
            offs.extend(e.offsets)
            toks.extend(e.token_logits)
        done = min(s + step, len(texts))
        print(f"    {done}/{len(texts)} ({done / (time.perf_counter() - t0):.0f}/s)", flush=True)
    if parts:
        logits = np.concatenate(parts)
    out: dict[str, object] = {"texts": texts, "logits": logits}
    if tokens:
        out["offsets"] = offs
        out["token_logits"] = toks
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--out", default="/tmp/gd-teacher")
    ap.add_argument("--sources", default=",".join(ALL))
    ap.add_argument("--model", default=str(models_dir() / "minilm"), help="encoder folder")
    args = ap.parse_args()
    root = D.data_dir(args.data)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    enc = Encoder.load(Path(args.model))
    enc.max_heads = presence_mask()  # windows combine exactly as at run time
    for src in args.sources.split(","):
        for split in ("train", "dev"):
            path = out / f"{src}-{split}.pkl"
            if path.exists():
                continue
            texts = [prepare(ex.text) for ex in D.load(root, split, (src,))]
            print(f"{src} {split}: {len(texts)} texts", flush=True)
            res = run(enc, texts, tokens=True)
            tmp = path.with_suffix(".tmp")
            with tmp.open("wb") as fh:
                pickle.dump(res, fh, protocol=pickle.HIGHEST_PROTOCOL)
            tmp.replace(path)


if __name__ == "__main__":
    main()
