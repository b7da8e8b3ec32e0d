"""When an article helps: the message shows missing or misunderstood information, or asks
about a policy.

Guidance shows articles only then; an angry message about a late parcel that the agent already
explained needs de-escalation, not a policy text. The thresholds are the signals' own decision
threshold (0.5, the contract's), so a suggestion is explained by the labels the console shows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from gracedesk.model import Signals

THRESHOLD = 0.5
CAUSES = ("lack_of_information", "miscommunication")
EMOTIONS = ("confusion",)
REQUESTS = ("refund", "cancel", "policy_exception")


def reasons(signals: Signals | Mapping[str, Any]) -> list[str]:
    """The signals (``causes.lack_of_information``, ...) that call for an article; empty: none."""
    groups = (
        ("causes", CAUSES),
        ("emotions", EMOTIONS),
        ("requests", REQUESTS),
    )
    out: list[str] = []
    for group, names in groups:
        scores = getattr(signals, group) if isinstance(signals, Signals) else signals.get(group)
        if not isinstance(scores, Mapping):
            continue
        for name in names:
            value = scores.get(name)
            if isinstance(value, int | float) and value >= THRESHOLD:
                out.append(f"{group}.{name}")
    return out


# Words that say nothing about a topic; a suggestion must share at least one other word.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers him his how i if in into is it its just me
    more most my myself no nor not now of off on once only or other our ours out over own same
    she should so some such than that the their them then there these they this those through
    to too under until up very was we were what when where which while who whom why will with
    would you your yours yet still get got please hi hello thanks thank dear told tell know
    want need one two also ever never nobody anyone someone something anything""".split()
)
_WORD = re.compile(r"[^\W\d_]{3,}")


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> set[str]:
    """Lower-case stems of the words of ``text`` that carry a topic (no stop words)."""
    return {_stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS}


def shared_words(message: str, passage: str) -> set[str]:
    """The topic words a message and a passage share (a suggestion needs at least one)."""
    return content_words(message) & content_words(passage)


def query_terms(text: str) -> list[str]:
    """The words of a query worth a full-text lookup: no stop words, in order, each once."""
    out: list[str] = []
    for w in re.findall(r"[^\W_]+", text.lower()):
        if w not in STOPWORDS and w not in out:
            out.append(w)
    return out
