"""Evidence highlighting: a customer's text cut into plain and marked pieces, built server-side.

``highlight(text, evidence)`` returns segments; the template escapes every one of them and wraps
the marked ones in ``<mark class="ev ev-<family>" title="<signals>">``. Nothing here produces
markup, so customer text can never be rendered as HTML.

Overlaps: spans of the same family that overlap are merged into one mark (their signal names
joined in the title); where families overlap, the more serious family wins (threat, abuse,
request, emotion, other) and the overlapping span of the other is skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gracedesk.model.signals import HIGH_RISK, MEDIUM_RISK

FAMILIES = ("threat", "abuse", "request", "emotion", "other")  # most serious first
THREATS = ("public_threat", "legal_threat")


@dataclass(frozen=True, slots=True)
class Segment:
    text: str
    family: str | None = None  # None: plain text
    title: str = ""

    @property
    def css(self) -> str:
        return f"ev ev-{self.family}" if self.family else ""


def family(signal: str) -> str:
    """The colour family of a signal name (``abuse.insult`` -> ``abuse``)."""
    head = signal.split(".", 1)[0]
    if signal in THREATS or head in THREATS:
        return "threat"
    return {"abuse": "abuse", "requests": "request", "emotions": "emotion"}.get(head, "other")


@dataclass(slots=True)
class _Span:
    start: int
    end: int
    family: str
    signals: list[str]


def _spans(text: str, evidence: Iterable[Mapping[str, Any]]) -> list[_Span]:
    """Valid spans (inside the text, non-empty), one per piece of evidence."""
    out = []
    for ev in evidence:
        start, end, signal = ev.get("start"), ev.get("end"), ev.get("signal")
        if not (isinstance(start, int) and isinstance(end, int) and isinstance(signal, str)):
            continue
        if 0 <= start < end <= len(text):
            out.append(_Span(start, end, family(signal), [signal]))
    return out


def _merge(spans: list[_Span]) -> list[_Span]:
    """Merge overlapping spans of one family."""
    merged: list[_Span] = []
    for sp in sorted(spans, key=lambda s: (s.start, s.end)):
        last = merged[-1] if merged else None
        if last is not None and sp.start < last.end:
            last.end = max(last.end, sp.end)
            last.signals += [x for x in sp.signals if x not in last.signals]
        else:
            merged.append(_Span(sp.start, sp.end, sp.family, list(sp.signals)))
    return merged


def marks(text: str, evidence: Iterable[Mapping[str, Any]]) -> list[_Span]:
    """Non-overlapping spans to mark, in text order."""
    spans = _spans(text, evidence)
    chosen: list[_Span] = []
    for fam in FAMILIES:
        for sp in _merge([s for s in spans if s.family == fam]):
            if all(sp.end <= c.start or sp.start >= c.end for c in chosen):
                chosen.append(sp)
    return sorted(chosen, key=lambda s: s.start)


def highlight(text: str, evidence: Iterable[Mapping[str, Any]] | None) -> list[Segment]:
    """``text`` as plain and marked segments; joined, the segments give back ``text``."""
    out: list[Segment] = []
    at = 0
    for sp in marks(text, evidence or ()):
        if sp.start > at:
            out.append(Segment(text[at : sp.start]))
        out.append(Segment(text[sp.start : sp.end], sp.family, ", ".join(sorted(sp.signals))))
        at = sp.end
    if at < len(text) or not out:
        out.append(Segment(text[at:]))
    return out


def risk_level(risk: float | None) -> str:
    """The badge for a risk score: high from ``HIGH_RISK`` (where the analysis labels a message
    ``high_risk``), medium from ``MEDIUM_RISK``, low below."""
    if risk is None:
        return "neutral"
    if risk >= HIGH_RISK:
        return "high"
    return "medium" if risk >= MEDIUM_RISK else "low"
