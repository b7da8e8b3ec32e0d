"""messages: an index on (analysis_state, id) for the worker's queue

The worker claims queued messages oldest first (``store.messages.claim_queued``) and asks
whether any is left (``queued_left``); without this index both scanned every analysed message
before the queued ones, so a claim cost grew with the table.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_messages_analysis_state_id", ["analysis_state", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_analysis_state_id")
