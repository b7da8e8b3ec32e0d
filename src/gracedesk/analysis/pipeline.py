"""The analyzer: texts -> Signals (contract v1), for the ``fast`` and ``accurate`` tiers.

Models are loaded once per process, lazily, by :func:`get_analyzer`. ``fast`` uses word,
word-pair and character n-gram features plus rule hits under calibrated linear heads distilled
from the accurate tier; ``accurate`` runs MiniLM-L6 fine-tuned end to end on every head (ONNX,
int8), blends its logits with the fast heads' and takes abuse, request, threat and cause
evidence from its token head.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gracedesk.analysis import evidence as ev
from gracedesk.analysis.context import with_context
from gracedesk.analysis.encoder import TOKEN_KINDS, AccurateHeads, Encoded, Encoder
from gracedesk.analysis.features import Featurized, featurize
from gracedesk.analysis.heads import LinearHeads, dot, sigmoid
from gracedesk.analysis.language import (
    DISCOUNT,
    LEXICON_SCORE,
    LanguageId,
    Lexicon,
    LexiconHit,
    language_id,
)
from gracedesk.analysis.risk import WEIGHTS, risk_matrix
from gracedesk.analysis.rules import RuleSet
from gracedesk.analysis.target import (
    CUE_FEATURES,
    TARGETS,
    TargetHead,
    cue_features,
    cue_spans,
    softmax,
)
from gracedesk.analysis.text import lower
from gracedesk.analysis.vectorizer import Vectorizer
from gracedesk.errors import EmptyText, InvalidInput, ModelError, UnknownTier
from gracedesk.model import (
    ABUSE,
    CAUSES,
    EMOTIONS,
    EMOTIONS_FINE,
    MODEL_LANGUAGES,
    REQUESTS,
    Evidence,
    Signals,
)
from gracedesk.model.situation import Situation

MODEL_VERSION = "gracedesk-signals/1.0"
# Below this abuse probability the target cues are not read: no target share can then lift
# abuse at people to the 0.5 line, and the cues cost most of the target's time.
TARGET_FLOOR = 0.2
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

# Heads (or head prefixes) that say whether something is present anywhere in a message: a long
# message split into encoder windows takes their maximum over the windows (the rest the mean).
PRESENCE = frozenset({"abuse", "requests", "causes", "complaint", "public_threat", "legal_threat"})
# Head (or head prefix) -> the accurate tier's token-head column that points at its evidence.
TOKEN_KIND: dict[str, int] = {
    "abuse": TOKEN_KINDS.index("abuse"),
    "abuse.threat": TOKEN_KINDS.index("threat"),
    "public_threat": TOKEN_KINDS.index("threat"),
    "legal_threat": TOKEN_KINDS.index("threat"),
    "requests": TOKEN_KINDS.index("request"),
    "causes": TOKEN_KINDS.index("cause"),
}


def presence_mask() -> NDArray[np.bool_]:
    """Which heads combine an encoder's windows by maximum (see :data:`PRESENCE`)."""
    return np.array([h in PRESENCE or h.split(".")[0] in PRESENCE for h in HEADS])


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
        abuse_words: ev.WordList | None = None,
        target_head: TargetHead | None = None,
        languages: LanguageId | None = None,
        lexicon: Lexicon | None = None,
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
        self._abuse_idx = sorted(self._abuse_cols)
        self._signal = [SIGNAL_NAME.get(n, n) for n in HEADS]
        self._family = [FAMILY.get(n) for n in HEADS]
        self._token_kind = [TOKEN_KIND.get(n, TOKEN_KIND.get(n.split(".")[0], -1)) for n in HEADS]
        self.abuse_words = abuse_words or ev.WordList(frozenset())
        self.target_head = target_head
        # the fast tier's target head shares the heads' sparse product: its sparse weights sit
        # next to theirs, so one product gives both
        self._fast_target: NDArray[np.float32] | None = None
        if target_head is not None and encoder is None:
            n = heads.coef_.shape[0]
            self._fast_target = np.ascontiguousarray(
                np.hstack([heads.coef_, target_head.coef_[:n]]), np.float32
            )
        self.languages = languages
        self.lexicon = lexicon or Lexicon({})
        self._sentiment_cols = [
            self.col[f"sentiment.{x}"] for x in ("negative", "neutral", "positive")
        ]
        self._offensive_col = self.col["abuse.offensive"]
        # the fast tier's abuse heads whose evidence comes from the learned abuse words
        self._word_abuse_cols = {
            self.col[f"abuse.{a}"]
            for a in ("offensive", "insult", "profanity", "harassment", "identity_attack")
        }
        self._memo: OrderedDict[str, Signals] = OrderedDict()
        self._memo_lock = threading.Lock()

    # -- scores ---------------------------------------------------------------------------
    def probabilities(
        self, texts: Sequence[str]
    ) -> tuple[NDArray[np.float32], Featurized, Encoded | None]:
        """``(n, n_heads)`` calibrated probabilities, the featurized batch and, for the
        accurate tier, the encoder's output (token logits for evidence)."""
        P, feat, enc, _ = self._scores(texts)
        return P, feat, enc

    def _scores(
        self, texts: Sequence[str]
    ) -> tuple[NDArray[np.float32], Featurized, Encoded | None, NDArray[np.float32] | None]:
        """:meth:`probabilities` plus, on the fast tier, the abuse-target head's logits from
        the sparse features (computed in the same product as the heads')."""
        feat = featurize(texts, self.vec, self.rules)
        k = len(HEADS)
        if self._fast_target is not None:
            z = dot(feat.batch, self._fast_target)
            logits, target_part = z[:, :k] + self.heads.intercept_, z[:, k:]
        else:
            logits, target_part = self.heads.decision_function(feat.batch), None
        enc = None
        if self.encoder is not None and self.accurate_heads is not None:
            enc = self.encoder.encode(feat.texts)
            logits = self.accurate_heads.blend(logits, enc.logits)
        return sigmoid(logits), feat, enc, target_part

    # -- API ------------------------------------------------------------------------------
    def analyze_many(self, texts: Sequence[str], ids: Sequence[Any] | None = None) -> list[Signals]:
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise InvalidInput(f"text #{i} is {type(t).__name__}, not a string")
            if not t.strip():
                raise EmptyText(f"text #{i} is empty or only whitespace")
        if not texts:
            return []
        P, feat, enc, target_part = self._scores(texts)
        ids = ids if ids is not None else [None] * len(texts)
        langs = (
            self.languages.detect_many(feat.texts)
            if self.languages is not None
            else [("und", 0.0)] * len(texts)
        )
        lex = self._other_languages(P, langs, feat.texts)
        p_abusive_arr = P[:, self._abuse_idx].max(axis=1)
        targets = self.targets(feat, enc, target_part, p_abusive_arr >= TARGET_FLOOR)
        if targets is not None:
            for i, hits in lex.items():  # the English head cannot read the target: the patterns
                targets[i] = _foreign_target(hits, targets[i])
        rows = np.round(P.astype(np.float64), 4).tolist()
        fired: NDArray[np.bool_] = P >= 0.5
        fired[:, self._not_label] = False
        any_fired: list[bool] = np.any(fired, axis=1).tolist()
        risks = np.round(risk_matrix(P, self._risk_w).astype(np.float64), 4).tolist()
        cands = ev.candidates(fired, feat.batch.ids, feat.batch.ptr, self.heads.coef_, self._usable)
        p_abusive = p_abusive_arr.astype(np.float64).tolist()
        joint = (
            np.round(targets.astype(np.float64) * p_abusive_arr[:, None], 4).tolist()
            if targets is not None
            else None
        )
        out: list[Signals] = []
        for i in range(len(texts)):
            sig = self._signals(
                i, rows[i], risks[i], feat, ids[i], fired[i] if any_fired[i] else None, cands, enc
            )
            if targets is not None and joint is not None:
                sig = self._with_target(sig, p_abusive[i], targets[i], joint[i], feat.texts[i])
            out.append(self._with_language(sig, langs[i][0], lex.get(i), feat.texts[i]))
        return out

    def _other_languages(
        self, P: NDArray[np.float32], langs: list[tuple[str, float]], texts: list[str]
    ) -> dict[int, list[LexiconHit]]:
        """For messages in a language the models do not read: their scores pulled toward
        "nothing there" (sentiment toward neutral-uniform), then raised where the
        multilingual patterns find a signal. Returns the pattern hits per message. In place."""
        out: dict[int, list[LexiconHit]] = {}
        sc = self._sentiment_cols
        for i, (lang, _) in enumerate(langs):
            if lang in MODEL_LANGUAGES or lang == "und":
                continue
            sent = P[i, sc] * DISCOUNT + (1 - DISCOUNT) / 3
            P[i] *= DISCOUNT
            P[i, sc] = sent
            hits = self.lexicon.scan(texts[i], lang)
            out[i] = hits
            for h in hits:
                col = self.col.get(h.signal)
                if col is not None:
                    P[i, col] = max(P[i, col], LEXICON_SCORE)
                    if h.signal.startswith("abuse."):
                        P[i, self._offensive_col] = max(P[i, self._offensive_col], LEXICON_SCORE)
        return out

    def _with_language(
        self, sig: Signals, lang: str, hits: list[LexiconHit] | None, text: str
    ) -> Signals:
        """The signals with their language; for one the models do not read, the
        ``unsupported_language`` label and the multilingual patterns' words as evidence."""
        if hits is None:
            return sig if lang == sig.language else replace(sig, language=lang)
        fired = {h.signal for h in hits}
        keep: list[LexiconHit] = []  # per signal, the longest of overlapping matches
        for h in sorted(hits, key=lambda h: (h.start - h.end, h.start)):
            if h.signal == "target.agent" and not fired & {"abuse.insult", "abuse.threat"}:
                continue
            if h.signal != "target.agent" and h.signal not in self.col:
                continue
            if not any(k.signal == h.signal and k.start < h.end and h.start < k.end for k in keep):
                keep.append(h)
        evidence = tuple(
            Evidence(
                "abuse_target.agent" if h.signal == "target.agent" else SIGNAL_NAME.get(h.signal, h.signal),
                h.start, h.end, text[h.start : h.end],
            )
            for h in sorted(keep, key=lambda h: (h.start, h.end))
        )  # fmt: skip
        labels = (*sig.labels, "unsupported_language")
        return replace(sig, language=lang, labels=labels, evidence=evidence)

    def targets(
        self,
        feat: Featurized,
        enc: Encoded | None,
        sparse_part: NDArray[np.float32] | None,
        read: NDArray[np.bool_] | None = None,
    ) -> NDArray[np.float32] | None:
        """``(n, len(TARGETS))``: who the abuse would be aimed at, given that it is abusive.
        ``sparse_part``: the fast head's logits from the sparse features (see ``_scores``);
        ``read``: the messages whose target cues are read (the others, far from abusive, get
        none: their ``abuse_target`` is almost all ``none`` whatever the cues say)."""
        head = self.target_head
        if head is None:
            return None
        cues = np.zeros((len(feat.texts), len(CUE_FEATURES)), np.float32)
        rows = np.flatnonzero(read) if read is not None else np.arange(len(feat.texts))
        if len(rows):
            cues[rows] = cue_features([feat.texts[i] for i in rows], self.abuse_words.words)
        if enc is not None:
            return head.predict_proba(np.hstack([enc.pooled, cues]))
        assert sparse_part is not None
        n = self.heads.coef_.shape[0]
        return softmax(sparse_part + cues @ head.coef_[n:] + head.intercept_)

    def _with_target(
        self, sig: Signals, p_abusive: float, cond: NDArray[np.float32], joint: list[float],
        text: str,
    ) -> Signals:  # fmt: skip
        """The signals with ``abuse_target`` (``joint``: P(abusive and aimed at each target)),
        its label and the words that name the target."""
        scores = dict(zip(TARGETS, joint, strict=True))
        scores["none"] = round(1.0 - p_abusive, 4)
        if p_abusive < 0.5:
            return replace(sig, abuse_target=scores)
        top = TARGETS[int(np.argmax(cond))]
        found = cue_spans(text).get(top, [])
        abusive = [(e.start, e.end) for e in sig.evidence if e.signal.startswith("abuse.")]
        near = [
            (s, e) for s, e in found if any(s - 15 <= b and a <= e + 15 for a, b in abusive)
        ]  # fmt: skip
        spans = (near or found[:1])[: ev.MAX_SPANS]
        extra = tuple(Evidence(f"abuse_target.{top}", s, e, text[s:e]) for s, e in spans)
        labels = list(sig.labels)
        at = labels.index("abusive") + 1 if "abusive" in labels else len(labels)
        labels.insert(at, f"abuse_at_{top}")
        return replace(
            sig, abuse_target=scores, labels=tuple(labels), evidence=sig.evidence + extra
        )

    def evidence_for(
        self, texts: Sequence[str], heads: Sequence[str]
    ) -> list[tuple[Evidence, ...]]:
        """The evidence each text would get if ``heads`` had fired (whatever their scores):
        what a span detector alone points at, as SemEval-2021 Task 5 measures it."""
        if not texts:
            return []
        P, feat, enc = self.probabilities(texts)
        cols = [self.col[h] for h in heads]
        fired = np.zeros(P.shape, bool)
        fired[:, cols] = True
        cands = ev.candidates(fired, feat.batch.ids, feat.batch.ptr, self.heads.coef_, self._usable)
        return [self._evidence(i, cols, feat, cands, enc) for i in range(len(texts))]

    def forget(self) -> None:
        """Drop the remembered results of earlier messages (after an erasure: no copy of a
        customer's text may stay, not even in memory)."""
        with self._memo_lock:
            self._memo.clear()

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

    def analyze_batch(
        self,
        texts: Sequence[str],
        contexts: Sequence[Situation | Mapping[str, Any] | None],
        ids: Sequence[Any] | None = None,
    ) -> list[Signals]:
        """:meth:`analyze` for many messages at once, each with its own context (``None`` for
        none): the texts go through the models in one batch, which is several times faster per
        message than one at a time."""
        sigs = self.analyze_many(texts, ids=ids)
        return [
            s if c is None else with_context(self, s, t, c)
            for s, t, c in zip(sigs, texts, contexts, strict=True)
        ]

    def analyze(
        self, text: str, *, context: Situation | Mapping[str, Any] | None = None, id: Any = None
    ) -> Signals:
        """Signals for ``text``; with ``context`` (the Situation it was written in, or the
        library's context mapping) the conversation-level signals too."""
        sig = self.analyze_many([text], ids=[id])[0]
        if context is None:
            return sig
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
        enc: Encoded | None,
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
            evidence = self._evidence(i, cols, feat, cands, enc)
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
        self,
        i: int,
        cols: list[int],
        feat: Featurized,
        cands: dict[tuple[int, int], list[int]],
        enc: Encoded | None,
    ) -> tuple[Evidence, ...]:
        out: list[Evidence] = []
        text, hits = feat.texts[i], feat.hits[i]
        low: str | None = None
        located: dict[int, tuple[int, int] | None] = {}
        kind_spans: dict[int, list[tuple[int, int]]] = {}
        for j in cols:
            signal, family = self._signal[j], self._family[j]
            found: list[Evidence] = []
            kind = self._token_kind[j]
            if enc is not None and kind >= 0 and self.accurate_heads is not None:
                if kind not in kind_spans:
                    z = enc.token_logits[i][:, kind] + self.accurate_heads.token_bias_[kind]
                    kind_spans[kind] = ev.token_spans(text, enc.offsets[i], z > 0)
                found = [Evidence(signal, s, e, text[s:e]) for s, e in kind_spans[kind]]
            if not found and j in self._word_abuse_cols:
                if -1 not in kind_spans:
                    kind_spans[-1] = ev.word_spans(text, self.abuse_words)
                found = [Evidence(signal, s, e, text[s:e]) for s, e in kind_spans[-1]]
            if not found and family and hits:
                found = ev.from_hits(signal, text, hits, family)
            if not found and (i, j) in cands:
                if low is None:
                    low = lower(text)
                found = ev.from_weights(signal, text, low, cands[(i, j)], self.vec, located, hits)
            out.extend(found[: ev.MAX_SPANS])
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
    words = ev.WordList.load(d / "abuse_words.txt")
    target = _target_head(d / f"target_{tier}.npz")
    lid, lexicon = language_id(), Lexicon.default()
    if tier == "fast":
        return Analyzer(
            vec, heads, rules, tier, abuse_words=words, target_head=target, languages=lid,
            lexicon=lexicon,
        )  # fmt: skip
    try:
        enc = Encoder.load(d / "minilm")
        acc = AccurateHeads.load(d / "accurate_heads.npz", heads.names_)
    except (OSError, KeyError, ValueError) as exc:
        raise ModelError(f"cannot load the accurate model from {d}: {exc}") from exc
    enc.max_heads = presence_mask()
    return Analyzer(
        vec, heads, rules, tier, encoder=enc, accurate_heads=acc, abuse_words=words,
        target_head=target, languages=lid, lexicon=lexicon,
    )  # fmt: skip


