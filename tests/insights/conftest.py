"""Insights tests use the desk's fixtures: a real store on SQLite and on PostgreSQL, the Desk.

``store``/``desk``/``db_url`` run every test that takes them once per database (see
tests/desk/conftest.py); ``post`` and ``make_user`` are the same helpers.
"""

from __future__ import annotations

from desk.conftest import (  # noqa: F401  (fixtures are found by name)
    NOW,
    analyzer,
    db_url,
    desk,
    make_user,
    policy,
    post,
    postgres_url,
    settings,
    store,
)
