"""Text normalisation and word tokens for the fast tier.

The fast tier reads words with one regular expression (about 100,000 short messages a second
on one core); the same expression with ``finditer`` gives character spans for evidence.
Normalisation keeps the text's length so that offsets always index the caller's text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

MAX_CHARS = 20_000
"""Texts are analysed on their first ``MAX_CHARS`` characters (documented in docs/analysis.md)."""

_TAG = re.compile(r"<[^<>\n]{1,200}>")
_URL = re.compile(r"(?:https?://|www\.)\S+")
_MENTION = re.compile(r"(?<![\w'’*#@$!%])@\w+")
_WORD = re.compile(
    r"[^\W_]+(?:['’*][^\W_]+|[*#@$!%]+[^\W_]+)*\**"  # words, don't, f*ck, sh!t, f***
    r"|[!?]{2,}"  # !!! ???
    r"|[^\w\s]",  # any other symbol, emoji included
)


def clean(text: str) -> str:
    """Blank out HTML tags, URLs and @handles with spaces of the same length (offsets hold)."""
    if "<" in text:
        text = _TAG.sub(lambda m: " " * len(m.group()), text)
    if "://" in text or "www." in text:
        text = _URL.sub(lambda m: " " * len(m.group()), text)
    return text


# Obfuscation that should read like the plain word: "1d10ts", "sh1t", "@sshole", "idiotsssss",
# "i d i o t s". Digits map to letters only inside a word that has letters and is not a number
# with a unit ("24h", "3rd", "30days") or a name with a number ("mp3", "iphone7").
_LEET = str.maketrans("013457@$!", "oieastasi")
_NOT_LEET = re.compile(
    r"\d+(?:st|nd|rd|th|s|am|pm|h|hrs?|mins?|m|k|kg|g|gb|mb|tb|x|d|days?|minutes?|hours?|weeks?"
    r"|months?|years?|yrs?|stars?)|[a-z]+\d+|[\d.,:/-]+"
)
_DIGIT = re.compile(r"\d")
_RUN3 = re.compile(r"([^\W\d_])\1{2,}")
_SPACED = re.compile(r"(?<![\w'’*#@$!%])(?:[^\W\d_] ){3,}[^\W\d_](?![\w'’*#@$!%])")
# a text needs the slow path when one of its words may change under normalize()
_NEEDS_NORM = re.compile(r"([^\W\d_])\1{2,}|[^\W_][*#@$!%]|[*#@$!%][^\W_]")


def _may_change(low: str) -> bool:
    """Whether a word of the lower-cased text may read differently once normalised (cheap
    checks; most messages answer no)."""
    return bool(
        not low.isascii() or _DIGIT.search(low) or _NEEDS_NORM.search(low) or _SPACED.search(low)
    )


def normalize(tok: str) -> str:
    """One word token as the models read it: leetspeak undone, letters repeated 3+ times cut
    to two ("soooo" -> "soo"). Plain words come back unchanged (and cheaply)."""
    if tok.isalpha():
        return _RUN3.sub(r"\1\1", tok) if len(tok) > 3 and _RUN3.search(tok) else tok
    if len(tok) < 3 or not any(c.isalpha() for c in tok) or _NOT_LEET.fullmatch(tok):
        return tok
    mapped = tok.translate(_LEET)
    if mapped.replace("'", "").replace("’", "").replace("*", "").isalpha():
        return _RUN3.sub(r"\1\1", mapped)
    return tok


def _words(low: str) -> Iterator[tuple[int, int, str]]:
    """``(start, end, normalised token)`` of the lower-cased text; a run of four or more
    single letters ("i d i o t s") is read as one word."""
    spaced = [(m.start(), m.end()) for m in _SPACED.finditer(low)] if " " in low else []
    k = 0
    for m in _WORD.finditer(low):
        s = m.start()
        while k < len(spaced) and spaced[k][1] <= s:
            k += 1
        if k < len(spaced) and spaced[k][0] <= s < spaced[k][1]:
            a, b = spaced[k]
            if s == a:
                yield a, b, low[a:b].replace(" ", "")
            continue
        yield s, m.end(), normalize(m.group())


def tokens(text: str, low: str | None = None) -> list[str]:
    """Lower-cased, normalised word tokens; ``<caps>`` is added when the whole message shouts.

    ``low`` is ``text.lower()`` when the caller has it already.
    """
    if low is None:
        low = lower(text)
    if "@" in low:
        low = _MENTION.sub(lambda m: " " * len(m.group()), low)
    toks = _WORD.findall(low)
    if " " in low and _SPACED.search(low):
        toks = [t for _, _, t in _words(low)]
    elif _RUN3.search(low):
        toks = [normalize(t) for t in toks]
    elif _may_change(low):
        toks = [t if t.isalpha() else normalize(t) for t in toks]
    if len(text) >= 8 and text.isupper():
        toks.append("<caps>")
    return toks


def lower(text: str) -> str:
    """``text.lower()`` of the same length (a few characters lower-case to two: kept as they
    are), so offsets into it index ``text``."""
    low = text.lower()
    if len(low) != len(text):
        low = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    return low


def spans(text: str) -> Iterator[tuple[int, int, str]]:
    """``(start, end, token)`` for every word of ``text`` as :func:`tokens` reads it (@handles
    left out); the offsets index ``text``."""
    low = lower(text)
    if "@" in low:
        low = _MENTION.sub(lambda m: " " * len(m.group()), low)
    return _words(low)


def deobfuscate(text: str) -> tuple[str, list[tuple[int, int]] | None]:
    """``text`` with obfuscated words written plainly ("1d10ts" -> "idiots", "i d i o t s" ->
    "idiots", "soooo" -> "soo"), for a reader with a fixed vocabulary (the encoder), and for
    every character of the result the ``(start, end)`` span of ``text`` it came from; ``None``
    when nothing changed (the common case, decided by the same cheap checks as
    :func:`tokens`)."""
    low = lower(text)
    if not _may_change(low):
        return text, None
    parts: list[str] = []
    where: list[tuple[int, int]] = []
    pos = 0
    changed = False
    for s, e, tok in _words(low):
        if tok == low[s:e] or not tok[:1].isalpha():
            continue
        changed = True
        parts.append(text[pos:s])
        where.extend((i, i + 1) for i in range(pos, s))
        parts.append(tok)
        where.extend((s, e) for _ in tok)
        pos = e
    if not changed:
        return text, None
    parts.append(text[pos:])
    where.extend((i, i + 1) for i in range(pos, len(text)))
    return "".join(parts), where
