"""What calms customers: every agent reply's outcome, compared across playbook steps, phrases and
coach findings, adjusted for where the reply started. Pure: plain rows in, a JSON-ready dict out.

One :class:`ReplyOutcome` per agent reply (built from the store by
:func:`gracedesk.service.outcomes.reply_outcomes`): the customer message it answered (the
*start*: risk, anger, sentiment, archetype, top cause; the guidance's step and suggested
phrases), the reply (phrases it used, the coach's findings), and what happened next (the
customer's next message, escalation, resolution, reopening, CSAT).

:func:`summary` compares replies with a feature (a step, a phrase, a finding) and without it.
Agents choose words by the situation, so raw differences mislead: a phrase used only on calm
customers looks calming. The comparison is therefore made *within strata* of the start (risk
band x archetype x top cause), and the within-stratum differences are averaged with weights
equal to the replies with the feature in each stratum (the effect on the replies that used
it). Strata without both groups are left out, and the counts say how many replies remained.
The 95% interval is the normal approximation of that weighted difference. It is observational,
not causal: anything that drives both the agent's choice and the outcome and is not in the
strata (tone of voice, the agent, the product) still biases it. docs/insights-outcomes.md.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from difflib import SequenceMatcher
from typing import Any

from gracedesk.model.signals import CAUSES, HIGH_RISK, MEDIUM_RISK

CAVEAT = (
    "Observational, not causal: replies were not assigned at random. Differences are adjusted "
    "for where each reply started (risk band, archetype, top cause) and nothing else, so they "
    "show what went with better outcomes, not what caused them."
)
ADJUSTMENT = (
    "stratified: replies are grouped by the answered message's risk band (low < "
    f"{MEDIUM_RISK}, medium < {HIGH_RISK}, high), archetype and top cause (score >= "
    "0.5, else 'none'); the with-minus-without difference is taken in every stratum that "
    "has both groups and averaged, weighted by the replies with the feature in it; 95% "
    "confidence interval by the normal approximation"
)
CALM_RISK_DROP = 0.1  # calmed: the next message's risk is at least this much lower ...
CALM_ANGER = 0.5  # ... or its anger is below this
CAUSE_PRESENT = 0.5
PHRASE_MATCH = 0.8  # share of a phrase's words a reply must keep, in order, to count as used
Z95 = 1.959964

# outcome -> (kind, which way is better, what it measures)
OUTCOMES: dict[str, tuple[str, str, str]] = {
    "calmed": (
        "rate",
        "higher",
        f"the next customer message's risk fell by >= {CALM_RISK_DROP} or its anger is "
        f"below {CALM_ANGER}",
    ),
    "risk_change": ("mean", "lower", "next message's risk minus the answered message's"),
    "anger_change": ("mean", "lower", "next message's anger minus the answered message's"),
    "sentiment_change": (
        "mean",
        "higher",
        "next message's sentiment minus the answered message's",
    ),
    "escalated": ("rate", "lower", "an escalation was opened in the conversation after the reply"),
    "resolved": ("rate", "higher", "the conversation was resolved after the reply"),
    "reopened": ("rate", "lower", "the customer reopened a resolved conversation after the reply"),
    "csat": ("mean", "higher", "the first CSAT score (1-5) answered after the reply"),
}


@dataclass(frozen=True, slots=True)
class ReplyOutcome:
    """One agent reply, where it started and what happened next (the per-reply record)."""

    conversation_id: int
    reply_id: int
    answered_id: int  # the customer message the reply answered
    replied_at: datetime
    start_risk: float
    start_anger: float
    start_sentiment: float
    archetype: str
    cause: str  # the answered message's top cause, or "none"
    stage: str | None  # the guidance of the answered message
    step: str | None
    suggested: tuple[str, ...]  # phrase ids the guidance suggested
    used: tuple[str, ...]  # those the reply used
    findings: tuple[str, ...]  # the coach's finding kinds on the reply (each once)
    coach_score: int | None
    next_id: int | None = None  # the customer's next analysed message, if any
    next_risk: float | None = None
    next_anger: float | None = None
    next_sentiment: float | None = None
    escalated: bool = False
    resolved: bool = False
    reopened: bool = False
    csat: int | None = None

    @property
    def risk_band(self) -> str:
        return risk_band(self.start_risk)

    @property
    def stratum(self) -> tuple[str, str, str]:
        """Where the reply started, as the adjustment groups it."""
        return (self.risk_band, self.archetype, self.cause)

    @property
    def calmed(self) -> bool | None:
        """Whether the customer calmed down on their next message (None: they wrote no more)."""
        if self.next_risk is None or self.next_anger is None:
            return None
        return self.next_risk <= self.start_risk - CALM_RISK_DROP or self.next_anger < CALM_ANGER

    def outcome(self, name: str) -> float | None:
        """One of ``OUTCOMES`` as a number (rates as 0/1), or None when it was not observed."""
        if name == "calmed":
            c = self.calmed
            return None if c is None else float(c)
        if name in ("risk_change", "anger_change", "sentiment_change"):
            after = {"risk_change": self.next_risk, "anger_change": self.next_anger}.get(
                name, self.next_sentiment
            )
            before = {"risk_change": self.start_risk, "anger_change": self.start_anger}.get(
                name, self.start_sentiment
            )
            return None if after is None else after - before
        if name == "csat":
            return None if self.csat is None else float(self.csat)
        if name in ("escalated", "resolved", "reopened"):
            return float(getattr(self, name))
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "conversation_id": self.conversation_id,
            "reply_id": self.reply_id,
            "answered_id": self.answered_id,
            "replied_at": self.replied_at.isoformat(),
            "stratum": list(self.stratum),
            "step": self.step,
            "used": list(self.used),
            "findings": list(self.findings),
            "next_id": self.next_id,
            **{name: self.outcome(name) for name in OUTCOMES},
        }


def risk_band(risk: float) -> str:
    """The console's badge bands: the adjustment's coarsest and most important stratum."""
    if risk >= HIGH_RISK:
        return "high"
    return "medium" if risk >= MEDIUM_RISK else "low"


def top_cause(causes: Mapping[str, Any] | None) -> str:
    """The strongest cause at or above 0.5 (the label threshold), else "none"."""
    scores = [(float(causes.get(c) or 0.0), c) for c in CAUSES] if causes else []
    best = max(scores, default=(0.0, "none"))
    return best[1] if best[0] >= CAUSE_PRESENT else "none"


# -- did the reply use the phrase? ---------------------------------------------------------------
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def phrase_used(phrase_id: str, phrase_text: str, reply: str) -> bool:
    """Whether ``reply`` used a suggested phrase: its id appears in it, or it keeps at least
    ``PHRASE_MATCH`` of the phrase's words in order (agents edit a name or a word; a reply that
    merely shares a few common words does not count)."""
    if phrase_id and phrase_id in reply:
        return True
    want, got = words(phrase_text), words(reply)
    if not want or not got:
        return False
    if len(want) <= 3:  # too short to match loosely
        n = len(want)
        return any(got[i : i + n] == want for i in range(len(got) - n + 1))
    kept = sum(
        b.size for b in SequenceMatcher(None, want, got, autojunk=False).get_matching_blocks()
    )
    return kept >= PHRASE_MATCH * len(want)


# -- the adjusted difference ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Effect:
    """With-minus-without for one feature and outcome: raw, adjusted, its 95% CI, the counts."""

    with_value: float
    without_value: float
    raw_difference: float
    difference: float | None  # adjusted (None: no stratum had both groups)
    ci95: tuple[float, float] | None
    n: int  # replies with the feature (and the outcome observed)
    n_without: int
    n_matched: int  # of ``n``, those in strata that also had replies without it
    n_without_matched: int
    strata: int  # strata compared

    def to_dict(self) -> dict[str, Any]:
        return {
            "with": _r(self.with_value),
            "without": _r(self.without_value),
            "raw_difference": _r(self.raw_difference),
            "difference": _r(self.difference),
            "ci95": None if self.ci95 is None else [_r(self.ci95[0]), _r(self.ci95[1])],
            "excludes_zero": self.ci95 is not None and (self.ci95[0] > 0 or self.ci95[1] < 0),
            "n": self.n,
            "n_without": self.n_without,
            "n_matched": self.n_matched,
            "n_without_matched": self.n_without_matched,
            "strata": self.strata,
        }


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs)


def _var(xs: Sequence[float], *, rate: bool, fallback: float) -> float:
    """The variance of one value: a rate's smoothed p(1-p) (never 0 on a small all-or-nothing
    group), a mean's sample variance (the whole outcome's when the group has one reply)."""
    if rate:
        p = (sum(xs) + 1.0) / (len(xs) + 2.0)
        return p * (1.0 - p)
    if len(xs) < 2:
        return fallback
    m = _mean(xs)
    return sum((x - m) ** 2 for x in xs) / (len(xs) - 1)


def adjusted_effect(cases: Iterable[tuple[Hashable, bool, float]], *, rate: bool) -> Effect | None:
    """The stratified with-minus-without difference of ``(stratum, has feature, value)`` cases;
    None when either group is empty."""
    groups: dict[Hashable, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    for stratum, has, value in cases:
        groups[stratum][0 if has else 1].append(value)
    treated = [v for t, _ in groups.values() for v in t]
    control = [v for _, c in groups.values() for v in c]
    if not treated or not control:
        return None
    both = [(t, c) for t, c in groups.values() if t and c]
    n_t = sum(len(t) for t, _ in both)
    allv = treated + control
    fallback = _var(allv, rate=False, fallback=0.0)
    diff: float | None = None
    ci: tuple[float, float] | None = None
    if both:
        diff, var = 0.0, 0.0
        for t, c in both:
            w = len(t) / n_t
            diff += w * (_mean(t) - _mean(c))
            var += (
                w
                * w
                * (
                    _var(t, rate=rate, fallback=fallback) / len(t)
                    + _var(c, rate=rate, fallback=fallback) / len(c)
                )
            )
        half = Z95 * math.sqrt(var)
        ci = (diff - half, diff + half)
    return Effect(
        _mean(treated),
        _mean(control),
        _mean(treated) - _mean(control),
        diff,
        ci,
        len(treated),
        len(control),
        n_t,
        sum(len(c) for _, c in both),
        len(both),
    )


# -- the report ----------------------------------------------------------------------------------
def evidence(calmed: int, measured: int) -> str:
    """What the agent is shown: "calmed 14 of 20 customers (70%)"."""
    pct = round(100 * calmed / measured) if measured else 0
    return f"calmed {calmed} of {measured} customers ({pct}%)"


def calm_counts(rows: Iterable[ReplyOutcome]) -> dict[str, tuple[int, int]]:
    """Phrase id -> (customers who calmed down, replies measured) over replies that used it:
    what guidance's Thompson sampling ranks by (``gracedesk.guidance.phrases.PhraseStats``)."""
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        c = r.calmed
        if c is None:
            continue
        for pid in set(r.used):
            out[pid][0] += int(c)
            out[pid][1] += 1
    return {k: (v[0], v[1]) for k, v in sorted(out.items())}


