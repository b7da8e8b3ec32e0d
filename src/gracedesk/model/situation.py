"""One conversation as the core reads it: turns, customer history, agent, open promises, request.

A :class:`Situation` is built once, at the edge: from JSON by :func:`gracedesk.model.situation_parse.
parse_situation` (the CLI and the API) or straight from rows by the store
(``gracedesk.store.situations``). ``analyze``, ``decide``/``explain``, ``advise`` and ``coach``
all read this one value; none of them parses a conversation or a time again.

Every time in a Situation is timezone-aware (a time written without an offset is UTC).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Literal

Role = Literal["customer", "agent"]
RequestKind = Literal["refund", "discount", "credit", "exception"]
REQUEST_KINDS: tuple[RequestKind, ...] = ("refund", "discount", "credit", "exception")
SANCTION_LEVELS = ("warn", "restrict", "block")


@dataclass(frozen=True, slots=True)
class Turn:
    """One message of the conversation."""

    role: Role
    text: str
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Sanction:
    """A sanction on record (warn, restrict, block); ``at`` unknown means it always counts."""

    level: str
    at: datetime | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class PastIssue:
    """An earlier conversation of the customer, as its summary and main cause."""

    summary: str
    at: datetime | None = None
    cause: str | None = None


@dataclass(frozen=True, slots=True)
class Compensation:
    """Something the customer was already given (refund, credit, discount...)."""

    kind: str
    amount: float | None = None
    at: datetime | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class CustomerHistory:
    """Who the customer is and what happened before this conversation.

    ``tier`` and ``lifetime_value`` are None when not known (the policy reads them as
    ``standard`` and 0)."""

    name: str | None = None
    tier: str | None = None
    lifetime_value: float | None = None
    complaints_90d: int = 0
    contacts_30d: int = 0
    sanctions: tuple[Sanction, ...] = ()
    flags: tuple[str, ...] = ()  # set by supervisors (gracedesk.model.flags)
    issues: tuple[PastIssue, ...] = ()
    compensation: tuple[Compensation, ...] = ()
    preferred_channel: str | None = None
    currency: str | None = None
    order_value: float | None = None
    fee: float | None = None


@dataclass(frozen=True, slots=True)
class Authority:
    """What the agent may grant without approval (money in the customer's currency).

    None: not known. Guidance then offers only what needs no approval (it reads None as 0); the
    coach does not check amounts of that kind."""

    refund_limit: float | None = None
    credit_limit: float | None = None
    discount_pct_limit: float | None = None


AUTHORITY_KEYS = tuple(sorted(f.name for f in fields(Authority)))


@dataclass(frozen=True, slots=True)
class AgentProfile:
    """The agent handling the conversation."""

    role: str = "agent"
    name: str | None = None
    authority: Authority = field(default_factory=Authority)
    follow_up_hours: float | None = None  # None: guidance's default


@dataclass(frozen=True, slots=True)
class OpenPromise:
    """A commitment already made to the customer and not yet kept."""

    text: str
    due: datetime | None = None


@dataclass(frozen=True, slots=True)
class Request:
    """What the customer asks for (``amount`` None: not stated)."""

    kind: RequestKind
    amount: float | None = None


@dataclass(frozen=True, slots=True)
class Situation:
    """The conversation so far, the analysed customer message included (its last customer turn).

    ``threat_cleared_at``: a supervisor decided the security escalation; threats at or before
    that time no longer count. ``id`` is the caller's reference (a scenario id, a message id).
    """

    turns: tuple[Turn, ...]
    customer: CustomerHistory = field(default_factory=CustomerHistory)
    agent: AgentProfile = field(default_factory=AgentProfile)
    promises: tuple[OpenPromise, ...] = ()
    request: Request | None = None
    threat_cleared_at: datetime | None = None
    id: str | int | float | None = None

    @property
    def current(self) -> int:
        """Index of the analysed message: the last customer turn (-1 when there is none)."""
        return next(
            (i for i in range(len(self.turns) - 1, -1, -1) if self.turns[i].role == "customer"),
            -1,
        )

    @property
    def message(self) -> Turn | None:
        """The analysed customer message."""
        i = self.current
        return self.turns[i] if i >= 0 else None

    def earlier(self) -> tuple[Turn, ...]:
        """The turns before the analysed message."""
        i = self.current
        return self.turns[:i] if i >= 0 else self.turns
