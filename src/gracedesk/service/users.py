"""People who sign in: creation, tokens and passwords (hashed), lookups.

API tokens are random (256 bits) and stored as SHA-256 hashes, so a leaked database does not
leak working tokens; a fast hash is right for a random secret. Passwords, which are not random,
are hashed with Argon2id.

Administration (admins only; the console's /console/users, the API's /api/v1/users, the CLI
share it): invite, change role, deactivate and reactivate, reset a token or a password. Every
change is audited with who made it; deactivating a user or changing their password ends their
console sessions in the same transaction, so no process accepts them afterwards. The last active
admin can be neither demoted nor deactivated. Each user's own settings (password, time zone,
masking, the latter in ``service.protect``) are changed by that user. Passwords and tokens are returned once, never logged or
audited.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
import zoneinfo
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError

from gracedesk.errors import Conflict, InvalidRequest, NotFound, Unauthenticated
from gracedesk.model.staff import Staff
from gracedesk.service.desk import audit
from gracedesk.service.records import require
from gracedesk.store import Store
from gracedesk.store import users as staff
from gracedesk.store.users import StaffRecord

if TYPE_CHECKING:
    from sqlalchemy import Connection

ROLES = ("agent", "supervisor", "admin")
PASSWORD_MIN = 8
PASSWORD_MAX = 1000  # the sign-in form's bound: a longer password could never be typed there
NAME_MAX, DISPLAY_MAX, EMAIL_MAX = 80, 120, 254  # the columns' lengths
EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+$")


@functools.cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def check_password(stored: str | None, password: str) -> bool:
    if not stored:
        return False
    try:
        return _hasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def create_user(
    store: Store,
    name: str,
    *,
    role: str,
    now: datetime,
    password: str | None = None,
    display_name: str | None = None,
    email: str | None = None,
    authority: dict[str, Any] | None = None,
    actor: Staff | str = "admin",
) -> tuple[StaffRecord, str]:
    """Create a user; returns it and its API token (shown once, stored hashed).

    ``actor`` is who did it, for the audit trail: the admin in the console or the API, or a
    label such as ``"admin"`` for the CLI, which has no signed-in user.
    """
    check_role(role)
    if not name or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise InvalidRequest("name must be letters, digits, '.', '-' or '_'")
    if len(name) > NAME_MAX:
        raise InvalidRequest(f"name must have at most {NAME_MAX} characters")
    if display_name is not None and len(display_name) > DISPLAY_MAX:
        raise InvalidRequest(f"display name must have at most {DISPLAY_MAX} characters")
    if email is not None and (len(email) > EMAIL_MAX or not EMAIL.match(email)):
        raise InvalidRequest("e-mail must be an address like name@example.com")
    if password is not None:
        check_new_password(password)
    token = secrets.token_urlsafe(32)
    hashed = hash_password(password) if password else None
    try:
        with store.write() as s:
            user = staff.add_user(
                s.connection(),
                name=name,
                display_name=display_name or name,
                email=email,
                role=role,
                password_hash=hashed,
                token_hash=token_hash(token),
                authority=authority or {},
                now=now,
            )
            audit(s, "user.created", now=now, actor=actor, user=name, user_id=user.id, role=role)
    except IntegrityError:
        raise Conflict(f"user {name!r} already exists") from None
    return user, token


def rotate_token(store: Store, name: str, *, now: datetime) -> str:
    token = secrets.token_urlsafe(32)
    with store.write() as s:
        user = staff.user_by_name(s.connection(), name)
        if user is None:
            raise InvalidRequest(f"no user {name!r}")
        staff.set_token_hash(s.connection(), user, token_hash(token))
        audit(s, "user.token", now=now, actor="admin", user=name)
    return token


def by_token(store: Store, token: str) -> StaffRecord:
    with store.read() as s:
        user = staff.user_by_token_hash(s.connection(), token_hash(token))
    if user is None or not user.active:
        raise Unauthenticated("the token is not valid")
    return user


def by_password(store: Store, name: str, password: str) -> StaffRecord:
    with store.read() as s:
        user = staff.user_by_name(s.connection(), name)
    # verify even for an unknown name, so timing does not tell which names exist
    ok = check_password(user.password_hash if user else _dummy(), password)
    if user is None or not ok or not user.active:
        raise Unauthenticated("wrong user name or password")
    return user


def by_id(store: Store, uid: int) -> StaffRecord | None:
    with store.read() as s:
        user = staff.user_by_id(s.connection(), uid)
    return user if user is not None and user.active else None


@functools.cache
def _dummy() -> str:
    return _hasher().hash("not-a-password-of-anyone")


# -- policy -------------------------------------------------------------------------------------


def check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidRequest(f"role must be one of {list(ROLES)}")


def check_new_password(password: str) -> None:
    """The desk's one password rule, for the CLI, the console and the API alike."""
    if len(password) < PASSWORD_MIN:
        raise InvalidRequest(f"password must have at least {PASSWORD_MIN} characters")
    if len(password) > PASSWORD_MAX:
        raise InvalidRequest(f"password must have at most {PASSWORD_MAX} characters")


