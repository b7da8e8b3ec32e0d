"""Staff: the people who sign in (``users``), their API tokens, console sessions
(``console_sessions``) and the failed sign-in counters (``auth_throttle``).

Secrets arrive here already hashed (the service hashes tokens, session ids and passwords); the
store only keeps and matches the hashes. A user is read as a :class:`StaffRecord` (a frozen copy
of the row, which satisfies ``gracedesk.model.staff.Staff``). Operations:

- users: ``add_user`` (insert; the new record, its id set), ``user_by_id``, ``user_by_name``,
  ``user_by_token_hash``, ``password_hash_of``, ``all_users`` (by name), ``lock_user`` and
  ``lock_active_admins`` (``FOR UPDATE``);
- a user's fields (each returns the changed record): ``set_token_hash``, ``set_password_hash``,
  ``set_role``, ``set_active``, ``set_timezone``;
- console sessions: ``add_session`` (clears the user's expired ones first), ``session_user``,
  ``close_session``, ``end_sessions`` (all of a user's, but one), ``last_sign_ins``;
- sign-in throttle: ``locked_until`` (the latest lock among keys), ``count_row`` (create and
  lock a key's row), ``set_count``, ``clear_count``, ``forget_stale_counts``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Connection,
    Delete,
    Row,
    Update,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Select

from gracedesk.store.tables import AuthThrottle, ConsoleSession, User, table_of

USERS = table_of(User)
SESSIONS = table_of(ConsoleSession)
THROTTLE = table_of(AuthThrottle)


# -- users ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StaffRecord:
    """A ``users`` row as read (or just written): satisfies ``gracedesk.model.staff.Staff``."""

    id: int
    name: str
    display_name: str
    email: str | None
    role: str
    password_hash: str | None
    token_hash: str | None
    authority: dict[str, Any]
    active: bool
    abuse_exposures: int
    last_exposure_at: datetime | None
    last_break_at: datetime | None
    created_at: datetime
    timezone: str | None
    mask_abuse: bool | None


FIELDS = tuple(f.name for f in fields(StaffRecord))


def staff_record(row: Row[Any]) -> StaffRecord:
    """The record of a row read with ``select(USERS)``."""
    m = row._mapping
    return StaffRecord(**{name: m[name] for name in FIELDS})


@cache
def user_where_id(lock: bool) -> Select[Any]:
    q = select(USERS).where(USERS.c.id == bindparam("uid"))
    return q.with_for_update() if lock else q


@cache
def user_where_name() -> Select[Any]:
    return select(USERS).where(USERS.c.name == bindparam("name"))


@cache
def user_where_token_hash() -> Select[Any]:
    return select(USERS).where(USERS.c.token_hash == bindparam("hashed"))


@cache
def set_user_field(column: str) -> Update:
    """``UPDATE users SET <column> = :value WHERE id = :uid``."""
    return update(USERS).where(USERS.c.id == bindparam("uid")).values({column: bindparam("value")})


def _one_user(conn: Connection, q: Select[Any], params: dict[str, Any]) -> StaffRecord | None:
    row = conn.execute(q, params).first()
    return staff_record(row) if row is not None else None


def add_user(
    conn: Connection,
    *,
    name: str,
    display_name: str,
    email: str | None,
    role: str,
    password_hash: str | None,
    token_hash: str,
    authority: dict[str, Any],
    now: datetime,
) -> StaffRecord:
    """A new active user, inserted (its id set; a taken name raises ``IntegrityError``)."""
    values: dict[str, Any] = {
        "name": name,
        "display_name": display_name,
        "email": email,
        "role": role,
        "password_hash": password_hash,
        "token_hash": token_hash,
        "authority": authority,
        "active": True,
        "abuse_exposures": 0,
        "last_exposure_at": None,
        "last_break_at": None,
        "created_at": now,
        "timezone": None,
        "mask_abuse": None,
    }
    uid = conn.execute(insert(USERS).returning(USERS.c.id), values).scalar_one()
    return StaffRecord(id=uid, **values)


def user_by_id(conn: Connection, uid: int) -> StaffRecord | None:
    return _one_user(conn, user_where_id(False), {"uid": uid})


def user_by_name(conn: Connection, name: str) -> StaffRecord | None:
    return _one_user(conn, user_where_name(), {"name": name})


def user_by_token_hash(conn: Connection, hashed: str) -> StaffRecord | None:
    return _one_user(conn, user_where_token_hash(), {"hashed": hashed})


def password_hash_of(conn: Connection, uid: int) -> str | None:
    return conn.execute(select(USERS.c.password_hash).where(USERS.c.id == uid)).scalar_one_or_none()


def all_users(conn: Connection) -> list[StaffRecord]:
    """Every user, by name."""
    return [staff_record(r) for r in conn.execute(select(USERS).order_by(USERS.c.name))]


def lock_user(conn: Connection, uid: int) -> StaffRecord | None:
    """The user's row, locked for this transaction (``FOR UPDATE``)."""
    return _one_user(conn, user_where_id(True), {"uid": uid})


