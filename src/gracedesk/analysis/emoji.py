"""Emoji as words: the descriptions of ``lexicons/emoji.toml`` appended after a message.

Neither tier's vocabulary reads most emoji; appending "furious angry" after "😡" lets both read
what the customer meant while every offset into the original text stays valid (the appended
words come after its end, and evidence never points there).
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from importlib import resources


@cache
def _table() -> tuple[dict[str, str], re.Pattern[str]]:
    path = resources.files("gracedesk.analysis").joinpath("lexicons/emoji.toml")
    table: dict[str, str] = tomllib.loads(path.read_text(encoding="utf-8"))["emoji"]
    pattern = re.compile("|".join(re.escape(e) for e in sorted(table, key=len, reverse=True)))
    return table, pattern


def describe(text: str) -> str:
    """``" (furious angry, thank you please)"`` for the known emoji of ``text`` (each kind once,
    in order), or ``""`` when it has none. Pure ASCII texts cost one ``isascii`` call."""
    if text.isascii():
        return ""
    table, pattern = _table()
    found = list(dict.fromkeys(pattern.findall(text)))
    if not found:
        return ""
    return " (" + ", ".join(table[e] for e in found) + ")"