def generate_password() -> str:
    """A first password for an invited user (20 characters, 120 random bits), shown once.

    The desk makes it rather than the admin, so no first password is weak or reused; the user
    replaces it under "Your settings".
    """
    return secrets.token_urlsafe(15)


@functools.cache
def time_zones() -> tuple[str, ...]:
    """The IANA zones this system knows (``zoneinfo``), sorted: the only ones a user may pick."""
    return tuple(sorted(zoneinfo.available_timezones()))


# -- administration (admins only) ---------------------------------------------------------------


@dataclass(frozen=True)
class Invited:
    """A new user with the secrets the admin sees once: API token and first password."""

    user: dict[str, Any]
    token: str
    password: str


def user_dict(u: StaffRecord, last_sign_in: datetime | None = None) -> dict[str, Any]:
    """What an admin sees of a user (never a hash)."""
    return {
        "id": u.id,
        "name": u.name,
        "display_name": u.display_name,
        "email": u.email,
        "role": u.role,
        "active": u.active,
        "timezone": u.timezone,
        "mask_abuse": u.mask_abuse,
        "has_password": u.password_hash is not None,
        "created_at": u.created_at.isoformat(),
        "last_sign_in": last_sign_in.isoformat() if last_sign_in else None,
    }


def list_users(store: Store, *, by: Staff) -> list[dict[str, Any]]:
    """Every user, by name. ``last_sign_in``: the newest console session still stored (signing
    out or the end of a session forgets it, so it is known only while one lasts)."""
    require(by, "admin")
    with store.read() as s:
        last = staff.last_sign_ins(s.connection())
        return [user_dict(u, last.get(u.id)) for u in staff.all_users(s.connection())]


def invite_user(
    store: Store,
    name: str,
    *,
    role: str,
    by: Staff,
    now: datetime,
    display_name: str | None = None,
    email: str | None = None,
) -> Invited:
    """Create a user with a generated first password; both secrets are returned once."""
    require(by, "admin")
    password = generate_password()
    user, token = create_user(
        store,
        name.strip(),
        role=role,
        now=now,
        password=password,
        display_name=(display_name or "").strip() or None,
        email=(email or "").strip() or None,
        actor=by,
    )
    return Invited(user_dict(user), token, password)


def change_role(
    store: Store, user_id: int, role: str, *, by: Staff, now: datetime
) -> dict[str, Any]:
    check_role(role)
    with store.write() as s:
        conn = s.connection()
        admin = _admin(conn, by)
        u = _target(conn, user_id)
        if u.role == role:
            raise Conflict(f"{u.name} is already {role_text(role)}")
        if u.role == "admin" and u.active:
            _keep_an_admin(conn, u, "demote")
        old = u.role
        u = staff.set_role(conn, u, role)
        audit(
            s,
            "user.role_changed",
            now=now,
            actor=admin,
            user=u.name,
            user_id=u.id,
            old=old,
            new=role,
        )
        return user_dict(u)


def set_active(
    store: Store, user_id: int, active: bool, *, by: Staff, now: datetime
) -> dict[str, Any]:
    """Deactivate (their sessions end now; sign-in and the API token are refused) or reactivate
    (they sign in again; the same API token works again: reset it if it may have leaked)."""
    with store.write() as s:
        conn = s.connection()
        admin = _admin(conn, by)
        u = _target(conn, user_id)
        if u.active == active:
            raise Conflict(f"{u.name} is already {'active' if active else 'deactivated'}")
        if not active and u.role == "admin":
            _keep_an_admin(conn, u, "deactivate")
        u = staff.set_active(conn, u, active)
        ended = 0 if active else _end_sessions(conn, u)
        kind = "user.reactivated" if active else "user.deactivated"
        audit(s, kind, now=now, actor=admin, user=u.name, user_id=u.id, sessions_ended=ended)
        return user_dict(u)