# Who the abuse in another language is aimed at, from the multilingual patterns: an insult or a
# threat with a second-person address is aimed at the agent; without one, at people (a threat of
# violence or an insult is aimed at someone), split between the agent and another person.
_AT_AGENT = np.array([0.85, 0.05, 0.07, 0.03], np.float32)
_AT_SOMEONE = np.array([0.45, 0.1, 0.4, 0.05], np.float32)


def _foreign_target(hits: list[LexiconHit], english: NDArray[np.float32]) -> NDArray[np.float32]:
    kinds = {h.signal for h in hits}
    if not kinds & {"abuse.insult", "abuse.threat"}:
        return english
    return _AT_AGENT if "target.agent" in kinds else _AT_SOMEONE


def _target_head(path: Path) -> TargetHead | None:
    """The tier's abuse-target head; ``None`` only while it is being trained (its script
    loads the analyzer before the head exists)."""
    if not path.exists():
        return None
    try:
        return TargetHead.load(path)
    except (OSError, KeyError, ValueError) as exc:
        raise ModelError(f"cannot load the abuse-target head {path}: {exc}") from exc


def get_analyzer(tier: str = "fast") -> Analyzer:
    """The process-wide analyzer of a tier, loaded on first use."""
    an = _CACHE.get(tier)
    if an is None:
        with _LOCK:
            an = _CACHE.get(tier)
            if an is None:
                an = _CACHE[tier] = load_analyzer(tier)
    return an
