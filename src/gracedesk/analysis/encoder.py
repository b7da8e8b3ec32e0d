"""The accurate tier's encoder: MiniLM-L6 fine-tuned on every head (ONNX int8) and its blend.

``train/finetune_encoder.py`` trains the model end to end (one logit per head of
``pipeline.HEADS`` from mean-pooled token states, and a token head with one logit per word piece
for each evidence kind in :data:`TOKEN_KINDS`); ``train/export_finetuned.py`` writes
``model.int8.onnx``. At run time it needs only onnxruntime and ``tokenizers``.

Long texts are not cut: the word pieces are split into windows of at most ``WINDOW`` pieces,
every window is encoded, and the windows' head logits are combined (the mean for sentiment and
emotions, the maximum for presence heads such as abuse, requests and threats, so one insult in
a long letter still counts). Emoji that the word-piece vocabulary lacks are read through
:mod:`gracedesk.analysis.emoji`: their descriptions are appended after the text. Obfuscated
words ("1d10ts", "i d i o t s") are written plainly before the word-piece tokenizer reads them
(:func:`gracedesk.analysis.text.deobfuscate`); offsets are mapped back to the caller's text.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from gracedesk.analysis.emoji import describe
from gracedesk.analysis.text import deobfuscate

WINDOW = 128  # word pieces per window, [CLS] and [SEP] included
BATCH = 32
TOKEN_KINDS = ("abuse", "request", "threat", "cause")
_OUTPUTS = ["heads", "tokens", "pooled"]


@dataclass(frozen=True, slots=True)
class Encoded:
    """Encoder output for a batch: head logits ``(n, k)``, per text the character spans of its
    word pieces with their token-kind logits ``(n_pieces, len(TOKEN_KINDS))``, and the
    mean-pooled sentence vectors ``(n, 384)`` the heads read (the mean over a text's windows)."""

    logits: NDArray[np.float32]
    offsets: list[NDArray[np.int64]]
    token_logits: list[NDArray[np.float32]]
    pooled: NDArray[np.float32]


class Encoder:
    """Run the fine-tuned model. Build with :meth:`load`."""

    def __init__(
        self, session: object, tokenizer: object, max_heads: NDArray[np.bool_] | None = None
    ) -> None:
        self.session = session
        self.tokenizer = tokenizer
        # heads whose windows combine by maximum (the rest by mean); set by the analyzer
        self.max_heads = max_heads

    @classmethod
    def load(cls, directory: Path, threads: int | None = None) -> Encoder:
        # lazy: onnxruntime and tokenizers take ~0.2 s to import; most processes never encode
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
        tok.no_truncation()
        tok.no_padding()
        return cls(sess, tok)

    def encode(self, texts: Sequence[str]) -> Encoded:
        if not texts:
            return Encoded(np.zeros((0, 0), np.float32), [], [], np.zeros((0, 0), np.float32))
        plain = [deobfuscate(t) for t in texts]
        encs = self.tokenizer.encode_batch(  # type: ignore[attr-defined]
            [p + describe(t) for (p, _), t in zip(plain, texts, strict=True)]
        )
        # windows: (text index, piece ids with [CLS]/[SEP], first piece's index in the text)
        win_text: list[int] = []
        win_ids: list[list[int]] = []
        win_start: list[int] = []
        offsets: list[NDArray[np.int64]] = []
        for i, e in enumerate(encs):
            ids = e.ids
            cls_id, sep_id = ids[0], ids[-1]
            body = ids[1:-1]
            offs = np.asarray(e.offsets[1:-1], np.int64).reshape(-1, 2)
            where = plain[i][1]
            if where is not None:  # offsets into the de-obfuscated text -> into the caller's
                offs = _map_back(offs, where, len(texts[i]))
            offsets.append(offs)
            # balanced windows: 127 pieces make two of 64 and 63, not 126 and 1
            k = max(1, -(-len(body) // (WINDOW - 2)))
            step = max(1, -(-len(body) // k))
            for s in range(0, max(len(body), 1), step):
                win_text.append(i)
                win_ids.append([cls_id, *body[s : s + step], sep_id])
                win_start.append(s)
        n_win = len(win_ids)
        head_logits: NDArray[np.float32] | None = None
        pooled: NDArray[np.float32] | None = None
        tok_logits: list[NDArray[np.float32]] = [
            np.zeros((len(o), len(TOKEN_KINDS)), np.float32) for o in offsets
        ]
        order = sorted(range(n_win), key=lambda w: len(win_ids[w]))
        for s in range(0, n_win, BATCH):
            idx = order[s : s + BATCH]
            width = max(len(win_ids[w]) for w in idx)
            ids_arr = np.zeros((len(idx), width), np.int64)
            mask = np.zeros((len(idx), width), np.int64)
            for r, w in enumerate(idx):
                ids_arr[r, : len(win_ids[w])] = win_ids[w]
                mask[r, : len(win_ids[w])] = 1
            heads, toks, vecs = self.session.run(  # type: ignore[attr-defined]
                _OUTPUTS, {"input_ids": ids_arr, "attention_mask": mask}
            )
            if head_logits is None or pooled is None:
                head_logits = np.zeros((n_win, heads.shape[1]), np.float32)
                pooled = np.zeros((n_win, vecs.shape[1]), np.float32)
            head_logits[idx] = heads
            pooled[idx] = vecs
            for r, w in enumerate(idx):
                n = len(win_ids[w]) - 2
                a = win_start[w]
                tok_logits[win_text[w]][a : a + n] = toks[r, 1 : 1 + n]
        assert head_logits is not None and pooled is not None
        out = np.zeros((len(texts), head_logits.shape[1]), np.float32)
        vec = np.zeros((len(texts), pooled.shape[1]), np.float32)
        wt = np.asarray(win_text)
        counts = np.bincount(wt, minlength=len(texts)).astype(np.float32)
        np.add.at(out, wt, head_logits)
        np.add.at(vec, wt, pooled)
        out /= counts[:, None]
        vec /= counts[:, None]
        if self.max_heads is not None and n_win > len(texts):
            mx = np.full_like(out, -np.inf)
            np.maximum.at(mx, wt, head_logits)
            out[:, self.max_heads] = mx[:, self.max_heads]
        return Encoded(out, offsets, tok_logits, vec)

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """The mean-pooled sentence vectors of ``texts`` (``(n, 384)``)."""
        return self.encode(texts).pooled


def _map_back(offs: NDArray[np.int64], where: list[tuple[int, int]], n: int) -> NDArray[np.int64]:
    """Word-piece offsets in a de-obfuscated text as offsets in the original (``n`` chars);
    pieces past its end (the appended emoji words) stay past the end."""
    out = offs.copy()
    m = len(where)
    for k in range(len(offs)):
        a, b = int(offs[k, 0]), int(offs[k, 1])
        if a >= m:
            out[k] = (n + a - m, n + b - m)
        elif b > a:
            out[k] = (where[a][0], where[min(b, m) - 1][1])
    return out


def log_softmax_cols(logits: NDArray[np.float32], cols: Sequence[int]) -> NDArray[np.float32]:
    """``logits`` with the columns ``cols`` (sentiment's three classes) as log-softmax values."""
    out = logits.copy()
    s = list(cols)
    z = out[:, s] - out[:, s].max(1, keepdims=True)
    out[:, s] = z - np.log(np.exp(z).sum(1, keepdims=True))
    return out


class AccurateHeads:
    """The encoder's head logits blended with the fast heads' logits, and calibrated:

        logit = alpha * fast_logit + beta * encoder_logit + gamma

    ``alpha, beta, gamma`` are fitted per head on the calibration slice (texts neither model
    trained on). Sentiment's encoder logits are log-softmax values of its three classes.
    ``token_bias_`` shifts the token-kind logits so that 0 is the evidence threshold.
    """

    def __init__(self) -> None:
        self.blend_: NDArray[np.float32] = np.zeros((0, 3), np.float32)
        self.token_bias_: NDArray[np.float32] = np.zeros(len(TOKEN_KINDS), np.float32)
        self.sentiment_cols_: tuple[int, int, int] = (0, 1, 2)

    def encoder_logits(self, logits: NDArray[np.float32]) -> NDArray[np.float32]:
        return log_softmax_cols(logits, self.sentiment_cols_)

    def blend(
        self, fast_logits: NDArray[np.float32], enc_logits: NDArray[np.float32]
    ) -> NDArray[np.float32]:
        a, b, c = self.blend_[:, 0], self.blend_[:, 1], self.blend_[:, 2]
        out: NDArray[np.float32] = a * fast_logits + b * self.encoder_logits(enc_logits) + c
        return out

    def save(self, path: Path, names: list[str]) -> None:
        np.savez_compressed(
            path, blend=self.blend_, token_bias=self.token_bias_, names=np.array(names),
            token_kinds=np.array(TOKEN_KINDS),
        )  # fmt: skip

    @classmethod
    def load(cls, path: Path, names: list[str]) -> AccurateHeads:
        self = cls()
        with np.load(path) as z:
            if [str(s) for s in z["names"]] != list(names):
                raise ValueError(f"{path}: heads do not match the fast model's heads")
            self.blend_ = z["blend"].astype(np.float32)
            self.token_bias_ = z["token_bias"].astype(np.float32)
        self.sentiment_cols_ = tuple(  # type: ignore[assignment]
            list(names).index(f"sentiment.{s}") for s in ("negative", "neutral", "positive")
        )
        return self
