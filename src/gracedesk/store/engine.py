"""Engines for the store: SQLite (default, WAL) and PostgreSQL, built at the entry points.

SQLite: WAL journal, ``synchronous=NORMAL`` (a committed transaction survives a crash or a
``kill -9`` of the process; only a power cut can lose the last ones), foreign keys on, and write
transactions opened with ``BEGIN IMMEDIATE`` so that two writers queue for the lock instead of
failing half-way. Writers also queue on a lock (``Engines.write_lock``: a thread lock plus
``flock`` on ``gracedesk.db.lock``, so across server processes too) so that they never poll in
SQLite's busy handler, whose sleeps would show up as latency spikes. The WAL is copied into the
database file by a background thread (:class:`Checkpointer`) after the lock is released, not by
the commit that crosses SQLite's automatic threshold while every other writer waits.

Both engines are built with ``hide_parameters=True``: a failing statement's error (and
SQLAlchemy's own statement log) never shows the bound values, which carry message text and
contact data. PostgreSQL connections give up after ``CONNECT_TIMEOUT_S`` when the server does
not answer, so that an outage is answered (503, ``web/problems.py``) instead of hanging.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import weakref
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from gracedesk.logs import protect_sqlalchemy

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("gracedesk.store")

# SQLite's own checkpoint after a commit, kept only as a backstop (pages of the WAL: 64 MiB at
# 4 KiB pages); the Checkpointer's thread normally runs long before
BACKSTOP_PAGES = 16384


class Checkpointer:
    """Copies the WAL into the database file (``PRAGMA wal_checkpoint(PASSIVE)``) in a thread of
    its own, at most every ``interval`` seconds while writes go on.

    With SQLite's automatic checkpoint, the commit that crosses 1,000 pages of WAL copies them
    and waits for two ``fsync`` calls (~30 ms here) while it holds the write lock, so every
    other writer waits too: the drain spent ~0.26 ms per message on it under the lock, and the
    API's requests waited behind it (p99). A passive checkpoint blocks neither readers nor
    writers, so here it runs beside them. One thread per process, started at the first write
    after the store opens (again in a process forked from one that had it, and again after
    :meth:`close`, since a disposed engine may still be used).
    """

    def __init__(self, database: str, *, interval: float = 0.5) -> None:
        self.database = database
        self.interval = interval
        self.runs = 0  # checkpoints done (tests)
        self._mutex = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None

    def poke(self) -> None:
        """A write committed: checkpoint soon. Never raises: the write is committed already."""
        try:
            if self._thread is None or self._pid != os.getpid():
                self._start()
            self._wake.set()
        except Exception:  # e.g. no thread can start at interpreter shutdown
            log.warning("no WAL checkpoint thread for %s", self.database, exc_info=True)

    def _start(self) -> None:
        with self._mutex:
            if self._thread is not None and self._pid == os.getpid():
                return
            # fresh events: a forked child has none of its parent's threads
            self._wake, self._stop = threading.Event(), threading.Event()
            thread = threading.Thread(
                target=self._run,
                args=(self._wake, self._stop),
                name="gracedesk-checkpoint",
                daemon=True,
            )
            thread.start()
            self._thread, self._pid = thread, os.getpid()

    def _run(self, wake: threading.Event, stop: threading.Event) -> None:
        conn = sqlite3.connect(self.database, isolation_level=None, check_same_thread=False)
        try:
            while True:
                wake.wait()
                if stop.is_set():
                    return
                wake.clear()
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.runs += 1
                except sqlite3.Error:  # e.g. the file was removed; the next write tries again
                    log.warning("WAL checkpoint of %s failed", self.database, exc_info=True)
                if stop.wait(self.interval):
                    return
        finally:
            conn.close()

    def close(self) -> None:
        """Stop the thread (it finishes a checkpoint under way first)."""
        with self._mutex:
            thread, self._thread = self._thread, None
            mine = self._pid == os.getpid()
            self._stop.set()
            self._wake.set()
        if thread is not None and mine:
            thread.join(timeout=5)


class FileLock:
    """One writer at a time across threads *and* processes on one SQLite file.

    SQLite's own busy handler makes a waiting writer sleep (1, 2, 5, ... 100 ms) and poll, so
    with several server processes most of the time is spent asleep. ``flock`` wakes the next
    writer as soon as the lock is free. Where ``fcntl`` is missing only threads are ordered.
    """

    def __init__(self, path: Path, checkpointer: Checkpointer | None = None) -> None:
        self._thread = threading.Lock()
        self._path = path
        self._fd: int | None = None
        self.checkpointer = checkpointer  # poked once the lock is released

    def __enter__(self) -> None:
        self._thread.acquire()
        try:
            if fcntl is not None:
                if self._fd is None:
                    self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._thread.release()
            raise

    def __exit__(self, *exc: object) -> None:
        try:
            if fcntl is not None and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread.release()
        if self.checkpointer is not None:
            self.checkpointer.poke()

    def close(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.close()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@dataclass
class Engines:
    """A reading engine and a writing engine (the same one on PostgreSQL)."""

    url: str
    read: Engine
    write: Engine
    lock: FileLock | threading.Lock | None = field(default=None)

    @property
    def dialect(self) -> str:
        return self.write.dialect.name

    def write_lock(self) -> AbstractContextManager[Any]:
        return self.lock if self.lock is not None else nullcontext()

    def dispose(self) -> None:
        if isinstance(self.lock, FileLock):
            self.lock.close()
        self.read.dispose()
        if self.write is not self.read:
            self.write.dispose()


def _sqlite_engine(url: str, *, immediate: bool, backstop: bool = False) -> Engine:
    database = make_url(url).database
    assert database  # make_engines refuses in-memory databases
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        hide_parameters=True,
        json_serializer=json_dumps,
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _begin)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        if backstop:  # the writer: the Checkpointer copies the WAL, outside the write lock
            cur.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
        cur.close()

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.connection.driver_connection.execute(begin)  # straight to sqlite3: it is hot

    return engine


CONNECT_TIMEOUT_S = 10


class Encoded(str):
    """JSON text encoded ahead of the transaction that stores it (the worker encodes a
    batch's signals and guidance before it takes the write lock): written as it is."""


_ORJSON = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


def encode_json(value: Any) -> str:
    """``value`` as JSON text: orjson (about ten times faster than ``json``, which cost the
    worker ~0.2 ms per message on signals, guidance and packets); ``json`` for what orjson
    refuses (an integer beyond 64 bits in a channel's metadata), so the same values store and
    what ``json`` refuses (a datetime, a dataclass) is still refused. Unlike ``json``, text is
    written as UTF-8 rather than escapes, and NaN and infinity as ``null`` (which
    PostgreSQL's JSON types accept; ``json``'s ``NaN`` they refused)."""
    try:
        return orjson.dumps(value, option=_ORJSON).decode()
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(value)


def json_dumps(value: Any) -> str:
    """The engines' JSON serializer: :func:`encode_json`, except for text already
    :class:`Encoded`."""
    return value if isinstance(value, Encoded) else encode_json(value)


def make_engines(url: str) -> Engines:
    """Engines for ``url`` (``sqlite:///path`` or ``postgresql+psycopg://...``)."""
    protect_sqlalchemy()
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database in (None, "", ":memory:") or "mode=memory" in url:
            raise ValueError(
                "an in-memory SQLite database would be empty on every connection: "
                "give a file, e.g. sqlite:///desk.db"
            )
        # a file: URI (``?uri=true``) names the file in a form sqlite3.connect reads otherwise:
        # SQLite's own checkpoint then stays in charge
        plain = u.query.get("uri") is None
        return Engines(
            url,
            read=_sqlite_engine(url, immediate=False),
            write=_sqlite_engine(url, immediate=True, backstop=plain),
            lock=FileLock(Path(f"{u.database}.lock"), Checkpointer(u.database) if plain else None),
        )
    # no pre-ping: it costs a round trip per checkout; stale connections are recycled instead
    connect_args = {} if "connect_timeout" in u.query else {"connect_timeout": CONNECT_TIMEOUT_S}
    engine = create_engine(
        url,
        pool_size=10,
        max_overflow=20,
        pool_recycle=1800,
        hide_parameters=True,
        connect_args=connect_args,
        json_serializer=json_dumps,
    )
    return Engines(url, read=engine, write=engine)


T = TypeVar("T")


class PerEngine(Generic[T]):
    """One ``T`` per database engine, made when first asked for and dropped with its engine:
    what a process keeps by row id (ids are only unique within one database)."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._of: weakref.WeakKeyDictionary[Engine, T] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def of(self, engine: Engine) -> T:
        with self._lock:
            got = self._of.get(engine)
            if got is None:
                got = self._of[engine] = self._make()
            return got

    def all(self) -> list[T]:
        with self._lock:
            return list(self._of.values())

    def clear(self) -> None:
        with self._lock:
            self._of.clear()
