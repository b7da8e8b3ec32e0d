"""The database's health: whether it answers a trivial query (the ``/healthz`` probe).

Operations: ``ping``.
"""

from __future__ import annotations

from sqlalchemy import Connection, text


def ping(conn: Connection) -> None:
    """Run ``SELECT 1`` (raises when the database cannot be reached)."""
    conn.execute(text("SELECT 1"))
