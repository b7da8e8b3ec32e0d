"""Alembic environment: run by ``gracedesk db upgrade`` (store.migrate) with a connection given."""

from __future__ import annotations

from alembic import context

from gracedesk.store.tables import Base, include_name

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "run migrations through gracedesk.store.migrate (a connection is needed)"
        )
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite needs table copies for ALTER
        compare_type=True,
        include_name=include_name,  # full-text objects made outside the metadata
    )
    with context.begin_transaction():
        context.run_migrations()


run()
