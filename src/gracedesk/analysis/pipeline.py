"""The analyzer: texts -> Signals (contract v1), for the ``fast`` and ``accurate`` tiers.

Models are loaded once per process, lazily, by :func:`get_analyzer`. ``fast`` uses word and
word-pair features plus rule hits under calibrated linear heads; ``accurate`` adds a MiniLM
sentence encoder (ONNX, int8) whose heads are blended with the fast heads' logits.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gracedesk.analysis import evidence as ev
from gracedesk.analysis.features import Featurized, featurize
from gracedesk.analysis.heads import LinearHeads, sigmoid
from gracedesk.analysis.risk import WEIGHTS, risk_matrix
from gracedesk.analysis.rules import RuleSet
from gracedesk.analysis.vectorizer import Vectorizer
from gracedesk.errors import EmptyText, InvalidInput, ModelError, UnknownTier
from gracedesk.model import (
    ABUSE,
    CAUSES,
    EMOTIONS,
    EMOTIONS_FINE,
    REQUESTS,
    Evidence,
    Signals,
)

MODEL_VERSION = "gracedesk-signals/1.0"
MEMO_SIZE = 8192  # earlier-message results kept by Analyzer.analyze_memo
TIERS = ("fast", "accurate")

# The heads' column layout: contiguous blocks in the contract's order.
HEADS: list[str] = [
    *(f"sentiment.{s}" for s in ("negative", "neutral", "positive")),
    *(f"emotion.{e}" for e in EMOTIONS),
    *(f"fine.{e}" for e in EMOTIONS_FINE),
    *(f"abuse.{a}" for a in ABUSE),
    "complaint",
    *(f"causes.{c}" for c in CAUSES),
    *(f"requests.{r}" for r in REQUESTS),
    "public_threat",
    "legal_threat",
]


def _blocks() -> dict[str, slice]:
    out: dict[str, slice] = {}
    for j, name in enumerate(HEADS):
        key = name.split(".")[0]
        s = out.get(key)
        out[key] = slice(j, j + 1) if s is None else slice(s.start, j + 1)
    return out


BLOCKS = _blocks()
# Labels behind the 0.5 threshold (head -> label); "abusive" is added when any abuse head fires.
LABELS: dict[str, str] = {
    "emotion.anger": "angry",
    "emotion.frustration": "frustrated",
    "emotion.disappointment": "disappointed",
    "emotion.confusion": "confused",
    "emotion.anxiety": "anxious",
    "emotion.sadness": "sad",
    "emotion.gratitude": "grateful",
    "emotion.joy": "joyful",
    **{f"abuse.{a}": a for a in ABUSE},
    "complaint": "complaint",
    **{f"causes.{c}": c for c in CAUSES},
    "requests.refund": "wants_refund",
    "requests.manager": "wants_manager",
    "requests.policy_exception": "wants_exception",
    "requests.cancel": "wants_to_cancel",
    "public_threat": "public_threat",
    "legal_threat": "legal_threat",
}
# Head -> signal name used in evidence (the contract's path) and the rule family for spans.
SIGNAL_NAME = {f"emotion.{e}": f"emotions.{e}" for e in EMOTIONS}
FAMILY: dict[str, str] = {
    "emotion.frustration": "frustration",
    **{f"abuse.{a}": f"abuse.{a}" for a in ("insult", "threat", "profanity", "harassment")},
    "complaint": "complaint",
    **{f"causes.{c}": f"causes.{c}" for c in CAUSES},
    **{f"requests.{r}": f"requests.{r}" for r in REQUESTS},
    "public_threat": "public_threat",
    "legal_threat": "legal_threat",
}


def models_dir() -> Path:
    return Path(str(resources.files("gracedesk.analysis").joinpath("models")))


class Analyzer:
    """Turns texts into Signals. Build with :func:`get_analyzer` (cached per tier)."""

    def __init__(
        self,
        vectorizer: Vectorizer,
        heads: LinearHeads,
        rules: RuleSet,
        tier: str = "fast",
        encoder: Any = None,
        accurate_heads: Any = None,
    ) -> None:
        self.vec = vectorizer
        self.heads = heads
        self.rules = rules
        self.tier = tier
        self.encoder = encoder
        self.accurate_heads = accurate_heads
        self.model = f"{MODEL_VERSION} {tier}"
        self.col = {n: j for j, n in enumerate(heads.names_)}
        if heads.names_ != HEADS:
            raise ModelError("the shipped heads do not match this version's signal layout")
        self._usable = ev.usable_features(vectorizer)
        self._risk_w = np.array([WEIGHTS.get(n, 0.0) for n in HEADS], np.float32)
        self._label = [LABELS.get(n, "") for n in HEADS]
        self._not_label = np.array([n not in LABELS for n in HEADS])
        self._abuse_cols = {j for j, n in enumerate(HEADS) if n.startswith("abuse.")}
        self._signal = [SIGNAL_NAME.get(n, n) for n in HEADS]
        self._family = [FAMILY.get(n) for n in HEADS]
        self._memo: OrderedDict[str, Signals] = OrderedDict()
        self._memo_lock = threading.Lock()

    # -- scores ---------------------------------------------------------------------------
    def probabilities(self, texts: Sequence[str]) -> tuple[NDArray[np.float32], Featurized]:
        """``(n, n_heads)`` calibrated probabilities, and the featurized batch."""
        feat = featurize(texts, self.vec, self.rules)
        logits = self.heads.decision_function(feat.batch)
        if self.encoder is not None and self.accurate_heads is not None:
            emb = self.encoder.embed(feat.texts)
            logits = self.accurate_heads.blend(logits, emb)
        return sigmoid(logits), feat

    # -- API ------------------------------------------------------------------------------
    def analyze_many(self, texts: Sequence[str], ids: Sequence[Any] | None = None) -> list[Signals]:
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise InvalidInput(f"text #{i} is {type(t).__name__}, not a string")
            if not t.strip():
                raise EmptyText(f"text #{i} is empty or only whitespace")
        if not texts:
            return []
        P, feat = self.probabilities(texts)
        ids = ids if ids is not None else [None] * len(texts)
        rows = np.round(P.astype(np.float64), 4).tolist()
        fired: NDArray[np.bool_] = P >= 0.5
        fired[:, self._not_label] = False
        any_fired: list[bool] = np.any(fired, axis=1).tolist()
        risks = np.round(risk_matrix(P, self._risk_w).astype(np.float64), 4).tolist()
        cands = ev.candidates(fired, feat.batch.ids, feat.batch.ptr, self.heads.coef_, self._usable)
        return [
            self._signals(
                i, rows[i], risks[i], feat, ids[i], fired[i] if any_fired[i] else None, cands
            )
            for i in range(len(texts))
        ]

    def analyze_memo(self, texts: Sequence[str]) -> list[Signals]:
        """``analyze_many`` for texts seen again and again (the earlier messages of a
        conversation, re-read as context at every new message): the same text always gives the
        same Signals, so the last ``MEMO_SIZE`` results are kept."""
        with self._memo_lock:
            found = {t: self._memo[t] for t in texts if t in self._memo}
            for t in found:
                self._memo.move_to_end(t)
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:
            fresh = dict(zip(missing, self.analyze_many(missing), strict=True))
            with self._memo_lock:
                self._memo.update(fresh)
                while len(self._memo) > MEMO_SIZE:
                    self._memo.popitem(last=False)
            found.update(fresh)
        return [found[t] for t in texts]

    def analyze(self, text: str, *, context: Any = None, id: Any = None) -> Signals:
        sig = self.analyze_many([text], ids=[id])[0]
        if context is None:
            return sig
        from gracedesk.analysis.context import with_context

        return with_context(self, sig, text, context)

    # -- assembly -------------------------------------------------------------------------
    def _signals(
        self,
        i: int,
        row: list[float],
        risk: float,
        feat: Featurized,
        id_: Any,
        fired: NDArray[np.bool_] | None,
        cands: dict[tuple[int, int], list[int]],
    ) -> Signals:
        neg, neu, pos = row[0:3]
        tot = (neg + neu + pos) or 1.0
        sent = (pos - neg) / tot
        sent_label = (
            "negative" if neg >= neu and neg >= pos else "positive" if pos > neu else "neutral"
        )
        labels: list[str] = []
        evidence: tuple[Evidence, ...] = ()
        if fired is not None:
            cols = np.flatnonzero(fired).tolist()
            for j in cols:
                if j in self._abuse_cols:
                    if "abusive" not in labels:
                        labels.append("abusive")
                    if self._label[j] != "offensive":
                        labels.append(self._label[j])
                else:
                    labels.append(self._label[j])
            evidence = self._evidence(i, cols, feat, cands)
        if risk >= 0.5:
            labels.append("high_risk")
        b = BLOCKS
        return Signals(
            sentiment=round(sent, 4),
            sentiment_label=sent_label,
            emotions=dict(zip(EMOTIONS, row[b["emotion"]])),  # noqa: B905 (lengths fixed by HEADS)
            emotions_fine=dict(zip(EMOTIONS_FINE, row[b["fine"]])),  # noqa: B905
            abuse=dict(zip(ABUSE, row[b["abuse"]])),  # noqa: B905
            complaint=row[b["complaint"].start],
            causes=dict(zip(CAUSES, row[b["causes"]])),  # noqa: B905
            requests=dict(zip(REQUESTS, row[b["requests"]])),  # noqa: B905
            public_threat=row[b["public_threat"].start],
            legal_threat=row[b["legal_threat"].start],
            risk=risk,
            labels=tuple(labels),
            evidence=evidence,
            model=self.model,
            id=id_,
        )

    def _evidence(
        self, i: int, cols: list[int], feat: Featurized, cands: dict[tuple[int, int], list[int]]
    ) -> tuple[Evidence, ...]:
        out: list[Evidence] = []
        text, hits = feat.texts[i], feat.hits[i]
        low: str | None = None
        located: dict[int, tuple[int, int] | None] = {}
        for j in cols:
            signal, family = self._signal[j], self._family[j]
            found = ev.from_hits(signal, text, hits, family) if family and hits else []
            if not found and (i, j) in cands:
                if low is None:
                    low = text.lower()
                    if len(low) != len(text):
                        low = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
                found = ev.from_weights(signal, text, low, cands[(i, j)], self.vec, located, hits)
            out.extend(found)
        return tuple(out)


_CACHE: dict[str, Analyzer] = {}
_LOCK = threading.Lock()


def load_analyzer(tier: str = "fast", directory: Path | None = None) -> Analyzer:
    if tier not in TIERS:
        raise UnknownTier(f"unknown tier {tier!r}; choose one of {', '.join(TIERS)}")
    d = directory or models_dir()
    try:
        vec = Vectorizer.load(d / "vocab.txt")
        heads = LinearHeads.load(d / "fast_heads.npz")
    except OSError as exc:
        raise ModelError(f"cannot load the fast model from {d}: {exc}") from exc
    rules = RuleSet.default()
    if tier == "fast":
        return Analyzer(vec, heads, rules, tier)
    from gracedesk.analysis.encoder import AccurateHeads, Encoder

    try:
        enc = Encoder.load(d / "minilm")
        acc = AccurateHeads.load(d / "accurate_heads.npz", heads.names_)
    except OSError as exc:
        raise ModelError(f"cannot load the accurate model from {d}: {exc}") from exc
    return Analyzer(vec, heads, rules, tier, encoder=enc, accurate_heads=acc)


def get_analyzer(tier: str = "fast") -> Analyzer:
    """The process-wide analyzer of a tier, loaded on first use."""
    an = _CACHE.get(tier)
    if an is None:
        with _LOCK:
            an = _CACHE.get(tier)
            if an is None:
                an = _CACHE[tier] = load_analyzer(tier)
    return an
