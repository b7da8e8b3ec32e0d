"""Follow-ups, customer notes, sanctions, breaks, and the plain dicts of stored records.

Like ``actions``: every function takes the acting ``user`` and ``now``, checks the role, changes
the store in one transaction and leaves an audit event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from gracedesk.errors import Conflict, InvalidRequest, NotFound, PermissionDenied
from gracedesk.model.staff import Staff
from gracedesk.service.desk import audit
from gracedesk.store import records as stored
from gracedesk.store.follow_ups import NewFollowUp
from gracedesk.store.protocol import store as persistence

if TYPE_CHECKING:
    from sqlalchemy import Connection, Row, RowMapping

    from gracedesk.service.desk import Desk

SUPERVISING = ("supervisor", "admin")
SANCTION_LEVELS = ("warn", "restrict", "block")
EXPOSURE_WINDOW = timedelta(hours=4)
EXPOSURE_NUDGE = 3  # abusive contacts in the window before the desk suggests a break


def require(user: Staff, *roles: str) -> None:
    if user.role not in roles:
        raise PermissionDenied(f"{user.role} may not do this (needs {' or '.join(roles)})")


def conversation(conn: Connection, conv_id: int, *, lock: bool = False) -> Row[Any]:
    """The conversation, locked for the transaction when ``lock`` (NotFound when missing)."""
    conv = stored.conversation(conn, conv_id, lock=lock)
    if conv is None:
        raise NotFound(f"conversation {conv_id} does not exist")
    return conv


def open_survey(conn: Connection, token: str, *, lock: bool = False) -> Row[Any]:
    """The survey behind ``token`` while it can be answered (NotFound, or Conflict once done)."""
    r = stored.survey(conn, token, lock=lock)
    if r is None:
        raise NotFound("no survey with this token")
    if r.responded_at is not None:
        raise Conflict("this survey has already been answered")
    return r


def add_follow_up(
    desk: Desk, conv_id: int, *, user: Staff, promise: str, due: datetime, now: datetime
) -> dict[str, Any]:
    if not promise.strip():
        raise InvalidRequest("promise is empty")
    if due <= now:
        raise InvalidRequest("due must be in the future")
    with desk.store.write() as s:
        conv = conversation(s.connection(), conv_id)
        f = NewFollowUp(
            conversation_id=conv.id,
            message_id=None,
            assignee_id=user.id,
            promise=promise.strip(),
            when_text=None,
            due_at=due,
            source="manual",
            created_at=now,
        )
        fid = persistence.follow_ups.add(s.connection(), f)
        audit(
            s, "follow_up.created", now=now, actor=user, conversation_id=conv.id, follow_up_id=fid
        )
        return new_follow_up_dict(fid, f)


def complete_follow_up(desk: Desk, fid: int, *, user: Staff, now: datetime) -> dict[str, Any]:
    with desk.store.write() as s:
        f = persistence.follow_ups.get(s.connection(), fid)
        if f is None:
            raise NotFound(f"follow-up {fid} does not exist")
        if f.state in ("done", "cancelled"):
            raise Conflict(f"follow-up {fid} is already {f.state}")
        persistence.follow_ups.complete(s.connection(), f.id, now=now)
        audit(
            s,
            "follow_up.done",
            now=now,
            actor=user,
            conversation_id=f.conversation_id,
            follow_up_id=f.id,
        )
        return follow_up_dict({**f._mapping, "state": "done", "done_at": now})


def add_note(
    desk: Desk, customer_id: int, text: str, *, user: Staff, now: datetime
) -> dict[str, Any]:
    if not text.strip():
        raise InvalidRequest("note is empty")
    with desk.store.write() as s:
        conn = s.connection()
        if not stored.customer_exists(conn, customer_id):
            raise NotFound(f"customer {customer_id} does not exist")
        note = text.strip()
        nid = stored.add_note(conn, customer_id, author_id=user.id, text=note, now=now)
        audit(s, "customer.note", now=now, actor=user, customer_id=customer_id, note_id=nid)
        return {"id": nid, "text": note, "author": user.name, "created_at": now.isoformat()}


def add_sanction(
    desk: Desk,
    customer_id: int,
    level: str,
    reason: str,
    *,
    user: Staff,
    now: datetime,
    minutes: int | None = None,
) -> dict[str, Any]:
    """A warning any agent may give; restrict and block need a supervisor (block: last resort)."""
    if level not in SANCTION_LEVELS:
        raise InvalidRequest(f"level must be one of {list(SANCTION_LEVELS)}")
    if level != "warn":
        require(user, *SUPERVISING)
    if not reason.strip():
        raise InvalidRequest("reason is empty: a sanction must say why")
    with desk.store.write() as s:
        conn = s.connection()
        if not stored.customer_exists(conn, customer_id):
            raise NotFound(f"customer {customer_id} does not exist")
        until = now + timedelta(minutes=minutes) if minutes else None
        x = stored.add_sanction(
            conn,
            customer_id,
            level=level,
            reason=reason.strip(),
            until=until,
            created_by=user.id,
            approved_by=user.id if level != "warn" else None,
            now=now,
        )
        audit(
            s,
            "sanction.active",
            now=now,
            actor=user,
            customer_id=customer_id,
            reason=x.reason,
            level=level,
            sanction_id=x.id,
        )
        return sanction_dict(x)


def lift_sanction(
    desk: Desk, sid: int, *, user: Staff, reason: str, now: datetime
) -> dict[str, Any]:
    require(user, *SUPERVISING)
    with desk.store.write() as s:
        conn = s.connection()
        x = stored.sanction(conn, sid)
        if x is None:
            raise NotFound(f"sanction {sid} does not exist")
        if x.state != "active":
            raise Conflict(f"sanction {sid} is {x.state}, not active")
        stored.lift_sanction(conn, x.id)
        audit(
            s,
            "sanction.lifted",
            now=now,
            actor=user,
            customer_id=x.customer_id,
            reason=reason or None,
            sanction_id=x.id,
            level=x.level,
        )
        return {**sanction_dict(x), "state": "lifted"}


def take_break(desk: Desk, *, user: Staff, now: datetime) -> dict[str, Any]:
    with desk.store.write() as s:
        u = stored.take_break(s.connection(), user.id, now=now)
        audit(s, "agent.break", now=now, actor=user)
        return {"user": u.name, "last_break_at": now.isoformat()}


# -- plain dicts for the API and the console ---------------------------------------------------


def follow_up_dict(f: RowMapping | Mapping[str, Any]) -> dict[str, Any]:
    """A ``follow_ups`` row (its ``_mapping``) as the API shows it."""
    return {
        "id": f["id"],
        "conversation_id": f["conversation_id"],
        "promise": f["promise"],
        "when": f["when_text"],
        "due": f["due_at"].isoformat(),
        "state": f["state"],
        "source": f["source"],
        "reminded_at": f["reminded_at"].isoformat() if f["reminded_at"] else None,
    }


def new_follow_up_dict(fid: int, f: NewFollowUp) -> dict[str, Any]:
    """A just added follow-up as the API shows it (its due time as given, not as read back)."""
    return follow_up_dict(
        {**asdict(f), "id": fid, "state": "open", "reminded_at": None, "done_at": None}
    )


def escalation_dict(e: Row[Any]) -> dict[str, Any]:
    """An ``escalations`` row as the API shows it."""
    return {
        "id": e.id,
        "conversation_id": e.conversation_id,
        "kind": e.kind,
        "target": e.target,
        "state": e.state,
        "reason": e.reason,
        "rule_id": e.rule_id,
        "data": e.data,
        "packet": e.packet,
        "created_at": e.created_at.isoformat(),
        "decided_at": e.decided_at.isoformat() if e.decided_at else None,
        "note": e.note,
    }


def sanction_dict(x: Row[Any]) -> dict[str, Any]:
    """A ``sanctions`` row as the API shows it."""
    return {
        "id": x.id,
        "customer_id": x.customer_id,
        "level": x.level,
        "state": x.state,
        "reason": x.reason,
        "rule_id": x.rule_id,
        "until": x.until.isoformat() if x.until else None,
        "created_at": x.created_at.isoformat(),
    }
