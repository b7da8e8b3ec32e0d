"""Which language a message is in, and the high-stakes signals of the languages the models do
not read.

The models are trained on English. Each message's language is identified offline with
py3langid (its bundled model, restricted to :data:`CANDIDATES`; an answer below
:data:`MIN_CONFIDENCE` is ``"und"``, undetermined, and read as English). For any other language
the English models' scores are only a guess: they are pulled halfway toward "nothing there"
(:data:`DISCOUNT`), the ``unsupported_language`` label says so, and policy takes no sanction on
them. What must not be missed in the languages customers most often write in — a manager, a
refund, cancelling, legal action, going public, violence, insults — is caught by the
hand-written patterns of ``lexicons/multilingual.toml`` (Spanish, French, German, Portuguese,
Italian), with the words as evidence and :data:`LEXICON_SCORE` as the score.
"""

from __future__ import annotations

import re
import threading
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from gracedesk.errors import ModelError

CANDIDATES: tuple[str, ...] = (
    "en", "es", "fr", "de", "pt", "it", "nl", "pl", "tr", "sv",
    "ru", "ja", "zh", "ar", "ca", "ro", "da", "cs", "el", "uk",
)  # fmt: skip
MIN_CONFIDENCE = 0.7
MIN_LETTERS = 8  # shorter messages ("ok", "??") are undetermined
LEXICON_SCORE = 0.9  # the score of a signal found by the multilingual patterns
DISCOUNT = 0.5  # English-model scores on another language keep this share of their distance

_LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)
_WORDS = re.compile(r"[a-z']+")
# Function words that only English uses among the candidates (no "me", "is", "was", "to", "we",
# "my", "will", "im": Spanish, Dutch, German or Polish words too): a message made of enough of
# them is English without asking the identifier (most messages; it saves about 0.2 ms each).
ENGLISH = frozenset(
    "the and you your are were have has this that with for what why how not don't can't it's "
    "i'm i've i'll they just please thanks thank would could should been from about there here "
    "when where which who again because but get got it she his do did does like if people know "
    "think really want need being going gonna dont cant wont didn't isn't that's there's them "
    "their our he's she's you're they're we're than then only some any never ever always".split()
)
READ = 400  # characters the identifier reads (the start of a long message is enough)


class LanguageId:
    """py3langid's bundled model restricted to :data:`CANDIDATES`. Build with :meth:`load`."""

    def __init__(self, identifier: Any) -> None:
        self._lid = identifier
        self._lock = threading.Lock()  # the identifier keeps per-call buffers

    @classmethod
    def load(cls) -> LanguageId:
        try:
            # lazy: py3langid loads its model on import; short texts never need it
            from py3langid.langid import MODEL_FILE, LanguageIdentifier
        except ImportError as exc:  # a broken install, not a user error
            raise ModelError(f"language identification is not installed: {exc}") from exc
        lid = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        lid.set_languages(list(CANDIDATES))
        return cls(lid)

    def detect(self, text: str) -> tuple[str, float]:
        """``(ISO 639-1 code, probability)``; ``("und", p)`` when unsure or too short."""
        if len(_LETTERS.findall(text[:READ])) < MIN_LETTERS:
            return "und", 0.0
        words = _WORDS.findall(text[:READ].lower().replace("’", "'"))
        known = sum(w in ENGLISH for w in words)
        if known >= 2 and known >= 0.15 * len(words):
            return "en", 1.0
        with self._lock:
            lang, prob = self._lid.classify(text[:READ])
        prob = float(prob)
        return (str(lang), prob) if prob >= MIN_CONFIDENCE else ("und", prob)

    def detect_many(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        return [self.detect(t) for t in texts]


@dataclass(frozen=True, slots=True)
class LexiconHit:
    signal: str  # a head name ("requests.manager", "abuse.threat", ...) or "target.agent"
    start: int
    end: int


class Lexicon:
    """The multilingual patterns: language -> signal -> compiled patterns."""

    def __init__(self, patterns: dict[str, dict[str, tuple[re.Pattern[str], ...]]]) -> None:
        self.patterns = patterns

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "multilingual.toml") -> Lexicon:
        out: dict[str, dict[str, tuple[re.Pattern[str], ...]]] = {}
        for lang, table in data.items():
            if not isinstance(table, dict):
                continue  # "version" and other top-level keys
            sigs: dict[str, tuple[re.Pattern[str], ...]] = {}
            for signal, pats in table.items():
                try:
                    sigs[signal] = tuple(re.compile(p, re.IGNORECASE) for p in pats)
                except re.error as exc:
                    raise ModelError(f"{source}: [{lang}] {signal}: {exc}") from exc
            out[lang] = sigs
        return cls(out)

    @classmethod
    def default(cls) -> Lexicon:
        path = resources.files("gracedesk.analysis").joinpath("lexicons/multilingual.toml")
        return cls.from_dict(tomllib.loads(path.read_text(encoding="utf-8")))

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.patterns)

    def scan(self, text: str, lang: str) -> list[LexiconHit]:
        """Every match of the language's patterns in ``text`` (offsets index ``text``)."""
        table = self.patterns.get(lang)
        if not table:
            return []
        low = text.lower()
        if len(low) != len(text):  # a few characters change length when lower-cased
            low = text
        hits: list[LexiconHit] = []
        for signal, pats in table.items():
            for pat in pats:
                hits.extend(
                    LexiconHit(signal, m.start(), m.end())
                    for m in pat.finditer(low)
                    if m.end() > m.start()
                )
        return hits


_LID: LanguageId | None = None
_LID_LOCK = threading.Lock()


def language_id() -> LanguageId:
    """The process-wide identifier, loaded on first use (about a second)."""
    global _LID
    if _LID is None:
        with _LID_LOCK:
            if _LID is None:
                _LID = LanguageId.load()
    return _LID
