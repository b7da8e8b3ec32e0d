"""Rotation and recovery: an agent who has had enough abuse for now gets no more of it.

Why: exposure to abusive customers wears people down, and it comes in streaks. The policy's
``[wellbeing]`` says how much is enough: ``exposure_limit`` abusive conversations handled
within ``window_minutes``. An agent at the limit is offered a break and a check-in with their
supervisor, and the next abusive conversation goes to someone else. A break is the recovery:
exposures before an agent's last break no longer count.

Counting reuses what the desk already records: an ``agent.exposed`` audit event each time an
agent answers an abusive message (``actions._exposure``). An agent's count is the number of
distinct conversations among those events in the window, after their last break.

Where it acts:

- ``on_message`` (from ``effects.record``): an abusive customer message (label ``abusive``, the
  newest of its conversation) in a conversation assigned to an agent at the limit.
- ``plan`` + ``apply`` (from ``actions.assign``): an agent at the limit takes an abusive
  conversation (a supervisor's explicit choice of assignee stands).

The conversation goes to the least exposed active agent under the limit (fewest exposures in
the window, then fewest open conversations, then name), or, when nobody is under it or the
policy says ``route_to = "supervisor"``, it is unassigned and escalated to a supervisor. Each
rotation is explained like a policy decision: a decision row on the message (``rule_id``
``wellbeing.rotation``, the reason, the policy version), an audit event
``conversation.rotated``, and a notification asking the supervisor to check in (once per streak).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from gracedesk.service.effects import open_escalation
from gracedesk.store import agents as agents_x
from gracedesk.store import audit
from gracedesk.store import rotation as rotation_x
from gracedesk.store.outbox import notify

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from gracedesk.model import Signals
    from gracedesk.model.staff import Staff
    from gracedesk.policy.schema import Wellbeing
    from gracedesk.service.desk import Desk

RULE_ID = "wellbeing.rotation"
ABUSIVE = "abusive"  # the label that makes a message count (as in ``actions._exposure``)
EXPOSED = "agent.exposed"
ROTATED = "conversation.rotated"


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    name: str
    role: str
    email: str | None
    last_break_at: datetime | None


@dataclass(frozen=True, slots=True)
class Rotation:
    """Who was over the limit, where the conversation goes (``to`` None: a supervisor), why."""

    agent: Person
    exposures: int
    to: Person | None
    reason: str
    streak: int  # id of the oldest exposure counted: one check-in notification per streak


def is_abusive(signals: Mapping[str, Any] | None) -> bool:
    return bool(signals) and ABUSIVE in (signals or {}).get("labels", [])


def _people(conn: Connection) -> dict[int, Person]:
    rows = agents_x.active_users(conn)
    return {r.id: Person(r.id, r.name, r.role, r.email, r.last_break_at) for r in rows}


def exposures(
    conn: Connection, people: Mapping[int, Person], *, window: timedelta, now: datetime
) -> dict[int, tuple[set[int], int]]:
    """Per user: the abusive conversations they handled in the window after their last break,
    and the id of the oldest event counted."""
    rows = rotation_x.events_between(conn, EXPOSED, since=now - window, until=now)
    out: dict[int, tuple[set[int], int]] = {}
    for r in rows:
        uid = (r.detail or {}).get("user_id")
        who = people.get(uid) if isinstance(uid, int) else None
        if who is None or r.conversation_id is None:
            continue
        if who.last_break_at is not None and r.at <= who.last_break_at:
            continue  # recovered: a break starts the count again
        convs, first = out.get(who.id, (set(), r.id))
        convs.add(r.conversation_id)
        out[who.id] = (convs, first)
    return out


def plan(
    conn: Connection, wellbeing: Wellbeing, agent_id: int, *, now: datetime
) -> Rotation | None:
    """The rotation due when ``agent_id`` would handle another abusive conversation, or None
    (not an agent, or under the limit)."""
    people = _people(conn)
    agent = people.get(agent_id)
    if agent is None or agent.role != "agent":
        return None
    window = timedelta(minutes=wellbeing.window_minutes)
    counts = exposures(conn, people, window=window, now=now)
    mine, streak = counts.get(agent_id, (set(), 0))
    n, limit = len(mine), wellbeing.exposure_limit
    if n < limit:
        return None
    said = (
        f"{agent.name} handled {n} abusive conversations in the last "
        f"{wellbeing.window_minutes} minutes (limit {limit})"
    )
    if wellbeing.route_to == "supervisor":
        return Rotation(agent, n, None, f"{said}; the policy routes them to a supervisor", streak)
    load = rotation_x.open_load(conn)
    seen = {uid: len(c) for uid, (c, _) in counts.items()}
    free = [p for p in people.values() if p.role == "agent" and p.id != agent_id]
    under = [p for p in free if seen.get(p.id, 0) < limit]
    if not under:
        why = "every other agent is at the limit too" if free else "there is no other agent"
        return Rotation(agent, n, None, f"{said}; {why}: escalated to a supervisor", streak)
    best = min(under, key=lambda p: (seen.get(p.id, 0), load.get(p.id, 0), p.name))
    detail = f"{seen.get(best.id, 0)} in the window, {load.get(best.id, 0)} open"
    reason = f"{said}; routed to {best.name}, the least exposed ({detail})"
    return Rotation(agent, n, best, reason, streak)


def apply(
    desk: Desk,
    conn: Connection,
    r: Rotation,
    *,
    conv_id: int,
    customer_id: int,
    message_id: int,
    packet: dict[str, Any] | None,
    now: datetime,
    reassign: bool = True,
) -> None:
    """Record the rotation as a decision, hand the conversation on (``reassign``: here; the
    caller does it otherwise), audit it and ask the supervisor to check in."""
    w = desk.policy.wellbeing
    target = r.to.name if r.to is not None else "supervisor"
    rotation_x.record_decision(
        conn,
        message_id=message_id,
        conversation_id=conv_id,
        action="reassign" if r.to is not None else "escalate",
        target=target,
        rule_id=RULE_ID,
        reason=r.reason,
        policy_version=desk.policy.version,
        data={
            "from": r.agent.name,
            "exposures": r.exposures,
            "exposure_limit": w.exposure_limit,
            "window_minutes": w.window_minutes,
            "route_to": w.route_to,
        },
        now=now,
    )
    if reassign:
        assignee = r.to.id if r.to is not None else None
        rotation_x.reassign(conn, conv_id, assignee, now=now)
    if r.to is None:
        open_escalation(
            desk,
            conn,
            conv_id,
            customer_id,
            kind="escalation",
            target="supervisor",
            reason=r.reason,
            rule_id=RULE_ID,
            packet=packet,
            now=now,
            data={"mode": "transfer"},
        )
    event = audit.event(
        ROTATED,
        now=now,
        conversation_id=conv_id,
        customer_id=customer_id,
        reason=r.reason,
        rule_id=RULE_ID,
        from_user_id=r.agent.id,
        to=target,
        message_id=message_id,
    )
    audit.write(conn, [event])
    notify(
        conn,
        key=f"wellbeing:{r.agent.id}:{r.streak}",
        event="agent.over_exposed",
        to=[desk.supervisor_email or ""],
        subject=f"[gracedesk] check in with {r.agent.name}: {r.exposures} abusive conversations",
        body=(
            f"{r.reason}.\n\nOffer {r.agent.name} a break and a check-in. New abusive "
            f"conversations go to others until they are under the limit again.\n\n"
            f"Team: {desk.base_url}/console/team\n"
        ),
        payload={"user": r.agent.name, "exposures": r.exposures, "conversation_id": conv_id},
        now=now,
    )


def on_message(
    desk: Desk,
    conn: Connection,
    *,
    message_id: int,
    conv_id: int,
    customer_id: int,
    assignee_id: int | None,
    signals: Signals,
    packet: dict[str, Any] | None,
    now: datetime,
) -> Rotation | None:
    """Rotate an abusive message's conversation away from an assignee at the limit."""
    if assignee_id is None or ABUSIVE not in signals.labels:
        return None
    r = plan(conn, desk.policy.wellbeing, assignee_id, now=now)
    if r is not None:
        apply(
            desk,
            conn,
            r,
            conv_id=conv_id,
            customer_id=customer_id,
            message_id=message_id,
            packet=packet,
            now=now,
        )
    return r


