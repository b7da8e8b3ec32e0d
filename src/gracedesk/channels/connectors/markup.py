"""HTML in, plain text out (and back): helpdesks store many messages as HTML.

The analysis reads plain text, so an HTML body (a Zammad e-mail article, a Help Scout thread, a
Freshdesk comment) is reduced to its text with block elements as line breaks; scripts and styles
are dropped whole. Notes and replies go to HTML-only APIs escaped, with ``<br>`` for newlines.
Nothing here evaluates or fetches anything: the parser only collects text.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

BLOCKS = frozenset(
    {"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre"}
)
SKIP = frozenset({"script", "style", "head", "title"})
TAG = re.compile(r"<\s*/?\s*[a-zA-Z][^>]*>")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIP:
            self.skipping += 1
        elif tag in BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def looks_like_html(value: str) -> bool:
    return TAG.search(value) is not None


def to_text(value: str) -> str:
    """The text of an HTML fragment: one line per block, runs of spaces and blank lines folded."""
    if not looks_like_html(value):
        return html.unescape(value).strip() if "&" in value else value.strip()
    parser = _Text()
    parser.feed(value)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def to_html(value: str) -> str:
    """Plain text for an API that takes HTML: escaped, newlines as ``<br>``."""
    return html.escape(value).replace("\n", "<br>\n")
