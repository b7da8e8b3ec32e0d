"""Evidence: the words that drove each fired signal.

A rule hit's span is the best evidence (the exact phrase). Otherwise the features (words and
word pairs) of the message whose learned weights pushed that head's score up the most are
pointed at, located in the text by a search for the word.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from gracedesk.analysis.rules import Hit
from gracedesk.analysis.vectorizer import Vectorizer
from gracedesk.model import Evidence

MAX_WORDS = 3
MIN_WEIGHT = 0.5  # a feature's weight (before length normalisation) to count as evidence
# Function words and punctuation are never evidence on their own (they can carry weight in a
# linear model, but pointing at "the" explains nothing to an agent).
STOPWORDS = frozenset(
    "a an the and or but if so of to in on at by for from with as is are was were be been being "
    "am do does did have has had i me my we our you your he she it its they them their this that "
    "these those there here what which who whom when where why how all any some no not just very "
    "can could will would should shall may might must up down out over again then than too also "
    "about into after before because while only own same such both each few more most other "
    "i'm i'll i've i'd you'll you're it's don't that's since every get got".split()
)


def _usable(word: str) -> bool:
    return bool(word) and word not in STOPWORDS and (word[0].isalnum() or not word.isascii())


def usable_features(vec: Vectorizer) -> NDArray[np.bool_]:
    """Which features may be shown as evidence: no stopwords or punctuation. A rule feature
    (``<r:FAMILY>``) is usable: its evidence is that family's matched phrases."""
    uni = np.array([_usable(w) or w.startswith("<r:") for w in vec.words_], bool)
    n = len(vec.words_)
    left, right = vec.bigram_keys_ // n, vec.bigram_keys_ % n
    bi = (uni[left] | uni[right]) & ~np.array([vec.words_[i].startswith("<") for i in right], bool)
    return np.concatenate([uni, bi])


def from_hits(signal: str, text: str, hits: list[Hit], family: str) -> list[Evidence]:
    """The family's rule spans, longest first where two overlap, in text order."""
    mine = sorted((h for h in hits if h.family == family), key=lambda h: (h.start - h.end, h.start))
    out: list[Evidence] = []
    for h in mine:
        if all(h.end <= o.start or o.end <= h.start for o in out):
            out.append(Evidence(signal, h.start, h.end, text[h.start : h.end]))
    out.sort(key=lambda ev: ev.start)
    return out


@lru_cache(maxsize=65536)
def _feature_pattern(name: str) -> re.Pattern[str]:
    """A feature (``word`` or ``word word``) as whole tokens; compiled once per feature."""
    words = [re.escape(w) for w in name.split(" ")]
    first, last = name[0], name[-1]
    pre = r"(?<![^\W_])" if first.isalnum() else ""
    post = r"(?![^\W_])" if last.isalnum() else ""
    return re.compile(pre + r"\s*".join(words) + post)


def _locate(low: str, name: str) -> tuple[int, int] | None:
    """First occurrence of a feature as whole tokens in ``low`` (the lower-cased text)."""
    m = _feature_pattern(name).search(low)
    return (m.start(), m.end()) if m else None


def candidates(
    fired: NDArray[np.bool_],
    ids: NDArray[np.int64],
    ptr: NDArray[np.int64],
    coef: NDArray[np.float32],
    usable: NDArray[np.bool_],
    per_pair: int = 2 * MAX_WORDS,
) -> dict[tuple[int, int], list[int]]:
    """For every fired ``(doc, head)``: its features with the largest positive weights, best first.

    Computed for the whole batch at once (sorting one flat array), so evidence costs little
    even when most messages fire a label.
    """
    d, j = np.nonzero(fired)
    if len(d) == 0:
        return {}
    lens = ptr[d + 1] - ptr[d]
    total = int(lens.sum())
    if total == 0:
        return {}
    seg = np.repeat(np.arange(len(d)), lens)
    starts = np.cumsum(lens) - lens
    pos = np.arange(total) - np.repeat(starts, lens) + np.repeat(ptr[d], lens)
    feats = ids[pos]
    w = coef[feats, np.repeat(j, lens)]
    good = usable[feats] & (w >= MIN_WEIGHT)  # most features never qualify: sort only the rest
    seg, feats, w = seg[good], feats[good], w[good]
    if len(seg) == 0:
        return {}
    order = np.lexsort((-w, seg))
    seg, feats = seg[order], feats[order]
    rank = np.arange(len(seg)) - np.searchsorted(seg, seg, side="left")
    keep = rank < per_pair
    out: dict[tuple[int, int], list[int]] = {}
    dl, jl = d.tolist(), j.tolist()
    for k, f in zip(seg[keep].tolist(), feats[keep].tolist(), strict=True):
        lst = out.setdefault((dl[k], jl[k]), [])
        if f not in lst:
            lst.append(f)
    return out


def from_weights(
    signal: str,
    text: str,
    low: str,
    feats: list[int],
    vec: Vectorizer,
    found: dict[int, tuple[int, int] | None],
    hits: list[Hit],
) -> list[Evidence]:
    """Up to ``MAX_WORDS`` non-overlapping features of ``feats`` (best first), located in the text.

    A rule feature points at the phrases its family matched. ``found`` caches feature -> span
    for this text (several signals often share words).
    """
    out: list[Evidence] = []
    for f in feats:
        name = vec.feature_name(f)
        if name.startswith("<r:"):
            spans = [(e.start, e.end) for e in from_hits(signal, text, hits, name[3:-1])]
        else:
            if f not in found:
                found[f] = _locate(low, name)
            span = found[f]
            spans = [span] if span is not None else []
        for s, e in spans:
            if all(e <= o.start or o.end <= s for o in out):
                out.append(Evidence(signal, s, e, text[s:e]))
        if len(out) >= MAX_WORDS:
            break
    out.sort(key=lambda ev: ev.start)
    return out
