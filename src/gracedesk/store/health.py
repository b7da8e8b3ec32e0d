"""The database's health: whether it answers a trivial query (the ``/healthz`` probe).

Operations: ``ping``.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session


def ping(s: Session) -> None:
    """Run ``SELECT 1`` (raises when the database cannot be reached)."""
    s.execute(text("SELECT 1"))
