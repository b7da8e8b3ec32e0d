"""Rebuild the fast tier by distilling the fine-tuned encoder (deterministic: fixed splits, seed).

    # training venv (torch for the optimiser, scikit-learn for Platt scaling)
    python train/teacher.py --out /tmp/gd-teacher          # the encoder's logits, cached
    python train/train_heads.py --teacher /tmp/gd-teacher [--data ../shared/data]

Steps:
1. The teacher is the fine-tuned encoder alone, Platt-scaled per head on the calibration slice
   (``is_dev(text, "calibration")``: 15 % of every training source, never trained on).
2. Targets for every training text of every source, labelled or not (GoEmotions, SemEval, OLID,
   Davidson, ConvAbuse, VADER snippets, Banking77, Bitext, reviews, toxic spans, Stanford
   politeness requests, our hand-labelled sets): the teacher's calibrated
   probability, averaged half and half with the gold label where the source has one. Texts
   that occur in any dev split or in the calibration slice are left out.
3. Features: normalised words, word pairs, hashed character 3-5-grams and rule hits
   (:mod:`gracedesk.analysis.vectorizer`). One soft-target logistic regression per head,
   trained jointly with AdamW (L2 through weight decay) for ``--epochs`` passes.
4. Each head is Platt-scaled on the calibration slice against the gold labels; the scaling is
   folded into the weights, which are stored as int8 (``fast_heads.npz``).
"""

from __future__ import annotations

import argparse
import pickle
import time
from pathlib import Path

import numpy as np

from gracedesk.analysis.encoder import log_softmax_cols
from gracedesk.analysis.features import prepare, token_lists
from gracedesk.analysis.heads import LinearHeads, as_csr, platt_fit
from gracedesk.analysis.pipeline import HEADS
from gracedesk.analysis.rules import RuleSet
from gracedesk.analysis.vectorizer import Vectorizer
from gracedesk.eval import datasets as D

ALL = (*D.SOURCES, *D.EXTRA_SOURCES)
SENT = [HEADS.index(f"sentiment.{s}") for s in ("negative", "neutral", "positive")]
GOLD_SHARE = 0.5
C_GOLD = 1.0
# The 28 fine emotions are labelled on every GoEmotions text; measured on its dev split, gold
# labels there beat the teacher's (0.32 against 0.27 macro-F1), so they are fitted on gold too.
C_FINE = 4.0
# Heads the encoder learnt from a few hundred hand-labelled rows (support signals): the teacher
# is weaker than the gold labels and the rules there, so these heads are not distilled: each is
# one L2 logistic regression (liblinear, C=1) on the rows that label it, with the same features.
GOLD_ONLY = frozenset(
    h for h in HEADS
    if h.startswith(("causes.", "requests.")) or h in
    ("complaint", "public_threat", "legal_threat", "abuse.threat", "abuse.harassment")
)  # fmt: skip


def gold_matrix(examples: list[D.Example]) -> np.ndarray:
    Y = np.full((len(examples), len(HEADS)), np.nan, np.float32)
    col = {h: j for j, h in enumerate(HEADS)}
    for i, ex in enumerate(examples):
        for k, v in ex.labels.items():
            if k in col:
                Y[i, col[k]] = v
    return Y


def load_all(
    root: Path, teacher: Path, sources: tuple[str, ...] = ALL
) -> tuple[list[D.Example], list[str], np.ndarray]:
    """Every training example of every source, its prepared text and the teacher's logits."""
    exs: list[D.Example] = []
    texts: list[str] = []
    logits: list[np.ndarray] = []
    for src in sources:
        rows = D.load(root, "train", (src,))
        with (teacher / f"{src}-train.pkl").open("rb") as fh:
            t = pickle.load(fh)
        prepared = [prepare(ex.text) for ex in rows]
        if prepared != t["texts"]:
            raise SystemExit(f"teacher cache for {src} does not match the data: rerun teacher.py")
        exs.extend(rows)
        texts.extend(prepared)
        logits.append(t["logits"])
    return exs, texts, np.concatenate(logits)


