"""Evidence: the words that drove each fired signal.

A rule hit's span is the best evidence (the exact phrase). Otherwise the features (words and
word pairs) of the message whose learned weights pushed that head's score up the most are
pointed at, located in the text by a search for the word.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from gracedesk.analysis.rules import Hit
from gracedesk.analysis.text import spans
from gracedesk.analysis.vectorizer import Vectorizer
from gracedesk.model import Evidence

MAX_WORDS = 3
MAX_SPANS = 5  # evidence spans per signal (a phrase pasted 500 times is pointed at 5 times)
MIN_WEIGHT = 0.5  # a feature's weight (before length normalisation) to count as evidence
# Function words and punctuation are never evidence on their own (they can carry weight in a
# linear model, but pointing at "the" explains nothing to an agent).
STOPWORDS = frozenset(
    "a an the and or but if so of to in on at by for from with as is are was were be been being "
    "am do does did have has had i me my we our you your he she it its they them their this that "
    "these those there here what which who whom when where why how all any some no not just very "
    "can could will would should shall may might must up down out over again then than too also "
    "about into after before because while only own same such both each few more most other "
    "i'm i'll i've i'd you'll you're it's don't that's since every get got "
    # adverbs of time, degree and place, and other function words (after scikit-learn's and
    # Glasgow's English stop lists): they carry weight in a linear model, never meaning
    "now twice once already still yet ever never always often sometimes soon later today "
    "tomorrow yesterday through throughout across along around among between during until "
    "upon within without via per whether either neither nor otherwise however therefore thus "
    "hence else elsewhere anyway anyhow somehow someone something anyone anything everyone "
    "everything nobody nothing nowhere somewhere everywhere much many lot lots really quite "
    "rather almost enough even ever first second third last next another others us him her "
    "his hers himself herself itself ourselves themselves yourself yours mine ours theirs "
    "one two three four five six seven eight nine ten am pm oh ok okay yes yeah well back "
    "like way thing things time times day days week weeks make made go going went come came "
    "say said tell told take took see saw know knew want wanted need needed let let's "
    "isn't aren't wasn't weren't can't couldn't won't wouldn't shouldn't didn't doesn't "
    "haven't hasn't hadn't we're they're we've they've he's she's there's what's who's".split()
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
    chars = np.zeros(vec.n_features - vec.n_word_features, bool)  # hashed n-grams: no word
    return np.concatenate([uni, bi, chars])


_JOINERS = "'’*@$!#%"
MAX_GAP = 2  # neighbouring evidence words are joined over at most this many spaces


def _joinable(text: str, end: int, start: int) -> bool:
    """Two evidence words are one span when only a space or two lies between them (a blanked
    URL or tag is wider, so words on either side of it stay apart)."""
    return start - end <= MAX_GAP and not text[end:start].strip()


def token_spans(
    text: str, offsets: NDArray[np.int64], flagged: NDArray[np.bool_]
) -> list[tuple[int, int]]:
    """Character spans of the flagged word pieces, widened to whole words, with neighbouring
    words joined when only a space or two lies between them. Pieces past the end of ``text`` (the
    appended emoji words) are ignored."""
    spans: list[tuple[int, int]] = []
    n = len(text)
    for k in np.flatnonzero(flagged).tolist():
        s, e = int(offsets[k, 0]), int(offsets[k, 1])
        if s >= n or e <= s:
            continue
        e = min(e, n)
        if not any(c.isalnum() for c in text[s:e]):
            continue  # punctuation is never evidence, and never glues two words together
        # widen to the whole word: letters and digits, and masking symbols inside it (f*ck)
        while s > 0 and (
            text[s - 1].isalnum() or (text[s - 1] in _JOINERS and s > 1 and text[s - 2].isalnum())
        ):
            s -= 1
        while e < n and (
            text[e].isalnum() or (text[e] in _JOINERS and e + 1 < n and text[e + 1].isalnum())
        ):
            e += 1
        if spans and s <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(e, spans[-1][1]))
        elif spans and _joinable(text, spans[-1][1], s):
            spans[-1] = (spans[-1][0], e)
        else:
            spans.append((s, e))
    return spans


class WordList:
    """A set of normalised words (the fast tier's learned abuse words, ``abuse_words.txt``)."""

    def __init__(self, words: set[str] | frozenset[str]) -> None:
        self.words = frozenset(words)

    @classmethod
    def load(cls, path: Path) -> WordList:
        if not path.exists():
            return cls(frozenset())
        lines = path.read_text(encoding="utf-8").splitlines()
        return cls({ln.split("\t")[0] for ln in lines if ln and not ln.startswith("#")})


def word_spans(text: str, words: WordList) -> list[tuple[int, int]]:
    """Spans of the words of ``text`` in the list, neighbours (only spaces between) joined."""
    if not words.words:
        return []
    out: list[tuple[int, int]] = []
    for s, e, tok in spans(text):
        if tok in words.words:
            if out and _joinable(text, out[-1][1], s):
                out[-1] = (out[-1][0], e)
            else:
                out.append((s, e))
    return out


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


@lru_cache(maxsize=64)
def _tokens_of(low: str) -> tuple[tuple[int, int, str], ...]:
    """The normalised tokens of a text, once per text (several features look them up)."""
    return tuple(spans(low))


def _locate(low: str, name: str) -> tuple[int, int] | None:
    """First occurrence of a feature as whole tokens in ``low`` (the lower-cased text); a word
    the tokeniser normalised ("1d10ts" read as "idiots") is found through its tokens."""
    m = _feature_pattern(name).search(low)
    if m:
        return (m.start(), m.end())
    words = name.split(" ")
    toks = _tokens_of(low)
    for k in range(len(toks) - len(words) + 1):
        if all(toks[k + q][2] == w for q, w in enumerate(words)):
            return (toks[k][0], toks[k + len(words) - 1][1])
    return None


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
