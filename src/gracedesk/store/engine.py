"""Engines for the store: SQLite (default, WAL) and PostgreSQL, built at the entry points.

SQLite: WAL journal, ``synchronous=NORMAL`` (a committed transaction survives a crash or a
``kill -9`` of the process; only a power cut can lose the last ones), foreign keys on, and write
transactions opened with ``BEGIN IMMEDIATE`` so that two writers queue for the lock instead of
failing half-way. Inside one process, writers also queue on a lock (``Engines.write_lock``) so
that they never spin in SQLite's busy handler, whose sleeps would show up as latency spikes.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool


@dataclass
class Engines:
    """A reading engine and a writing engine (the same one on PostgreSQL)."""

    url: str
    read: Engine
    write: Engine
    lock: threading.Lock | None = field(default=None)

    @property
    def dialect(self) -> str:
        return self.write.dialect.name

    def write_lock(self) -> AbstractContextManager[Any]:
        return self.lock if self.lock is not None else nullcontext()

    def dispose(self) -> None:
        self.read.dispose()
        if self.write is not self.read:
            self.write.dispose()


def sqlite_url(home: str | Path) -> str:
    return f"sqlite:///{Path(home).expanduser().resolve() / 'gracedesk.db'}"


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    u = make_url(url)
    memory = u.database in (None, "", ":memory:")
    if not memory and u.database:
        Path(u.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        poolclass=NullPool if memory else None,
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _begin)
        cur = dbapi_conn.cursor()
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def make_engines(url: str) -> Engines:
    """Engines for ``url`` (``sqlite:///path`` or ``postgresql+psycopg://...``)."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        return Engines(
            url,
            read=_sqlite_engine(url, immediate=False),
            write=_sqlite_engine(url, immediate=True),
            lock=threading.Lock(),
        )
    engine = create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
    return Engines(url, read=engine, write=engine)