def _feature(
    rows: Sequence[ReplyOutcome], key: str, has: Callable[[ReplyOutcome], bool]
) -> dict[str, Any]:
    with_it = [r for r in rows if has(r)]
    calm = [c for c in (r.calmed for r in with_it) if c is not None]
    effects: dict[str, Any] = {}
    for name, (kind, _, _) in OUTCOMES.items():
        cases = [(r.stratum, has(r), v) for r in rows if (v := r.outcome(name)) is not None]
        eff = adjusted_effect(cases, rate=kind == "rate")
        effects[name] = None if eff is None else eff.to_dict()
    return {
        "key": key,
        "replies": len(with_it),
        "evidence": evidence(sum(calm), len(calm)) if calm else None,
        "outcomes": effects,
    }


def _is_step(step: str) -> Callable[[ReplyOutcome], bool]:
    return lambda r: r.step == step


def _uses(phrase_id: str) -> Callable[[ReplyOutcome], bool]:
    return lambda r: phrase_id in r.used


def _found(kind: str) -> Callable[[ReplyOutcome], bool]:
    return lambda r: kind in r.findings


def _rank(features: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Best first on the adjusted "calmed" difference; unmeasured last; then by key."""

    def key(f: dict[str, Any]) -> tuple[int, float, str]:
        calmed = f["outcomes"]["calmed"]
        d = None if calmed is None else calmed["difference"]
        return (d is None, -(d or 0.0), f["key"])

    return sorted(features, key=key)


def summary(rows: Sequence[ReplyOutcome]) -> dict[str, Any]:
    """Which playbook steps, phrases and coach findings go with better outcomes, adjusted for
    where each reply started, with 95% CIs and counts (JSON-ready; the report's ``outcomes``)."""
    rows = list(rows)
    overall: dict[str, Any] = {}
    for name in OUTCOMES:
        vals = [v for r in rows if (v := r.outcome(name)) is not None]
        overall[name] = {"value": _r(_mean(vals)) if vals else None, "n": len(vals)}
    steps = sorted({r.step for r in rows if r.step is not None})
    phrases = sorted({p for r in rows for p in r.used})
    kinds = sorted({k for r in rows for k in r.findings})
    stepped = [r for r in rows if r.step is not None]
    return {
        "observational": True,
        "caveat": CAVEAT,
        "adjustment": ADJUSTMENT,
        "definitions": {
            name: {"kind": kind, "better": better, "meaning": meaning}
            for name, (kind, better, meaning) in OUTCOMES.items()
        },
        "replies": len(rows),
        "measured": sum(1 for r in rows if r.calmed is not None),
        "strata": len({r.stratum for r in rows}),
        "overall": overall,
        "steps": _rank([_feature(stepped, s, _is_step(s)) for s in steps]),
        "phrases": _rank([_feature(rows, p, _uses(p)) for p in phrases]),
        "findings": _rank([_feature(rows, k, _found(k)) for k in kinds]),
    }
