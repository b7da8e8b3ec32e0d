"""The durable store: SQLAlchemy 2 tables, Alembic migrations, SQLite by default, PostgreSQL.

>>> store = Store.open("sqlite:///desk.db"); store.migrate()
>>> with store.write() as s:      # one transaction: committed on exit, rolled back on error
...     s.add(...)

``write()`` transactions queue for the database's write lock (``BEGIN IMMEDIATE`` on SQLite);
``read()`` sessions never write. Nothing here knows about analysis or HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from gracedesk.store import tables
from gracedesk.store.engine import Engines, make_engines


class Store:
    def __init__(self, engines: Engines) -> None:
        self.engines = engines
        self._write = sessionmaker(engines.write, expire_on_commit=False, autoflush=False)
        self._read = sessionmaker(engines.read, expire_on_commit=False, autoflush=False)

    @classmethod
    def open(cls, url: str) -> Store:
        return cls(make_engines(url))

    @property
    def dialect(self) -> str:
        return self.engines.dialect

    @property
    def url(self) -> str:
        return self.engines.url

    def migrate(self) -> str | None:
        # lazy: alembic (~0.1 s to import) loads only in processes that migrate
        from gracedesk.store.migrate import upgrade

        return upgrade(self.engines)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session in one write transaction: commit on success, rollback on error."""
        with self.engines.write_lock(), self._write() as session, session.begin():
            yield session

    @contextmanager
    def write_core(self) -> Iterator[Connection]:
        """A Core connection in one write transaction (the hot path: no ORM session).

        ``Session(bind=conn)`` joins the same transaction where ORM objects are needed.
        """
        with self.engines.write_lock(), self.engines.write.begin() as conn:
            yield conn

    @contextmanager
    def read_core(self) -> Iterator[Connection]:
        """A Core connection in one read transaction (a consistent snapshot; never writes)."""
        with self.engines.read.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session, session.begin():
            yield session

    def skip_locked(self) -> bool:
        """Whether ``SELECT ... FOR UPDATE SKIP LOCKED`` is available (PostgreSQL)."""
        return self.dialect == "postgresql"

    def close(self) -> None:
        self.engines.dispose()


__all__ = ["Store", "tables"]
