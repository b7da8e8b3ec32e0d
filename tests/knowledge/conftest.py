"""Knowledge-base tests use the desk's fixtures: a real store on SQLite and on PostgreSQL.

``store``/``desk``/``db_url`` run every test that takes them once per database (see
tests/desk/conftest.py). ``ARTICLES`` is a small fixed set written for these tests.
"""

from __future__ import annotations

from pathlib import Path

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

ARTICLES = Path(__file__).with_name("data") / "articles"
