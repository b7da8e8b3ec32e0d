"""The customer's history as guidance reads it: earlier issues, compensation given, preferences.

Read from the Situation's :class:`~gracedesk.model.situation.CustomerHistory` (parsed once at
the edge); this module only derives what guidance needs from it at ``now``: how many days ago
each compensation was given, the tier in lower case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gracedesk.model.situation import CustomerHistory, PastIssue


@dataclass(frozen=True, slots=True)
class Given:
    """A compensation the customer was given, and how many days before ``now``."""

    kind: str
    amount: float | None
    at: datetime | None
    days_ago: int | None
    note: str = ""


@dataclass(frozen=True, slots=True)
class History:
    name: str | None = None
    tier: str | None = None
    lifetime_value: float | None = None
    preferred_channel: str | None = None
    currency: str | None = None
    order_value: float | None = None
    fee: float | None = None
    issues: tuple[PastIssue, ...] = ()
    compensation: tuple[Given, ...] = ()
    complaints_90d: int = 0
    contacts_30d: int = 0


def history(customer: CustomerHistory, *, now: datetime) -> History:
    """``customer`` as guidance reads it at ``now``."""
    tier = (customer.tier or "").strip().lower() or None
    return History(
        name=customer.name,
        tier=tier,
        lifetime_value=customer.lifetime_value,
        preferred_channel=customer.preferred_channel,
        currency=customer.currency,
        order_value=customer.order_value,
        fee=customer.fee,
        issues=customer.issues,
        compensation=tuple(
            Given(c.kind, c.amount, c.at, (now - c.at).days if c.at is not None else None, c.note)
            for c in customer.compensation
        ),
        complaints_90d=customer.complaints_90d,
        contacts_30d=customer.contacts_30d,
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
