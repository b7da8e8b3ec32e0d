"""The phrase library: phrase packs as data (``phrases/*.toml``), validated, filled in and ranked.

A pack is a TOML file::

    version = "1"
    pack = "core-acknowledge"
    [[phrase]]
    id = "ack.anger.calm"
    stage = "acknowledge"                  # a playbook step (see gracedesk.model.guidance.STEPS)
    text = "I can hear how angry you are[, {name}], and I'd feel the same about {issue}."
    emotions = ["anger"]                   # tags: emotions, causes, requests, abuse, archetypes
    tone = "calm"

``{variable}`` is filled from the conversation. A variable with a neutral default (``issue`` ->
"this") may stand anywhere; one without (``name``) must sit inside an optional ``[...]``
segment, which is dropped whole when any variable in it is unknown, unless the phrase can only
be used when the value exists (``option_a``: the phrase is skipped without it). So no rendered
phrase ever shows a raw ``{name}``. Unknown keys, tags and variables are errors that name the
file, the phrase id and the key.

A bare nudge ("hello? anyone?") is answered with the built-in ``WAIT_PACK`` (acknowledge the
wait), whatever library is used; the nudge's own emotion scores say nothing about the issue,
so phrases tagged by emotion, cause, request or abuse are not used for it.
"""

from __future__ import annotations

import random
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gracedesk.errors import PhraseFileError
from gracedesk.model.guidance import STEPS, Phrase
from gracedesk.model.signals import ABUSE, ARCHETYPES, CAUSES, EMOTIONS, REQUESTS, Signals

# Variable -> its neutral default (None: no default; the phrase needs the value or an [...]).
VARIABLES: dict[str, str | None] = {
    "name": None,
    "agent_name": None,
    "issue": "this",
    "time_frame": "as soon as I can",
    "channel": "the way you prefer",
    "option_a": None,
    "option_b": None,
    "amount": None,
}
TONES = ("warm", "calm", "formal", "firm", "plain")
PRESENT = 0.35  # a tagged emotion, cause or request counts when its score is at least this
WEIGHTS = {"archetypes": 1.5, "emotions": 1.0, "abuse": 1.0, "causes": 0.6, "requests": 0.6}
TONE_BONUS = 0.25
WAIT_BONUS = 2.0  # a wait phrase answers a nudge before anything else
# Phrases for a bare nudge, validated like any pack; built in so that every library has them.
WAIT_PACK = """
version = "1"
pack = "builtin-wait"
description = "Acknowledge the wait when the customer nudges (hello? anyone?)."

[[phrase]]
id = "wait.ack.sorry"
stage = "acknowledge"
tone = "warm"
text = "Thank you for waiting[, {name}], and I'm sorry for the silence. I'm here and looking at {issue} right now."

[[phrase]]
id = "wait.ack.still_here"
stage = "acknowledge"
tone = "calm"
text = "Sorry to keep you waiting. I'm still here[, {name}], and I'm on it."

[[phrase]]
id = "wait.safety.received"
stage = "boundary"
tone = "calm"
text = "Thank you for waiting. Your messages have been received and are with the team handling this case. I'll update you {time_frame}."
"""
MAX_VALUE_CHARS = 120

_VAR = re.compile(r"\{([^{}\[\]]*)\}")
_OPTIONAL = re.compile(r"\[([^\[\]]*)\]")


def _check_template(text: str) -> None:
    """Raise ``ValueError`` unless ``text`` is a well-formed template."""
    for m in _VAR.finditer(text):
        if m.group(1) not in VARIABLES:
            known = ", ".join(sorted(VARIABLES))
            raise ValueError(f"unknown variable {{{m.group(1)}}} (known: {known})")
    outside = _OPTIONAL.sub("", text)
    inner = [m.group(1) for m in _OPTIONAL.finditer(text)]
    if "[" in outside or "]" in outside or any("[" in s for s in inner):
        raise ValueError("unbalanced or nested [...] (optional segments cannot nest)")
    for seg in inner:
        if not _VAR.search(seg):
            raise ValueError(f"optional segment [{seg}] holds no variable")
    bare = _VAR.sub("", text)
    if "{" in bare or "}" in bare:
        raise ValueError("stray '{' or '}' (braces are only for variables)")


