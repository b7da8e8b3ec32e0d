"""Small statistics the report shares: quantiles, rates, and the SLA clock's pauses."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

Interval = tuple[datetime, datetime]


def quantile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile by linear interpolation between the closest ranks (numpy's default),
    so that a median of an even count is the mean of the two middle values; None when empty."""
    if not values:
        return None
    xs = sorted(values)
    pos = q * (len(xs) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def spread(values: Sequence[float], digits: int = 1) -> dict[str, Any]:
    """``count``, ``median`` and ``p90`` of some durations (minutes, rounded)."""
    return {
        "count": len(values),
        "median": _round(quantile(values, 0.5), digits),
        "p90": _round(quantile(values, 0.9), digits),
    }


def rate(part: int, whole: int) -> float | None:
    """``part / whole`` to four places; None when there is nothing to divide by."""
    return round(part / whole, 4) if whole else None


def met(part: int, whole: int) -> dict[str, Any]:
    return {"met": part, "total": whole, "rate": rate(part, whole)}


def mean(values: Iterable[float], digits: int = 2) -> float | None:
    xs = list(values)
    return round(sum(xs) / len(xs), digits) if xs else None


def _round(x: float | None, digits: int) -> float | None:
    return None if x is None else round(x, digits)


def waiting_pauses(turns: Iterable[tuple[str, datetime]], end: datetime) -> list[Interval]:
    """The intervals the desk waited on the customer: from an agent's turn to the next customer
    turn (or ``end``). The SLA clock leaves them out of the resolution time when the calendar
    says ``pause_while_waiting_on_customer``; this mirrors ``policy.facts`` on stored turns."""
    pauses: list[Interval] = []
    waiting: datetime | None = None
    for role, at in sorted(turns, key=lambda t: t[1]):
        if at >= end:
            break
        if role == "agent" and waiting is None:
            waiting = at
        elif role == "customer" and waiting is not None:
            if at > waiting:
                pauses.append((waiting, at))
            waiting = None
    if waiting is not None and end > waiting:
        pauses.append((waiting, end))
    return pauses
