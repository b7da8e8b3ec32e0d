"""Sentence vectors for meaning: all-MiniLM-L6-v2 as trained for semantic similarity (int8 ONNX).

The accurate tier's encoder (:mod:`gracedesk.analysis.encoder`) starts from the same model but is
fine-tuned end to end for sentiment, emotions and abuse; its pooled vectors now say how a text
*feels*, not what it is *about*. Measured on the Banking77 knowledge-base benchmark
(docs/knowledge.md), its vectors retrieve the right article for 7 % of questions, the vectors of
the model before fine-tuning for 67 %. So retrieval by meaning uses this one: the same
architecture and tokenizer, exported by ``train/export_encoder.py`` with mean pooling and L2
normalisation inside the graph (``sentence_embedding``, ``(n, 384)``).

Texts longer than 128 word pieces are cut there (the model was trained on short texts; callers
embed passages, not whole documents). One thread by default: a search embeds its query while the
database answers the full-text query, and on two cores a second ONNX thread only takes the
database's core (PostgreSQL, 1,000 articles: p99 64 ms with two threads, 48 ms with one;
docs/knowledge.md). Imports embed in batches and take longer with one thread (39 s -> 67 s for
1,000 articles); pass ``threads`` to :meth:`SentenceEncoder.load` for bulk work. Batches are formed from texts of similar length, so a short
question is not padded to the length of a long passage.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

MAX_PIECES = 128
BATCH = 64
DIM = 384


def sentence_dir() -> Path:
    return Path(__file__).resolve().parent / "models" / "sentence"


class SentenceEncoder:
    """Texts to L2-normalised sentence vectors. Build with :meth:`load`."""

    name = "all-minilm-l6-v2-int8/1"

    def __init__(self, session: object, tokenizer: object) -> None:
        self.session = session
        self.tokenizer = tokenizer

    @classmethod
    def load(cls, directory: Path | None = None, threads: int | None = None) -> SentenceEncoder:
        # imported here: onnxruntime takes ~0.2 s to import and most commands never embed
        # lazy: onnxruntime and tokenizers take ~0.2 s to import; most processes never encode
        import onnxruntime as ort
        from tokenizers import Tokenizer

        d = directory or sentence_dir()
        model = d / "model.int8.onnx"
        if not model.exists():
            raise FileNotFoundError(model)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or 1
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
        tok = Tokenizer.from_file(str(d / "tokenizer.json"))
        tok.enable_truncation(max_length=MAX_PIECES)
        tok.no_padding()
        return cls(sess, tok)

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """``(len(texts), 384)`` unit vectors (an empty text gets the vector of "")."""
        out = np.zeros((len(texts), DIM), np.float32)
        if not texts:
            return out
        encs = self.tokenizer.encode_batch(list(texts))  # type: ignore[attr-defined]
        order = sorted(range(len(encs)), key=lambda i: len(encs[i].ids))
        for s in range(0, len(order), BATCH):
            idx = order[s : s + BATCH]
            width = max(len(encs[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), np.int64)
            mask = np.zeros((len(idx), width), np.int64)
            for r, i in enumerate(idx):
                n = len(encs[i].ids)
                ids[r, :n] = encs[i].ids
                mask[r, :n] = 1
            (vecs,) = self.session.run(  # type: ignore[attr-defined]
                ["sentence_embedding"], {"input_ids": ids, "attention_mask": mask}
            )
            out[idx] = vecs
        return out


_default: SentenceEncoder | None = None
_default_lock = threading.Lock()


def get_sentence_encoder() -> SentenceEncoder:
    """The packaged sentence encoder, loaded once per process."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = SentenceEncoder.load()
    return _default
