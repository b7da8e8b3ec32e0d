"""The accurate tier's sentence encoder (all-MiniLM-L6-v2, ONNX int8) and its blended heads.

The encoder runs with onnxruntime and the ``tokenizers`` library only (no PyTorch): texts are
truncated to 128 word pieces, batched by similar length, and mean-pooled, L2-normalised
embeddings (384 floats) come out of the graph. ``train/export_encoder.py`` builds the file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

MAX_TOKENS = 128
BATCH = 32


class Encoder:
    def __init__(self, session: object, tokenizer: object, input_names: list[str], output: str):
        self.session = session
        self.tokenizer = tokenizer
        self.input_names = input_names
        self.output = output
        self.dim = 384

    @classmethod
    def load(cls, directory: Path, threads: int | None = None) -> Encoder:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or min(2, os.cpu_count() or 1)
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        model = directory / "model.int8.onnx"
        if not model.exists():
            raise FileNotFoundError(model)
        sess = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
        tok = Tokenizer.from_file(str(directory / "tokenizer.json"))
        tok.enable_truncation(max_length=MAX_TOKENS)
        tok.no_padding()
        names = [i.name for i in sess.get_inputs()]
        return cls(sess, tok, names, sess.get_outputs()[0].name)

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """``(len(texts), 384)`` L2-normalised sentence embeddings."""
        encs = self.tokenizer.encode_batch(list(texts))  # type: ignore[attr-defined]
        out = np.zeros((len(texts), self.dim), np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(encs[i].ids))
        for s in range(0, len(order), BATCH):
            idx = order[s : s + BATCH]
            width = max(len(encs[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), np.int64)
            mask = np.zeros((len(idx), width), np.int64)
            for r, i in enumerate(idx):
                e = encs[i].ids
                ids[r, : len(e)] = e
                mask[r, : len(e)] = 1
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self.input_names:
                feeds["token_type_ids"] = np.zeros_like(ids)
            (emb,) = self.session.run([self.output], feeds)  # type: ignore[attr-defined]
            out[idx] = emb
        return out


class AccurateHeads:
    """Per-head logistic regression on the embedding, blended with the fast head's logit.

        logit = alpha * fast_logit + beta * (emb @ coef + intercept) + gamma

    ``alpha, beta, gamma`` are fitted on the calibration slice (rows neither part saw), which
    both blends and calibrates.
    """

    def __init__(self) -> None:
        self.coef_: NDArray[np.float32] = np.zeros((0, 0), np.float32)
        self.intercept_: NDArray[np.float32] = np.zeros(0, np.float32)
        self.blend_: NDArray[np.float32] = np.zeros((0, 3), np.float32)

    def blend(
        self, fast_logits: NDArray[np.float32], emb: NDArray[np.float32]
    ) -> NDArray[np.float32]:
        z = emb @ self.coef_ + self.intercept_
        a, b, c = self.blend_[:, 0], self.blend_[:, 1], self.blend_[:, 2]
        out: NDArray[np.float32] = a * fast_logits + b * z + c
        return out

    def save(self, path: Path, names: list[str]) -> None:
        np.savez_compressed(
            path, coef=self.coef_.astype(np.float16), intercept=self.intercept_,
            blend=self.blend_, names=np.array(names),
        )  # fmt: skip

    @classmethod
    def load(cls, path: Path, names: list[str]) -> AccurateHeads:
        self = cls()
        with np.load(path) as z:
            if [str(s) for s in z["names"]] != list(names):
                raise ValueError(f"{path}: heads do not match the fast model's heads")
            self.coef_ = z["coef"].astype(np.float32)
            self.intercept_ = z["intercept"].astype(np.float32)
            self.blend_ = z["blend"].astype(np.float32)
        return self
