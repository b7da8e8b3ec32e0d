"""An article's body cut into passages: what retrieval ranks and what the agent inserts.

A passage is one paragraph (or list) under its heading; paragraphs shorter than
:data:`MIN_CHARS` join the next one in the same section, so a one-line lead-in is not a hit of
its own, and a section is never mixed with the next (its heading is the passage's context).
Each passage keeps its character span in the body: ``body[start:end] == text``, so the console
can show where it came from and a quote can be traced to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gracedesk.knowledge.article import Article

MIN_CHARS = 160  # a paragraph shorter than this joins the next one of its section
MAX_CHARS = 900  # ... unless the two together would be longer than this
# linear-time patterns (no nested or overlapping repeats): article bodies come from the console
_HEADING = re.compile(r"^(#{1,6})[ \t]+([^\n]+)$", re.MULTILINE)
_BLANK = re.compile(r"\n[ \t]*\n+")
_LINK = re.compile(r"\[([^\[\]\n]{1,500})\]\([^()\s]{0,2000}\)")
_MARKS = re.compile(r"(\*\*|__|`|^[ \t]*(?:[-*+]|\d+[.)])[ \t]+|^>[ \t]?)", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Passage:
    ordinal: int
    heading: str | None  # the nearest heading above it ("##", or the title's "#")
    text: str  # Markdown as written: ``article.body[start:end]``
    start: int
    end: int


def plain(markdown: str) -> str:
    """Markdown marks removed (links keep their words): what is indexed and embedded."""
    return " ".join(_MARKS.sub("", _LINK.sub(r"\1", markdown)).split())


def passages(article: Article) -> list[Passage]:
    """The article's passages in reading order (spans into ``article.body``)."""
    body = article.body
    out: list[Passage] = []
    for heading, a, b in _sections(body):
        pending: tuple[int, int] | None = None
        for pa, pb in _paragraphs(body, a, b):
            if pending is None:
                pending = (pa, pb)
            elif pending[1] - pending[0] < MIN_CHARS and pb - pending[0] <= MAX_CHARS:
                pending = (pending[0], pb)
            else:
                out.append(Passage(len(out), heading, body[pending[0] : pending[1]], *pending))
                pending = (pa, pb)
        if pending is not None:
            if out and out[-1].heading == heading and _short(pending) and _fits(out[-1], pending):
                last = out.pop()  # a short last paragraph joins the one before it
                pending = (last.start, pending[1])
            out.append(Passage(len(out), heading, body[pending[0] : pending[1]], *pending))
    return out


def _short(span: tuple[int, int]) -> bool:
    return span[1] - span[0] < MIN_CHARS // 2


def _fits(p: Passage, span: tuple[int, int]) -> bool:
    return span[1] - p.start <= MAX_CHARS


def _sections(body: str) -> list[tuple[str | None, int, int]]:
    """(heading, start, end) of each section's text, the heading line itself left out."""
    out: list[tuple[str | None, int, int]] = []
    heading: str | None = None
    pos = 0
    for m in _HEADING.finditer(body):
        out.append((heading, pos, m.start()))
        heading = plain(m.group(2).rstrip(" \t#"))
        pos = m.end()
    out.append((heading, pos, len(body)))
    return [(h, a, b) for h, a, b in out if body[a:b].strip()]


def _paragraphs(body: str, a: int, b: int) -> list[tuple[int, int]]:
    """Spans of the non-blank paragraphs of ``body[a:b]``, trimmed of surrounding space."""
    out: list[tuple[int, int]] = []
    pos = a
    chunk = body[a:b]
    for m in [*_BLANK.finditer(chunk), None]:
        end = a + m.start() if m is not None else b
        piece = body[pos:end]
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            trail = len(piece) - len(piece.rstrip())
            out.append((pos + lead, end - trail))
        if m is not None:
            pos = a + m.end()
    return out


def search_text(article: Article, passage: Passage) -> str:
    """What full-text search reads for a passage: title, tags, heading and the passage."""
    parts = [article.title, " ".join(article.tags)]
    if passage.heading and passage.heading != article.title:
        parts.append(passage.heading)
    parts.append(passage.text)
    return plain("\n".join(p for p in parts if p))


def embed_text(article: Article, passage: Passage) -> str:
    """What the sentence encoder reads for a passage: title, heading and the passage."""
    return embed_text_of(article.title, passage.heading, passage.text)


def embed_text_of(title: str, heading: str | None, text: str) -> str:
    parts = [title]
    if heading and heading != title:
        parts.append(heading)
    parts.append(text)
    return plain(". ".join(parts))
