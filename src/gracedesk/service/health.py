"""Whether the desk's database answers: the ``/healthz`` probe."""

from __future__ import annotations

from sqlalchemy import text

from gracedesk.store import Store


def database(store: Store) -> str:
    """The database's dialect once a trivial query has run (raises when it cannot be reached)."""
    with store.read() as s:
        s.execute(text("SELECT 1"))
    return store.dialect
