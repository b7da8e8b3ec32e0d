"""A ``gracedesk decide`` scenario (one JSON object) -> the typed inputs of ``decide``.

    {"id": "s1",
     "messages": [{"role": "customer"|"agent", "text": "...", "at": "2025-03-03T09:00:00Z"}],
     "customer": {"tier", "lifetime_value", "complaints_90d", "contacts_30d",
                  "sanctions": ["warn" | {"level": "warn", "at": "..."}],
                  "flags": ["vulnerable", "legal_hold"]},  # gracedesk.model.flags
     "agent": {"role": "agent"},
     "request": {"kind": "refund"|"discount"|"credit"|"exception", "amount": 120},
     "conversation": {"threat_cleared_at": "..."},  # a supervisor cleared an earlier threat
     "signals": {...}}   # optional: precomputed (partial) Signals instead of analysing the text

Only ``messages`` is required. Times without an offset are read as UTC. Errors name the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gracedesk.errors import InvalidFacts
from gracedesk.model.clock import parse_iso
from gracedesk.model.flags import MAX_FLAGS, flag_problem
from gracedesk.model.signals import (
    ABUSE,
    ABUSE_TARGETS,
    CAUSES,
    EMOTIONS,
    EMOTIONS_FINE,
    REQUESTS,
    Signals,
)
from gracedesk.policy.facts import Agent, Customer, Request, Turn
from gracedesk.policy.sanctions import LEVELS, Sanction

_KEYS = {"id", "messages", "customer", "agent", "request", "signals", "conversation"}


@dataclass(frozen=True, slots=True)
class Scenario:
    id: Any
    turns: tuple[Turn, ...]
    customer: Customer
    agent: Agent
    request: Request | None
    signals: Mapping[str, Any] | None
    analysed: int  # index of the customer message that is analysed (the last one)
    threat_cleared_at: datetime | None = None

    def context(self) -> dict[str, Any]:
        """The ``analyze`` context: earlier messages and the customer's history."""
        earlier = [
            {"role": t.role, "text": t.text, **({"at": t.at.isoformat()} if t.at else {})}
            for t in self.turns[: self.analysed]
        ]
        c = self.customer
        at = self.turns[self.analysed].at
        return {
            **({"at": at.isoformat()} if at else {}),
            **(
                {"threat_cleared_at": self.threat_cleared_at.isoformat()}
                if self.threat_cleared_at
                else {}
            ),
            "messages": earlier,
            "customer": {
                "complaints_90d": c.complaints_90d,
                "contacts_30d": c.contacts_30d,
                "sanctions": [s.level for s in c.sanctions],
            },
        }


def parse_time(value: Any, key: str) -> datetime:
    if not isinstance(value, str):
        raise InvalidFacts(f"{key} must be an ISO 8601 time string")
    try:
        return parse_iso(value)
    except ValueError:
        raise InvalidFacts(f"{key} is not an ISO 8601 time: {value!r}") from None


def _obj(v: Any, key: str) -> Mapping[str, Any]:
    if v is None:
        return {}
    if not isinstance(v, Mapping):
        raise InvalidFacts(f"{key} must be an object")
    return v


def _number(m: Mapping[str, Any], key: str, where: str, default: float = 0) -> float:
    v = m.get(key, default)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
        raise InvalidFacts(f"{where}.{key} must be a non-negative number")
    return float(v)


