"""A ``gracedesk decide`` scenario (one JSON object) -> a Situation and, optionally, its Signals.

    {"id": "s1",
     "messages": [{"role": "customer"|"agent", "text": "...", "at": "2025-03-03T09:00:00Z"}],
     "customer": {"tier", "lifetime_value", "complaints_90d", "contacts_30d",
                  "sanctions": ["warn" | {"level": "warn", "at": "..."}],
                  "flags": ["vulnerable", "legal_hold"]},  # gracedesk.model.flags
     "agent": {"role": "agent"},
     "request": {"kind": "refund"|"discount"|"credit"|"exception", "amount": 120},
     "conversation": {"threat_cleared_at": "..."},  # a supervisor cleared an earlier threat
     "signals": {...}}   # optional: precomputed (partial) Signals instead of analysing the text

The situation is read by the one parser (``gracedesk.model.situation_parse``; only ``messages``
is required, times without an offset are UTC); errors are ``InvalidFacts`` (GD310) naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gracedesk.errors import InvalidFacts
from gracedesk.model.signals import (
    ABUSE,
    ABUSE_TARGETS,
    CAUSES,
    EMOTIONS,
    EMOTIONS_FINE,
    REQUESTS,
    Signals,
)
from gracedesk.model.situation import Situation
from gracedesk.model.situation_parse import parse_situation


@dataclass(frozen=True, slots=True)
class Scenario:
    situation: Situation
    signals: Signals | None  # given in the file: the message is not analysed


def parse_scenario(obj: Any) -> Scenario:
    situation = parse_situation(obj, error=InvalidFacts, edge_keys=frozenset({"signals"}))
    sig = obj.get("signals")
    if sig is not None and not isinstance(sig, Mapping):
        raise InvalidFacts("signals must be an object")
    signals = signals_from({**sig, "id": obj.get("id")}) if sig is not None else None
    return Scenario(situation, signals)


def _obj(v: Any, key: str) -> Mapping[str, Any]:
    if v is None:
        return {}
    if not isinstance(v, Mapping):
        raise InvalidFacts(f"{key} must be an object")
    return v


def signals_from(d: Mapping[str, Any]) -> Signals:
    """Signals from a (partial) contract dict: scores left out are 0, labels derived at 0.5."""

    def block(key: str, names: tuple[str, ...]) -> dict[str, float]:
        sub = _obj(d.get(key), f"signals.{key}")
        return {n: _score(sub.get(n, 0.0), f"signals.{key}.{n}") for n in names}

    abuse = block("abuse", ABUSE)
    labels = d.get("labels")
    if labels is None:
        labels = [a for a, v in abuse.items() if v >= 0.5]
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise InvalidFacts("signals.labels must be a list of strings")
    sentiment = d.get("sentiment", 0.0)
    if isinstance(sentiment, bool) or not isinstance(sentiment, int | float):
        raise InvalidFacts("signals.sentiment must be a number")
    return Signals(
        sentiment=float(sentiment),
        sentiment_label=str(d.get("sentiment_label", "neutral")),
        emotions=block("emotions", EMOTIONS),
        emotions_fine=block("emotions_fine", EMOTIONS_FINE),
        abuse=abuse,
        complaint=_score(d.get("complaint", 0.0), "signals.complaint"),
        causes=block("causes", CAUSES),
        requests=block("requests", REQUESTS),
        public_threat=_score(d.get("public_threat", 0.0), "signals.public_threat"),
        legal_threat=_score(d.get("legal_threat", 0.0), "signals.legal_threat"),
        risk=_score(d.get("risk", 0.0), "signals.risk"),
        labels=tuple(labels),
        evidence=(),
        model=str(d.get("model", "given")),
        id=d.get("id"),
        abuse_target=block("abuse_target", ABUSE_TARGETS) if "abuse_target" in d else {},
        language=_language(d.get("language", "en")),
    )


def _language(v: Any) -> str:
    if not isinstance(v, str) or not 2 <= len(v) <= 3 or not v.isalpha():
        raise InvalidFacts("signals.language must be an ISO 639 code such as 'en'")
    return v.lower()


def _score(v: Any, key: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not 0.0 <= v <= 1.0:
        raise InvalidFacts(f"{key} must be a number in [0, 1]")
    return float(v)