class PhraseSpec(BaseModel):
    """One phrase in a pack (the schema; unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_.-]*$")
    stage: str
    text: str = Field(min_length=1)
    tone: Literal["warm", "calm", "formal", "firm", "plain"] = "warm"
    emotions: tuple[str, ...] = ()
    causes: tuple[str, ...] = ()
    archetypes: tuple[str, ...] = ()
    requests: tuple[str, ...] = ()
    abuse: tuple[str, ...] = ()

    @field_validator("stage")
    @classmethod
    def _stage(cls, v: str) -> str:
        if v not in STEPS:
            raise ValueError(f"{v!r} is not a step; use one of {', '.join(STEPS)}")
        return v

    @field_validator("text")
    @classmethod
    def _text(cls, v: str) -> str:
        _check_template(v)
        return v

    @field_validator("emotions", "causes", "archetypes", "requests", "abuse")
    @classmethod
    def _tags(cls, v: tuple[str, ...], info: Any) -> tuple[str, ...]:
        allowed = {
            "emotions": EMOTIONS,
            "causes": CAUSES,
            "archetypes": ARCHETYPES,
            "requests": REQUESTS,
            "abuse": ABUSE,
        }[info.field_name]
        for tag in v:
            if tag not in allowed:
                raise ValueError(f"{tag!r} is not one of {', '.join(allowed)}")
        return v


class PackSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal["1"]
    pack: str = Field(min_length=1)
    description: str = ""
    phrase: tuple[PhraseSpec, ...] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class Entry:
    """A validated phrase of a pack."""

    pack: str
    source: str
    spec: PhraseSpec


def _explain(exc: ValidationError, data: Mapping[str, Any], source: str) -> PhraseFileError:
    raw = data.get("phrase")
    msgs = []
    for err in exc.errors():
        loc = err["loc"]
        msg = str(err["msg"]).removeprefix("Value error, ")
        if len(loc) >= 2 and loc[0] == "phrase" and isinstance(loc[1], int):
            item = raw[loc[1]] if isinstance(raw, list) and loc[1] < len(raw) else {}
            pid = item.get("id") if isinstance(item, Mapping) else None
            who = f"phrase {pid!r}" if isinstance(pid, str) else f"phrase #{loc[1] + 1}"
            key = f"key {loc[2]!r}" if len(loc) >= 3 else "phrase"
            msgs.append(f"{source}: {who}: {key}: {msg}")
        else:
            key = ".".join(str(p) for p in loc) or "(file)"
            msgs.append(f"{source}: key {key!r}: {msg}")
    return PhraseFileError("; ".join(msgs))


def parse_pack(text: str, source: str) -> list[Entry]:
    """The phrases of one pack, from its TOML text; ``source`` names it in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PhraseFileError(f"{source}: not valid TOML ({exc})") from exc
    try:
        pack = PackSpec.model_validate(data)
    except ValidationError as exc:
        raise _explain(exc, data, source) from exc
    return [Entry(pack.pack, source, p) for p in pack.phrase]


