"""From raw texts to the fast tier's features: clean, tokenise, scan rules, vectorise."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gracedesk.analysis.emoji import describe
from gracedesk.analysis.rules import Hit, RuleSet
from gracedesk.analysis.text import MAX_CHARS, clean, tokens
from gracedesk.analysis.vectorizer import Batch, Vectorizer


@dataclass(frozen=True, slots=True)
class Featurized:
    """A batch's features plus what evidence needs: cleaned texts and rule hits."""

    batch: Batch
    texts: list[str]
    hits: list[list[Hit]]


def prepare(text: str) -> str:
    """The text that is analysed: its first ``MAX_CHARS`` characters, tags and URLs blanked."""
    return clean(text[:MAX_CHARS])


def token_lists(
    texts: Sequence[str], rules: RuleSet
) -> tuple[list[list[str]], list[list[str]], list[list[Hit]]]:
    """Word tokens, the rule features that fired (``<r:FAMILY>``) and the hits, per text."""
    all_toks: list[list[str]] = []
    all_flags: list[list[str]] = []
    all_hits: list[list[Hit]] = []
    scan = rules.scan
    for t in texts:
        low = t.lower()
        toks = tokens(t, low)
        emo = describe(t)
        if emo:
            toks.extend(tokens(emo))
        hits = scan(t, set(toks), low)
        all_toks.append(toks)
        all_hits.append(hits)
        all_flags.append(sorted({f"<r:{h.family}>" for h in hits}) if hits else [])
    return all_toks, all_flags, all_hits


def featurize(texts: Sequence[str], vec: Vectorizer, rules: RuleSet) -> Featurized:
    cleaned = [prepare(t) for t in texts]
    toks, flags, hits = token_lists(cleaned, rules)
    return Featurized(vec.transform(toks, flags), cleaned, hits)
