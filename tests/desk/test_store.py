"""The store on both databases: migrations equal the models, times stay UTC, writes are atomic."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select

from gracedesk.store import Store
from gracedesk.store.engine import encode_json
from gracedesk.store.migrate import current, head
from gracedesk.store.tables import Base, Customer, include_name

from .conftest import NOW


def test_migrations_create_exactly_the_models(store: Store) -> None:
    assert current(store.engines) == head()
    with store.engines.read.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_name": include_name})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_migrate_twice_is_a_no_op(store: Store) -> None:
    assert store.migrate() == head()
    assert store.migrate() == head()


def test_times_come_back_aware_utc(store: Store) -> None:
    paris = timezone(timedelta(hours=1))
    with store.write() as s:
        s.add(
            Customer(
                external_id="t",
                created_at=datetime(2026, 1, 2, 10, 0, tzinfo=paris),
                preferences={},
                flags=[],
                tier="standard",
                lifetime_value=0,
            )
        )
    with store.read() as s:
        c = s.scalars(select(Customer)).one()
    assert c.created_at == datetime(2026, 1, 2, 9, 0, tzinfo=UTC)
    assert c.created_at.tzinfo is not None and c.created_at.utcoffset() == timedelta(0)


def test_naive_times_are_refused(store: Store) -> None:
    with pytest.raises(Exception, match="naive datetime"), store.write() as s:
        s.add(
            Customer(
                external_id="n",
                created_at=datetime(2026, 1, 2),
                preferences={},
                flags=[],
                tier="standard",
                lifetime_value=0,
            )
        )
        s.flush()


def test_a_failed_write_leaves_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.write() as s:
        s.add(
            Customer(
                external_id="x",
                created_at=NOW,
                preferences={},
                flags=[],
                tier="standard",
                lifetime_value=0,
            )
        )
        s.flush()
        raise RuntimeError("boom")
    with store.read() as s:
        assert s.scalars(select(Customer)).all() == []


def test_sqlite_runs_in_wal_mode(tmp_path) -> None:  # type: ignore[no-untyped-def]
    st = Store.open(f"sqlite:///{tmp_path / 'w.db'}")
    st.migrate()
    with st.engines.write.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    st.close()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_sqlite_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="in-memory"):
        Store.open(url)


def test_json_columns_keep_what_json_keeps(store: Store) -> None:
    """JSON columns round-trip what ``json`` keeps: an integer beyond 64 bits stays exact, a
    non-string key becomes a string, text stays text (a faster encoder must keep this)."""
    prefs = {"big": 2**70, 7: "seven", "name": "José ☕", "nested": [1.5, None, True]}
    with store.write() as s:
        c = Customer(external_id="json-1", preferences=prefs, created_at=NOW)
        s.add(c)
        s.flush()
        cid = c.id
    with store.read() as s:
        got = s.get_one(Customer, cid).preferences
    assert got == {"big": 2**70, "7": "seven", "name": "José ☕", "nested": [1.5, None, True]}


def test_json_columns_store_what_json_would(store: Store) -> None:
    """The JSON columns are encoded with orjson (``store.engine.encode_json``), falling back to
    ``json`` for what orjson refuses (an integer beyond 64 bits in a channel's metadata): the
    values read back are the same either way."""
    value = {"huge": 2**70, "text": "Zoë ✓", "nested": [1.5, None, True], "7": "key"}
    assert json.loads(encode_json(value)) == value
    assert json.loads(encode_json({"plain": [1, 2]})) == {"plain": [1, 2]}
    with store.write() as s:
        c = Customer(external_id="json-1", name="J", preferences=value, created_at=NOW)
        s.add(c)
        s.flush()
        cid = c.id
    with store.read() as s:
        assert s.get_one(Customer, cid).preferences == value


def test_the_wal_is_checkpointed_beside_the_writers(store: Store) -> None:
    """SQLite: a write's commit leaves the WAL to the process's checkpoint thread (after the
    write lock is released), which copies every frame into the database file; SQLite's own
    checkpoint, under the lock, is only a backstop. Closing the store stops the thread at once;
    a write after that starts it again."""
    if store.dialect != "sqlite":
        pytest.skip("PostgreSQL has no WAL file of ours to checkpoint")
    import sqlite3
    import time
    from contextlib import closing

    from gracedesk.store.engine import BACKSTOP_PAGES, FileLock

    def add(n: int) -> None:
        with store.write() as s:
            s.add(
                Customer(
                    external_id=f"w{n}",
                    created_at=NOW,
                    preferences={},
                    flags=[],
                    tier="standard",
                    lifetime_value=0,
                )
            )

    def in_file() -> int:
        """Customers in the database file itself, read without the WAL."""
        uri = f"file:{checkpointer.database}?immutable=1"
        try:
            with closing(sqlite3.connect(uri, uri=True)) as raw:
                return int(raw.execute("SELECT count(*) FROM customers").fetchone()[0])
        except sqlite3.DatabaseError:  # read while a checkpoint was writing the file: again
            return -1

    def wait_for(n: int) -> int:
        deadline, found = time.monotonic() + 10, in_file()
        while found != n and time.monotonic() < deadline:
            time.sleep(0.05)
            found = in_file()
        return found

    with store.write_core() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == BACKSTOP_PAGES
    lock = store.engines.lock
    assert isinstance(lock, FileLock) and lock.checkpointer is not None
    checkpointer = lock.checkpointer
    for i in range(5):
        add(i)
    assert wait_for(5) == 5  # the thread copied them
    assert checkpointer.runs >= 1
    thread = checkpointer._thread
    started = time.monotonic()
    store.close()
    assert time.monotonic() - started < 0.3  # not held up by the thread's pause
    assert thread is not None and not thread.is_alive()
    add(5)  # the engines still work after close, and so does the checkpoint
    assert wait_for(6) == 6
    store.close()