def reset_token(store: Store, user_id: int, *, by: Staff, now: datetime) -> str:
    """A new API token for the user (returned once); the old one is refused from now on."""
    token = secrets.token_urlsafe(32)
    with store.write() as s:
        conn = s.connection()
        admin = _admin(conn, by)
        u = _target(conn, user_id)
        staff.set_token_hash(conn, u, token_hash(token))
        audit(s, "user.token_reset", now=now, actor=admin, user=u.name, user_id=u.id)
    return token


def reset_password(store: Store, user_id: int, *, by: Staff, now: datetime) -> str:
    """A generated password for someone who lost theirs (returned once); their sessions end.

    Not for oneself: one's own password is changed with the current one ("Your settings").
    """
    require(by, "admin")
    if user_id == by.id:
        raise InvalidRequest("change your own password under Your settings")
    password = generate_password()
    hashed = hash_password(password)  # slow on purpose: outside the write transaction
    with store.write() as s:
        conn = s.connection()
        admin = _admin(conn, by)
        u = _target(conn, user_id)
        staff.set_password_hash(conn, u, hashed)
        ended = _end_sessions(conn, u)
        audit(
            s,
            "user.password_changed",
            now=now,
            actor=admin,
            user=u.name,
            user_id=u.id,
            reset=True,
            sessions_ended=ended,
        )
    return password


def role_text(role: str) -> str:
    return f"an {role}" if role[0] in "aeiou" else f"a {role}"


def _admin(conn: Connection, by: Staff) -> StaffRecord:
    """The acting admin as stored now (not as their session found them a moment ago)."""
    require(by, "admin")
    me = staff.user_by_id(conn, by.id)
    if me is None or not me.active:
        raise Unauthenticated("your account is no longer active")
    require(me, "admin")
    return me


def _target(conn: Connection, user_id: int) -> StaffRecord:
    u = staff.lock_user(conn, user_id)
    if u is None:
        raise NotFound(f"user {user_id} does not exist")
    return u


def _keep_an_admin(conn: Connection, leaving: StaffRecord, verb: str) -> None:
    """Refuse to leave the desk without an active admin (the admins' rows are locked meanwhile,
    so two admins demoting each other at once cannot both succeed)."""
    if not staff.lock_active_admins(conn) - {leaving.id}:
        raise Conflict(
            f"cannot {verb} {leaving.name}: the last active admin (make someone else admin first)"
        )


def _end_sessions(conn: Connection, u: StaffRecord, *, keep: str | None = None) -> int:
    """Delete the user's console sessions (but ``keep``, a session id): their cookies stop."""
    return staff.end_sessions(conn, u.id, keep=token_hash(keep) if keep else None)


# -- one's own settings -------------------------------------------------------------------------


def change_password(
    store: Store, user: Staff, *, current: str, new: str, now: datetime, keep: str | None = None
) -> int:
    """Change one's own password; returns how many other console sessions ended.

    The current password must be right. Every other session of the user ends (a cookie left
    on another machine stops working); ``keep`` (this session's id) stays signed in.
    """
    check_new_password(new)
    with store.read() as s:
        stored = staff.password_hash_of(s.connection(), user.id)
    if not check_password(stored, current):
        raise InvalidRequest("the current password is not right")
    if current == new:
        raise InvalidRequest("the new password is the same as the current one")
    hashed = hash_password(new)  # slow on purpose: outside the write transaction
    with store.write() as s:
        conn = s.connection()
        u = _target(conn, user.id)
        if u.password_hash != stored:  # changed meanwhile (another tab, an admin's reset)
            raise Conflict("your password was changed meanwhile: sign in again")
        u = staff.set_password_hash(conn, u, hashed)
        ended = _end_sessions(conn, u, keep=keep)
        audit(
            s,
            "user.password_changed",
            now=now,
            actor=u,
            user=u.name,
            user_id=u.id,
            reset=False,
            sessions_ended=ended,
        )
    return ended


def set_timezone(store: Store, user: Staff, zone: str | None, *, now: datetime) -> str | None:
    """The zone the console shows this user's times in (None or "": UTC), an IANA name."""
    zone = (zone or "").strip() or None
    if zone is not None and zone not in time_zones():
        raise InvalidRequest(f"{zone!r} is not a time zone this desk knows (IANA names only)")
    with store.write() as s:
        conn = s.connection()
        u = _target(conn, user.id)
        before = u.timezone
        u = staff.set_timezone(conn, u, zone)
        # the same event as protect.set_user_masking's, so one's settings read as one history
        audit(
            s,
            "settings.changed",
            now=now,
            actor=u,
            key="timezone",
            scope="user",
            user=u.name,
            old=before,
            new=zone,
        )
    return zone
