"""The customer's line bank: scenario lines, our templates and real customer turns.

Three sources, in order of preference: the scenario's own ``[[lines]]`` (written for this
customer), the templates in ``templates.toml`` (some answer a specific bad move, e.g. "Don't
tell me to calm down"), and real customer turns from public customer-care conversations
(``lines.jsonl``, built and masked by ``train/build_customer_lines.py``), tagged by bucket
with the fast analyzer's signals. A line is drawn with the session's own ``random.Random``,
never one said before, so the same seed gives the same lines.
"""

from __future__ import annotations

import json
import random
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from gracedesk.errors import ScenarioInvalid
from gracedesk.training.scenario import BUCKETS, PERSONAS, Scenario

EVENTS: tuple[str, ...] = ("change_mind", "details", "reminder")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
# How much more likely a line is drawn than a real turn: scenario > trigger template > template.
WEIGHT = {"scenario": 4.0, "trigger": 8.0, "template": 2.0, "real": 1.0}
REAL_SHARE = 0.5  # real turns are drawn about a third of the time when other lines exist


@dataclass(frozen=True, slots=True)
class Line:
    when: str
    text: str
    source: str  # "scenario" | "template" | "real"
    personas: tuple[str, ...] = ()
    trigger: str = ""


@lru_cache(maxsize=1)
def templates() -> tuple[Line, ...]:
    """The shipped templates, validated (a bad bucket or persona is a packaging error)."""
    raw = resources.files("gracedesk.training").joinpath("templates.toml").read_text("utf-8")
    data = tomllib.loads(raw)
    out = []
    for i, item in enumerate(data.get("line", [])):
        extra = set(item) - {"when", "text", "persona", "trigger"}
        when, personas = item.get("when"), tuple(item.get("persona", ()))
        if extra or when not in (*BUCKETS, *EVENTS) or not set(personas) <= set(PERSONAS):
            raise ScenarioInvalid(f"templates.toml: line #{i + 1}: bad keys or values")
        out.append(Line(when, item["text"], "template", personas, item.get("trigger", "")))
    return tuple(out)


@lru_cache(maxsize=1)
def real_lines() -> tuple[Line, ...]:
    """Real, masked customer turns (``lines.jsonl``); empty when the file is not shipped."""
    path = resources.files("gracedesk.training").joinpath("lines.jsonl")
    if not path.is_file():
        return ()
    out = []
    for raw in path.read_text("utf-8").splitlines():
        if raw.strip():
            item = json.loads(raw)
            out.append(Line(item["bucket"], item["text"], "real"))
    return tuple(out)


def _fill(text: str, values: dict[str, str]) -> str | None:
    missing = False

    def one(m: re.Match[str]) -> str:
        nonlocal missing
        v = values.get(m.group(1))
        if v is None:
            missing = True
            return ""
        return v

    out = _PLACEHOLDER.sub(one, text)
    return None if missing else out


_PRONOUNS = {"their": "my", "they": "I", "them": "me", "themselves": "myself", "theirs": "mine"}


def wants_in_own_words(scenario: Scenario) -> str:
    """``wants`` as the customer would say it after "I want": the part before a ", though" or
    ", but" aside, in the first person ("the card working so they can pay" -> "... so I can
    pay")."""
    w = re.split(r",\s*(?:though|but|although)\b", scenario.wants.strip())[0].rstrip(". ")
    w = re.sub(r"\b(their|they|them|themselves|theirs)\b", lambda m: _PRONOUNS[m.group(1)], w)
    w = re.sub(r"\bI were\b", "I was", w)
    return w[:1].lower() + w[1:] if w[:2] != w[:2].upper() else w


def pick(
    scenario: Scenario,
    when: str,
    rng: random.Random,
    *,
    said: Sequence[str] = (),
    triggers: Sequence[str] = (),
    event: str = "",
) -> str:
    """One customer line for bucket ``when`` (and ``event``, which goes first), filled in.

    ``triggers``: the bad moves of the turn, most serious first; a template answering the first
    one that has any is preferred. Exactly one ``rng.random()`` draw is made per call whatever
    is chosen, so a session's later draws do not depend on which source won."""
    values = {**scenario.facts, "wants": wants_in_own_words(scenario)}
    draw = rng.random()
    pools: list[list[tuple[float, str]]] = []
    if event:
        pools.append(_candidates(scenario, values, event, None, said))
    for trig in triggers:
        pools.append(_candidates(scenario, values, when, trig, said))
    pools.append(_candidates(scenario, values, when, None, said))
    pool = next((p for p in pools if p), [])
    if not pool:  # everything said already: repeat rather than fall silent
        pool = [(1.0, t) for t in said[-3:]] or [(1.0, "...")]
    return _weighted(pool, draw)


def _candidates(
    scenario: Scenario,
    values: dict[str, str],
    bucket: str,
    trigger: str | None,
    said: Sequence[str],
) -> list[tuple[float, str]]:
    """The (weight, line) pairs not said yet for ``bucket``: the templates answering
    ``trigger``, or (``trigger`` None) the scenario's lines, untriggered templates and real
    turns."""
    out: list[tuple[float, str]] = []
    if trigger is None:
        out += [
            (WEIGHT["scenario"], scenario.fill(ln.text))
            for ln in scenario.lines
            if ln.when == bucket
        ]
    out += _template_candidates(scenario.persona, values, bucket, trigger)
    if trigger is None:
        out += _real_candidates(out, bucket, said)
    return [(w, t) for w, t in out if t not in said]


def _template_candidates(
    persona: str, values: dict[str, str], bucket: str, trigger: str | None
) -> list[tuple[float, str]]:
    """Templates for ``bucket`` and ``persona`` that answer ``trigger`` (``None``: those that
    answer no trigger), filled in; one with an unknown placeholder is left out."""
    out: list[tuple[float, str]] = []
    for t in templates():
        if t.when != bucket or (t.personas and persona not in t.personas):
            continue
        if t.trigger != (trigger or ""):
            continue
        text = _fill(t.text, values)
        if text is not None:
            weight = WEIGHT["trigger" if trigger else "template"]
            out.append((weight * (1.5 if t.personas else 1.0), text))
    return out


def _real_candidates(
    others: list[tuple[float, str]], bucket: str, said: Sequence[str]
) -> list[tuple[float, str]]:
    """Real turns for ``bucket`` not said yet, together at most ``REAL_SHARE`` of the weight of
    the ``others`` not said yet."""
    real = [r.text for r in real_lines() if r.when == bucket and r.text not in said]
    if not real:
        return []
    mine = sum(w for w, t in others if t not in said)
    each = min(WEIGHT["real"], REAL_SHARE * mine / len(real)) if mine else 1.0
    return [(each, t) for t in real]


def _weighted(pool: list[tuple[float, str]], draw: float) -> str:
    """The line of ``pool`` that ``draw`` (in [0, 1)) falls on, by weight."""
    total = sum(w for w, _ in pool)
    acc = 0.0
    for w, text in pool:
        acc += w
        if draw * total < acc:
            return text
    return pool[-1][1]
