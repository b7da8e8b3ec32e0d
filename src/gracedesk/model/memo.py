"""Memoising a pure function of a message's text.

A conversation's earlier messages come back at every new message (as context, as turns of the
playbook, as the hand-over's history), so what is read from one text is read once. The memo is
bounded in entries and in size: a text longer than :data:`MEMO_CHARS` is read each time, so one
memo holds at most ``MEMO_TEXTS x MEMO_CHARS`` characters of text.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, wraps
from typing import TypeVar

T = TypeVar("T")

MEMO_TEXTS = 4096  # texts remembered per function (a batch of 64 conversations of 40 turns fits)
MEMO_CHARS = 2_000  # longer texts are not remembered


def per_text(fn: Callable[[str], T]) -> Callable[[str], T]:
    """``fn`` memoised on its text argument (``fn`` must be pure and return an immutable value)."""
    cached = lru_cache(maxsize=MEMO_TEXTS)(fn)

    @wraps(fn)
    def call(text: str) -> T:
        return cached(text) if len(text) <= MEMO_CHARS else fn(text)

    return call
