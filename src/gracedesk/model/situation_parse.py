"""A situation written as JSON -> :class:`~gracedesk.model.situation.Situation`, checked once.

The one parser of conversations, histories, agents, promises and requests. The CLI and the API
call it at the edge; the store builds Situations from rows without it. The shape::

    {"id": "s1",
     "messages": [{"role": "customer"|"agent", "text": "...", "at"?: ISO}],
     "customer": {"name", "tier", "lifetime_value", "complaints_90d", "contacts_30d",
                  "sanctions": ["warn" | {"level", "at", "reason"}], "flags": [...],
                  "issues": [{"summary", "at", "cause"}],
                  "compensation": [{"kind", "amount", "at", "note"}],
                  "preferred_channel", "currency", "order_value", "fee"},
     "agent": {"role", "name", "authority": {"refund_limit", "credit_limit",
               "discount_pct_limit"}, "follow_up_hours"},
     "commitments": [{"text", "due"}],
     "request": {"kind": "refund"|"discount"|"credit"|"exception", "amount"?},
     "conversation": {"threat_cleared_at": ISO}}

Only ``messages`` is required. A time without an offset is UTC. Each edge raises its own coded
error (``error=``: policy GD310, guidance GD502, analysis context GD103); the message names the
key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn, cast

from gracedesk.errors import GracedeskError, InvalidFacts
from gracedesk.model.clock import parse_iso
from gracedesk.model.flags import MAX_FLAGS, flag_problem
from gracedesk.model.situation import (
    AUTHORITY_KEYS,
    REQUEST_KINDS,
    SANCTION_LEVELS,
    AgentProfile,
    Authority,
    Compensation,
    CustomerHistory,
    OpenPromise,
    PastIssue,
    Request,
    RequestKind,
    Role,
    Sanction,
    Situation,
    Turn,
)

KEYS = frozenset({"id", "messages", "customer", "agent", "commitments", "request", "conversation"})


@dataclass(frozen=True, slots=True)
class _Reader:
    error: type[GracedeskError]

    def fail(self, message: str) -> NoReturn:
        raise self.error(message)

    def obj(self, v: Any, where: str) -> Mapping[str, Any]:
        if v is None:
            return {}
        if not isinstance(v, Mapping):
            self.fail(f"{where} must be an object")
        return cast("Mapping[str, Any]", v)

    def unknown(self, m: Mapping[str, Any], allowed: frozenset[str] | set[str], where: str) -> None:
        extra = sorted(set(m) - allowed)
        if extra:
            self.fail(f"{where}: unknown key(s) {extra} (allowed: {sorted(allowed)})")

    def time(self, v: Any, where: str) -> datetime | None:
        if v is None or v == "":
            return None
        if not isinstance(v, str):
            self.fail(f"{where} must be an ISO 8601 time string")
        try:
            return parse_iso(v)
        except ValueError:
            self.fail(f"{where} is not an ISO 8601 time: {v!r}")

    def number(self, m: Mapping[str, Any], key: str, where: str) -> float | None:
        v = m.get(key)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
            self.fail(f"{where}.{key} must be a non-negative number")
        return float(v)

    def text(self, m: Mapping[str, Any], key: str, where: str) -> str | None:
        v = m.get(key)
        if v is None or v == "":
            return None
        if not isinstance(v, str):
            self.fail(f"{where}.{key} must be a string")
        return v.strip() or None

    def items(self, v: Any, where: str) -> list[Mapping[str, Any]]:
        if v is None:
            return []
        if not isinstance(v, list) or not all(isinstance(x, Mapping) for x in v):
            self.fail(f"{where} must be a list of objects")
        return v


def parse_time(value: Any, key: str, *, error: type[GracedeskError] = InvalidFacts) -> datetime:
    """One ISO 8601 time given at the edge (``--now``, ``--since``); without offset, UTC."""
    if value is None or value == "":
        raise error(f"{key} must be an ISO 8601 time string")
    found = _Reader(error).time(value, key)
    assert found is not None
    return found


def parse_situation(
    obj: Any,
    *,
    error: type[GracedeskError] = InvalidFacts,
    edge_keys: frozenset[str] | None = frozenset(),
) -> Situation:
    """The Situation written in ``obj``; raises ``error`` naming the first bad key.

    ``edge_keys``: the other top-level keys the caller reads itself (``signals``, ``now``); any
    key outside these and :data:`KEYS` is refused. None: unknown top-level keys are ignored.
    """
    r = _Reader(error)
    if not isinstance(obj, Mapping):
        r.fail("a scenario must be a JSON object")
    if edge_keys is not None:
        r.unknown(obj, KEYS | edge_keys, "scenario")
    conv = r.obj(obj.get("conversation"), "conversation")
    r.unknown(conv, {"threat_cleared_at"}, "conversation")
    ident = obj.get("id")
    return Situation(
        turns=_turns(r, obj.get("messages")),
        customer=_customer(r, r.obj(obj.get("customer"), "customer")),
        agent=_agent(r, r.obj(obj.get("agent"), "agent")),
        promises=_promises(r, obj.get("commitments")),
        request=_request(r, obj.get("request")),
        threat_cleared_at=r.time(conv.get("threat_cleared_at"), "conversation.threat_cleared_at"),
        id=ident if isinstance(ident, str | int | float) and not isinstance(ident, bool) else None,
    )


def _turns(r: _Reader, msgs: Any) -> tuple[Turn, ...]:
    if not isinstance(msgs, list) or not msgs:
        r.fail("messages must be a non-empty list")
    turns = []
    for i, m in enumerate(msgs):
        where = f"messages[{i}]"
        m = r.obj(m, where)
        r.unknown(m, {"role", "text", "at"}, where)
        role = m.get("role", "customer")
        if role not in ("customer", "agent"):
            r.fail(f"{where}.role must be 'customer' or 'agent', not {role!r}")
        text = m.get("text")
        if not isinstance(text, str) or not text.strip():
            r.fail(f"{where}.text must be a non-empty string")
        turns.append(Turn(cast("Role", role), text, r.time(m.get("at"), f"{where}.at")))
    if not any(t.role == "customer" for t in turns):
        r.fail("messages has no customer message to analyse")
    return tuple(turns)


def _sanctions(r: _Reader, v: Any) -> tuple[Sanction, ...]:
    if v is None:
        return ()
    if not isinstance(v, list):
        r.fail("customer.sanctions must be a list")
    out = []
    for i, s in enumerate(v):
        where = f"customer.sanctions[{i}]"
        level: Any
        if isinstance(s, str):
            level, at, reason = s, None, ""
        else:
            m = r.obj(s, where)
            r.unknown(m, {"level", "at", "reason"}, where)
            level, at = m.get("level"), r.time(m.get("at"), f"{where}.at")
            reason = r.text(m, "reason", where) or ""
        if level not in SANCTION_LEVELS:
            r.fail(f"{where}.level must be one of {list(SANCTION_LEVELS)}")
        out.append(Sanction(str(level), at, reason))
    return tuple(out)


def _flags(r: _Reader, v: Any) -> tuple[str, ...]:
    """``customer.flags``: lowercase slugs (the desk's rule), each kept once, in order."""
    if v is None:
        return ()
    if not isinstance(v, list):
        r.fail("customer.flags must be a list of strings")
    for i, flag in enumerate(v):
        problem = flag_problem(flag)
        if problem is not None:
            r.fail(f"customer.flags[{i}]: {problem}")
    flags = tuple(dict.fromkeys(v))
    if len(flags) > MAX_FLAGS:
        r.fail(f"customer.flags: at most {MAX_FLAGS} flags ({len(flags)} given)")
    return flags


def _issues(r: _Reader, v: Any) -> tuple[PastIssue, ...]:
    out = []
    for i, it in enumerate(r.items(v, "customer.issues")):
        where = f"customer.issues[{i}]"
        out.append(
            PastIssue(
                r.text(it, "summary", where) or "(no summary)",
                r.time(it.get("at"), f"{where}.at"),
                r.text(it, "cause", where),
            )
        )
    return tuple(out)


def _compensation(r: _Reader, v: Any) -> tuple[Compensation, ...]:
    out = []
    for i, c in enumerate(r.items(v, "customer.compensation")):
        where = f"customer.compensation[{i}]"
        kind = r.text(c, "kind", where)
        if kind is None:
            r.fail(f"{where}.kind is required (refund, credit, discount, ...)")
        out.append(
            Compensation(
                kind.lower(),
                r.number(c, "amount", where),
                r.time(c.get("at"), f"{where}.at"),
                r.text(c, "note", where) or "",
            )
        )
    return tuple(out)


def _customer(r: _Reader, c: Mapping[str, Any]) -> CustomerHistory:
    tier = c.get("tier")
    if tier is not None and not isinstance(tier, str):
        r.fail("customer.tier must be a string")
    channel = r.text(c, "preferred_channel", "customer")
    return CustomerHistory(
        name=r.text(c, "name", "customer"),
        tier=tier,
        lifetime_value=r.number(c, "lifetime_value", "customer"),
        complaints_90d=int(r.number(c, "complaints_90d", "customer") or 0),
        contacts_30d=int(r.number(c, "contacts_30d", "customer") or 0),
        sanctions=_sanctions(r, c.get("sanctions")),
        flags=_flags(r, c.get("flags")),
        issues=_issues(r, c.get("issues")),
        compensation=_compensation(r, c.get("compensation")),
        preferred_channel=channel.lower() if channel else None,
        currency=r.text(c, "currency", "customer"),
        order_value=r.number(c, "order_value", "customer"),
        fee=r.number(c, "fee", "customer"),
    )


def _agent(r: _Reader, a: Mapping[str, Any]) -> AgentProfile:
    role = a.get("role", "agent")
    if not isinstance(role, str):
        r.fail("agent.role must be a string")
    name = a.get("name")
    if name is not None and not isinstance(name, str):
        r.fail("agent.name must be a string")
    hours = a.get("follow_up_hours")
    if hours is not None and (
        isinstance(hours, bool) or not isinstance(hours, int | float) or hours <= 0
    ):
        r.fail("agent.follow_up_hours must be a number above 0")
    raw = r.obj(a.get("authority"), "agent.authority")
    unknown = sorted(set(raw) - set(AUTHORITY_KEYS))
    if unknown:
        r.fail(
            f"agent.authority: unknown key(s) {', '.join(unknown)} "
            f"(known: {', '.join(AUTHORITY_KEYS)})"
        )
    limits = {}
    for k in AUTHORITY_KEYS:
        v = raw.get(k, 0)
        if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
            r.fail(f"agent.authority.{k} must be a number of at least 0")
        limits[k] = float(v)
    return AgentProfile(
        role=role,
        name=name,
        authority=Authority(**limits),
        follow_up_hours=float(hours) if hours is not None else None,
    )


def _promises(r: _Reader, v: Any) -> tuple[OpenPromise, ...]:
    if v is None:
        return ()
    if not isinstance(v, list):
        r.fail("commitments must be a list of {'text', 'due'} objects")
    out = []
    for i, c in enumerate(v):
        where = f"commitments[{i}]"
        if not isinstance(c, Mapping) or not isinstance(c.get("text"), str) or not c["text"]:
            r.fail(f"{where} must be an object with a non-empty 'text'")
        out.append(OpenPromise(c["text"], r.time(c.get("due"), f"{where}.due")))
    return tuple(out)


def _request(r: _Reader, v: Any) -> Request | None:
    if v is None:
        return None
    m = r.obj(v, "request")
    unknown = sorted(set(m) - {"kind", "amount"})
    if unknown:
        r.fail(f"request: unknown key(s) {', '.join(unknown)} (known: amount, kind)")
    kind = m.get("kind")
    if kind not in REQUEST_KINDS:
        r.fail(f"request.kind must be one of {', '.join(REQUEST_KINDS)}")
    return Request(cast("RequestKind", kind), r.number(m, "amount", "request"))
