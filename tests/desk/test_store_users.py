"""The staff aggregate of the store (``gracedesk.store.users``) and the health probe
(``gracedesk.store.health``), called directly, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from gracedesk.store import Store, health
from gracedesk.store import users as staff

from .conftest import NOW


def _add(store: Store, name: str, role: str = "agent", token: str | None = None) -> int:
    with store.write() as s:
        u = staff.add_user(
            s.connection(),
            name=name,
            display_name=name.title(),
            email=None,
            role=role,
            password_hash=None,
            token_hash=token or f"t-{name}",
            authority={},
            now=NOW,
        )
        assert u.id is not None
        return u.id


def test_users_are_added_found_and_changed(store: Store) -> None:
    bo = _add(store, "bo", "admin")
    al = _add(store, "al", "admin")
    with pytest.raises(IntegrityError), store.write() as s:
        staff.add_user(
            s.connection(),
            name="bo",
            display_name="Bo",
            email=None,
            role="agent",
            password_hash=None,
            token_hash="other",
            authority={},
            now=NOW,
        )
    with store.read() as s:
        assert [u.name for u in staff.all_users(s.connection())] == ["al", "bo"]
        found = staff.user_by_name(s.connection(), "bo")
        assert found is not None and found.id == bo and found.active
        assert found.abuse_exposures == 0 and found.created_at == NOW
        assert staff.user_by_token_hash(s.connection(), "t-al") is not None
        assert staff.user_by_token_hash(s.connection(), "nope") is None
        assert staff.user_by_id(s.connection(), 10_000) is None
        assert staff.password_hash_of(s.connection(), bo) is None
    with store.write() as s:
        assert staff.lock_active_admins(s.connection()) == {al, bo}
        u = staff.lock_user(s.connection(), al)
        assert u is not None
        staff.set_role(s.connection(), u, "agent")
        staff.set_token_hash(s.connection(), u, "t-new")
        staff.set_password_hash(s.connection(), u, "hashed")
        staff.set_timezone(s.connection(), u, "Europe/Berlin")
        staff.set_active(s.connection(), u, False)
    with store.read() as s:
        u = staff.user_by_id(s.connection(), al)
        assert u is not None
        assert (u.role, u.token_hash, u.password_hash, u.timezone, u.active) == (
            "agent",
            "t-new",
            "hashed",
            "Europe/Berlin",
            False,
        )
        assert staff.password_hash_of(s.connection(), al) == "hashed"
    with store.write() as s:
        assert staff.lock_active_admins(s.connection()) == {bo}
        assert staff.lock_user(s.connection(), 10_000) is None


def test_console_sessions(store: Store) -> None:
    bo = _add(store, "bo")
    hour = timedelta(hours=1)
    with store.write() as s:
        staff.add_session(
            s.connection(), "old", user_id=bo, now=NOW - 2 * hour, expires_at=NOW - hour
        )
        staff.add_session(s.connection(), "a", user_id=bo, now=NOW - hour, expires_at=NOW + hour)
    with store.write() as s:  # the expired one goes when the next opens
        staff.add_session(s.connection(), "b", user_id=bo, now=NOW, expires_at=NOW + hour)
    with store.read() as s:
        assert staff.last_sign_ins(s.connection()) == {bo: NOW}
        user = staff.session_user(s.connection(), "a", now=NOW)
        assert user is not None and user.id == bo
        assert staff.session_user(s.connection(), "old", now=NOW) is None
        assert staff.session_user(s.connection(), "a", now=NOW + hour) is None  # expired
    with store.write() as s:
        staff.close_session(s.connection(), "a")
    with store.read() as s:
        assert staff.session_user(s.connection(), "a", now=NOW) is None
        assert staff.session_user(s.connection(), "b", now=NOW) is not None
    with store.write() as s:
        staff.add_session(s.connection(), "c", user_id=bo, now=NOW, expires_at=NOW + hour)
        assert staff.end_sessions(s.connection(), bo, keep="c") == 1
    with store.read() as s:
        assert staff.session_user(s.connection(), "c", now=NOW) is not None
    with store.write() as s:
        assert staff.end_sessions(s.connection(), bo) == 1
    with store.read() as s:
        assert staff.last_sign_ins(s.connection()) == {}


def test_sign_in_counters(store: Store) -> None:
    later = NOW + timedelta(minutes=1)
    with store.write() as s:
        first = staff.count_row(s.connection(), "k1", now=NOW)
        assert first == staff.Count(0, None, NOW)
        staff.set_count(s.connection(), "k1", failures=3, locked_until=later, forget_at=later)
        again = staff.count_row(s.connection(), "k1", now=later)  # an existing row is kept
        assert again == staff.Count(3, later, later)
        staff.count_row(s.connection(), "k2", now=NOW)
    with store.read() as s:
        assert staff.locked_until(s.connection(), ["k1", "k2"], now=NOW) == later
        assert staff.locked_until(s.connection(), ["k1"], now=later) is None
        assert staff.locked_until(s.connection(), ["k2"], now=NOW) is None
    with store.write() as s:
        staff.forget_stale_counts(s.connection(), now=NOW + timedelta(seconds=1))  # k2 is stale
        staff.clear_count(s.connection(), "k1")
    with store.write() as s:
        assert staff.count_row(s.connection(), "k2", now=later) == staff.Count(0, None, later)
        assert staff.count_row(s.connection(), "k1", now=later) == staff.Count(0, None, later)


def test_health_ping(store: Store) -> None:
    with store.read() as s:
        health.ping(s.connection())