class Library:
    """All phrases of some packs; ids are unique across packs."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        seen: dict[str, Entry] = {}
        for e in entries:
            first = seen.get(e.spec.id)
            if first is not None:
                raise PhraseFileError(
                    f"{e.source}: phrase {e.spec.id!r}: key 'id': duplicate of the phrase "
                    f"in {first.source}"
                )
            seen[e.spec.id] = e
        self.entries: tuple[Entry, ...] = tuple(seen.values())
        # the entries of each stage, in library order (suggest reads one stage per message)
        self.by_stage: dict[str, tuple[Entry, ...]] = {}
        for e in self.entries:
            self.by_stage[e.spec.stage] = (*self.by_stage.get(e.spec.stage, ()), e)

    def __len__(self) -> int:
        return len(self.entries)

    @classmethod
    def from_texts(cls, packs: Mapping[str, str]) -> Library:
        """A library from ``{source name: TOML text}``."""
        return cls(e for src, text in sorted(packs.items()) for e in parse_pack(text, src))

    @classmethod
    def default(cls) -> Library:
        """The shipped packs (package data, loaded once per process)."""
        return _default()


@lru_cache(maxsize=1)
def _wait() -> tuple[Entry, ...]:
    return tuple(parse_pack(WAIT_PACK, "builtin:wait"))


@lru_cache(maxsize=1)
def _default() -> Library:
    root = resources.files("gracedesk.guidance").joinpath("phrases")
    texts = {
        f.name: f.read_text(encoding="utf-8") for f in root.iterdir() if f.name.endswith(".toml")
    }
    return Library.from_texts(texts)


# -- filling in -------------------------------------------------------------------------------
def clean_value(value: Any) -> str | None:
    """A value safe to insert: text on one line, no template characters, bounded length."""
    if value is None or isinstance(value, bool):
        return None
    s = str(value)
    s = re.sub(r"[{}\[\]]", "", s)
    s = " ".join(s.split())
    if len(s) > MAX_VALUE_CHARS:
        s = s[:MAX_VALUE_CHARS].rsplit(" ", 1)[0] + "…"
    return s or None


def _tidy(s: str) -> str:
    s = " ".join(s.split())
    s = re.sub(r"\s+([,.!?;:])", r"\1", s)
    s = re.sub(r"([,;:])\1+", r"\1", s)
    return s.strip()


def render(template: str, values: Mapping[str, Any]) -> str | None:
    """``template`` filled from ``values``; ``None`` when a value it cannot do without is missing.

    Optional ``[...]`` segments are dropped when any variable in them has no value; elsewhere a
    missing variable takes its neutral default, or makes the phrase unusable (``None``).
    """
    return _render(template, {k: clean_value(v) for k, v in values.items()})


@lru_cache(maxsize=4096)
def _render_memo(template: str, vals: tuple[tuple[str, str | None], ...]) -> str | None:
    """:func:`_render` remembered: a step's candidate phrases are filled in for every message,
    mostly with the same few values (a name, a time frame, an option)."""
    return _render(template, dict(vals))


def _render(template: str, vals: Mapping[str, str | None]) -> str | None:
    """:func:`render` with the values already cleaned (:func:`clean_value`)."""

    def fill(segment: str, optional: bool) -> str | None:
        missing = False

        def one(m: re.Match[str]) -> str:
            nonlocal missing
            v = vals.get(m.group(1))
            if v is None and not optional:
                v = VARIABLES.get(m.group(1))
            if v is None:
                missing = True
                return ""
            return v

        out = _VAR.sub(one, segment)
        return None if missing else out

    parts: list[str] = []
    pos = 0
    for m in _OPTIONAL.finditer(template):
        body = fill(template[pos : m.start()], optional=False)
        if body is None:
            return None
        parts.append(body)
        parts.append(fill(m.group(1), optional=True) or "")
        pos = m.end()
    tail = fill(template[pos:], optional=False)
    if tail is None:
        return None
    parts.append(tail)
    return _tidy("".join(parts))


# -- ranking ----------------------------------------------------------------------------------
def _matches(spec: PhraseSpec, sig: Signals, archetype: str) -> tuple[float, list[str]] | None:
    """Score and reasons from the phrase's tags; ``None`` when a tag group has no match."""
    score, why = 0.0, []
    groups: dict[str, Mapping[str, float]] = {
        "emotions": sig.emotions,
        "causes": sig.causes,
        "requests": sig.requests,
        "abuse": sig.abuse,
    }
    for group, scores in groups.items():
        tags: tuple[str, ...] = getattr(spec, group)
        if not tags:
            continue
        hit = [(scores.get(t, 0.0), t) for t in tags if scores.get(t, 0.0) >= PRESENT]
        if not hit:
            return None
        value, tag = max(hit)
        score += WEIGHTS[group] * value
        why.append(f"{group}.{tag} {value:.2f}")
    if spec.archetypes:
        if archetype not in spec.archetypes:
            return None
        score += WEIGHTS["archetypes"]
        why.append(f"archetype {archetype}")
    return score, why


