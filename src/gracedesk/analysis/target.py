"""Who the abuse in a message is aimed at: the agent or staff, the company (its product,
service or the situation), another person, a group — or nobody.

Good practice draws the line for sanctions at abuse aimed at people, and meets venting about the
company or the situation with empathy. The target is a distribution over :data:`TARGETS` *given*
that the message is abusive; the analyzer turns it into the contract's ``abuse_target`` by
weighting it with the message's abuse probability (``none`` = not abusive).

The head is a multinomial logistic regression (``train/train_target.py``) over the tier's own
features — the fast tier's sparse word and character features, or the accurate tier's
mean-pooled encoder vector — plus the target cues below (who is addressed or named, and whether
an abusive word sits next to them). The cues also give the evidence: the words that name the
target ("you", "your company", "my landlord").
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from gracedesk.analysis.heads import quantize

TARGETS: tuple[str, ...] = ("agent", "company", "person", "group")
AT_PEOPLE: tuple[str, ...] = ("agent", "person", "group")

# Words that name a possible target, per target. Matched on the lower-cased text.
_SECOND = r"you|u|ya|youre|you're|your|ur|yours|yourself|yourselves|y'all|yall|thou"
CUE_PATTERNS: dict[str, str] = {
    "agent": (
        r"\b(?:you(?:r)? (?:people|guys|lot|staff|team|agents?|reps?|employees|workers|morons?"
        r"|idiots?|clowns?)|your (?:staff|team|agents?|reps?|employees|workers|people|support"
        r"(?: team| staff)?|customer service(?: team| staff| reps?)?|manager|colleagues?"
        r"|call cent(?:re|er))|(?:the|that|this) (?:guy|girl|woman|man|lady|agent|rep"
        r"|representative|person|employee|operator|driver|courier|technician|cashier|clerk"
        r"|staff(?: member)?)(?: (?:on the phone|at the (?:desk|counter|store)|i spoke to"
        r"|who \w+))?|whoever (?:wrote|answered|is reading)\b[^.!?]{0,20}|(?:" + _SECOND + r"))\b"
    ),
    "company": (
        r"\b(?:(?:this|your|the|that|what a|such a) (?:\w+ )?(?:company|business|firm|service"
        r"|app|product|website|site|bank|airline|store|shop|network|system|policy|brand|outfit"
        r"|corporation|provider|delivery|order|platform|garbage|joke|scam|shambles|mess)"
        r"|scam(?:mers?)?|rip[- ]?offs?|this (?:is|was)|it(?:'s| is| was)|what a joke)\b"
    ),
    "person": (
        r"\b(?:my (?:landlord|landlady|ex|husband|wife|neighbou?rs?|boss|son|daughter|brother"
        r"|sister|mum|mom|dad|father|mother|partner|boyfriend|girlfriend|roommate|flatmate"
        r"|kids?|family|in-laws?)|(?:he|she|him|her|his)|some (?:idiot|guy|moron|thief|jerk)"
        r"|the (?:other|previous) (?:customer|guy|owner|tenant)|that (?:thief|jerk|woman|man))\b"
    ),
    "group": (
        r"\b(?:people like (?:them|that|those)|(?:all|these|those) (?:\w+ )?(?:people|immigrants"
        r"|foreigners|women|men|muslims|christians|jews|gays|blacks|whites|indians|asians"
        r"|mexicans|africans|arabs|chinese|boomers|millennials|liberals|conservatives)"
        r"|immigrants|foreigners|muslims|jews|gays|blacks|mexicans|your (?:kind|lot|race"
        r"|religion|country))\b"
    ),
}
_CUES = {k: re.compile(v) for k, v in CUE_PATTERNS.items()}
_SECOND_RE = re.compile(rf"\b(?:{_SECOND})\b")
_WORD = re.compile(r"[a-z0-9']+")
NEAR = 4  # an abusive word within this many words of a cue makes "<cue>_near_abuse" fire
CUE_FEATURES: tuple[str, ...] = (
    *(f"{t}_cue" for t in TARGETS),
    *(f"{t}_near_abuse" for t in TARGETS),
    "second_person",
    "no_cue",
)


def cue_spans(text: str) -> dict[str, list[tuple[int, int]]]:
    """Spans of each target's cue words in ``text`` (offsets index ``text``)."""
    low = text.lower()
    out: dict[str, list[tuple[int, int]]] = {}
    for t, pat in _CUES.items():
        found = [(m.start(), m.end()) for m in pat.finditer(low) if m.end() > m.start()]
        if found:
            out[t] = found
    return out


