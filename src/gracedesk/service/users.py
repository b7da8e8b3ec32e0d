"""People who sign in: creation, tokens and passwords (hashed), lookups.

API tokens are random (256 bits) and stored as SHA-256 hashes, so a leaked database does not
leak working tokens; a fast hash is right for a random secret. Passwords, which are not random,
are hashed with Argon2id.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gracedesk.errors import Conflict, InvalidRequest, Unauthenticated
from gracedesk.store import Store
from gracedesk.store.tables import AuditEvent, User

ROLES = ("agent", "supervisor", "admin")


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
) -> tuple[User, str]:
    """Create a user; returns it and its API token (shown once, stored hashed)."""
    if role not in ROLES:
        raise InvalidRequest(f"role must be one of {list(ROLES)}")
    if not name or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise InvalidRequest("name must be letters, digits, '.', '-' or '_'")
    if password is not None and len(password) < 8:
        raise InvalidRequest("password must have at least 8 characters")
    token = secrets.token_urlsafe(32)
    user = User(
        name=name,
        display_name=display_name or name,
        email=email,
        role=role,
        password_hash=hash_password(password) if password else None,
        token_hash=token_hash(token),
        authority=authority or {},
        active=True,
        abuse_exposures=0,
        created_at=now,
    )
    try:
        with store.write() as s:
            s.add(user)
            s.flush()
            s.add(
                AuditEvent(
                    at=now, actor="admin", kind="user.created", detail={"user": name, "role": role}
                )
            )
    except IntegrityError:
        raise Conflict(f"user {name!r} already exists") from None
    return user, token


def rotate_token(store: Store, name: str, *, now: datetime) -> str:
    token = secrets.token_urlsafe(32)
    with store.write() as s:
        user = s.scalar(select(User).where(User.name == name))
        if user is None:
            raise InvalidRequest(f"no user {name!r}")
        user.token_hash = token_hash(token)
        s.add(AuditEvent(at=now, actor="admin", kind="user.token", detail={"user": name}))
    return token


def by_token(store: Store, token: str) -> User:
    with store.read() as s:
        user = s.scalar(select(User).where(User.token_hash == token_hash(token)))
    if user is None or not user.active:
        raise Unauthenticated("the token is not valid")
    return user


def by_password(store: Store, name: str, password: str) -> User:
    with store.read() as s:
        user = s.scalar(select(User).where(User.name == name))
    # verify even for an unknown name, so timing does not tell which names exist
    ok = check_password(user.password_hash if user else _dummy(), password)
    if user is None or not ok or not user.active:
        raise Unauthenticated("wrong user name or password")
    return user


def by_id(store: Store, uid: int) -> User | None:
    with store.read() as s:
        user = s.get(User, uid)
    return user if user is not None and user.active else None


@functools.cache
def _dummy() -> str:
    return _hasher().hash("not-a-password-of-anyone")