def suggest(
    library: Library,
    step: str,
    signals: Signals,
    values: Mapping[str, Any],
    *,
    archetype: str = "none",
    tone: str | None = None,
    limit: int = 3,
    waiting: bool = False,
    stats: PhraseStats | None = None,
) -> tuple[Phrase, ...]:
    """The best ``limit`` phrases for ``step``, filled in, each with why it was chosen.

    A phrase counts only when each of its tag groups matches (an emotion tag needs that
    emotion at or above ``PRESENT``); more specific matches rank higher, then the preferred
    ``tone``; ties break on the id so the order is stable. ``waiting``: the message is a bare
    nudge; the wait phrases come first and phrases tagged by the message's scores are left out.
    ``stats``: measured outcomes; when one candidate has enough, they are ranked by Thompson
    sampling instead (:func:`by_outcome`). Without ``stats`` the ranking is the rules' alone.
    """
    ranked: list[Phrase] = []
    ids = {e.spec.id for e in library.entries} if waiting else set()
    wait = tuple(w for w in _wait() if w.spec.id not in ids) if waiting else ()
    # cleaned once, not once per candidate
    vals = tuple((k, clean_value(v)) for k, v in values.items())
    for e in (*wait, *library.by_stage.get(step, ())):
        spec = e.spec
        if spec.stage != step:
            continue
        is_wait = e in wait
        tagged = spec.emotions or spec.causes or spec.requests or spec.abuse
        if waiting and not is_wait and tagged:
            continue
        m = _matches(spec, signals, archetype)
        if m is None:
            continue
        text = _render_memo(spec.text, vals)
        if text is None:
            continue
        score, why = m
        why = [f"for the {step} step", *why]
        if is_wait:
            score += WAIT_BONUS
            why.append("the customer is waiting for a reply (a bare nudge): acknowledge the wait")
        if tone is not None and spec.tone == tone:
            score += TONE_BONUS
            why.append(f"{tone} tone suits this customer")
        if len(why) == 1:
            why.append("general phrase (no specific tag matched)")
        ranked.append(
            Phrase(spec.id, text, step, spec.tone, round(1.0 + score, 3), tuple(why), e.pack)
        )
    ranked.sort(key=lambda p: (-p.score, p.id))
    if stats is not None:
        ranked = by_outcome(ranked, stats)
    return tuple(ranked[:limit])


# -- measured ranking (docs/insights-outcomes.md) ------------------------------------------------
MIN_MEASURED = 10  # replies with a measured outcome before a phrase's rate is shown and ranks


@dataclass(frozen=True, slots=True)
class PhraseStats:
    """How customers reacted to phrases: phrase id -> (calmed down, replies measured).

    Built by the service from stored replies (``gracedesk.service.outcomes``); guidance only
    reads it, so it stays pure. ``seed`` makes the Thompson draws reproducible; the desk gives
    each message its own, so the ranking keeps exploring across messages.
    """

    calmed: Mapping[str, tuple[int, int]]
    seed: int = 0
    min_measured: int = MIN_MEASURED

    def counts(self, phrase_id: str) -> tuple[int, int]:
        return self.calmed.get(phrase_id, (0, 0))

    def evidence(self, phrase_id: str) -> str:
        """What the agent is shown: "calmed 14 of 20 customers (70%)", or too few to tell."""
        k, n = self.counts(phrase_id)
        if n < self.min_measured:
            return f"measured on {n} customer(s) so far: too few to judge, tried to learn more"
        return f"calmed {k} of {n} customers ({round(100 * k / n)}%) (observed, not proven)"


def by_outcome(ranked: list[Phrase], stats: PhraseStats) -> list[Phrase]:
    """``ranked`` re-ordered by a Thompson draw from each phrase's Beta(1 + calmed, 1 + not)
    posterior, once some phrase has ``min_measured`` cases (before that: unchanged). A phrase
    with little data has a wide posterior, so it still comes first now and then (exploration);
    wait phrases stay ahead of the rest. Draws are made in id order from ``stats.seed``."""
    if not any(stats.counts(p.id)[1] >= stats.min_measured for p in ranked):
        return ranked
    rng = random.Random(stats.seed)
    draw: dict[str, float] = {}
    for pid in sorted({p.id for p in ranked}):
        k, n = stats.counts(pid)
        draw[pid] = rng.betavariate(1 + k, 1 + n - k)
    out = [
        Phrase(
            p.id,
            p.text,
            p.stage,
            p.tone,
            p.score,
            (*p.why, stats.evidence(p.id), "ranked by measured outcome (Thompson sampling)"),
            p.pack,
        )
        for p in ranked
    ]
    return sorted(out, key=lambda p: (p.pack != "builtin-wait", -draw[p.id]))
