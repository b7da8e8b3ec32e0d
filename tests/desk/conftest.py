"""Fixtures for the desk: a real store on SQLite and on PostgreSQL, the Desk, an API client.

Every test that takes ``store`` runs twice, once per database. PostgreSQL: one fresh database
per test session (created from ``GRACEDESK_TEST_POSTGRES_URL``, dropped at the end), emptied
between tests. SQLite: a new file per test. On CI a missing PostgreSQL is an error, not a skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from gracedesk.service.desk import CustomerRef, Desk, Incoming
from gracedesk.settings import Settings
from gracedesk.store import Store
from gracedesk.store.tables import Base
from gracedesk.store.users import StaffRecord

ADMIN_URL = os.environ.get(
    "GRACEDESK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday, 09:00 UTC


def _postgres_available() -> str | None:
    try:
        eng = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.execute(text("SELECT 1"))
        eng.dispose()
        return None
    except Exception as exc:  # any failure to connect means: no PostgreSQL here
        return f"{type(exc).__name__}: {exc}"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    problem = _postgres_available()
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required on CI ({ADMIN_URL}): {problem}")
        pytest.skip(f"PostgreSQL not reachable at {ADMIN_URL}: {problem}")
    name = f"gd_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    st = Store.open(url)
    st.migrate()
    st.close()
    try:
        yield url
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _empty(store: Store) -> None:
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with store.engines.write.begin() as c:
        c.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gracedesk.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    st = Store.open(db_url)
    if st.dialect == "postgresql":
        _empty(st)
    else:
        st.migrate()
    try:
        yield st
    finally:
        st.close()


@pytest.fixture(scope="session")
def policy() -> Any:
    from gracedesk.policy import load_policy

    return load_policy()


@pytest.fixture(scope="session")
def analyzer() -> Any:
    from gracedesk.analysis.pipeline import get_analyzer

    return get_analyzer("fast")


@pytest.fixture
def desk(store: Store, policy: Any, analyzer: Any) -> Desk:
    return Desk(store, policy=policy, analyzer=analyzer, supervisor_email="lead@example.com")


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(home=tmp_path / "home", database_url=db_url, secret_key="test-secret")


def make_user(store: Store, name: str, role: str, **kw: Any) -> tuple[StaffRecord, str]:
    from gracedesk.service.users import create_user

    return create_user(store, name, role=role, now=NOW, **kw)


def post(desk: Desk, text: str, *, customer: str = "c-1", at: datetime = NOW, **kw: Any) -> Any:
    key = kw.pop("key", None)
    ref = CustomerRef(customer, name=kw.pop("name", "Dana"), email=kw.pop("email", None))
    return desk.post_message(Incoming(ref, text, **kw), actor=None, now=at, idempotency_key=key)