def lock_active_admins(conn: Connection) -> set[int]:
    """The ids of the active admins, their rows locked for this transaction."""
    u = USERS.c
    q = select(u.id).where(u.role == "admin", u.active.is_(True)).with_for_update()
    return set(conn.execute(q).scalars())


def _set(conn: Connection, user: StaffRecord, column: str, value: Any) -> StaffRecord:
    conn.execute(set_user_field(column), {"uid": user.id, "value": value})
    return replace(user, **{column: value})


def set_token_hash(conn: Connection, user: StaffRecord, hashed: str) -> StaffRecord:
    return _set(conn, user, "token_hash", hashed)


def set_password_hash(conn: Connection, user: StaffRecord, hashed: str) -> StaffRecord:
    return _set(conn, user, "password_hash", hashed)


def set_role(conn: Connection, user: StaffRecord, role: str) -> StaffRecord:
    return _set(conn, user, "role", role)


def set_active(conn: Connection, user: StaffRecord, active: bool) -> StaffRecord:
    return _set(conn, user, "active", active)


def set_timezone(conn: Connection, user: StaffRecord, zone: str | None) -> StaffRecord:
    return _set(conn, user, "timezone", zone)


# -- console sessions ----------------------------------------------------------------------------


@cache
def delete_expired_sessions() -> Delete:
    c = SESSIONS.c
    return delete(SESSIONS).where(c.user_id == bindparam("uid"), c.expires_at <= bindparam("now"))


@cache
def live_session_user() -> Select[Any]:
    c = SESSIONS.c
    return (
        select(USERS)
        .join(SESSIONS, c.user_id == USERS.c.id)
        .where(
            c.id == bindparam("hashed"), c.expires_at > bindparam("now"), USERS.c.active.is_(True)
        )
    )


def add_session(
    conn: Connection, hashed: str, *, user_id: int, now: datetime, expires_at: datetime
) -> None:
    """A new console session (its id's hash); the user's expired sessions go on the way."""
    conn.execute(delete_expired_sessions(), {"uid": user_id, "now": now})
    conn.execute(
        insert(SESSIONS),
        {"id": hashed, "user_id": user_id, "created_at": now, "expires_at": expires_at},
    )


def session_user(conn: Connection, hashed: str, *, now: datetime) -> StaffRecord | None:
    """The active user of the live session with this id hash, or None."""
    return _one_user(conn, live_session_user(), {"hashed": hashed, "now": now})


def close_session(conn: Connection, hashed: str) -> None:
    conn.execute(delete(SESSIONS).where(SESSIONS.c.id == hashed))


def end_sessions(conn: Connection, user_id: int, *, keep: str | None = None) -> int:
    """Delete the user's console sessions but ``keep`` (an id hash); returns how many went."""
    q = delete(SESSIONS).where(SESSIONS.c.user_id == user_id)
    if keep:
        q = q.where(SESSIONS.c.id != keep)
    return int(conn.execute(q).rowcount or 0)


def last_sign_ins(conn: Connection) -> dict[int, datetime]:
    """User id -> the creation of their newest stored console session."""
    c = SESSIONS.c
    q = select(c.user_id, func.max(c.created_at)).group_by(c.user_id)
    return {uid: at for uid, at in conn.execute(q)}


# -- sign-in throttle ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Count:
    """A throttle key's row: failures counted, locked until when, stale after when."""

    failures: int
    locked_until: datetime | None
    forget_at: datetime


def locked_until(conn: Connection, keys: Sequence[str], *, now: datetime) -> datetime | None:
    """The latest lock still running among the keys (hashes), or None."""
    t = THROTTLE.c
    return conn.execute(
        select(t.locked_until)
        .where(t.key.in_(list(keys)), t.locked_until > now)
        .order_by(t.locked_until.desc())
        .limit(1)
    ).scalar()


def count_row(conn: Connection, key: str, *, now: datetime) -> Count:
    """The key's row, created (no failures, stale from ``now``) if missing, locked for update."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(
        dialect.insert(THROTTLE)
        .values(key=key, failures=0, forget_at=now)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    t = THROTTLE.c
    row = conn.execute(
        select(t.failures, t.locked_until, t.forget_at).where(t.key == key).with_for_update()
    ).one()
    return Count(row.failures, row.locked_until, row.forget_at)


def set_count(
    conn: Connection,
    key: str,
    *,
    failures: int,
    locked_until: datetime | None,
    forget_at: datetime,
) -> None:
    conn.execute(
        update(THROTTLE)
        .where(THROTTLE.c.key == key)
        .values(failures=failures, locked_until=locked_until, forget_at=forget_at)
    )


def clear_count(conn: Connection, key: str) -> None:
    conn.execute(delete(THROTTLE).where(THROTTLE.c.key == key))


def forget_stale_counts(conn: Connection, *, now: datetime) -> None:
    """Drop the counters past their window."""
    conn.execute(delete(THROTTLE).where(THROTTLE.c.forget_at < now))