def cue_features(texts: Sequence[str], abuse_words: frozenset[str]) -> NDArray[np.float32]:
    """``(n, len(CUE_FEATURES))``: which targets are named, and which sit near abusive words."""
    X = np.zeros((len(texts), len(CUE_FEATURES)), np.float32)
    col = {f: j for j, f in enumerate(CUE_FEATURES)}
    for i, text in enumerate(texts):
        low = text.lower()
        cues = cue_spans(text)
        if cues:
            words = [(m.start(), m.group()) for m in _WORD.finditer(low)]
            starts = [w[0] for w in words]
            abusive_at = [k for k, (_, w) in enumerate(words) if w in abuse_words]
            for t, found in cues.items():
                X[i, col[f"{t}_cue"]] = min(len(found), 3) / 3
                if not abusive_at:
                    continue
                for s, e in found:
                    k = bisect_right(starts, s) - 1
                    k2 = bisect_left(starts, e)
                    if any(k - NEAR <= a <= k2 + NEAR for a in abusive_at):
                        X[i, col[f"{t}_near_abuse"]] = 1.0
                        break
        X[i, col["second_person"]] = float(_SECOND_RE.search(low) is not None)
        X[i, col["no_cue"]] = float(not cues)
    return X


def softmax(z: NDArray[np.float32]) -> NDArray[np.float32]:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: NDArray[np.float32] = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    return out


class TargetHead:
    """Multinomial logistic regression over ``[tier features, cue features]`` -> TARGETS.

    ``fit`` takes the feature matrix (scipy CSR or dense) with the cue columns last, and the
    target index of each abusive training message.
    """

    def __init__(self, C: float = 1.0, max_iter: int = 2000) -> None:
        self.C = C
        self.max_iter = max_iter

    def fit(
        self, X: sp.csr_matrix | NDArray[np.float32], y: NDArray[np.int64],
        sample_weight: NDArray[np.float32] | None = None,
    ) -> TargetHead:  # fmt: skip
        # lazy: scikit-learn is needed to fit heads, never to predict
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=self.C, max_iter=self.max_iter)
        lr.fit(X, y, sample_weight=sample_weight)
        coef = np.zeros((X.shape[1], len(TARGETS)), np.float32)
        bias = np.zeros(len(TARGETS), np.float32)
        coef[:, lr.classes_] = lr.coef_.T
        bias[lr.classes_] = lr.intercept_
        bias[np.setdiff1d(np.arange(len(TARGETS)), lr.classes_)] = -30.0
        self.coef_, self.intercept_ = coef, bias
        return self

    def decision_function(self, X: sp.csr_matrix | NDArray[np.float32]) -> NDArray[np.float32]:
        out: NDArray[np.float32] = np.asarray(X @ self.coef_, np.float32) + self.intercept_
        return out

    def predict_proba(self, X: sp.csr_matrix | NDArray[np.float32]) -> NDArray[np.float32]:
        return softmax(self.decision_function(X))

    def save(self, path: Path) -> None:
        q, scale = quantize(self.coef_)
        np.savez_compressed(
            path, q=q, scale=scale, bias=self.intercept_, targets=np.array(TARGETS),
            cues=np.array(CUE_FEATURES),
        )  # fmt: skip

    @classmethod
    def load(cls, path: Path) -> TargetHead:
        self = cls()
        with np.load(path) as z:
            if [str(t) for t in z["targets"]] != list(TARGETS) or [
                str(c) for c in z["cues"]
            ] != list(CUE_FEATURES):
                raise ValueError(f"{path}: targets or cue features do not match this version")
            self.coef_ = z["q"].astype(np.float32) * z["scale"]
            self.intercept_ = z["bias"].astype(np.float32)
        return self