def _unknown(m: Mapping[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(m) - allowed)
    if extra:
        raise InvalidFacts(f"{where}: unknown key(s) {extra} (allowed: {sorted(allowed)})")


def parse_scenario(obj: Any) -> Scenario:
    if not isinstance(obj, Mapping):
        raise InvalidFacts("a scenario must be a JSON object")
    _unknown(obj, _KEYS, "scenario")
    msgs = obj.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise InvalidFacts("messages must be a non-empty list")
    turns = []
    for i, m in enumerate(msgs):
        where = f"messages[{i}]"
        m = _obj(m, where)
        _unknown(m, {"role", "text", "at"}, where)
        role, text = m.get("role", "customer"), m.get("text")
        if role not in ("customer", "agent"):
            raise InvalidFacts(f"{where}.role must be 'customer' or 'agent'")
        if not isinstance(text, str) or not text.strip():
            raise InvalidFacts(f"{where}.text must be a non-empty string")
        at = parse_time(m["at"], f"{where}.at") if m.get("at") is not None else None
        turns.append(Turn(role, text, at))
    last = max((i for i, t in enumerate(turns) if t.role == "customer"), default=None)
    if last is None:
        raise InvalidFacts("messages has no customer message to analyse")

    # customer and agent are shared with `gracedesk advise` (name, history, authority, ...):
    # policy reads the keys it knows and leaves the others to guidance
    c = _obj(obj.get("customer"), "customer")
    tier = c.get("tier", "standard")
    if not isinstance(tier, str):
        raise InvalidFacts("customer.tier must be a string")
    raw_sanctions = c.get("sanctions") or []
    if not isinstance(raw_sanctions, list):
        raise InvalidFacts("customer.sanctions must be a list")
    history = []
    for i, s in enumerate(raw_sanctions):
        where = f"customer.sanctions[{i}]"
        level, at = (s, None) if isinstance(s, str) else (_obj(s, where).get("level"), None)
        if isinstance(s, Mapping):
            _unknown(s, {"level", "at", "reason"}, where)
            at = parse_time(s["at"], f"{where}.at") if s.get("at") is not None else None
        if level not in LEVELS[1:]:
            raise InvalidFacts(f"{where}.level must be one of {list(LEVELS[1:])}")
        history.append(Sanction(level, at))
    customer = Customer(
        tier=tier,
        lifetime_value=_number(c, "lifetime_value", "customer"),
        complaints_90d=int(_number(c, "complaints_90d", "customer")),
        contacts_30d=int(_number(c, "contacts_30d", "customer")),
        sanctions=tuple(history),
        flags=_flags(c.get("flags")),
    )

    a = _obj(obj.get("agent"), "agent")
    role = a.get("role", "agent")
    if not isinstance(role, str):
        raise InvalidFacts("agent.role must be a string")

    request = None
    if obj.get("request") is not None:
        r = _obj(obj["request"], "request")
        _unknown(r, {"kind", "amount"}, "request")
        kind = r.get("kind")
        if kind not in ("refund", "discount", "credit", "exception"):
            raise InvalidFacts("request.kind must be one of refund, discount, credit, exception")
        request = Request(kind, _number(r, "amount", "request"))

    sig = obj.get("signals")
    if sig is not None and not isinstance(sig, Mapping):
        raise InvalidFacts("signals must be an object")
    cleared = None
    conv = obj.get("conversation")
    if conv is not None:
        conv = _obj(conv, "conversation")
        unknown = set(conv) - {"threat_cleared_at"}
        if unknown:
            raise InvalidFacts(f"conversation: unknown key {sorted(unknown)[0]!r}")
        if conv.get("threat_cleared_at") is not None:
            cleared = parse_time(conv["threat_cleared_at"], "conversation.threat_cleared_at")
    return Scenario(obj.get("id"), tuple(turns), customer, Agent(role), request, sig, last, cleared)


def _flags(v: Any) -> tuple[str, ...]:
    """``customer.flags``: lowercase slugs (the desk's rule), each kept once, in order."""
    if v is None:
        return ()
    if not isinstance(v, list):
        raise InvalidFacts("customer.flags must be a list of strings")
    for i, flag in enumerate(v):
        problem = flag_problem(flag)
        if problem is not None:
            raise InvalidFacts(f"customer.flags[{i}]: {problem}")
    flags = tuple(dict.fromkeys(v))
    if len(flags) > MAX_FLAGS:
        raise InvalidFacts(f"customer.flags: at most {MAX_FLAGS} flags ({len(flags)} given)")
    return flags


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
