"""Whether an agent's reply quotes an article: long runs of the same words, not topic overlap.

Two texts on the same subject share words; a reply that *quotes* a passage shares runs of them.
Both texts are reduced to lower-case words and compared by word shingles of :data:`SHINGLE`
words: a passage is quoted when the reply holds at least :data:`MIN_SHARED` of its shingles (a
run of ``SHINGLE + MIN_SHARED - 1`` words), or half of them for a short passage. Stock phrases
("if you have any questions please let us know") are shorter than that run.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

SHINGLE = 8
MIN_SHARED = 4  # 11 words in a row
SHORT_SHARE = 0.5
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def shingles(ws: Sequence[str], n: int = SHINGLE) -> set[tuple[str, ...]]:
    if len(ws) < n:
        return {tuple(ws)} if ws else set()
    return {tuple(ws[i : i + n]) for i in range(len(ws) - n + 1)}


def quoted(reply: str, passages: Sequence[str]) -> list[int]:
    """Indexes of the ``passages`` that ``reply`` quotes, in the order given."""
    have = shingles(words(reply))
    if not have:
        return []
    out: list[int] = []
    for i, text in enumerate(passages):
        theirs = shingles(words(text))
        if not theirs:
            continue
        shared = len(theirs & have)
        if shared >= MIN_SHARED or (shared and shared / len(theirs) >= SHORT_SHARE):
            out.append(i)
    return out
