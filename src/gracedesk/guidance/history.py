"""The customer's history as guidance reads it: earlier issues, compensation given, preferences.

``customer`` is the same mapping that goes to ``analyze`` as ``context["customer"]``; guidance
reads these keys (all optional; others are left to other steps)::

    {"name": "Dana", "tier": "gold", "lifetime_value": 2400, "preferred_channel": "phone",
     "currency": "EUR", "order_value": 120, "fee": 15,
     "issues": [{"at": "2026-09-02", "summary": "parcel arrived damaged", "cause": "..."}],
     "compensation": [{"kind": "credit", "amount": 20, "at": "2026-10-01", "note": "..."}],
     "complaints_90d": 3, "contacts_30d": 2}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gracedesk.errors import InvalidScenario
from gracedesk.guidance.conversation import parse_time


@dataclass(frozen=True, slots=True)
class Compensation:
    kind: str
    amount: float | None
    at: datetime | None
    days_ago: int | None
    note: str = ""


@dataclass(frozen=True, slots=True)
class Issue:
    summary: str
    at: datetime | None
    cause: str | None


@dataclass(frozen=True, slots=True)
class History:
    name: str | None = None
    tier: str | None = None
    lifetime_value: float | None = None
    preferred_channel: str | None = None
    currency: str | None = None
    order_value: float | None = None
    fee: float | None = None
    issues: tuple[Issue, ...] = ()
    compensation: tuple[Compensation, ...] = ()
    complaints_90d: int = 0
    contacts_30d: int = 0


def _str(d: Mapping[str, Any], key: str, where: str) -> str | None:
    v = d.get(key)
    if v is None or v == "":
        return None
    if not isinstance(v, str):
        raise InvalidScenario(f"{where}.{key} must be a string")
    return v.strip() or None


def _num(d: Mapping[str, Any], key: str, where: str) -> float | None:
    v = d.get(key)
    if v is None:
        return None
    if not isinstance(v, int | float) or isinstance(v, bool) or v < 0:
        raise InvalidScenario(f"{where}.{key} must be a number of at least 0")
    return float(v)


def _list(d: Mapping[str, Any], key: str, where: str) -> list[Mapping[str, Any]]:
    v = d.get(key) or []
    if not isinstance(v, list) or not all(isinstance(x, Mapping) for x in v):
        raise InvalidScenario(f"{where}.{key} must be a list of objects")
    return v


def history(customer: Mapping[str, Any] | None, *, now: datetime) -> History:
    """The history in ``customer``; raises ``InvalidScenario`` naming the bad key."""
    if customer is None:
        return History()
    if not isinstance(customer, Mapping):
        raise InvalidScenario("customer must be an object")
    w = "customer"
    comp = []
    for i, c in enumerate(_list(customer, "compensation", w)):
        cw = f"{w}.compensation[{i}]"
        kind = _str(c, "kind", cw)
        if kind is None:
            raise InvalidScenario(f"{cw}.kind is required (refund, credit, discount, ...)")
        at = parse_time(c.get("at"), f"{cw}.at", now)
        days = (now - at).days if at is not None else None
        comp.append(
            Compensation(kind.lower(), _num(c, "amount", cw), at, days, _str(c, "note", cw) or "")
        )
    issues = []
    for i, it in enumerate(_list(customer, "issues", w)):
        iw = f"{w}.issues[{i}]"
        summary = _str(it, "summary", iw) or "(no summary)"
        issues.append(
            Issue(summary, parse_time(it.get("at"), f"{iw}.at", now), _str(it, "cause", iw))
        )
    tier = _str(customer, "tier", w)
    channel = _str(customer, "preferred_channel", w)
    return History(
        name=_str(customer, "name", w),
        tier=tier.lower() if tier else None,
        lifetime_value=_num(customer, "lifetime_value", w),
        preferred_channel=channel.lower() if channel else None,
        currency=_str(customer, "currency", w),
        order_value=_num(customer, "order_value", w),
        fee=_num(customer, "fee", w),
        issues=tuple(issues),
        compensation=tuple(comp),
        complaints_90d=int(_num(customer, "complaints_90d", w) or 0),
        contacts_30d=int(_num(customer, "contacts_30d", w) or 0),
    )


CHANNEL_WORDS = {
    "phone": "by phone",
    "call": "by phone",
    "email": "by email",
    "mail": "by email",
    "chat": "in chat",
    "sms": "by text message",
    "text": "by text message",
    "whatsapp": "on WhatsApp",
}


def channel_words(channel: str | None) -> str | None:
    """``"phone"`` -> ``"by phone"`` (how a phrase says the channel)."""
    if channel is None:
        return None
    return CHANNEL_WORDS.get(channel, f"by {channel}")


def money(amount: float, currency: str | None) -> str:
    return f"{amount:,.2f} {currency}" if currency else f"{amount:,.2f}"


def lines(h: History) -> tuple[str, ...]:
    """The history as short human lines (for the hand-over packet)."""
    out = []
    if h.tier:
        out.append(f"tier: {h.tier}")
    if h.lifetime_value is not None:
        out.append(f"lifetime value: {money(h.lifetime_value, h.currency)}")
    if h.preferred_channel:
        out.append(f"preferred channel: {h.preferred_channel}")
    if h.complaints_90d:
        out.append(f"{h.complaints_90d} complaint(s) in the last 90 days")
    if h.contacts_30d:
        out.append(f"{h.contacts_30d} contact(s) in the last 30 days")
    for i in h.issues:
        when = i.at.date().isoformat() if i.at else "date unknown"
        out.append(f"earlier issue ({when}): {i.summary}")
    for c in h.compensation:
        when = c.at.date().isoformat() if c.at else "date unknown"
        amt = f" of {money(c.amount, h.currency)}" if c.amount is not None else ""
        ago = f", {c.days_ago} days ago" if c.days_ago is not None else ""
        out.append(f"compensation given: {c.kind}{amt} on {when}{ago}")
    return tuple(out)