def dev_texts(root: Path) -> set[str]:
    out: set[str] = set()
    for src in ALL:
        out.update(prepare(ex.text) for ex in D.load(root, "dev", (src,)))
    for task in ("emotion", "hate", "offensive", "irony"):
        out.update(prepare(t) for t, _ in D.tweeteval(root, task))
    return out


def calibrate_teacher(Z: np.ndarray, Y: np.ndarray, calib: np.ndarray) -> np.ndarray:
    """Per-head Platt scaling of the encoder's logits on the calibration slice -> probabilities."""
    P = np.zeros_like(Z)
    for j, name in enumerate(HEADS):
        y = Y[:, j]
        rows = calib & ~np.isnan(y)
        a, b = np.float32(1.0), np.float32(0.0)
        if len(np.unique(y[rows])) == 2:
            (a,), b = platt_fit(Z[rows, j : j + 1], y[rows], np.ones(rows.sum(), np.float32))
        P[:, j] = 1 / (1 + np.exp(-np.clip(a * Z[:, j] + b, -30, 30)))
        print(f"  teacher {name:30s} platt a={a:+.2f} b={b:+.2f}", flush=True)
    return P


def fit_soft(
    X, T: np.ndarray, M: np.ndarray, w: np.ndarray, epochs: int, seed: int, wd: float
) -> tuple:  # type: ignore[no-untyped-def]
    """Joint soft-target logistic regression ``sigmoid(X @ W + b)`` with AdamW; ``M`` masks
    the (row, head) targets that count."""
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(2)
    n, f = X.shape
    k = T.shape[1]
    emb = torch.nn.EmbeddingBag(f, k, mode="sum")
    torch.nn.init.zeros_(emb.weight)
    bias = torch.nn.Parameter(torch.zeros(k))
    opt = torch.optim.AdamW([emb.weight, bias], lr=0.02, weight_decay=0.0)
    Xc = X.tocsr()
    Tt = torch.tensor(T)
    Mt = torch.tensor(M.astype(np.float32))
    wt = torch.tensor(w)
    rng = np.random.default_rng(seed)
    batch = 1024
    steps = epochs * ((n + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.05, 1 - s / steps))
    for ep in range(epochs):
        order = rng.permutation(n)
        total = 0.0
        t0 = time.perf_counter()
        for s in range(0, n, batch):
            idx = order[s : s + batch]
            sub = Xc[idx]
            z = (
                emb(
                    torch.from_numpy(sub.indices.astype(np.int64)),
                    torch.from_numpy(sub.indptr[:-1].astype(np.int64)),
                    per_sample_weights=torch.from_numpy(sub.data.astype(np.float32)),
                )
                + bias
            )
            loss_m = torch.nn.functional.binary_cross_entropy_with_logits(
                z, Tt[idx], reduction="none"
            )
            m = Mt[idx]
            # each head is a mean over the rows that count for it; heads are then averaged
            per_head = (loss_m * m * wt[idx, None]).sum(0) / (m * wt[idx, None]).sum(0).clamp(
                min=1e-6
            )
            loss = per_head[m.sum(0) > 0].mean()
            # L2 on the rows this batch touched (the rest are untouched by the loss anyway)
            used = torch.from_numpy(np.unique(sub.indices).astype(np.int64))
            loss = loss + wd * emb.weight[used].pow(2).sum() / len(idx)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        print(f"  epoch {ep + 1}/{epochs}: loss {total / n:.4f} ({time.perf_counter() - t0:.0f} s)",
              flush=True)  # fmt: skip
    return emb.weight.detach().numpy().astype(np.float32), bias.detach().numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--teacher", default="/tmp/gd-teacher")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--wd", type=float, default=1e-5)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--sources", default=",".join(ALL), help="(for quick trial runs)")
    ap.add_argument(
        "--out", default=str(Path(__file__).parents[1] / "src/gracedesk/analysis/models")
    )
    args = ap.parse_args()
    root = D.data_dir(args.data)
    out = Path(args.out)
    t0 = time.perf_counter()
    exs, texts, Z = load_all(root, Path(args.teacher), tuple(args.sources.split(",")))
    Z = log_softmax_cols(Z, SENT)
    Y = gold_matrix(exs)
    calib = np.array([D.is_dev(ex.text, "calibration") for ex in exs])
    print(f"{len(exs)} training texts, {int(calib.sum())} in the calibration slice", flush=True)
    P = calibrate_teacher(Z, Y, calib)
    T = np.where(np.isnan(Y), P, GOLD_SHARE * np.nan_to_num(Y) + (1 - GOLD_SHARE) * P)
    gold_only = np.array([h in GOLD_ONLY for h in HEADS])
    T[:, gold_only] = np.nan_to_num(Y[:, gold_only])
    T = T.astype(np.float32)
    # the 28 fine emotions: only on the texts that label them (GoEmotions), where the gold label
    # is mixed with the teacher's; elsewhere the teacher's near-zero scores swamp rare labels
    fine = np.array([h.startswith("fine.") for h in HEADS])
    M = ~((gold_only | fine)[None, :] & np.isnan(Y))
    dev = dev_texts(root)
    fit_rows = ~calib & np.array([t not in dev for t in texts])
    # one copy of each text (the first): some sources share texts
    seen: set[str] = set()
    for i, t in enumerate(texts):
        if fit_rows[i]:
            if t in seen:
                fit_rows[i] = False
            seen.add(t)
    print(f"distilling on {int(fit_rows.sum())} texts", flush=True)
    rules = RuleSet.default()
    toks, flags, _hits = token_lists(texts, rules)
    vec = Vectorizer(min_df=3, max_unigrams=50_000, max_bigrams=50_000, char_bits=17)
    vec.fit([toks[i] for i in np.flatnonzero(fit_rows)], extra=rules.features)
    print(f"vocabulary: {len(vec.words_)} words, {len(vec.bigram_keys_)} pairs, "
          f"{1 << vec.char_bits} character buckets", flush=True)  # fmt: skip
    X = as_csr(vec.transform(toks, flags), vec.n_features)
    w = np.array([ex.weight for ex in exs], np.float32)
    fi = np.flatnonzero(fit_rows)
    W, b = fit_soft(X[fi], T[fi], M[fi], w[fi], args.epochs, args.seed, args.wd)
    from sklearn.linear_model import LogisticRegression

    for j in np.flatnonzero(gold_only | fine):
        rows = fi[~np.isnan(Y[fi, j])]
        c = C_FINE if fine[j] else C_GOLD
        lr = LogisticRegression(C=c, solver="liblinear", max_iter=200)
        lr.fit(X[rows], Y[rows, j], sample_weight=w[rows])
        W[:, j] = lr.coef_[0]
        b[j] = lr.intercept_[0]
        print(f"  gold-only {HEADS[j]:28s} {len(rows)} rows", flush=True)
    # Platt per head on the calibration slice against gold labels, folded into the weights
    heads = LinearHeads()
    heads.names_ = list(HEADS)
    heads.platt_ = np.zeros((len(HEADS), 2), np.float32)
    Zc = np.asarray(X[calib] @ W) + b
    for j, name in enumerate(HEADS):
        y = Y[calib, j]
        have = ~np.isnan(y)
        a, d = np.float32(1.0), np.float32(0.0)
        if len(np.unique(y[have])) == 2:
            (a,), d = platt_fit(Zc[have, j : j + 1], y[have], w[calib][have])
        W[:, j] *= a
        b[j] = a * b[j] + d
        heads.platt_[j] = (a, d)
        print(f"  fast {name:30s} platt a={a:+.2f} b={d:+.2f}", flush=True)
    heads.coef_ = W
    heads.intercept_ = b.astype(np.float32)
    out.mkdir(parents=True, exist_ok=True)
    vec.save(out / "vocab.txt")
    heads.save(out / "fast_heads.npz")
    print(f"saved to {out} in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
