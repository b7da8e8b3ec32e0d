"""Rule families: hand-written patterns whose matches become features and evidence.

The families live in ``lexicons/rules.toml`` (data, reviewed like code). A pattern runs only
when one of its key words (its own ``keys``, else its family's) is among the message's tokens,
so most messages cost a few set intersections and nothing more. Patterns match the
lower-cased text.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from gracedesk.analysis.text import lower
from gracedesk.errors import ModelError


@dataclass(frozen=True, slots=True)
class Hit:
    family: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Family:
    name: str
    keys: frozenset[str]
    patterns: tuple[re.Pattern[str], ...]
    pattern_keys: tuple[frozenset[str], ...]

    @property
    def feature(self) -> str:
        return f"<r:{self.name}>"


class RuleSet:
    """All rule families; :meth:`scan` returns the hits of one message."""

    def __init__(self, families: list[Family], version: str) -> None:
        self.families = families
        self.version = version
        # key word -> the patterns it triggers (an inverted index: one set operation a message)
        self._patterns: list[tuple[str, re.Pattern[str]]] = []
        index: dict[str, list[int]] = {}
        for fam in families:
            for pat, pkeys in zip(fam.patterns, fam.pattern_keys, strict=True):
                for k in pkeys:
                    index.setdefault(k, []).append(len(self._patterns))
                self._patterns.append((fam.name, pat))
        self._index = {k: tuple(v) for k, v in index.items()}
        self._all_keys = frozenset(self._index)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "rules.toml") -> RuleSet:
        families = []
        for i, fam in enumerate(data.get("family", [])):
            name = fam.get("name", f"#{i}")
            try:
                keys = frozenset(k.lower() for k in fam["keys"])
                entries = [p if isinstance(p, dict) else {"re": p} for p in fam["patterns"]]
                pats = tuple(re.compile(e["re"]) for e in entries)
                pkeys = tuple(frozenset(e["keys"]) if "keys" in e else keys for e in entries)
            except (KeyError, re.error) as exc:
                raise ModelError(f"{source}: family {name!r}: {exc}") from exc
            keys = keys.union(*pkeys)
            families.append(Family(name=name, keys=keys, patterns=pats, pattern_keys=pkeys))
        return cls(families, str(data.get("version", "0")))

    @classmethod
    def default(cls) -> RuleSet:
        path = resources.files("gracedesk.analysis").joinpath("lexicons/rules.toml")
        return cls.from_dict(tomllib.loads(path.read_text(encoding="utf-8")))

    @property
    def features(self) -> list[str]:
        return [f.feature for f in self.families]

    def scan(self, text: str, toks: set[str] | frozenset[str], low: str | None = None) -> list[Hit]:
        """Matches in ``text`` of every pattern triggered by ``toks`` (lower-cased words).

        ``low`` is ``text.lower()`` when the caller has it already.
        """
        found = self._all_keys.intersection(toks)
        if not found:
            return []
        index = self._index
        todo = sorted({i for k in found for i in index[k]})
        if low is None or len(low) != len(text):  # offsets must index ``text``
            low = lower(text)
        hits: list[Hit] = []
        for i in todo:
            name, pat = self._patterns[i]
            for m in pat.finditer(low):
                if m.end() > m.start():
                    hits.append(Hit(name, m.start(), m.end()))
        return hits
