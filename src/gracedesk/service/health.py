"""Whether the desk's database answers: the ``/healthz`` probe."""

from __future__ import annotations

from gracedesk.store import Store, health


def database(store: Store) -> str:
    """The database's dialect once a trivial query has run (raises when it cannot be reached)."""
    with store.read() as s:
        health.ping(s.connection())
    return store.dialect
