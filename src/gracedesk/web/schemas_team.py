"""Response models for the people: the team's exposure to abuse, breaks, and the audit log."""

from __future__ import annotations

from typing import Literal

from gracedesk.web.schemas import JsonObject, Out

Role = Literal["agent", "supervisor", "admin"]


class Wellbeing(Out):
    """The policy's exposure limit (docs/desk.md, issue 16): an agent over it is rotated off
    abusive conversations and offered a break."""

    exposures: int
    exposure_limit: int
    window_minutes: int
    over_limit: bool
    rotated: int
    offer: str | None
    nudge: str | None


class Member(Out):
    """One active user's load and recent exposure to abusive contacts, with a nudge."""

    name: str
    display_name: str
    role: Role
    open_conversations: int
    abusive_contacts_recent: int
    abusive_contacts_total: int
    last_exposure_at: str | None
    last_break_at: str | None
    nudge: str | None
    wellbeing: Wellbeing


class Me(Out):
    """The caller's own row of the team view (only ``name`` for a user not in it)."""

    name: str
    display_name: str | None = None
    role: Role | None = None
    open_conversations: int | None = None
    abusive_contacts_recent: int | None = None
    abusive_contacts_total: int | None = None
    last_exposure_at: str | None = None
    last_break_at: str | None = None
    nudge: str | None = None
    wellbeing: Wellbeing | None = None


class Break(Out):
    user: str
    last_break_at: str


class AuditEvent(Out):
    """Who did what, when and why; ``detail``'s keys depend on the event's ``kind``."""

    id: int
    at: str
    actor: str
    kind: str
    conversation_id: int | None
    customer_id: int | None
    reason: str | None
    detail: JsonObject
