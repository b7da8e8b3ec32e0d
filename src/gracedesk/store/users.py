"""Staff: the people who sign in (``users``), their API tokens, console sessions
(``console_sessions``) and the failed sign-in counters (``auth_throttle``).

Secrets arrive here already hashed (the service hashes tokens, session ids and passwords); the
store only keeps and matches the hashes. Operations:

- users: ``add_user`` (insert and flush, so the id is known), ``user_by_id``, ``user_by_name``,
  ``user_by_token_hash``, ``password_hash_of``, ``all_users`` (by name), ``lock_user`` and
  ``lock_active_admins`` (``FOR UPDATE``);
- a user's fields: ``set_token_hash``, ``set_password_hash``, ``set_role``, ``set_active``,
  ``set_timezone``;
- console sessions: ``add_session`` (clears the user's expired ones first), ``session_user``,
  ``close_session``, ``end_sessions`` (all of a user's, but one), ``last_sign_ins``;
- sign-in throttle: ``locked_until`` (the latest lock among keys), ``count_row`` (create and
  lock a key's row), ``set_count``, ``clear_count``, ``forget_stale_counts``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gracedesk.store.tables import AuthThrottle, ConsoleSession, User, table_of

THROTTLE = table_of(AuthThrottle)


# -- users ---------------------------------------------------------------------------------------


def add_user(
    s: Session,
    *,
    name: str,
    display_name: str,
    email: str | None,
    role: str,
    password_hash: str | None,
    token_hash: str,
    authority: dict[str, Any],
    now: datetime,
) -> User:
    """A new active user, flushed (its id set; a taken name raises ``IntegrityError``)."""
    user = User(
        name=name,
        display_name=display_name,
        email=email,
        role=role,
        password_hash=password_hash,
        token_hash=token_hash,
        authority=authority,
        active=True,
        abuse_exposures=0,
        created_at=now,
    )
    s.add(user)
    s.flush()
    return user


def user_by_id(s: Session, uid: int) -> User | None:
    return s.get(User, uid)


def user_by_name(s: Session, name: str) -> User | None:
    return s.scalar(select(User).where(User.name == name))


def user_by_token_hash(s: Session, hashed: str) -> User | None:
    return s.scalar(select(User).where(User.token_hash == hashed))


def password_hash_of(s: Session, uid: int) -> str | None:
    return s.scalar(select(User.password_hash).where(User.id == uid))


def all_users(s: Session) -> Sequence[User]:
    """Every user, by name."""
    return s.scalars(select(User).order_by(User.name)).all()


def lock_user(s: Session, uid: int) -> User | None:
    """The user's row, locked for this transaction (``FOR UPDATE``)."""
    return s.scalar(select(User).where(User.id == uid).with_for_update())


def lock_active_admins(s: Session) -> set[int]:
    """The ids of the active admins, their rows locked for this transaction."""
    q = select(User.id).where(User.role == "admin", User.active.is_(True)).with_for_update()
    return set(s.scalars(q))


def set_token_hash(s: Session, user: User, hashed: str) -> None:
    user.token_hash = hashed


def set_password_hash(s: Session, user: User, hashed: str) -> None:
    user.password_hash = hashed


def set_role(s: Session, user: User, role: str) -> None:
    user.role = role


def set_active(s: Session, user: User, active: bool) -> None:
    user.active = active


def set_timezone(s: Session, user: User, zone: str | None) -> None:
    user.timezone = zone


# -- console sessions ----------------------------------------------------------------------------


def add_session(
    s: Session, hashed: str, *, user_id: int, now: datetime, expires_at: datetime
) -> None:
    """A new console session (its id's hash); the user's expired sessions go on the way."""
    s.execute(
        delete(ConsoleSession).where(
            ConsoleSession.user_id == user_id, ConsoleSession.expires_at <= now
        )
    )
    s.add(ConsoleSession(id=hashed, user_id=user_id, created_at=now, expires_at=expires_at))


def session_user(s: Session, hashed: str, *, now: datetime) -> User | None:
    """The active user of the live session with this id hash, or None."""
    return s.scalar(
        select(User)
        .join(ConsoleSession, ConsoleSession.user_id == User.id)
        .where(
            ConsoleSession.id == hashed,
            ConsoleSession.expires_at > now,
            User.active.is_(True),
        )
    )


def close_session(s: Session, hashed: str) -> None:
    s.execute(delete(ConsoleSession).where(ConsoleSession.id == hashed))


def end_sessions(s: Session, user_id: int, *, keep: str | None = None) -> int:
    """Delete the user's console sessions but ``keep`` (an id hash); returns how many went."""
    q = delete(ConsoleSession).where(ConsoleSession.user_id == user_id)
    if keep:
        q = q.where(ConsoleSession.id != keep)
    return int(s.execute(q).rowcount or 0)  # type: ignore[attr-defined]


def last_sign_ins(s: Session) -> dict[int, datetime]:
    """User id -> the creation of their newest stored console session."""
    latest = func.max(ConsoleSession.created_at)
    q = select(ConsoleSession.user_id, latest).group_by(ConsoleSession.user_id)
    return {uid: at for uid, at in s.execute(q)}


# -- sign-in throttle ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Count:
    """A throttle key's row: failures counted, locked until when, stale after when."""

    failures: int
    locked_until: datetime | None
    forget_at: datetime


def locked_until(s: Session, keys: Sequence[str], *, now: datetime) -> datetime | None:
    """The latest lock still running among the keys (hashes), or None."""
    t = THROTTLE.c
    return s.scalar(
        select(t.locked_until)
        .where(t.key.in_(list(keys)), t.locked_until > now)
        .order_by(t.locked_until.desc())
        .limit(1)
    )


def count_row(s: Session, key: str, *, now: datetime) -> Count:
    """The key's row, created (no failures, stale from ``now``) if missing, locked for update."""
    dialect = postgresql if s.get_bind().dialect.name == "postgresql" else sqlite
    s.execute(
        dialect.insert(THROTTLE)
        .values(key=key, failures=0, forget_at=now)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    t = THROTTLE.c
    row = s.execute(
        select(t.failures, t.locked_until, t.forget_at).where(t.key == key).with_for_update()
    ).one()
    return Count(row.failures, row.locked_until, row.forget_at)


def set_count(
    s: Session, key: str, *, failures: int, locked_until: datetime | None, forget_at: datetime
) -> None:
    s.execute(
        update(THROTTLE)
        .where(THROTTLE.c.key == key)
        .values(failures=failures, locked_until=locked_until, forget_at=forget_at)
    )


def clear_count(s: Session, key: str) -> None:
    s.execute(delete(THROTTLE).where(THROTTLE.c.key == key))


def forget_stale_counts(s: Session, *, now: datetime) -> None:
    """Drop the counters past their window."""
    s.execute(delete(THROTTLE).where(THROTTLE.c.forget_at < now))
