"""Rotation (``service.rotation``): what it counts and what it records, on the tables (Core).

Reads:

- :func:`events_between`: audit events of one kind in a window, oldest first (the
  ``agent.exposed`` ones: whose conversation, for whom, when).
- :func:`open_load`: open conversations per assignee.
- :func:`details_since`: the detail of each audit event of one kind since a time (the
  ``conversation.rotated`` ones: from whom).

Writes (in the caller's transaction):

- :func:`record_decision`: the rotation's decision row on the message.
- :func:`reassign`: hand the conversation to another assignee (or to none).

The active users with their last break are ``store.agents.active_users``; the audit event and
the check-in notification go through ``store.audit.write`` and ``store.outbox.notify``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update

from gracedesk.store.audit import AUDIT_EVENTS
from gracedesk.store.conversations import CONVERSATIONS
from gracedesk.store.messages import DECISIONS


def events_between(
    conn: Connection, kind: str, *, since: datetime, until: datetime
) -> Sequence[Row[int, datetime, int | None, dict[str, Any]]]:
    """The audit events of ``kind`` at ``since``..``until`` (both included), by id: id, at,
    conversation_id, detail."""
    a = AUDIT_EVENTS.c
    return conn.execute(
        select(a.id, a.at, a.conversation_id, a.detail)
        .where(a.kind == kind, a.at >= since, a.at <= until)
        .order_by(a.id)
    ).all()


def open_load(conn: Connection) -> dict[int, int]:
    """Open conversations per assignee."""
    c = CONVERSATIONS.c
    rows = conn.execute(
        select(c.assignee_id, func.count())
        .where(c.status != "resolved", c.assignee_id.is_not(None))
        .group_by(c.assignee_id)
    )
    return {int(uid): int(n) for uid, n in rows}


def details_since(conn: Connection, kind: str, *, since: datetime) -> list[Any]:
    """The detail of each audit event of ``kind`` at or after ``since``."""
    a = AUDIT_EVENTS.c
    return [
        detail for (detail,) in conn.execute(select(a.detail).where(a.kind == kind, a.at >= since))
    ]


def record_decision(
    conn: Connection,
    *,
    message_id: int,
    conversation_id: int,
    action: str,
    target: str,
    rule_id: str,
    reason: str,
    policy_version: str,
    data: dict[str, Any],
    now: datetime,
) -> None:
    """A decision row on the message (the rotation, explained like a policy decision)."""
    conn.execute(
        insert(DECISIONS).values(
            message_id=message_id,
            conversation_id=conversation_id,
            action=action,
            target=target,
            rule_id=rule_id,
            reason=reason,
            policy_version=policy_version,
            data=data,
            created_at=now,
        )
    )


def reassign(conn: Connection, conv_id: int, assignee_id: int | None, *, now: datetime) -> None:
    """The conversation's assignee set (None: unassigned), its update time ``now``."""
    conn.execute(
        update(CONVERSATIONS)
        .where(CONVERSATIONS.c.id == conv_id)
        .values(assignee_id=assignee_id, updated_at=now)
    )