# -- what the team view and the agent's banner show ------------------------------------------


def status(desk: Desk, users: Sequence[Staff], *, now: datetime) -> dict[int, dict[str, Any]]:
    """Per user: exposures in the policy's window (after the last break), whether they are at
    the limit, conversations rotated away from them in the window, and what they are offered."""
    w = desk.policy.wellbeing
    window = timedelta(minutes=w.window_minutes)
    with desk.store.read_core() as conn:
        people = _people(conn)
        counts = exposures(conn, people, window=window, now=now)
        rotated: dict[int, int] = {}
        for detail in rotation_x.details_since(conn, ROTATED, since=now - window):
            uid = (detail or {}).get("from_user_id")
            if isinstance(uid, int):
                rotated[uid] = rotated.get(uid, 0) + 1
    out = {}
    for u in users:
        n = len(counts.get(u.id, (set(), 0))[0])
        over = u.role == "agent" and n >= w.exposure_limit
        out[u.id] = {
            "exposures": n,
            "exposure_limit": w.exposure_limit,
            "window_minutes": w.window_minutes,
            "over_limit": over,
            "rotated": rotated.get(u.id, 0),
            "offer": offer_text(n, w.window_minutes) if over else None,
            "nudge": nudge_text(n, w.window_minutes) if over else None,
        }
    return out


def offer_text(n: int, minutes: int) -> str:
    """What the agent at the limit reads (the console's banner)."""
    return (
        f"You have handled {n} abusive conversations in the last {minutes} minutes, so new "
        "abusive conversations go to colleagues for now. We suggest a break, and a check-in "
        "with your supervisor, who sees this in the team view."
    )


def nudge_text(n: int, minutes: int) -> str:
    """What the supervisor reads in the team view."""
    return (
        f"{n} abusive conversations in the last {minutes} min: at the limit, so new abusive "
        "conversations go to others; suggest a break and check in with them (offered in their "
        "console)"
    )


def annotate(desk: Desk, rows: list[dict[str, Any]], users: Sequence[Staff], now: datetime) -> None:
    """Add ``wellbeing`` to the team view's rows (one per user, same order); an agent at the
    limit gets the rotation's nudge."""
    found = status(desk, users, now=now)
    for row, u in zip(rows, users, strict=True):
        row["wellbeing"] = found[u.id]
        if found[u.id]["nudge"]:
            row["nudge"] = found[u.id]["nudge"]
